/**
 * Configuration reload without a restart (docs/dns-and-reload.md).
 *
 * nutcracker never reloads; changing a pool means a restart that drops every
 * client. walnut re-reads its config on SIGUSR1 (and with --watch-config when
 * the file changes): load and validate exactly as at start, and if anything
 * is wrong keep running the old config. Otherwise diff by pool name:
 *
 *   pool in both, deep-equal ─────────────► untouched
 *   in both, same `redis` ────────────────► updated in place: kept servers (same
 *                                           name and address) keep their connections
 *                                           and ejection state; new servers are
 *                                           added; removed servers' connections
 *                                           finish their requests and close; the
 *                                           placement is rebuilt; clients stay
 *     ... and `listen` changed ───────────► the new address is bound, the old
 *                                           listener closed; clients stay
 *   only in the new config, or `redis` ──► added (bound, then served)
 *   flipped
 *   only in the old config ───────────────► removed: stops accepting; its clients
 *                                           get the replies to what they sent,
 *                                           then are closed (at most drainMs)
 *
 * Everything that can fail without side effects (reading, validating, the
 * first DNS answers for new names) comes first. A listener that cannot be
 * bound is logged and counted; the pool keeps its old listener (a changed
 * `listen`) or is left out (a new pool), and the rest of the reload stands.
 */

import { type FSWatcher, watch } from 'node:fs'
import type { Server as NetServer } from 'node:net'
import { basename, dirname, resolve as resolvePath } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { isDeepStrictEqual } from 'node:util'
import { loadConfig } from '../config/load.js'
import type { Config, PoolConfig } from '../config/types.js'
import type { ProtoLog } from '../proto/types.js'
import type { Pool } from './pool.js'
import type { ProxyServer } from './proxy.js'
import { settled } from './resolver.js'
import { Server } from './server.js'

/** How long a removed pool's clients get to finish before they are closed anyway. */
export const DRAIN_MS = 30_000
/** --watch-config: changes closer together than this are one reload. */
export const WATCH_DEBOUNCE_MS = 300
/** How often a drain checks whether a removed pool's clients are gone. */
const DRAIN_POLL_MS = 20

/**
 * walnut-only, process-wide reload counters (not in the nutcracker stats
 * document): for the Prometheus exporter and the tests.
 */
export const reloadCounters = {
  /** Reloads fully applied. */
  reloads: 0,
  /** Reloads refused (invalid config, unreadable file) or not fully applied (a bind failed). */
  reload_failures: 0,
  /** When the last reload attempt ended (ms since the epoch); 0: none yet. */
  last_reload_at: 0,
  /** Whether it was fully applied. */
  last_reload_ok: true,
}

/** Keys that shape a pool's listeners: a change re-binds them. */
const LISTEN_KEYS = [
  'listen',
  'backlog',
  'listenTls',
  'tlsListenCertFile',
  'tlsListenKeyFile',
  'tlsListenCaFile',
  'tlsListenVerifyClient',
] as const
/** Keys that shape a server connection's set-up: a change retires the pool's connections. */
const CONNECTION_KEYS = [
  'redisAuth',
  'redisAuthUser',
  'redisDb',
  'tls',
  'tlsCaFile',
  'tlsCertFile',
  'tlsKeyFile',
  'tlsServerName',
  'tlsVerify',
] as const

function field(cfg: PoolConfig, key: string): unknown {
  return (cfg as unknown as Record<string, unknown>)[key]
}

function differ(a: PoolConfig, b: PoolConfig, keys: readonly string[]): boolean {
  return keys.some((k) => !isDeepStrictEqual(field(a, k), field(b, k)))
}

/** A pool config without the positions in the file (moving a pool or a server is no change). */
function comparable(cfg: PoolConfig): unknown {
  return { ...cfg, index: 0, servers: cfg.servers.map((s) => ({ ...s, index: 0 })) }
}

/** What a reload does, by pool name. */
export interface ReloadPlan {
  readonly unchanged: readonly string[]
  /** Updated in place (same name, same `redis`). */
  readonly updated: readonly string[]
  /** The part of `updated` whose listeners change. */
  readonly relisten: readonly string[]
  readonly added: readonly string[]
  readonly removed: readonly string[]
}

