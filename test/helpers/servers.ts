/**
 * Real processes and raw sockets for integration tests.
 *
 * - startRedis / startMemcached / startNutcracker / startWalnut spawn a real server in its own
 *   temp dir on 127.0.0.1 ports from the kernel, and resolve once it answers. stop() sends
 *   SIGTERM, waits 2 s, then SIGKILL. Every process is tracked: a root-level node:test `after`
 *   hook stops what a test file forgot, and a process 'exit' / signal handler SIGKILLs whatever
 *   is still alive, so nothing outlives the test process.
 * - connect() is a tiny byte-exact client: send bytes, read exact Buffers (n bytes, a predicate,
 *   whole RESP replies or whole memcache replies), so tests assert the wire format, not a
 *   library's interpretation of it.
 * - statsDocument() / scrapeMetrics() read a running proxy's stats port and `GET /metrics`.
 * - alive / gone / ppid probe pids; daemonScratch() reaps daemons a test started (-d).
 */
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import {
  accessSync,
  constants as fsConstants,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { connect as netConnect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { after } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { freePort, waitForPort } from './ports.js'
import { REPO_ROOT } from './shared.js'

export const LOCALHOST = '127.0.0.1'
/** stop(): time between SIGTERM and SIGKILL. */
export const STOP_GRACE_MS = 2000
/** Default time a server gets to start answering (the test machine is small and shared). */
export const START_TIMEOUT_MS = 10_000
/** Default timeout of one client read. */
export const READ_TIMEOUT_MS = 3000
/** The built CLI that startWalnut/runWalnut execute (`npm run build` makes it). */
export const WALNUT_MAIN = join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js')

// ---------------------------------------------------------------------------------------------
// Process tracking

export interface ExitInfo {
  code: number | null
  signal: NodeJS.Signals | null
}

/** A spawned process with captured output. */
export interface Proc {
  /** Short label used in error messages (`redis-server`, `walnut`, ...). */
  readonly name: string
  readonly pid: number
  readonly child: ChildProcess
  /** Private temp dir (cwd of the process); removed by stop(). */
  readonly dir: string
  /** Resolves when the process has exited (never rejects). */
  readonly exited: Promise<ExitInfo>
  /** Set once the process has exited. */
  readonly exitInfo: ExitInfo | undefined
  /** Everything the process wrote to stdout so far. */
  stdout(): Buffer
  /** Everything the process wrote to stderr so far. */
  stderr(): Buffer
  /** stdout and stderr as text, for messages. */
  output(): string
  /** Resolves when `pattern` appears in stdout+stderr; rejects on timeout or exit. */
  waitForOutput(pattern: string | RegExp, timeoutMs?: number): Promise<void>
  /** Sends a signal; false if the process is gone. */
  kill(signal?: NodeJS.Signals): boolean
  /** SIGTERM, wait up to STOP_GRACE_MS, then SIGKILL; removes the temp dir. Idempotent. */
  stop(): Promise<void>
}

/** A process that listens on one TCP port. */
export interface ServerProc extends Proc {
  readonly host: string
  readonly port: number
}

/** nutcracker or walnut: listens on the pools' ports (and a stats port). */
export interface ProxyProc extends ServerProc {
  /** Listen ports waited for (from the YAML `listen:` lines or opts.ports), in that order. */
  readonly ports: readonly number[]
  /** Stats port passed with -s (0 when none was passed). */
  readonly statsPort: number
  readonly configPath: string
}

export interface NutcrackerProc extends ProxyProc {
  readonly logPath: string
  /** Contents of the -o log file (kept in memory after stop()). */
  log(): string
}

const live = new Set<ProcImpl>()
const liveSockets = new Set<Socket>()
let exitHooksInstalled = false

/** Stops every tracked process and destroys every tracked client socket. */
export async function stopAll(): Promise<void> {
  for (const s of liveSockets) s.destroy()
  await Promise.all([...live].map((p) => p.stop()))
}

// Root-level hook: runs when the importing test file is done.
after(stopAll)

function killAllSync(): void {
  for (const s of liveSockets) s.destroy()
  for (const p of live) p.killSync()
}

function installExitHooks(): void {
  if (exitHooksInstalled) return
  exitHooksInstalled = true
  process.on('exit', killAllSync)
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      killAllSync()
      // The listener is gone now, so the default action applies: die by the same signal.
      process.kill(process.pid, sig)
    })
  }
}

const binCache = new Map<string, string>()
const EXTRA_BIN_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin']

