/**
 * `-d` (daemonize) and `-p` (pid file), ../shared/spec/cli-config.md §7 with
 * deviations P2 and P3.
 *
 * Node cannot fork, so daemonizing re-runs this very command line as a detached
 * process (its own session, stdin/stdout/stderr on /dev/null, the same working
 * directory) with DAEMON_ENV set and an IPC channel back to the launcher. The
 * launcher has already validated the configuration (P2: a bad one exits 1 with
 * the reason, nothing is spawned); it then waits until the daemon reports that
 * it listens (exit 0) or why it could not start (the reason on stderr, exit 1).
 * The daemon closes the channel once it has reported, so nothing ties it to the
 * launcher afterwards; when the launcher exits, init adopts it.
 *
 * Like nutcracker, the daemon runs with umask 0: a unix-socket listener without
 * a permission is created 0777 (give `listen: /path 0660` to restrict it); the
 * log and pid files are created 0644 explicitly.
 *
 * The pid file holds the decimal pid without a newline, mode 0644, and is
 * written with or without -d (P3). It is removed at exit only if it still holds
 * this process's pid, so a newer instance's file is left alone.
 */
import { spawn } from 'node:child_process'
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs'
import { strerror } from '../log/strerror.js'

/** Set (to "1") in the daemon's environment: it is the re-spawned process. */
export const DAEMON_ENV = 'WALNUT_DAEMON'
/** Longest wait of the launcher for the daemon's report. */
export const DAEMON_START_TIMEOUT_MS = 60_000

/** What the daemon tells its launcher, once. */
export type DaemonReport =
  | { readonly ok: true; readonly pid: number }
  | { readonly ok: false; readonly reason: string }

/** True in the process a `-d` launcher spawned. */
export function isDaemonChild(): boolean {
  return process.env[DAEMON_ENV] === '1' && typeof process.send === 'function'
}

/**
 * Daemon side: sends the report to the launcher and closes the channel. A no-op
 * outside a daemon (or when it has already reported).
 */
export function reportToLauncher(report: DaemonReport): Promise<void> {
  if (!isDaemonChild() || !process.connected) return Promise.resolve()
  return new Promise((resolve) => {
    process.send?.(report, undefined, {}, () => {
      if (process.connected) process.disconnect()
      resolve()
    })
  })
}

export interface LaunchOptions {
  /** The command to run; defaults to this process's own node, flags and script arguments. */
  readonly command?: string
  readonly args?: readonly string[]
  readonly timeoutMs?: number
  /** Where the failure reason is written. */
  readonly stderr: (text: string) => void
}

/**
 * Launcher side of `-d`: spawns the daemon and waits for its report. Resolves with
 * the launcher's exit status: 0 once the daemon listens, 1 when it failed, exited
 * before reporting, or did not report within the bound (it is then killed).
 */
export function launchDaemon(options: LaunchOptions): Promise<number> {
  const command = options.command ?? process.execPath
  const args = options.args ?? [...process.execArgv, ...process.argv.slice(1)]
  const timeoutMs = options.timeoutMs ?? DAEMON_START_TIMEOUT_MS
  const child = spawn(command, args, {
    detached: true,
    stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
    env: { ...process.env, [DAEMON_ENV]: '1' },
  })
  return new Promise<number>((resolve) => {
    let settled = false
    const finish = (status: number, reason?: string) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      if (reason !== undefined) options.stderr(`walnut: ${reason}\n`)
      child.removeAllListeners()
      if (child.connected) child.disconnect()
      child.unref()
      resolve(status)
    }
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      finish(1, `daemon did not report within ${timeoutMs} ms; killed`)
    }, timeoutMs)
    child.on('message', (m: unknown) => {
      const r = m as DaemonReport
      if (r.ok) finish(0)
      else finish(1, r.reason)
    })
    child.on('error', (err) => finish(1, `spawning the daemon failed: ${strerror(err)}`))
    child.on('exit', (code, signal) => {
      const how = signal !== null ? `signal ${signal}` : `status ${code}`
      finish(1, `daemon exited with ${how} before it was listening`)
    })
  })
}

/** The pid file could not be written; `message` is nutcracker's wording. */
export class PidFileError extends Error {
  constructor(path: string, cause: unknown) {
    super(`opening pid file '${path}' failed: ${strerror(cause)}`, { cause })
    this.name = 'PidFileError'
  }
}

/** Writes this process's pid to `path` (created or truncated, mode 0644, no newline). */
export function writePidFile(path: string, pid: number = process.pid): void {
  let fd: number
  try {
    fd = openSync(path, 'w', 0o644)
  } catch (err) {
    throw new PidFileError(path, err)
  }
  try {
    writeSync(fd, String(pid))
  } catch (err) {
    throw new PidFileError(path, err)
  } finally {
    closeSync(fd)
  }
}

/**
 * Removes the pid file if it still holds `pid`. Returns true when it was removed,
 * false when it was gone or held another pid (left in place).
 */
export function removePidFile(path: string, pid: number = process.pid): boolean {
  try {
    if (readFileSync(path, 'latin1').trim() !== String(pid)) return false
    unlinkSync(path)
    return true
  } catch {
    return false
  }
}