/** The diff between the running pools and the new config's (pure). */
export function planReload(
  current: readonly PoolConfig[],
  next: readonly PoolConfig[],
): ReloadPlan {
  const old = new Map(current.map((p) => [p.name, p]))
  const unchanged: string[] = []
  const updated: string[] = []
  const relisten: string[] = []
  const added: string[] = []
  const removed: string[] = []
  const kept = new Set<string>()
  for (const cfg of next) {
    const was = old.get(cfg.name)
    if (was === undefined || was.redis !== cfg.redis) {
      added.push(cfg.name)
      continue
    }
    kept.add(cfg.name)
    if (isDeepStrictEqual(comparable(was), comparable(cfg))) {
      unchanged.push(cfg.name)
      continue
    }
    updated.push(cfg.name)
    if (differ(was, cfg, LISTEN_KEYS)) relisten.push(cfg.name)
  }
  for (const cfg of current) if (!kept.has(cfg.name)) removed.push(cfg.name)
  return { unchanged, updated, relisten, added, removed }
}

/** A pool updated in place: its servers in the new order, and the ones leaving. */
interface Update {
  readonly pool: Pool
  readonly config: PoolConfig
  readonly servers: Server[]
  readonly fresh: Server[]
  readonly leaving: Server[]
}

/** Pairs each server of `config` with the pool's Server of the same name and address, if any. */
function matchServers(pool: Pool, config: PoolConfig): Update {
  const byName = new Map(pool.servers.map((s) => [s.config.name, s]))
  const fresh: Server[] = []
  const servers = config.servers.map((sc, i) => {
    const s = byName.get(sc.name)
    if (s !== undefined && isDeepStrictEqual(s.config.address, sc.address)) {
      byName.delete(sc.name)
      return s
    }
    const n = new Server(pool, sc, i)
    fresh.push(n)
    return n
  })
  return { pool, config, servers, fresh, leaving: [...byName.values()] }
}

/** What a reload did. */
export interface ReloadResult {
  readonly plan: ReloadPlan
  /** Problems that kept part of the reload from being applied (bind failures). */
  readonly problems: readonly string[]
}

export interface ApplyOptions {
  readonly log: ProtoLog
  /** Bound on a removed pool's drain; default DRAIN_MS. */
  readonly drainMs?: number
  /** Checked between steps: true once the proxy is shutting down (the reload stops there). */
  readonly stopped?: () => boolean
}