/** Absolute path of an executable from PATH or the sbin dirs (nutcracker lives in /usr/sbin). */
export function findBinary(name: string): string {
  const hit = binCache.get(name)
  if (hit !== undefined) return hit
  const dirs = [...(process.env.PATH ?? '').split(delimiter), ...EXTRA_BIN_DIRS]
  for (const d of dirs) {
    if (d === '') continue
    const p = join(d, name)
    try {
      accessSync(p, fsConstants.X_OK)
      binCache.set(name, p)
      return p
    } catch {}
  }
  throw new Error(`${name} not found in PATH or sbin dirs; scripts/test.sh installs it`)
}

interface SpawnOptions {
  env?: NodeJS.ProcessEnv
  /** Working directory (default: the temp dir). */
  cwd?: string
  /** Written to stdin, which is then closed (default: stdin is /dev/null). */
  stdin?: string | Buffer
  /** Files (relative to dir) read into memory before stop() removes the dir. */
  keepFiles?: string[]
}

class ProcImpl implements Proc {
  readonly name: string
  readonly child: ChildProcess
  readonly dir: string
  readonly exited: Promise<ExitInfo>
  exitInfo: ExitInfo | undefined = undefined
  readonly #out: Buffer[] = []
  readonly #err: Buffer[] = []
  readonly #closed: Promise<void>
  readonly #keepFiles: string[]
  readonly #kept = new Map<string, string>()
  #stopping: Promise<void> | undefined = undefined
  #dirRemoved = false
  #listeners = new Set<() => void>()

  constructor(name: string, cmd: string, args: readonly string[], dir: string, o: SpawnOptions) {
    installExitHooks()
    this.name = name
    this.dir = dir
    this.#keepFiles = o.keepFiles ?? []
    this.child = spawn(cmd, args, {
      cwd: o.cwd ?? dir,
      env: o.env ?? process.env,
      stdio: [o.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    })
    live.add(this)
    if (o.stdin !== undefined) {
      this.child.stdin?.on('error', () => {}) // EPIPE when the process exits without reading
      this.child.stdin?.end(o.stdin)
    }
    this.child.stdout?.on('data', (c: Buffer) => {
      this.#out.push(c)
      this.#notify()
    })
    this.child.stderr?.on('data', (c: Buffer) => {
      this.#err.push(c)
      this.#notify()
    })
    this.exited = new Promise((resolve) => {
      const done = (code: number | null, signal: NodeJS.Signals | null) => {
        if (this.exitInfo !== undefined) return
        this.exitInfo = { code, signal }
        this.#notify()
        resolve(this.exitInfo)
      }
      this.child.once('exit', done)
      // spawn failure: 'exit' may never come
      this.child.once('error', (e) => {
        this.#err.push(Buffer.from(`spawn error: ${e.message}\n`))
        done(null, null)
      })
    })
    this.#closed = new Promise((resolve) => this.child.once('close', () => resolve()))
  }

  get pid(): number {
    return this.child.pid ?? -1
  }

  /** Resolves once the OS has started the process; throws if it could not be spawned. */
  async spawned(): Promise<void> {
    if (this.child.pid !== undefined) return
    await once(this.child, 'spawn')
  }

  stdout(): Buffer {
    return Buffer.concat(this.#out)
  }

  stderr(): Buffer {
    return Buffer.concat(this.#err)
  }

  output(): string {
    const out = this.stdout().toString('utf8')
    const err = this.stderr().toString('utf8')
    return `--- ${this.name} stdout ---\n${out}--- ${this.name} stderr ---\n${err}`
  }

  #notify(): void {
    for (const l of this.#listeners) l()
  }

  /** Calls `check` on every output/exit event until it returns true or time runs out. */
  #until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const finish = (err?: Error) => {
        clearTimeout(timer)
        this.#listeners.delete(onEvent)
        if (err) reject(err)
        else resolve()
      }
      const onEvent = () => {
        if (check()) finish()
        else if (this.exitInfo !== undefined) {
          finish(
            new Error(`${this.name} exited (${fmtExit(this.exitInfo)}) ${what}\n${this.output()}`),
          )
        }
      }
      const timer = setTimeout(
        () =>
          finish(
            new Error(`${this.name}: timed out after ${timeoutMs} ms ${what}\n${this.output()}`),
          ),
        timeoutMs,
      )
      this.#listeners.add(onEvent)
      onEvent()
    })
  }

  waitForOutput(pattern: string | RegExp, timeoutMs = START_TIMEOUT_MS): Promise<void> {
    const test = () => {
      const text = this.stdout().toString('utf8') + this.stderr().toString('utf8')
      return typeof pattern === 'string' ? text.includes(pattern) : pattern.test(text)
    }
    return this.#until(test, timeoutMs, `waiting for output ${String(pattern)}`)
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): boolean {
    if (this.exitInfo !== undefined) return false
    return this.child.kill(signal)
  }

  stop(): Promise<void> {
    this.#stopping ??= this.#stop()
    return this.#stopping
  }

  async #stop(): Promise<void> {
    if (this.exitInfo === undefined) {
      this.child.kill('SIGTERM')
      if (!(await within(this.exited, STOP_GRACE_MS))) {
        this.child.kill('SIGKILL')
        await this.exited
      }
    }
    // stdio closes right after exit unless a grandchild holds the pipes; do not wait for that
    await this.closedWithin(500)
    this.#removeDir()
  }

  /** Waits (bounded) until stdout/stderr are closed, so the captured output is complete. */
  async closedWithin(ms: number): Promise<boolean> {
    return within(this.#closed, ms)
  }

  /** For the exit handler: no waiting possible there. */
  killSync(): void {
    if (this.exitInfo === undefined) this.child.kill('SIGKILL')
    this.#removeDir()
  }

  #removeDir(): void {
    if (this.#dirRemoved) return
    this.#dirRemoved = true
    // tracked until here, not just until exit, so a process that died on its own still has its
    // temp dir removed by stopAll()
    live.delete(this)
    for (const f of this.#keepFiles) {
      try {
        this.#kept.set(f, readFileSync(join(this.dir, f), 'utf8'))
      } catch {
        this.#kept.set(f, '')
      }
    }
    rmSync(this.dir, { recursive: true, force: true })
  }

  /** A file in the temp dir; after stop() the copy read before the dir was removed. */
  file(name: string): string {
    if (this.#dirRemoved) return this.#kept.get(name) ?? ''
    try {
      return readFileSync(join(this.dir, name), 'utf8')
    } catch {
      return ''
    }
  }

  /**
   * Polls `probe` until it resolves true. Fails fast when the process exits, and after
   * `timeoutMs` otherwise; on failure the process is stopped and its output is in the error.
   */
  async ready(what: string, probe: (signal: AbortSignal) => Promise<boolean>, timeoutMs: number) {
    const ac = new AbortController()
    void this.exited.then(() => ac.abort(new Error('process exited')))
    const deadline = Date.now() + timeoutMs
    let failure: unknown
    try {
      await this.spawned()
      while (Date.now() < deadline && !ac.signal.aborted) {
        if (await probe(ac.signal).catch(() => false)) return
        await within(this.exited, 25)
      }
    } catch (e) {
      failure = e
    } finally {
      ac.abort()
    }
    // stop first: it waits for exit and for stdout/stderr to close, so the output is complete
    const exit = this.exitInfo
    await this.stop()
    const why =
      failure !== undefined
        ? `failed to start (${String(failure)})`
        : exit !== undefined
          ? `exited (${fmtExit(exit)}) before ${what}`
          : `timed out (${timeoutMs} ms) before ${what}`
    throw new StartError(`${this.name} ${why}\n${this.output()}`, exit)
  }
}

/** A server did not come up; `exit` is set when it died on its own (e.g. port in use). */
export class StartError extends Error {
  readonly exit: ExitInfo | undefined
  constructor(message: string, exit: ExitInfo | undefined) {
    super(message)
    this.name = 'StartError'
    this.exit = exit
  }
}

function fmtExit(e: ExitInfo): string {
  return e.signal !== null ? `signal ${e.signal}` : `code ${String(e.code)}`
}

/** True if `p` settled within `ms`; the timer never keeps the process alive. */
async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const t = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms)
    timer.unref()
  })
  try {
    return await Promise.race([p.then(() => true as const), t])
  } finally {
    clearTimeout(timer)
  }
}

