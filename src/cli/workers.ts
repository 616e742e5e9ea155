/**
 * `--workers N` (N > 1): N processes serve the pools' listeners (node:cluster);
 * docs/operations.md "Workers" is the operator's view.
 *
 *   primary   pid file, stats port (and metrics port), owns the configuration
 *             (reads and validates the file, sends its bytes to every worker),
 *             forks the workers and restarts one that exits (with a back-off),
 *             turns signals into messages, sums the workers' stats
 *   worker    one ProxyServer on the bytes the primary sent, its own server
 *             connections; answers stats / metrics / reload requests; drains
 *             when the primary says so; ignores signals sent to it directly
 *
 * Decisions:
 *  - The primary holds the configuration's bytes, so a worker restarted later
 *    runs exactly what the others run even if the file was edited meanwhile (no
 *    reload was asked for): placement is a pure function of those bytes, so it
 *    is the same in every worker.
 *  - Scheduling: cluster.SCHED_NONE by default (NODE_CLUSTER_SCHED_POLICY=rr
 *    overrides it, as node:cluster reads that variable). The workers then accept
 *    on one shared listen socket and the primary is in no connection's path; a
 *    busy worker is not in epoll_wait, so the idle one takes the next client.
 *    Measured against round-robin (the primary accepts and passes each socket
 *    on) in docs/operations.md.
 *  - Signals go to the primary. A worker ignores its own copy (a terminal's ^C
 *    reaches the whole process group: acting on both copies would drain twice);
 *    the primary tells each worker once, over IPC. A worker whose primary is gone
 *    (IPC closed: the primary was killed) exits at once (node:cluster's rule).
 *  - Log lines of a worker carry `/w<slot>` after the module (`proxy/w2 ...`):
 *    the format stays nutcracker's `[time] <module> <message>`; slots are 1..N
 *    and a restarted worker keeps its slot.
 *  - Unix-socket listeners are refused with N > 1: ProxyServer removes a stale
 *    socket file before it binds, and in a second worker that removes the live
 *    file of the first (the shared socket would be unreachable).
 */
import cluster, { type Worker } from 'node:cluster'
import { type FSWatcher, watch } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import { basename, dirname, resolve as resolvePath } from 'node:path'
import { parseConfig } from '../config/load.js'
import type { Config } from '../config/types.js'
import { ProxyServer } from '../core/index.js'
import { Reloader, reloadCounters, WATCH_DEBOUNCE_MS } from '../core/reload.js'
import { resolverFor } from '../core/resolver.js'
import { Logger, type LoggerOptions, type LogMessage } from '../log/logger.js'
import { protocolFor } from '../proto/index.js'
import { type StatsView, sumStatsViews } from '../stats/json.js'
import { POOL_METRICS, SERVER_METRICS } from '../stats/metrics.js'
import {
  type MetricsData,
  type MetricsHttpServer,
  metricsData,
  renderMetrics,
  startMetricsServer,
  sumMetricsData,
} from '../stats/prometheus.js'
import { type StatsServer, startStatsServer } from '../stats/server.js'
import { proxyStatsView } from '../stats/snapshot.js'
import type { Options } from './args.js'
import { DAEMON_ENV, removePidFile, reportToLauncher, writePidFile } from './daemon.js'
import { drainProxy, releasePidFile, serveSignals } from './signals.js'
import { VERSION } from './version.js'

/** Set in a worker's environment: its slot, 1..N. */
export const WORKER_ENV = 'WALNUT_WORKER'
/** Longest wait for a worker to report that it listens. */
export const WORKER_START_TIMEOUT_MS = 60_000
/** Longest wait for a worker's stats or metrics answer; a late worker is left out. */
export const ASK_TIMEOUT_MS = 1000
/** Longest wait for a worker to apply a reload. */
export const RELOAD_ANSWER_TIMEOUT_MS = 60_000
/** Restart back-off: the first delay, the largest, and how long a worker must live to reset it. */
export const RESTART_MIN_MS = 100
export const RESTART_MAX_MS = 10_000
export const RESTART_STABLE_MS = 10_000
/** A drain's bound plus this: then the workers still alive are killed. */
const DRAIN_KILL_GRACE_MS = 5000