/** Applies a loaded, valid config to a running proxy. */
export async function applyConfig(
  proxy: ProxyServer,
  next: Config,
  options: ApplyOptions,
): Promise<ReloadResult> {
  const log = options.log
  const stopped = options.stopped ?? (() => false)
  const plan = planReload(
    proxy.pools.map((p) => p.config),
    next.pools,
  )
  const running = new Map(proxy.pools.map((p) => [p.config.name, p]))
  const nextByName = new Map(next.pools.map((c) => [c.name, c]))
  const problems: string[] = []

  // 1. Prepare: nothing a client can see changes yet.
  const first: Promise<void>[] = []
  const added: Pool[] = plan.added.map((name) => {
    const cfg = nextByName.get(name)!
    const pool = proxy.newPool(cfg)
    first.push(...proxy.track(pool))
    return pool
  })
  const updates = plan.updated.map((name) =>
    matchServers(running.get(name)!, nextByName.get(name)!),
  )
  for (const u of updates) {
    for (const s of u.fresh) first.push(proxy.book.track(s, u.config.dnsRefreshInterval))
  }
  await settled(first)
  if (stopped()) {
    for (const p of added) for (const s of p.servers) proxy.book.untrack(s)
    for (const u of updates) for (const s of u.fresh) proxy.book.untrack(s)
    return { plan, problems: ['the proxy is stopping'] }
  }

  // 2. Commit the in-place updates (synchronously: no request sees half of one).
  for (const u of updates) commit(proxy, u, log)

  // 3. Listeners. An address that moves between our own listeners (a renamed pool,
  // a flipped `redis` flag, listen_tls kept while listen changes) is freed first.
  const relisten = plan.relisten.map((name) => running.get(name)!)
  const removed = plan.removed.map((name) => running.get(name)!)
  const oldListeners = new Map<Pool, NetServer[]>()
  for (const p of [...relisten, ...removed]) oldListeners.set(p, proxy.takeListeners(p))
  const wanted = new Set<string>()
  for (const p of [...relisten, ...added]) {
    wanted.add(p.config.listen.text)
    const tls = field(p.config, 'listenTls') as { text: string } | undefined
    if (tls !== undefined) wanted.add(tls.text)
  }
  for (const [p, servers] of oldListeners) {
    const free = servers.filter((s) => wanted.has(proxy.listenText.get(s) ?? ''))
    proxy.unlisten(free)
    oldListeners.set(
      p,
      servers.filter((s) => !free.includes(s)),
    )
  }
  for (const pool of relisten) {
    const old = oldListeners.get(pool) ?? []
    try {
      if (stopped()) throw new Error('the proxy is stopping')
      await proxy.listenPool(pool)
      proxy.unlisten(old)
    } catch (err) {
      proxy.unlisten(proxy.takeListeners(pool))
      proxy.giveListeners(pool, old)
      problems.push(`pool '${pool.config.name}' keeps its old listener: ${message(err)}`)
    }
  }
  const bound: Pool[] = []
  for (const pool of added) {
    try {
      if (stopped()) throw new Error('the proxy is stopping')
      await proxy.listenPool(pool)
      bound.push(pool)
    } catch (err) {
      proxy.unlisten(proxy.takeListeners(pool))
      for (const s of pool.servers) proxy.book.untrack(s)
      pool.close('Connection closed by proxy')
      problems.push(`pool '${pool.config.name}' not added: ${message(err)}`)
    }
  }

  // 4. The new pool list (the stats follow it); removed pools drain.
  const byName = new Map<string, Pool>()
  for (const p of proxy.pools)
    if (!plan.removed.includes(p.config.name)) byName.set(p.config.name, p)
  for (const p of bound) byName.set(p.config.name, p)
  const pools = next.pools.flatMap((c) => {
    const p = byName.get(c.name)
    return p === undefined ? [] : [p]
  })
  // In place: whoever holds the array (the Prometheus exporter) sees the new list.
  proxy.pools.length = 0
  proxy.pools.push(...pools)
  proxy.config = { path: next.path, pools: pools.map((p) => p.config) }
  for (const pool of bound) if (pool.config.preconnect) pool.preconnect()
  for (const u of updates) if (u.config.preconnect) for (const s of u.fresh) s.preconnect()
  for (const pool of removed) {
    proxy.unlisten(oldListeners.get(pool) ?? [])
    for (const s of pool.servers) proxy.book.untrack(s)
    void drainPool(proxy, pool, options.drainMs ?? DRAIN_MS, log)
  }
  return { plan, problems }
}

/** Applies one in-place update. */
function commit(proxy: ProxyServer, u: Update, log: ProtoLog): void {
  const { pool, config } = u
  const before = pool.config
  const reconnect = differ(before, config, CONNECTION_KEYS)
  pool.reconfigure(config, proxy.options.protocolFor(config), u.servers, proxy.wheel)
  for (const s of u.leaving) {
    proxy.book.untrack(s)
    s.retireAll()
    // Kept (for shutdown) only until its retired connections have finished.
    if (s.hasConnections) pool.leaving.add(s)
    log.log(5, 'reload', () => `p ${config.name}: server ${s.config.name} removed`)
  }
  for (const s of u.fresh)
    log.log(5, 'reload', () => `p ${config.name}: server ${s.config.name} added`)
  // New credentials or TLS settings: every connection is made again (after its requests).
  if (reconnect) for (const s of u.servers) s.retireAll()
  if (before.dnsRefreshInterval !== config.dnsRefreshInterval) {
    for (const s of u.servers) {
      if (!u.fresh.includes(s)) void proxy.book.retrack(s, config.dnsRefreshInterval)
    }
  }
}

/**
 * A removed pool: its clients get the replies to what they already sent, then
 * are closed; after `ms` the rest are cut. Then its server connections close.
 */
