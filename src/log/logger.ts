/**
 * The process log: nutcracker's levels and line format (../shared/spec/cli-config.md §4, §6).
 *
 *   [YYYY-MM-DD HH:MM:SS.mmm] <module> <message>        (local time)
 *
 * Levels 0..11 as `-v` sets them; a line is written when its level <= the current
 * level, so level 0 (LOG_ALWAYS, nutcracker's `loga`) is always written. Unlike the
 * Debian build, levels 6..11 are real (deviation P9), so the check comes before any
 * formatting: a disabled call costs one comparison. Messages may be given as a
 * closure that is only called when the line is written; hot paths should test
 * `enabled(level)` first so they do not even allocate the closure.
 *
 * Output is the `-o` file (opened append/create, mode 0644) or stderr for ''. Writes
 * are synchronous, like nutcracker's write(2): a line is on disk before the next
 * statement, which matters for crash and exit messages. Signals are wired by the
 * caller: SIGHUP → reopen(), SIGTTIN/SIGTTOU → levelUp()/levelDown().
 */
import { closeSync, openSync, writeSync } from 'node:fs'
import { strerror } from './strerror.js'

export const LOG_EMERG = 0
export const LOG_ALERT = 1
export const LOG_CRIT = 2
export const LOG_ERR = 3
export const LOG_WARN = 4
export const LOG_NOTICE = 5
export const LOG_INFO = 6
export const LOG_DEBUG = 7
export const LOG_VERB = 8
export const LOG_VVERB = 9
export const LOG_VVVERB = 10
export const LOG_PVERB = 11
/** Lines that are written at every level: banner, exit, signal notices. */
export const LOG_ALWAYS = LOG_EMERG
export const LOG_LEVEL_MIN = LOG_EMERG
export const LOG_LEVEL_MAX = LOG_PVERB

export const LOG_LEVEL_NAMES = [
  'emerg',
  'alert',
  'crit',
  'err',
  'warn',
  'notice',
  'info',
  'debug',
  'verb',
  'vverb',
  'vvverb',
  'pverb',
] as const

/** A line's text, or a function building it (called only if the line is written). */
export type LogMessage = string | (() => string)

/** The log file could not be opened; `message` is nutcracker's wording. */
export class LogOpenError extends Error {
  readonly path: string
  readonly reason: string
  constructor(path: string, cause: unknown) {
    const reason = strerror(cause)
    super(`opening log file '${path}' failed: ${reason}`, { cause })
    this.name = 'LogOpenError'
    this.path = path
    this.reason = reason
  }
}

export interface LoggerOptions {
  /** `-o`: a file path, or '' for stderr. */
  readonly output: string
  /** `-v`: clamped to 0..11. */
  readonly level: number
  /** Milliseconds since the epoch; replaceable for tests. */
  readonly clock?: () => number
  /** Where stderr lines go; replaceable for tests. */
  readonly stderr?: (text: string) => void
}

const FILE_MODE = 0o644

function clampLevel(level: number): number {
  if (!(level > LOG_LEVEL_MIN)) return LOG_LEVEL_MIN
  return level > LOG_LEVEL_MAX ? LOG_LEVEL_MAX : Math.trunc(level)
}

function openLogFile(path: string): number {
  try {
    return openSync(path, 'a', FILE_MODE)
  } catch (err) {
    throw new LogOpenError(path, err)
  }
}

const pad2 = (n: number): string => (n < 10 ? `0${n}` : `${n}`)

export class Logger {
  #level: number
  readonly #output: string
  /** File descriptor of the log file; -1 when logging to stderr. */
  #fd: number
  readonly #clock: () => number
  readonly #stderr: (text: string) => void
  /** `[YYYY-MM-DD HH:MM:SS` of the last second formatted, reused within that second. */
  #stampSecond = -1
  #stampPrefix = ''