/** Signals a worker ignores: the primary handles them and tells the workers. */
const WORKER_IGNORED: readonly NodeJS.Signals[] = [
  'SIGINT',
  'SIGTERM',
  'SIGHUP',
  'SIGUSR1',
  'SIGUSR2',
  'SIGTTIN',
  'SIGTTOU',
]

/** Primary → worker. `conf`: the config file's bytes, base64. */
type ToWorker =
  | {
      t: 'init'
      slot: number
      path: string
      conf: string
      level: number
      startedAt: number
    }
  | { t: 'stats' | 'metrics'; id: number }
  | { t: 'reload'; id: number; path: string; conf: string; trigger: string }
  | { t: 'level'; level: number }
  | { t: 'reopen' | 'drain' | 'close' }

/** Worker → primary. */
type FromWorker =
  | { t: 'hello' }
  | { t: 'ready' }
  | { t: 'failed'; reason: string }
  | { t: 'answer'; id: number; value: unknown }

/** True in a process the primary forked (run.ts then calls runWorker). */
export function isWorkerProcess(): boolean {
  return cluster.isWorker && process.env[WORKER_ENV] !== undefined
}

/** The restart delay after `failures` quick exits in a row (0: the first). */
export function restartDelay(failures: number): number {
  return Math.min(RESTART_MIN_MS * 2 ** Math.min(failures, 30), RESTART_MAX_MS)
}