async function drainPool(proxy: ProxyServer, pool: Pool, ms: number, log: ProtoLog): Promise<void> {
  proxy.draining.add(pool)
  const clients = proxy.clientsOf.get(pool) ?? new Set()
  const n = clients.size
  for (const c of clients) c.close(null, true)
  const deadline = Date.now() + ms
  while (clients.size > 0 && Date.now() < deadline && proxy.draining.has(pool)) {
    await sleep(DRAIN_POLL_MS)
  }
  const cut = clients.size
  for (const c of [...clients]) c.destroy()
  proxy.clientsOf.delete(pool)
  if (!proxy.draining.delete(pool)) return // the proxy closed it meanwhile
  pool.close('Connection closed by proxy')
  log.log(
    5,
    'reload',
    () =>
      `p ${pool.config.name} removed: ${n - cut} clients drained${cut > 0 ? `, ${cut} cut after ${ms} ms` : ''}`,
  )
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

export interface ReloaderOptions {
  /** The config file, as given with -c. */
  readonly path: string
  readonly log: ProtoLog
  /** Default: loadConfig (the start-up loader). */
  readonly load?: (path: string) => Promise<Config>
  readonly drainMs?: number
}

/**
 * Runs reloads one at a time, on request (SIGUSR1) and, with watch(), when the
 * config file changes.
 */
export class Reloader {
  private chain: Promise<unknown> = Promise.resolve()
  private watcher: FSWatcher | null = null
  private debounce: NodeJS.Timeout | null = null
  private closed = false
  /** Absolute, so a later chdir cannot change which file is read. */
  private readonly file: string

  constructor(
    private readonly proxy: ProxyServer,
    private readonly options: ReloaderOptions,
  ) {
    this.file = resolvePath(options.path)
  }

  /** Reloads after any reload already running; resolves true when fully applied. */
  reload(trigger: string): Promise<boolean> {
    const run = this.chain.then(() => this.run(trigger))
    this.chain = run
    return run
  }

  /**
   * Reloads when the file changes. The directory is watched, not the file, so
   * an editor's write-and-rename (a new inode) is seen too.
   */
  watch(debounceMs = WATCH_DEBOUNCE_MS): void {
    if (this.watcher !== null || this.closed) return
    const name = basename(this.file)
    this.watcher = watch(dirname(this.file), (_event, changed) => {
      if (changed !== null && changed !== name) return
      if (this.debounce !== null) clearTimeout(this.debounce)
      this.debounce = setTimeout(() => {
        this.debounce = null
        void this.reload('file changed')
      }, debounceMs)
    })
    this.watcher.on('error', (err) => {
      this.options.log.log(3, 'reload', `watching '${this.options.path}' failed: ${message(err)}`)
    })
  }

  /** No more reloads (shutdown); resolves once one in progress has stopped. */
  async close(): Promise<void> {
    this.closed = true
    this.watcher?.close()
    this.watcher = null
    if (this.debounce !== null) clearTimeout(this.debounce)
    await this.chain.catch(() => {})
  }

  private async run(trigger: string): Promise<boolean> {
    if (this.closed) return false
    const { log, path } = this.options
    log.log(5, 'reload', `reloading configuration '${path}' (${trigger})`)
    let next: Config
    try {
      next = await (this.options.load ?? loadConfig)(this.file)
    } catch (err) {
      // The message has file:line:col, pool and key (a ConfigError), or why the file cannot be read.
      this.done(false)
      log.log(
        3,
        'reload',
        `configuration '${path}' not reloaded, the running one stays: ${message(err)}`,
      )
      return false
    }
    if (this.closed) return false
    let result: ReloadResult
    try {
      result = await applyConfig(this.proxy, next, {
        log,
        drainMs: this.options.drainMs,
        stopped: () => this.closed,
      })
    } catch (err) {
      this.done(false)
      log.log(3, 'reload', `configuration '${path}' not reloaded: ${message(err)}`)
      return false
    }
    for (const p of result.problems) log.log(3, 'reload', p)
    const ok = result.problems.length === 0
    this.done(ok)
    const { unchanged, updated, added, removed } = result.plan
    log.log(
      5,
      'reload',
      `configuration '${path}' ${ok ? 'reloaded' : 'partly reloaded'}: ${this.proxy.pools.length} pools (${unchanged.length} unchanged, ${updated.length} updated, ${added.length} added, ${removed.length} removed)`,
    )
    return ok
  }

  private done(ok: boolean): void {
    if (ok) reloadCounters.reloads++
    else reloadCounters.reload_failures++
    reloadCounters.last_reload_at = Date.now()
    reloadCounters.last_reload_ok = ok
  }
}