function tempDir(name: string): string {
  return mkdtempSync(join(tmpdir(), `walnut-${name}-`))
}

/**
 * Runs `start` with a fresh kernel port; if no port was requested and the server died on its
 * own (another process took the port between freePort() and bind), tries again, 3 times at most.
 */
async function withFreshPort<T>(
  fixed: number | undefined,
  start: (port: number) => Promise<T>,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const port = fixed ?? (await freePort())
    try {
      return await start(port)
    } catch (e) {
      const lostRace = e instanceof StartError && e.exit !== undefined && /in use/i.test(e.message)
      if (fixed !== undefined || attempt >= 3 || !lostRace) throw e
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Servers

export interface RedisOptions {
  /** Default: a free port. */
  port?: number
  /** Extra redis-server arguments, e.g. ['--requirepass', 'pw']. */
  args?: string[]
  timeoutMs?: number
}

/**
 * redis-server on 127.0.0.1, no persistence, in a temp dir; resolves once this very process
 * answers (INFO process_id), not merely something on the port.
 */
export function startRedis(opts: RedisOptions = {}): Promise<ServerProc> {
  const bin = findBinary('redis-server')
  return withFreshPort(opts.port, async (port) => {
    const dir = tempDir('redis')
    // biome-ignore format: one flag per pair
    const args = [
      '--port', String(port), '--bind', LOCALHOST, '--save', '', '--appendonly', 'no',
      '--daemonize', 'no', '--dir', dir, ...(opts.args ?? []),
    ]
    const p = new ProcImpl('redis-server', bin, args, dir, {})
    await p.ready(
      `answering INFO on ${port}`,
      () => redisIs(port, p.pid),
      opts.timeoutMs ?? START_TIMEOUT_MS,
    )
    return serverProc(p, LOCALHOST, port)
  })
}

/** True when the redis on `port` is the process `pid` (not another one holding the port). */
async function redisIs(port: number, pid: number): Promise<boolean> {
  const c = await connect(port, LOCALHOST, 1000)
  try {
    await c.send('INFO server\r\n')
    const reply = (await c.readReply(1000)).toString('latin1')
    // -NOAUTH (requirepass): serving, but we cannot ask who it is
    return reply.startsWith('-NOAUTH') || reply.includes(`\r\nprocess_id:${pid}\r\n`)
  } finally {
    await c.close()
  }
}

export interface MemcachedOptions {
  port?: number
  host?: string
  /** Extra memcached arguments, e.g. ['-m', '8']. */
  args?: string[]
  timeoutMs?: number
}

/** memcached on host (127.0.0.1) without UDP; resolves once this process answers (`stats` pid). */
export function startMemcached(opts: MemcachedOptions = {}): Promise<ServerProc> {
  const bin = findBinary('memcached')
  const host = opts.host ?? LOCALHOST
  return withFreshPort(opts.port, async (port) => {
    const dir = tempDir('memcached')
    const args = ['-p', String(port), '-l', host, '-U', '0']
    // memcached refuses to run as root unless told which user to be
    if (process.getuid?.() === 0) args.push('-u', 'root')
    args.push(...(opts.args ?? []))
    const p = new ProcImpl('memcached', bin, args, dir, {})
    await p.ready(
      `answering stats on ${host}:${port}`,
      () => memcachedIs(port, host, p.pid),
      opts.timeoutMs ?? START_TIMEOUT_MS,
    )
    return serverProc(p, host, port)
  })
}

/** True when the memcached on host:port is the process `pid`. */
async function memcachedIs(port: number, host: string, pid: number): Promise<boolean> {
  const c = await connect(port, host, 1000)
  try {
    await c.send('stats\r\n')
    const stats = (await c.readMcReply(1000)).toString('latin1')
    return new RegExp(`(^|\r\n)STAT pid ${pid}\r\n`).test(stats)
  } finally {
    await c.close()
  }
}

function serverProc(p: ProcImpl, host: string, port: number): ServerProc {
  return Object.assign(p, { host, port }) as ProcImpl & ServerProc
}

/** A `listen:` address found in a nutcracker YAML text. */
export interface ListenAddr {
  host: string
  port: number
}

/**
 * The TCP `listen:` addresses of a nutcracker YAML text, in file order (unix-socket listens are
 * skipped). 0.0.0.0 / :: / empty hosts are reported as 127.0.0.1, where tests can reach them.
 */
export function listenAddrs(yaml: string): ListenAddr[] {
  const out: ListenAddr[] = []
  for (const m of yaml.matchAll(/^[ \t]*listen[ \t]*:[ \t]*(.*)$/gm)) {
    let v = (m[1] ?? '').replace(/[ \t]+#.*$/, '').trim()
    if (/^(["']).*\1$/.test(v)) v = v.slice(1, -1)
    if (v.startsWith('/')) continue
    const i = v.lastIndexOf(':')
    const port = Number(v.slice(i + 1))
    if (i < 0 || !Number.isInteger(port) || port <= 0) continue
    let host = v.slice(0, i)
    if (host === '' || host === '0.0.0.0' || host === '::') host = LOCALHOST
    out.push({ host, port })
  }
  return out
}

export interface ProxyOptions {
  /** Extra CLI arguments (appended after the ones the helper passes). */
  args?: string[]
  env?: NodeJS.ProcessEnv
  /** Ports to wait for instead of the YAML's `listen:` lines (host 127.0.0.1). */
  ports?: number[]
  /** Pass `-s <free port> -a 127.0.0.1` (default true). */
  stats?: boolean
  timeoutMs?: number
}

function waitList(configYaml: string, opts: ProxyOptions): ListenAddr[] {
  return opts.ports?.map((port) => ({ host: LOCALHOST, port })) ?? listenAddrs(configYaml)
}

async function proxyProc<T extends ProxyProc>(
  p: ProcImpl,
  addrs: ListenAddr[],
  statsPort: number,
  configPath: string,
  timeoutMs: number,
  extra: object,
): Promise<T> {
  const waits = statsPort > 0 ? [...addrs, { host: LOCALHOST, port: statsPort }] : addrs
  const what = `listening on ${waits.map((a) => `${a.host}:${a.port}`).join(', ')}`
  await p.ready(
    what,
    async (signal) => {
      for (const a of waits) await waitForPort(a.port, a.host, 1000, { signal })
      return true
    },
    timeoutMs,
  )
  const first = addrs[0] ?? { host: LOCALHOST, port: 0 }
  return Object.assign(p, {
    host: first.host,
    port: first.port,
    ports: addrs.map((a) => a.port),
    statsPort,
    configPath,
    ...extra,
  }) as unknown as T
}

/**
 * nutcracker (the reference implementation) with the given YAML, logging at -v 4 to a temp
 * file; resolves once every pool listen port (and the stats port) accepts.
 */
export async function startNutcracker(
  configYaml: string,
  opts: ProxyOptions = {},
): Promise<NutcrackerProc> {
  const bin = findBinary('nutcracker')
  const dir = tempDir('nutcracker')
  const configPath = join(dir, 'nutcracker.yml')
  const logPath = join(dir, 'nutcracker.log')
  writeFileSync(configPath, configYaml)
  const statsPort = opts.stats === false ? 0 : await freePort()
  const args = ['-c', configPath, '-o', logPath, '-v', '4']
  if (statsPort > 0) args.push('-s', String(statsPort), '-a', LOCALHOST)
  args.push(...(opts.args ?? []))
  const p = new ProcImpl('nutcracker', bin, args, dir, {
    env: opts.env,
    keepFiles: ['nutcracker.log'],
  })
  const log = () => p.file('nutcracker.log')
  try {
    return await proxyProc<NutcrackerProc>(
      p,
      waitList(configYaml, opts),
      statsPort,
      configPath,
      opts.timeoutMs ?? START_TIMEOUT_MS,
      { logPath, log },
    )
  } catch (e) {
    // nutcracker reports bind/config errors in its log, not on stderr
    throw new StartError(`${(e as Error).message}\n--- nutcracker log ---\n${log()}`, p.exitInfo)
  }
}

export interface WalnutOptions extends ProxyOptions {
  /** Wait for the listen ports (default true); false returns right after spawn. */
  wait?: boolean
}

/**
 * The built walnut CLI (`node dist/src/cli/main.js -c <tmp>/walnut.yml -s <port> -a 127.0.0.1
 * ...args`), stdout/stderr captured. Resolves once the listen ports accept (opts.wait !== false).
 */
export async function startWalnut(
  configYaml: string,
  opts: WalnutOptions = {},
): Promise<ProxyProc> {
  const dir = tempDir('walnut')
  const configPath = join(dir, 'walnut.yml')
  writeFileSync(configPath, configYaml)
  const statsPort = opts.stats === false ? 0 : await freePort()
  const args = ['--enable-source-maps', WALNUT_MAIN, '-c', configPath]
  if (statsPort > 0) args.push('-s', String(statsPort), '-a', LOCALHOST)
  args.push(...(opts.args ?? []))
  const env = opts.env ? { ...process.env, ...opts.env } : process.env
  const p = new ProcImpl('walnut', process.execPath, args, dir, { env })
  const addrs = waitList(configYaml, opts)
  if (opts.wait === false) {
    await p.spawned()
    const first = addrs[0] ?? { host: LOCALHOST, port: 0 }
    return Object.assign(p, {
      host: first.host,
      port: first.port,
      ports: addrs.map((a) => a.port),
      statsPort,
      configPath,
    }) as unknown as ProxyProc
  }
  return proxyProc<ProxyProc>(
    p,
    addrs,
    statsPort,
    configPath,
    opts.timeoutMs ?? START_TIMEOUT_MS,
    {},
  )
}

export interface RunResult extends ExitInfo {
  stdout: Buffer
  stderr: Buffer
}

export interface RunOptions {
  /** Written to stdin, which is then closed (stdin is empty otherwise). */
  input?: string | Buffer
  env?: NodeJS.ProcessEnv
  /** Working directory (default: the repo root). */
  cwd?: string
  /** Killed (SIGKILL) and rejected after this long; default 10 s. */
  timeoutMs?: number
}

/** Runs `node dist/src/cli/main.js ...args` to completion (for -t, -V, locate, hash, ...). */
export async function runWalnut(
  args: readonly string[],
  opts: RunOptions = {},
): Promise<RunResult> {
  const dir = tempDir('walnut-run')
  const env = opts.env ? { ...process.env, ...opts.env } : process.env
  const argv = ['--enable-source-maps', WALNUT_MAIN, ...args]
  // tracked like the servers, so a hung CLI cannot outlive the test process
  const p = new ProcImpl('walnut', process.execPath, argv, dir, {
    env,
    cwd: opts.cwd ?? REPO_ROOT,
    stdin: opts.input ?? '',
  })
  const timeoutMs = opts.timeoutMs ?? START_TIMEOUT_MS
  try {
    if (!(await within(p.exited, timeoutMs))) {
      throw new Error(`walnut ${args.join(' ')}: no exit within ${timeoutMs} ms\n${p.output()}`)
    }
    await p.closedWithin(1000)
    const exit = p.exitInfo ?? { code: null, signal: null }
    return { ...exit, stdout: p.stdout(), stderr: p.stderr() }
  } finally {
    await p.stop()
  }
}

// ---------------------------------------------------------------------------------------------
// Byte-exact client

/**
 * Decides how many buffered bytes a read takes: a byte count (>= 0), `true` for everything
 * buffered, or `false` / a negative number to wait for more data.
 */
export type ReadUntil = (buffered: Buffer) => number | boolean

export interface Client {
  readonly socket: Socket
  /** Resolves when the socket is fully closed (either side). */
  readonly closed: Promise<void>
  /** True once the peer closed its side or the socket ended. */
  readonly ended: boolean
  send(data: Buffer | string): Promise<void>
  /** Exactly `n` bytes, or the prefix chosen by a ReadUntil predicate. */
  read(what: number | ReadUntil, timeoutMs?: number): Promise<Buffer>
  /** One complete RESP2/RESP3 reply, exact bytes. */
  readReply(timeoutMs?: number): Promise<Buffer>
  /** `count` complete RESP replies, each as its exact bytes. */
  readReplies(count: number, timeoutMs?: number): Promise<Buffer[]>
  /** One complete memcache ASCII reply (a line, or VALUE/STAT blocks through END). */
  readMcReply(timeoutMs?: number): Promise<Buffer>
  /** Everything until the peer closes the connection. */
  readUntilClose(timeoutMs?: number): Promise<Buffer>
  /** Waits `ms`, then takes whatever arrived (possibly nothing). */
  drain(ms: number): Promise<Buffer>
  /** Bytes received and not read yet (not consumed). */
  buffered(): Buffer
  /** Half-close: sends FIN, keeps reading. */
  end(): void
  /** Destroys the socket; resolves when closed. */
  close(): Promise<void>
}

/** Connects to host:port (127.0.0.1 by default); rejects after `timeoutMs`. */
export async function connect(
  port: number,
  host = LOCALHOST,
  timeoutMs = READ_TIMEOUT_MS,
): Promise<Client> {
  const socket = netConnect({ port, host })
  liveSockets.add(socket)
  socket.once('close', () => liveSockets.delete(socket))
  const client = new ClientImpl(socket)
  try {
    const ok = await within(once(socket, 'connect'), timeoutMs)
    if (!ok) throw new Error(`connect ${host}:${port}: timed out after ${timeoutMs} ms`)
  } catch (e) {
    socket.destroy()
    throw e
  }
  socket.setNoDelay(true)
  return client
}

class ClientImpl implements Client {
  readonly socket: Socket
  readonly closed: Promise<void>
  ended = false
  #buf: Buffer = Buffer.alloc(0)
  #error: Error | undefined = undefined
  #wake: (() => void) | undefined = undefined
  #reading = false

  constructor(socket: Socket) {
    this.socket = socket
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()))
    socket.on('data', (c: Buffer) => {
      this.#buf = this.#buf.length === 0 ? c : Buffer.concat([this.#buf, c])
      this.#wake?.()
    })
    socket.on('end', () => {
      this.ended = true
      this.#wake?.()
    })
    socket.on('close', () => {
      this.ended = true
      this.#wake?.()
    })
    socket.on('error', (e) => {
      this.#error = e
      this.#wake?.()
    })
  }

  send(data: Buffer | string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.socket.write(data, (err) => (err ? reject(err) : resolve()))
    })
  }

  async read(what: number | ReadUntil, timeoutMs = READ_TIMEOUT_MS): Promise<Buffer> {
    if (this.#reading) throw new Error('client: concurrent read() calls')
    this.#reading = true
    const deadline = Date.now() + timeoutMs
    try {
      for (;;) {
        const n = this.#want(what)
        if (n >= 0) {
          const out = Buffer.from(this.#buf.subarray(0, n))
          this.#buf = this.#buf.subarray(n)
          return out
        }
        const desc = typeof what === 'number' ? `${what} bytes` : 'a complete reply'
        if (this.#error) {
          throw new Error(
            `client: ${this.#error.message} while waiting for ${desc}; ${this.#state()}`,
          )
        }
        if (this.ended)
          throw new Error(`client: connection closed while waiting for ${desc}; ${this.#state()}`)
        const left = deadline - Date.now()
        if (left <= 0 || !(await this.#waitData(left))) {
          throw new Error(
            `client: timed out after ${timeoutMs} ms waiting for ${desc}; ${this.#state()}`,
          )
        }
      }
    } finally {
      this.#reading = false
    }
  }

  #want(what: number | ReadUntil): number {
    if (typeof what === 'number') return this.#buf.length >= what ? what : -1
    const r = what(this.#buf)
    if (r === true) return this.#buf.length
    if (r === false || r < 0) return -1
    if (r > this.#buf.length)
      throw new Error(`client: predicate asked for ${r} of ${this.#buf.length} bytes`)
    return r
  }

  #state(): string {
    return `buffered ${this.#buf.length} bytes: ${showBytes(this.#buf)}`
  }

  /** Resolves true on new data/close/error, false on timeout. */
  #waitData(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#wake = undefined
        resolve(false)
      }, ms)
      this.#wake = () => {
        clearTimeout(timer)
        this.#wake = undefined
        resolve(true)
      }
    })
  }

  async readReply(timeoutMs = READ_TIMEOUT_MS): Promise<Buffer> {
    return this.read((b) => respReplyEnd(b, 0), timeoutMs)
  }

  async readReplies(count: number, timeoutMs = READ_TIMEOUT_MS): Promise<Buffer[]> {
    const deadline = Date.now() + timeoutMs
    const out: Buffer[] = []
    for (let i = 0; i < count; i++) {
      out.push(await this.read((b) => respReplyEnd(b, 0), Math.max(1, deadline - Date.now())))
    }
    return out
  }

  readMcReply(timeoutMs = READ_TIMEOUT_MS): Promise<Buffer> {
    return this.read((b) => mcReplyEnd(b, 0), timeoutMs)
  }

  async readUntilClose(timeoutMs = READ_TIMEOUT_MS): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs
    while (!this.ended && !this.#error) {
      const left = deadline - Date.now()
      if (left <= 0 || !(await this.#waitData(left))) {
        throw new Error(`client: connection still open after ${timeoutMs} ms; ${this.#state()}`)
      }
    }
    const out = this.#buf
    this.#buf = Buffer.alloc(0)
    return out
  }

  async drain(ms: number): Promise<Buffer> {
    await new Promise((r) => setTimeout(r, ms))
    const out = this.#buf
    this.#buf = Buffer.alloc(0)
    return out
  }

  buffered(): Buffer {
    return this.#buf
  }

  end(): void {
    this.socket.end()
  }

  async close(): Promise<void> {
    this.socket.destroy()
    await this.closed
  }
}

