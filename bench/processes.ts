/**
 * Every process the benchmark starts goes through here, so that every one of them is
 * stopped on a normal exit, an error, or SIGINT/SIGTERM. Each child is started in its own
 * process group (detached) through `sh -c 'ulimit -n …; exec "$@"'`: exec keeps the PID,
 * so /proc/PID is the program itself, and the group lets one kill(-pgid) reach anything the
 * program forks. A terminal's Ctrl-C reaches only the bench, which then stops the groups.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { closeSync, openSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { readOpenFilesLimit } from './procfs.js'

/** A long-running child (backend or proxy). */
export interface Daemon {
  readonly name: string
  readonly pid: number
  readonly child: ChildProcess
  /** Set when the process has exited. */
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined
  readonly logFile: string
}

export interface ToolResult {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
  readonly timedOut: boolean
}

/** The shell prefix: raise the soft open-files limit to the hard one, then become CMD. */
function wrap(cmd: string, args: readonly string[]): [string, string[]] {
  const { hard } = readOpenFilesLimit()
  const n = Number.isFinite(hard) ? String(hard) : 'unlimited'
  return ['/bin/sh', ['-c', `ulimit -S -n ${n} 2>/dev/null; exec "$@"`, 'sh', cmd, ...args]]
}

export class ProcessRegistry {
  private readonly live = new Set<ChildProcess>()
  private stopping = false

  /** Whether stopAll has begun (a signal arrived): callers stop starting work. */
  get isStopping(): boolean {
    return this.stopping
  }

  /** Starts a long-running program with stdout and stderr into logFile. */
  startDaemon(name: string, cmd: string, args: readonly string[], logFile: string): Daemon {
    if (this.stopping) throw new Error('stopping: not starting ' + name)
    const fd = openSync(logFile, 'a')
    const [sh, shArgs] = wrap(cmd, args)
    let child: ChildProcess
    try {
      child = spawn(sh, shArgs, { detached: true, stdio: ['ignore', fd, fd] })
    } finally {
      closeSync(fd)
    }
    if (child.pid === undefined) throw new Error(`could not start ${cmd}`)
    const d: Daemon = { name, pid: child.pid, child, exit: undefined, logFile }
    this.track(child)
    child.on('exit', (code, signal) => {
      d.exit = { code, signal }
    })
    return d
  }

  /**
   * Runs a program to completion, collecting its output, killed (whole group) after
   * timeoutMs. Never rejects for a non-zero exit; the caller reads code and timedOut.
   */
  runTool(cmd: string, args: readonly string[], timeoutMs: number): Promise<ToolResult> {
    if (this.stopping) return Promise.reject(new Error('stopping: not running ' + cmd))
    const [sh, shArgs] = wrap(cmd, args)
    const child = spawn(sh, shArgs, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
    this.track(child)
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout?.on('data', (d: Buffer) => out.push(d))
    child.stderr?.on('data', (d: Buffer) => {
      // Keep at most ~64 KiB of diagnostics.
      if (err.length < 64) err.push(d)
    })
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      killGroup(child, 'SIGKILL')
    }, timeoutMs)
    return new Promise((resolve, reject) => {
      child.once('error', (e) => {
        clearTimeout(timer)
        reject(e)
      })
      child.once('close', (code, signal) => {
        clearTimeout(timer)
        resolve({
          code,
          signal,
          stdout: Buffer.concat(out).toString('utf8'),
          stderr: Buffer.concat(err).toString('utf8'),
          timedOut,
        })
      })
    })
  }

  private track(child: ChildProcess): void {
    this.live.add(child)
    child.once('exit', () => this.live.delete(child))
    child.once('error', () => this.live.delete(child))
  }

  /** Stops one daemon: SIGTERM to its group, SIGKILL after graceMs. */
  async stop(d: Daemon, graceMs = 3000): Promise<void> {
    await stopChildren([d.child], graceMs)
  }

  /** Stops everything still running: SIGTERM, then SIGKILL after graceMs. */
  async stopAll(graceMs = 3000): Promise<void> {
    this.stopping = true
    await stopChildren([...this.live], graceMs)
  }

  /** Last resort from a synchronous 'exit' handler: SIGKILL every group still alive. */
  killAllSync(): void {
    this.stopping = true
    for (const c of this.live) killGroup(c, 'SIGKILL')
  }
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return
  try {
    process.kill(-child.pid, signal)
  } catch {
    // The group is gone already.
  }
}

async function stopChildren(children: readonly ChildProcess[], graceMs: number): Promise<void> {
  const alive = children.filter((c) => c.exitCode === null && c.signalCode === null)
  for (const c of alive) killGroup(c, 'SIGTERM')
  const deadline = Date.now() + graceMs
  while (Date.now() < deadline && alive.some((c) => c.exitCode === null && c.signalCode === null)) {
    await sleep(50)
  }
  // Only groups whose leader is still running: a reaped leader's PID may be reused.
  for (const c of alive) if (c.exitCode === null && c.signalCode === null) killGroup(c, 'SIGKILL')
}