/** `status 1` or `signal SIGKILL`, for log lines. */
function exitText(code: number | null, signal: string | null): string {
  return signal !== null ? `signal ${signal}` : `status ${code}`
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

/** The first unix-socket listener of `config`, if any (refused with N > 1; see the file comment). */
function unixListener(config: Config): string | undefined {
  for (const p of config.pools) {
    for (const l of [p.listen, p.listenTls]) {
      if (l?.kind === 'unix') return `pool '${p.name}' listens on unix socket '${l.path}'`
    }
  }
  return undefined
}

function zeros<K extends string>(names: readonly { readonly name: K }[]): Record<K, number> {
  const c = {} as Record<K, number>
  for (const { name } of names) c[name] = 0
  return c
}

/** A view of `config` with every number 0: the sum starts from it (order, pools of absent workers). */
export function emptyStatsView(config: Config, startedAt: number, source: string): StatsView {
  return {
    source,
    startedAt,
    now: Date.now(),
    totalConnections: 0,
    currConnections: 0,
    pools: config.pools.map((p) => ({
      name: p.name,
      counters: zeros(POOL_METRICS),
      servers: p.servers.map((s) => ({ name: s.name, counters: zeros(SERVER_METRICS) })),
    })),
  }
}

/** Metrics data of `config` with every number 0, for the same reason. */
export function emptyMetricsData(config: Config): MetricsData {
  const latency = { counts: [], count: 0, sumMs: 0 }
  return {
    totalConnections: 0,
    currConnections: 0,
    pools: config.pools.map((p) => ({
      name: p.name,
      counters: zeros(POOL_METRICS),
      latency,
      servers: p.servers.map((s) => ({
        name: s.name,
        counters: zeros(SERVER_METRICS),
        latency,
        reachable: true,
        retryAt: 0,
      })),
    })),
  }
}

// ---- Primary -------------------------------------------------------------------------------

interface Slot {
  readonly n: number
  worker: Worker | null
  pid: number
  startedAt: number
  ready: boolean
  /** Quick exits in a row (the restart back-off). */
  failures: number
  restart: NodeJS.Timeout | null
  /** Set while the start-up waits for this worker: called with null (ready) or the reason. */
  onStart: ((reason: string | null) => void) | null
  /** The configuration the worker was started with. */
  sent: Current | null
}

/** A request to the workers waiting for their answers. */
interface Pending {
  got(slot: number, value: unknown): void
  /** A worker exited: finish if every worker still asked has answered. */
  check(): void
}

/** What the workers run: the config file's bytes as read, and the Config they give. */
interface Current {
  readonly path: string
  readonly conf: string
  readonly config: Config
}

class Primary {
  private readonly slots: Slot[] = []
  private readonly pending = new Map<number, Pending>()
  /** Request ids; 0 is never used (a catch-up reload nobody waits for). */
  private seq = 0
  private stopping = false
  restarts = 0
  private reloadChain: Promise<unknown> = Promise.resolve()
  private watcher: FSWatcher | null = null
  private debounce: NodeJS.Timeout | null = null
  /** Called when the last worker has exited during a stop. */
  private onAllExited: (() => void) | null = null
  /** Set by the first stop(). */
  private stopped: Promise<void> | null = null
  /** `source` of the stats document (read once, as nutcracker does). */
  private readonly source = hostname()

  constructor(
    private current: Current,
    private readonly options: Options,
    private readonly logger: Logger,
    readonly startedAt: number,
  ) {
    for (let n = 1; n <= options.workers; n++) {
      this.slots.push({
        n,
        worker: null,
        pid: 0,
        startedAt: 0,
        ready: false,
        failures: 0,
        restart: null,
        onStart: null,
        sent: null,
      })
    }
  }

  /** Forks every worker; resolves null once all listen, or the first reason one could not. */
  start(): Promise<string | null> {
    return new Promise((resolve) => {
      let left = this.slots.length
      let done = false
      const timer = setTimeout(() => {
        finish(`a worker did not report within ${WORKER_START_TIMEOUT_MS} ms`)
      }, WORKER_START_TIMEOUT_MS)
      const finish = (reason: string | null) => {
        if (done) return
        done = true
        clearTimeout(timer)
        for (const s of this.slots) s.onStart = null
        resolve(reason)
      }
      for (const slot of this.slots) {
        slot.onStart = (reason) => {
          if (reason !== null) finish(reason)
          else if (--left === 0) finish(null)
        }
        this.fork(slot)
      }
    })
  }

  private fork(slot: Slot): void {
    const w = cluster.fork({ [WORKER_ENV]: String(slot.n), [DAEMON_ENV]: '' })
    slot.worker = w
    slot.pid = w.process.pid ?? 0
    slot.ready = false
    slot.startedAt = Date.now()
    this.logger.notice('cli', `worker ${slot.n} started on pid ${slot.pid}`)
    w.on('message', (m: FromWorker) => this.onMessage(slot, w, m))
    w.on('exit', (code: number | null, signal: string | null) => this.onExit(slot, w, code, signal))
    w.on('error', (err) => {
      this.logger.warn('cli', `worker ${slot.n} (pid ${slot.pid}): ${message(err)}`)
    })
  }

  /** Sends `m` unless the channel is closed (a failed send is the worker's exit, handled there). */
  private post(w: Worker, m: ToWorker): void {
    if (!w.isConnected()) return
    w.send(m, undefined, undefined, () => {})
  }

  private onMessage(slot: Slot, w: Worker, m: FromWorker): void {
    if (slot.worker !== w) return
    switch (m.t) {
      case 'hello': {
        // Sent once the worker listens for messages (one sent earlier would be lost).
        const c = this.current
        slot.sent = c
        this.post(w, {
          t: 'init',
          slot: slot.n,
          path: c.path,
          conf: c.conf,
          level: this.logger.level,
          startedAt: this.startedAt,
        })
        break
      }
      case 'ready':
        slot.ready = true
        this.logger.notice('cli', `worker ${slot.n} (pid ${slot.pid}) ready`)
        slot.onStart?.(null)
        // A reload while it started did not ask it: it catches up (id 0: nobody waits).
        if (slot.sent !== this.current) {
          const c = this.current
          this.post(w, { t: 'reload', id: 0, path: c.path, conf: c.conf, trigger: 'catch-up' })
        }
        break
      case 'failed':
        this.logger.error('cli', `worker ${slot.n} (pid ${slot.pid}) could not start: ${m.reason}`)
        slot.onStart?.(m.reason)
        break
      case 'answer':
        this.pending.get(m.id)?.got(slot.n, m.value)
        break
    }
  }

  private onExit(slot: Slot, w: Worker, code: number | null, signal: string | null): void {
    if (slot.worker !== w) return
    slot.worker = null
    slot.ready = false
    for (const p of this.pending.values()) p.check()
    const how = exitText(code, signal)
    if (this.stopping) {
      this.logger.notice('cli', `worker ${slot.n} (pid ${slot.pid}) exited with ${how}`)
      if (this.slots.every((s) => s.worker === null)) this.onAllExited?.()
      return
    }
    if (slot.onStart !== null) {
      slot.onStart(`worker ${slot.n} exited with ${how} before it was listening`)
      return
    }
    if (Date.now() - slot.startedAt >= RESTART_STABLE_MS) slot.failures = 0
    const delay = restartDelay(slot.failures)
    slot.failures++
    this.logger.error(
      'cli',
      `worker ${slot.n} (pid ${slot.pid}) exited with ${how}; restarting in ${delay} ms`,
    )
    slot.restart = setTimeout(() => {
      slot.restart = null
      if (this.stopping) return
      this.restarts++
      this.fork(slot)
    }, delay)
  }

  /**
   * Asks every ready worker and resolves with the answers, in slot order. A worker
   * that has not answered within `timeoutMs` is left out (logged); one that exits
   * meanwhile too.
   */
  private ask(
    m: { t: 'stats' | 'metrics' } | Omit<Extract<ToWorker, { t: 'reload' }>, 'id'>,
    timeoutMs: number,
  ): Promise<unknown[]> {
    const asked = this.slots.flatMap((s) =>
      s.ready && s.worker !== null ? [{ slot: s, worker: s.worker }] : [],
    )
    if (asked.length === 0) return Promise.resolve([])
    const id = ++this.seq
    return new Promise((resolve) => {
      const got = new Map<number, unknown>()
      const finish = () => {
        clearTimeout(timer)
        this.pending.delete(id)
        for (const { slot, worker } of asked) {
          if (got.has(slot.n)) continue
          if (slot.worker === worker) {
            this.logger.warn(
              'cli',
              `worker ${slot.n} (pid ${slot.pid}) did not answer the ${m.t} request within ${timeoutMs} ms: left out`,
            )
          } else {
            this.logger.info('cli', `worker ${slot.n} exited before answering the ${m.t} request`)
          }
        }
        resolve(asked.flatMap(({ slot }) => (got.has(slot.n) ? [got.get(slot.n)] : [])))
      }
      const check = () => {
        if (asked.every(({ slot, worker }) => got.has(slot.n) || slot.worker !== worker)) finish()
      }
      const timer = setTimeout(finish, timeoutMs)
      this.pending.set(id, {
        got: (n, value) => {
          got.set(n, value)
          check()
        },
        check,
      })
      for (const { worker } of asked) this.post(worker, { ...m, id } as ToWorker)
    })
  }

  /** The stats document's view: the sum over the workers that answer. */
  async statsView(): Promise<StatsView> {
    const views = (await this.ask({ t: 'stats' }, ASK_TIMEOUT_MS)) as StatsView[]
    const base = emptyStatsView(this.current.config, this.startedAt, this.source)
    return sumStatsViews([base, ...views])
  }

  /** The Prometheus exposition: the same sum, histograms bucket by bucket. */
  async metricsText(): Promise<string> {
    const parts = (await this.ask({ t: 'metrics' }, ASK_TIMEOUT_MS)) as MetricsData[]
    const sum = sumMetricsData([emptyMetricsData(this.current.config), ...parts])
    return renderMetrics({
      version: VERSION,
      startedAt: this.startedAt,
      now: Date.now(),
      totalConnections: sum.totalConnections,
      currConnections: sum.currConnections,
      pools: sum.pools,
      latency: true,
      reloads: reloadCounters,
      workers: { answered: parts.length, restarts: this.restarts },
    })
  }

  /** Tells every worker something (level, reopen). */
  broadcast(m: ToWorker): void {
    for (const s of this.slots) if (s.worker !== null) this.post(s.worker, m)
  }

  /** Reloads after any reload already running (SIGUSR1, --watch-config). */
  reload(trigger: string): Promise<void> {
    const run = this.reloadChain.then(() => this.reloadOnce(trigger))
    this.reloadChain = run
    return run
  }

  /**
   * Reads and validates the file here; a bad file leaves every worker alone.
   * Otherwise its bytes become what the workers run (a restarted worker gets
   * them too), and each worker applies them (src/core/reload.ts). Counted in the
   * primary's reloadCounters: applied only if every worker applied it.
   */
  private async reloadOnce(trigger: string): Promise<void> {
    if (this.stopping) return
    const log = this.logger
    const shown = this.options.confFile
    const path = resolvePath(shown)
    log.notice('reload', `reloading configuration '${shown}' (${trigger})`)
    let next: Current
    try {
      const bytes = await readFile(path)
      const config = await parseConfig(bytes, path)
      const unix = unixListener(config)
      if (unix !== undefined) throw new Error(`${unix}: --workers needs TCP listeners`)
      next = { path, conf: bytes.toString('base64'), config }
    } catch (err) {
      counted(false)
      log.error(
        'reload',
        `configuration '${shown}' not reloaded, the running one stays: ${message(err)}`,
      )
      return
    }
    if (this.stopping) return
    this.current = next
    const live = this.slots.filter((s) => s.ready).length
    const answers = await this.ask(
      { t: 'reload', path: next.path, conf: next.conf, trigger },
      RELOAD_ANSWER_TIMEOUT_MS,
    )
    const applied = answers.filter((a) => a === true).length
    const ok = applied === live && live > 0
    counted(ok)
    if (ok) log.notice('reload', `configuration '${shown}' reloaded in ${applied} workers`)
    else {
      log.error(
        'reload',
        `configuration '${shown}' fully applied in ${applied} of ${live} workers (see their lines)`,
      )
    }
  }

  /** --watch-config: the file's directory is watched (an editor's rename is seen too). */
  watch(): void {
    const file = resolvePath(this.options.confFile)
    const name = basename(file)
    this.watcher = watch(dirname(file), (_event, changed) => {
      if (changed !== null && changed !== name) return
      if (this.debounce !== null) clearTimeout(this.debounce)
      this.debounce = setTimeout(() => {
        this.debounce = null
        void this.reload('file changed')
      }, WATCH_DEBOUNCE_MS)
    })
    this.watcher.on('error', (err) => {
      this.logger.error('reload', `watching '${this.options.confFile}' failed: ${message(err)}`)
    })
  }

  /** Workers alive now. */
  get alive(): number {
    return this.slots.filter((s) => s.worker !== null).length
  }

  /**
   * Stop: no more restarts or reloads; every worker drains (`drain`) or closes at
   * once (`close`). Resolves once all have exited; after `boundMs` the rest are killed.
   */
  stop(how: 'drain' | 'close', boundMs: number): Promise<void> {
    this.broadcast({ t: how })
    this.stopped ??= this.stopAll(boundMs)
    return this.stopped
  }

  private stopAll(boundMs: number): Promise<void> {
    this.stopping = true
    this.watcher?.close()
    this.watcher = null
    if (this.debounce !== null) clearTimeout(this.debounce)
    for (const s of this.slots) {
      if (s.restart !== null) clearTimeout(s.restart)
      s.restart = null
    }
    if (this.alive === 0) return Promise.resolve()
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        for (const s of this.slots) {
          if (s.worker === null) continue
          this.logger.warn('cli', `worker ${s.n} (pid ${s.pid}) still running: killed`)
          s.worker.process.kill('SIGKILL')
        }
      }, boundMs)
      this.onAllExited = () => {
        clearTimeout(timer)
        resolve()
      }
    })
  }
}