// ---------------------------------------------------------------------------------------------
// Reply framing (exported for tests that frame bytes themselves)

const CR = 13
const LF = 10

/** Index just past the CRLF that ends the line starting at `start`, or -1 if incomplete. */
function lineEnd(buf: Buffer, start: number): number {
  const i = buf.indexOf('\r\n', start, 'latin1')
  return i < 0 ? -1 : i + 2
}

function lineInt(buf: Buffer, from: number, to: number, start: number): number {
  const s = buf.toString('latin1', from, to)
  if (!/^-?[0-9]+$/.test(s)) throw new Error(`RESP: bad length ${JSON.stringify(s)} at ${start}`)
  return Number(s)
}

/**
 * End offset (exclusive) of the RESP2/RESP3 value starting at `start`, or -1 if the buffer
 * does not hold all of it yet. Aggregates are walked recursively, so nested arrays, maps and
 * bulk strings holding CRLF are framed by their lengths. Throws on bytes that are not RESP.
 */
export function respReplyEnd(buf: Buffer, start = 0): number {
  if (buf.length <= start) return -1
  const end = lineEnd(buf, start + 1)
  if (end < 0) return -1
  const type = String.fromCharCode(buf[start]!)
  switch (type) {
    case '+': // simple string
    case '-': // error
    case ':': // integer
    case '_': // RESP3 null
    case ',': // RESP3 double
    case '#': // RESP3 boolean
    case '(': // RESP3 big number
      return end
    case '$': // bulk string
    case '!': // RESP3 blob error
    case '=': {
      // RESP3 verbatim string
      const n = lineInt(buf, start + 1, end - 2, start)
      if (n < 0) return end // $-1 null bulk
      if (buf.length < end + n + 2) return -1
      if (buf[end + n] !== CR || buf[end + n + 1] !== LF) {
        throw new Error(`RESP: bulk of ${n} bytes at ${start} not followed by CRLF`)
      }
      return end + n + 2
    }
    case '*': // array
    case '~': // RESP3 set
    case '>': // RESP3 push
    case '%': // RESP3 map
    case '|': {
      // RESP3 attribute (annotates the value that follows it)
      const n = lineInt(buf, start + 1, end - 2, start)
      if (n < 0) return end // *-1 null array
      const items = type === '%' || type === '|' ? 2 * n : n
      let off = end
      for (let i = 0; i < items; i++) {
        off = respReplyEnd(buf, off)
        if (off < 0) return -1
      }
      return type === '|' ? respReplyEnd(buf, off) : off
    }
    default:
      throw new Error(`RESP: unexpected type byte at ${start}: ${showBytes(buf.subarray(start))}`)
  }
}