  /** Opens the log; throws LogOpenError if the file cannot be opened. */
  constructor(options: LoggerOptions) {
    this.#level = clampLevel(options.level)
    this.#output = options.output
    this.#clock = options.clock ?? Date.now
    this.#stderr = options.stderr ?? ((text) => process.stderr.write(text))
    this.#fd = options.output === '' ? -1 : openLogFile(options.output)
  }

  get level(): number {
    return this.#level
  }

  /** The `-o` path, or '' when logging to stderr. */
  get output(): string {
    return this.#output
  }

  /** True when lines of `level` are written. */
  enabled(level: number): boolean {
    return level <= this.#level
  }

  /** Sets the level (clamped to 0..11) and returns it. */
  setLevel(level: number): number {
    this.#level = clampLevel(level)
    return this.#level
  }

  /** SIGTTIN: one level more verbose (at most 11). */
  levelUp(): number {
    return this.setLevel(this.#level + 1)
  }

  /** SIGTTOU: one level less verbose (at least 0). */
  levelDown(): number {
    return this.setLevel(this.#level - 1)
  }

  log(level: number, module: string, message: LogMessage): void {
    if (level > this.#level) return
    this.#write(module, typeof message === 'string' ? message : message())
  }

  always(module: string, message: LogMessage): void {
    this.#write(module, typeof message === 'string' ? message : message())
  }

  error(module: string, message: LogMessage): void {
    if (LOG_ERR <= this.#level) this.log(LOG_ERR, module, message)
  }

  warn(module: string, message: LogMessage): void {
    if (LOG_WARN <= this.#level) this.log(LOG_WARN, module, message)
  }

  notice(module: string, message: LogMessage): void {
    if (LOG_NOTICE <= this.#level) this.log(LOG_NOTICE, module, message)
  }

  info(module: string, message: LogMessage): void {
    if (LOG_INFO <= this.#level) this.log(LOG_INFO, module, message)
  }

  debug(module: string, message: LogMessage): void {
    if (LOG_DEBUG <= this.#level) this.log(LOG_DEBUG, module, message)
  }

  verb(module: string, message: LogMessage): void {
    if (LOG_VERB <= this.#level) this.log(LOG_VERB, module, message)
  }

  /**
   * SIGHUP: reopens the log file (append/create) so that rotated logs are let go.
   * No-op when logging to stderr. If the file cannot be opened, the old one is kept
   * and the failure is logged to it; returns whether the reopen succeeded.
   */
  reopen(): boolean {
    if (this.#fd < 0) return true
    let fd: number
    try {
      fd = openSync(this.#output, 'a', FILE_MODE)
    } catch (err) {
      this.error('log', `reopening log file '${this.#output}' failed: ${strerror(err)}`)
      return false
    }
    const old = this.#fd
    this.#fd = fd
    try {
      closeSync(old)
    } catch {
      // The old descriptor is gone either way; nothing useful to report.
    }
    return true
  }

  /** Closes the log file (stderr stays open). Later lines go to stderr. */
  close(): void {
    if (this.#fd < 0) return
    const fd = this.#fd
    this.#fd = -1
    closeSync(fd)
  }

  /** `[YYYY-MM-DD HH:MM:SS.mmm] ` for now, in local time. */
  #stamp(): string {
    const ms = this.#clock()
    const second = Math.floor(ms / 1000)
    if (second !== this.#stampSecond) {
      const d = new Date(ms)
      this.#stampSecond = second
      this.#stampPrefix =
        `[${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ` +
        `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}.`
    }
    const milli = ms - second * 1000
    return `${this.#stampPrefix}${milli < 10 ? '00' : milli < 100 ? '0' : ''}${milli}] `
  }

  #write(module: string, text: string): void {
    const line = `${this.#stamp()}${module} ${text}\n`
    if (this.#fd < 0) {
      this.#stderr(line)
      return
    }
    try {
      writeSync(this.#fd, line)
    } catch {
      // nutcracker: a failed log write is dropped; the proxy keeps running.
    }
  }
}