function counted(ok: boolean): void {
  if (ok) reloadCounters.reloads++
  else reloadCounters.reload_failures++
  reloadCounters.last_reload_at = Date.now()
  reloadCounters.last_reload_ok = ok
}

/**
 * The primary of `--workers N`: run.ts calls it instead of startProxy once the
 * configuration is known to be good. Resolves with the exit status.
 */
export async function startWorkers(
  config: Config,
  options: Options,
  logger: Logger,
): Promise<number> {
  const startedAt = Date.now()
  const pidFile = options.pidFile
  let pidWritten = false
  let stats: StatsServer | null = null
  let metrics: MetricsHttpServer | null = null
  let primary: Primary | null = null
  const fail = async (reason: string): Promise<number> => {
    await primary?.stop('close', DRAIN_KILL_GRACE_MS)
    await Promise.all([stats?.close(), metrics?.close()])
    if (pidWritten && pidFile !== undefined) removePidFile(pidFile)
    logger.error('cli', reason)
    logger.always('cli', 'done, exiting')
    await reportToLauncher({ ok: false, reason })
    return 1
  }
  let current: Current
  try {
    // The bytes the workers will run; validated here again (the file may have changed since).
    const bytes = await readFile(options.confFile)
    current = {
      path: options.confFile,
      conf: bytes.toString('base64'),
      config: await parseConfig(bytes, options.confFile),
    }
  } catch (err) {
    return fail(message(err))
  }
  const unix = unixListener(current.config) ?? unixListener(config)
  if (unix !== undefined) return fail(`${unix}: --workers needs TCP listeners`)
  try {
    if (pidFile !== undefined) {
      writePidFile(pidFile)
      pidWritten = true
    }
    primary = new Primary(current, options, logger, startedAt)
    const p = primary
    stats = await startStatsServer({
      host: options.statsAddr,
      port: options.statsPort,
      view: () => p.statsView(),
      log: logger,
    })
    if (options.statsMetricsPort !== undefined) {
      metrics = await startMetricsServer({
        host: options.statsMetricsAddr ?? options.statsAddr,
        port: options.statsMetricsPort,
        render: () => p.metricsText(),
        log: logger,
      })
    }
  } catch (err) {
    return fail(message(err))
  }
  // node:cluster reads NODE_CLUSTER_SCHED_POLICY itself; otherwise walnut's choice.
  if (process.env.NODE_CLUSTER_SCHED_POLICY === undefined) {
    cluster.schedulingPolicy = cluster.SCHED_NONE
  }
  const policy = cluster.schedulingPolicy === cluster.SCHED_RR ? 'rr' : 'none'
  logger.notice('cli', `starting ${options.workers} workers (scheduling: ${policy})`)
  const problem = await primary.start()
  if (problem !== null) return fail(problem)
  await reportToLauncher({ ok: true, pid: process.pid })
  if (options.watchConfig) primary.watch()
  const running = primary
  return serveSignals(logger, {
    drain: async () => {
      const t0 = Date.now()
      logger.notice(
        'cli',
        `draining ${running.alive} workers for at most ${options.drainTimeout} ms`,
      )
      await running.stop('drain', options.drainTimeout + DRAIN_KILL_GRACE_MS)
      logger.notice('cli', `workers stopped in ${Date.now() - t0} ms`)
    },
    force: () => void running.stop('close', DRAIN_KILL_GRACE_MS),
    cleanup: async () => {
      await Promise.all([stats?.close(), metrics?.close()])
      if (pidWritten && pidFile !== undefined) releasePidFile(pidFile, logger)
    },
    reopened: () => running.broadcast({ t: 'reopen' }),
    levelChanged: () => running.broadcast({ t: 'level', level: logger.level }),
    usr1: () => void running.reload('SIGUSR1'),
  })
}