/**
 * End offset (exclusive) of the memcache ASCII reply starting at `start`, or -1 if incomplete:
 * `VALUE key flags bytes [cas]` blocks through `END`, `STAT ...` lines through `END`, a meta
 * `VA size ...` header with its data block, or any other single line.
 */
export function mcReplyEnd(buf: Buffer, start = 0): number {
  let end = lineEnd(buf, start)
  if (end < 0) return -1
  const first = buf.toString('latin1', start, end - 2)
  if (first.startsWith('VA ')) return dataBlockEnd(buf, end, first, 1)
  if (first.startsWith('VALUE ')) {
    let line = first
    for (;;) {
      if (line === 'END') return end
      if (!line.startsWith('VALUE ')) {
        throw new Error(`memcache: expected VALUE or END, got ${JSON.stringify(line)}`)
      }
      const next = dataBlockEnd(buf, end, line, 3)
      if (next < 0) return -1
      end = lineEnd(buf, next)
      if (end < 0) return -1
      line = buf.toString('latin1', next, end - 2)
    }
  }
  if (first.startsWith('STAT ')) {
    let line = first
    while (line !== 'END') {
      const from = end
      end = lineEnd(buf, from)
      if (end < 0) return -1
      line = buf.toString('latin1', from, end - 2)
    }
    return end
  }
  return end
}

/** End of the `<data>\r\n` block after a header whose token `sizeAt` is the byte count. */
function dataBlockEnd(buf: Buffer, from: number, header: string, sizeAt: number): number {
  const size = header.split(' ')[sizeAt] ?? ''
  if (!/^[0-9]+$/.test(size)) throw new Error(`memcache: bad size in ${JSON.stringify(header)}`)
  const n = Number(size)
  if (buf.length < from + n + 2) return -1
  if (buf[from + n] !== CR || buf[from + n + 1] !== LF) {
    throw new Error(
      `memcache: data block of ${n} bytes not followed by CRLF (${JSON.stringify(header)})`,
    )
  }
  return from + n + 2
}

/** Printable form of bytes for messages: JSON-escaped latin1, cut at 200 bytes. */
export function showBytes(buf: Buffer): string {
  const cut = buf.length > 200
  const s = JSON.stringify(buf.toString('latin1', 0, cut ? 200 : buf.length))
  return cut ? `${s}... (${buf.length} bytes)` : s
}

// ---------------------------------------------------------------------------------------------
// Stats and metrics of a running proxy

/** The stats document of a walnut or nutcracker stats port (it writes it and closes), parsed. */
export async function statsDocument<T = Record<string, unknown>>(
  port: number,
  timeoutMs = READ_TIMEOUT_MS,
): Promise<T> {
  const c = await connect(port)
  try {
    return JSON.parse((await c.readUntilClose(timeoutMs)).toString('utf8')) as T
  } finally {
    await c.close()
  }
}