// ---- Worker --------------------------------------------------------------------------------

/** A worker's log: the primary's format, with `/w<slot>` after the module. */
class WorkerLogger extends Logger {
  readonly #tag: string
  constructor(slot: number, options: LoggerOptions) {
    super(options)
    this.#tag = `/w${slot}`
  }
  override log(level: number, module: string, message: LogMessage): void {
    if (this.enabled(level)) super.log(level, module + this.#tag, message)
  }
  override always(module: string, message: LogMessage): void {
    super.always(module + this.#tag, message)
  }
}

function send(m: FromWorker): void {
  if (process.connected) process.send?.(m, undefined, undefined, () => {})
}

/**
 * A worker's life: wait for the primary's `init`, listen, serve until told to
 * drain (or the primary is gone). Resolves with the exit status.
 */
export function runWorker(options: Options): Promise<number> {
  for (const sig of WORKER_IGNORED) process.on(sig, () => {})
  return new Promise<number>((resolve) => {
    let proxy: ProxyServer | null = null
    let reloader: Reloader | null = null
    let logger: Logger | null = null
    let view: (() => StatsView) | null = null
    let next = { path: options.confFile, conf: '' }
    /** 'drain' or 'close' arrived (or the primary went away) before or while listening. */
    let stopAsked: 'drain' | 'close' | null = null
    let draining = false
    let forced = false
    let ended = false

    const end = (code: number) => {
      if (ended) return
      ended = true
      process.off('message', onMessage)
      logger?.close()
      resolve(code)
      // The IPC channel would keep the process alive; node:cluster's own handler would
      // exit 0 on a disconnect, whatever the status.
      setImmediate(() => process.exit(code))
    }
    const drain = async () => {
      if (draining || proxy === null || logger === null) return
      draining = true
      const p = proxy
      const log = logger
      await drainProxy(p, options.drainTimeout, log, () => forced)
      await reloader?.close()
      end(forced ? 1 : 0)
    }
    const stop = (how: 'drain' | 'close') => {
      if (how === 'close') {
        forced = true
        if (draining) void proxy?.close()
      }
      stopAsked ??= how
      if (proxy === null) {
        // Not listening yet: nothing to drain.
        if (logger === null || how === 'close') end(forced ? 1 : 0)
        return
      }
      void drain()
    }
    const start = async (init: Extract<ToWorker, { t: 'init' }>) => {
      try {
        logger = new WorkerLogger(init.slot, { output: options.output, level: init.level })
      } catch (err) {
        send({ t: 'failed', reason: message(err) })
        return end(1)
      }
      const log = logger
      next = { path: init.path, conf: init.conf }
      let p: ProxyServer
      try {
        const config = await parseConfig(Buffer.from(init.conf, 'base64'), init.path)
        p = new ProxyServer(config, {
          log,
          protocolFor,
          latency: options.statsMetricsPort !== undefined,
          resolver: resolverFor(options.dnsServers),
        })
        await p.listen()
      } catch (err) {
        log.error('proxy', message(err))
        send({ t: 'failed', reason: message(err) })
        return end(1)
      }
      proxy = p
      view = proxyStatsView(p, { startedAt: init.startedAt })
      reloader = new Reloader(p, {
        path: options.confFile,
        log,
        load: (_path) => parseConfig(Buffer.from(next.conf, 'base64'), next.path),
      })
      send({ t: 'ready' })
      if (stopAsked !== null) void drain()
    }
    const onMessage = (m: ToWorker) => {
      switch (m.t) {
        case 'init':
          void start(m)
          break
        case 'stats':
          if (view !== null) send({ t: 'answer', id: m.id, value: view() })
          break
        case 'metrics':
          if (proxy !== null) send({ t: 'answer', id: m.id, value: metricsData(proxy.pools) })
          break
        case 'reload': {
          const r = reloader
          if (r === null || draining) break
          next = { path: m.path, conf: m.conf }
          void r.reload(m.trigger).then((ok) => send({ t: 'answer', id: m.id, value: ok }))
          break
        }
        case 'level':
          logger?.setLevel(m.level)
          break
        case 'reopen':
          logger?.reopen()
          break
        case 'drain':
        case 'close':
          stop(m.t)
          break
      }
    }
    process.on('message', onMessage)
    send({ t: 'hello' })
  })
}