/** `GET /metrics` of a walnut metrics port, as text; the status must be 200. */
export async function scrapeMetrics(port: number): Promise<string> {
  const r = await fetch(`http://${LOCALHOST}:${port}/metrics`)
  assert.equal(r.status, 200, `GET /metrics on port ${port}`)
  return r.text()
}

// ---------------------------------------------------------------------------------------------
// Pids and daemons (processes not started through this module)

/** True while process `pid` exists (signal 0). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** Waits until process `pid` is gone; fails after `ms`. */
export async function gone(pid: number, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms
  while (alive(pid)) {
    if (Date.now() > deadline) assert.fail(`pid ${pid} still running after ${ms} ms`)
    await sleep(20)
  }
}

/** Field 4 of /proc/<pid>/stat: the parent pid. */
export function ppid(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
}

/**
 * A temp dir (`<prefix>XXXXXX`) and a set for the pids of daemons a test file
 * starts (walnut -d: children of nothing tracked here). When the file is done,
 * the daemons still in the set get SIGKILL and the dir is removed.
 */
export function daemonScratch(prefix: string): { dir: string; daemons: Set<number> } {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  const daemons = new Set<number>()
  after(() => {
    for (const pid of daemons) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {}
    }
    rmSync(dir, { recursive: true, force: true })
  })
  return { dir, daemons }
}
