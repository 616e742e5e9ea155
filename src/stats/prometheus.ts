/**
 * Prometheus text exposition (format 0.0.4) of everything the stats document
 * reports, plus what nutcracker never had: per-pool and per-server request
 * latency histograms and per-server `up` / `ejected` state. Served over HTTP at
 * `GET /metrics` on its own port (`--stats-metrics-port`); the stats port keeps
 * nutcracker's raw JSON (see src/stats/server.ts for why it never sniffs).
 *
 * Names: `walnut_pool_<stat>` with label `pool`, `walnut_server_<stat>` with
 * labels `pool` and `server` (the stats key), where <stat> is nutcracker's name
 * without a leading `server_`. Counters end in `_total`; gauges keep the name;
 * nutcracker's `server_ejected_at` (µs since the epoch) becomes
 * `walnut_server_ejected_timestamp_seconds`. Walnut-only fields added to
 * PoolCounters / ServerCounters are exported too, typed by EXTRA_METRICS (a
 * field missing there is exported `untyped` rather than guessed). Backend
 * names and reloads (docs/dns-and-reload.md): `walnut_server_address_info`
 * (label `address`), `walnut_server_address_changed_timestamp_seconds`, and
 * the process's `walnut_config_reload*` counters.
 *
 * A scrape renders the text from the live counters (always fresh, like the
 * JSON); nothing is kept between scrapes.
 */

import { lookup } from 'node:dns/promises'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { connections } from '../core/counters.js'
import { reloadCounters } from '../core/reload.js'
import { ProxyError } from '../errors.js'
import { LOG_ERR, LOG_NOTICE, LOG_VERB } from '../log/logger.js'
import { strerror } from '../log/strerror.js'
import { LATENCY_BOUNDS_SECONDS, LatencyHistogram } from './latency.js'
import { bindListener, closeListener } from './listener.js'
import { METRICS, type MetricKind } from './metrics.js'
import type { StatsLog } from './server.js'

/** The Content-Type of the text format. */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'
/** The one path served. */
export const METRICS_PATH = '/metrics'

/** A server as the exposition reads it (src/core/server.ts's Server fits). */
export interface MetricsServer {
  readonly config: { readonly name: string }
  /** ServerCounters: nutcracker's fields and any walnut-only ones. */
  readonly counters: object
  readonly latency: LatencyHistogram
  /** False since a connection to it failed, until one succeeds. */
  readonly reachable: boolean
  /** When ejected: the time (ms since the epoch) it may return; 0 when live. */
  readonly retryAt: number
  /** The address in use (docs/dns-and-reload.md); null while its name does not resolve. */
  readonly address?: string | null
  /** When `address` last changed (ms since the epoch; 0: never resolved). */
  readonly addressChangedAt?: number
}

/** A pool as the exposition reads it (src/core/pool.ts's Pool fits). */
export interface MetricsPool {
  readonly config: { readonly name: string }
  /** PoolCounters: nutcracker's fields and any walnut-only ones. */
  readonly counters: object
  readonly latency: LatencyHistogram
  readonly servers: readonly MetricsServer[]
}

/** What one exposition describes. */
export interface MetricsSnapshot {
  readonly version: string
  /** When the stats module started (ms since the epoch). */
  readonly startedAt: number
  /** The moment described (ms since the epoch). */
  readonly now: number
  readonly totalConnections: number
  readonly currConnections: number
  readonly pools: readonly MetricsPool[]
  /** Include the latency histograms (only meaningful when requests are timed). */
  readonly latency: boolean
  /** Config reload counters (src/core/reload.ts), when the proxy can reload. */
  readonly reloads?: ReloadCounts
  /** --workers > 1: the processes summed here (src/cli/workers.ts). */
  readonly workers?: WorkerCounts
}

/** The primary's view of its workers, for `walnut_workers` and `walnut_worker_restarts_total`. */
export interface WorkerCounts {
  /** Workers whose numbers this exposition sums (those that answered). */
  readonly answered: number
  /** Workers restarted after they exited. */
  readonly restarts: number
}

/** src/core/reload.ts's reloadCounters. */
export interface ReloadCounts {
  readonly reloads: number
  readonly reload_failures: number
  readonly last_reload_at: number
  readonly last_reload_ok: boolean
}

/** Kind and help of the walnut-only counter fields known to the exposition. */
export const EXTRA_METRICS: Readonly<
  Record<string, { readonly kind: MetricKind; readonly help: string }>
> = {
  request_too_large: { kind: 'counter', help: 'requests refused for exceeding max_request_size' },
  client_buffer_closed: {
    kind: 'counter',
    help: 'clients closed for leaving more than client_max_buffer reply bytes unread',
  },
  client_read_paused: {
    kind: 'counter',
    help: 'times a client stopped being read (client_max_inflight or unread replies)',
  },
}

const KNOWN = new Set<string>(METRICS.map((m) => m.name))
const TIMESTAMP_HELP = 'when the server was last ejected, seconds since the epoch (0: never)'

/** A label value as the text format quotes it. */
export function escapeLabel(v: string): string {
  return v.replace(/[\\"\n]/g, (c) => (c === '\\' ? '\\\\' : c === '"' ? '\\"' : '\\n'))
}

function escapeHelp(v: string): string {
  return v.replace(/[\\\n]/g, (c) => (c === '\\' ? '\\\\' : '\\n'))
}

/** A sample value: integers plainly, floats in JS's shortest round-trip form. */
function num(n: number): string {
  if (Number.isNaN(n)) return 'NaN'
  if (n === Number.POSITIVE_INFINITY) return '+Inf'
  if (n === Number.NEGATIVE_INFINITY) return '-Inf'
  return String(n)
}

const PROM_TYPE: Readonly<Record<MetricKind | 'untyped', string>> = {
  counter: 'counter',
  gauge: 'gauge',
  timestamp: 'gauge',
  untyped: 'untyped',
}

/** The exposition name of a counter field: prefix, nutcracker name, `_total` for counters. */
function familyName(prefix: string, field: string, kind: MetricKind | 'untyped'): string {
  let stat = prefix === 'walnut_server_' && field.startsWith('server_') ? field.slice(7) : field
  if (kind === 'timestamp') return `${prefix}${stat.replace(/_at$/, '')}_timestamp_seconds`
  if (kind === 'counter') stat += '_total'
  return `${prefix}${stat}`
}

/** One family being written: HELP and TYPE once, then its samples. */
class Out {
  text = ''
  family(name: string, type: string, help: string): void {
    this.text += `# HELP ${name} ${escapeHelp(help)}\n# TYPE ${name} ${type}\n`
  }
  sample(name: string, labels: string, value: number): void {
    this.text += `${name}{${labels}} ${num(value)}\n`
  }
  plain(name: string, value: number): void {
    this.text += `${name} ${num(value)}\n`
  }
}

function poolLabels(p: MetricsPool): string {
  return `pool="${escapeLabel(p.config.name)}"`
}

function serverLabels(p: MetricsPool, s: MetricsServer): string {
  return `pool="${escapeLabel(p.config.name)}",server="${escapeLabel(s.config.name)}"`
}

function field(counters: object, name: string): number {
  const v = (counters as Record<string, unknown>)[name]
  return typeof v === 'number' ? v : 0
}

/** Numeric fields of `counters` that nutcracker's table does not list, in field order. */
function extraFields(counters: object): string[] {
  return Object.keys(counters).filter(
    (k) => !KNOWN.has(k) && typeof (counters as Record<string, unknown>)[k] === 'number',
  )
}

/** Fields of one scope: nutcracker's (table order), then walnut's (first pool's field order). */
function fieldsOf(
  scope: 'pool' | 'server',
  sample: object | undefined,
): { name: string; kind: MetricKind | 'untyped'; help: string }[] {
  const out: { name: string; kind: MetricKind | 'untyped'; help: string }[] = METRICS.filter(
    (m) => m.scope === scope,
  ).map((m) => ({
    name: m.name,
    kind: m.kind,
    // nutcracker's text says usec; the exposition converts timestamps to seconds.
    help: m.kind === 'timestamp' ? TIMESTAMP_HELP : m.description,
  }))
  if (sample !== undefined) {
    for (const k of extraFields(sample)) {
      const known = EXTRA_METRICS[k]
      out.push({
        name: k,
        kind: known?.kind ?? 'untyped',
        help: known?.help ?? `walnut ${scope} field ${k}`,
      })
    }
  }
  return out
}

function histogram(out: Out, name: string, labels: string, h: LatencyHistogram): void {
  const cum = h.cumulative()
  for (let i = 0; i < LATENCY_BOUNDS_SECONDS.length; i++) {
    out.sample(`${name}_bucket`, `${labels},le="${LATENCY_BOUNDS_SECONDS[i]}"`, cum[i] as number)
  }
  out.sample(`${name}_bucket`, `${labels},le="+Inf"`, h.count)
  out.sample(`${name}_sum`, labels, h.sumMs / 1000)
  out.sample(`${name}_count`, labels, h.count)
}

/** The exposition text for `snap`. */
export function renderMetrics(snap: MetricsSnapshot): string {
  const out = new Out()
  out.family('walnut_info', 'gauge', 'walnut version (always 1)')
  out.sample('walnut_info', `version="${escapeLabel(snap.version)}"`, 1)
  out.family('walnut_start_time_seconds', 'gauge', 'when the stats module started')
  out.plain('walnut_start_time_seconds', Math.floor(snap.startedAt / 1000))
  out.family('walnut_uptime_seconds', 'gauge', 'seconds since the stats module started')
  out.plain(
    'walnut_uptime_seconds',
    Math.floor(snap.now / 1000) - Math.floor(snap.startedAt / 1000),
  )
  out.family(
    'walnut_connections_total',
    'counter',
    'connections ever created: listeners, clients, server connection attempts',
  )
  out.plain('walnut_connections_total', snap.totalConnections)
  out.family('walnut_curr_connections', 'gauge', 'connections open now')
  out.plain('walnut_curr_connections', snap.currConnections)
  if (snap.workers !== undefined) {
    out.family('walnut_workers', 'gauge', 'worker processes summed in this exposition (--workers)')
    out.plain('walnut_workers', snap.workers.answered)
    out.family(
      'walnut_worker_restarts_total',
      'counter',
      'worker processes restarted after they exited',
    )
    out.plain('walnut_worker_restarts_total', snap.workers.restarts)
  }

  const pools = snap.pools
  for (const f of fieldsOf('pool', pools[0]?.counters)) {
    const name = familyName('walnut_pool_', f.name, f.kind)
    out.family(name, PROM_TYPE[f.kind], f.help)
    for (const p of pools) out.sample(name, poolLabels(p), field(p.counters, f.name))
  }

  const firstServer = pools.find((p) => p.servers.length > 0)?.servers[0]
  for (const f of fieldsOf('server', firstServer?.counters)) {
    const name = familyName('walnut_server_', f.name, f.kind)
    out.family(name, PROM_TYPE[f.kind], f.help)
    // Timestamps are µs; divide (not * 1e-6) so the seconds are the exact decimal.
    const divisor = f.kind === 'timestamp' ? 1e6 : 1
    for (const p of pools) {
      for (const s of p.servers)
        out.sample(name, serverLabels(p, s), field(s.counters, f.name) / divisor)
    }
  }
  out.family(
    'walnut_server_up',
    'gauge',
    '0 after a connection to the server failed (refused, reset, timed out) until one succeeds',
  )
  for (const p of pools) {
    for (const s of p.servers)
      out.sample('walnut_server_up', serverLabels(p, s), s.reachable ? 1 : 0)
  }
  out.family(
    'walnut_server_ejected',
    'gauge',
    '1 while the server is ejected from its pool (auto_eject_hosts)',
  )
  for (const p of pools) {
    for (const s of p.servers) {
      out.sample('walnut_server_ejected', serverLabels(p, s), s.retryAt > snap.now ? 1 : 0)
    }
  }

  addresses(out, pools)
  if (snap.reloads !== undefined) reloads(out, snap.reloads)

  if (snap.latency) {
    const pname = 'walnut_pool_request_duration_seconds'
    out.family(pname, 'histogram', 'request latency: request read to reply queued to the client')
    for (const p of pools) histogram(out, pname, poolLabels(p), p.latency)
    const sname = 'walnut_server_request_duration_seconds'
    out.family(
      sname,
      'histogram',
      'latency of requests sent to the server: request read to reply queued (fragments: to their reply)',
    )
    for (const p of pools) {
      for (const s of p.servers) histogram(out, sname, serverLabels(p, s), s.latency)
    }
  }
  return out.text
}

/** Each server's current address and when it changed (docs/dns-and-reload.md). */
function addresses(out: Out, pools: readonly MetricsPool[]): void {
  if (!pools.some((p) => p.servers.some((s) => s.address !== undefined))) return
  const info = 'walnut_server_address_info'
  out.family(
    info,
    'gauge',
    "the server's address in use (always 1; none while its name does not resolve)",
  )
  for (const p of pools) {
    for (const s of p.servers) {
      const a = s.address
      if (a !== undefined && a !== null) {
        out.sample(info, `${serverLabels(p, s)},address="${escapeLabel(a)}"`, 1)
      }
    }
  }
  const changed = 'walnut_server_address_changed_timestamp_seconds'
  out.family(
    changed,
    'gauge',
    'when the server address last changed, seconds since the epoch (0: never resolved)',
  )
  for (const p of pools) {
    for (const s of p.servers) {
      if (s.addressChangedAt !== undefined) {
        out.sample(changed, serverLabels(p, s), s.addressChangedAt / 1000)
      }
    }
  }
}

/** The config reload counters (docs/dns-and-reload.md). */
function reloads(out: Out, r: ReloadCounts): void {
  out.family(
    'walnut_config_reloads_total',
    'counter',
    'configuration reloads fully applied (SIGUSR1, --watch-config)',
  )
  out.plain('walnut_config_reloads_total', r.reloads)
  out.family(
    'walnut_config_reload_failures_total',
    'counter',
    'configuration reloads refused (the file is invalid or unreadable) or partly applied (a listener could not be bound)',
  )
  out.plain('walnut_config_reload_failures_total', r.reload_failures)
  out.family(
    'walnut_config_last_reload_success',
    'gauge',
    'whether the last reload was fully applied (1 before any)',
  )
  out.plain('walnut_config_last_reload_success', r.last_reload_ok ? 1 : 0)
  out.family(
    'walnut_config_last_reload_timestamp_seconds',
    'gauge',
    'when the last reload attempt ended, seconds since the epoch (0: none yet)',
  )
  out.plain('walnut_config_last_reload_timestamp_seconds', r.last_reload_at / 1000)
}

export interface ProxyMetricsOptions {
  readonly version: string
  readonly startedAt: number
  readonly latency: boolean
  /** Milliseconds since the epoch; replaceable for tests. */
  readonly clock?: () => number
}

/** A function rendering the exposition of `pools` (a running proxy's) at each call. */
export function proxyMetrics(
  pools: readonly MetricsPool[],
  options: ProxyMetricsOptions,
): () => string {
  const clock = options.clock ?? Date.now
  return () =>
    renderMetrics({
      version: options.version,
      startedAt: options.startedAt,
      now: clock(),
      totalConnections: connections.total_connections,
      currConnections: connections.curr_connections,
      pools,
      latency: options.latency,
      reloads: reloadCounters,
    })
}

// ---- Several processes (--workers) ---------------------------------------------------------

/** A LatencyHistogram as plain data, for another process. */
export interface HistogramData {
  /** Per bucket, not cumulative (LatencyHistogram.counts). */
  readonly counts: readonly number[]
  readonly count: number
  readonly sumMs: number
}

export interface MetricsServerData {
  readonly name: string
  readonly counters: Readonly<Record<string, number>>
  readonly latency: HistogramData
  readonly reachable: boolean
  readonly retryAt: number
  readonly address?: string | null
  readonly addressChangedAt?: number
}

export interface MetricsPoolData {
  readonly name: string
  readonly counters: Readonly<Record<string, number>>
  readonly latency: HistogramData
  readonly servers: readonly MetricsServerData[]
}

/** What one worker sends the primary for a scrape: plain data (JSON-safe). */
export interface MetricsData {
  readonly totalConnections: number
  readonly currConnections: number
  readonly pools: readonly MetricsPoolData[]
}

function numbers(counters: object): Record<string, number> {
  const out: Record<string, number> = {}
  for (const [k, v] of Object.entries(counters)) if (typeof v === 'number') out[k] = v
  return out
}

function histogramData(h: LatencyHistogram): HistogramData {
  return { counts: Array.from(h.counts), count: h.count, sumMs: h.sumMs }
}

/** This process's pools (and connection counts) as plain data. */
export function metricsData(pools: readonly MetricsPool[]): MetricsData {
  return {
    totalConnections: connections.total_connections,
    currConnections: connections.curr_connections,
    pools: pools.map((p) => ({
      name: p.config.name,
      counters: numbers(p.counters),
      latency: histogramData(p.latency),
      servers: p.servers.map((s) => ({
        name: s.config.name,
        counters: numbers(s.counters),
        latency: histogramData(s.latency),
        reachable: s.reachable,
        retryAt: s.retryAt,
        address: s.address,
        addressChangedAt: s.addressChangedAt,
      })),
    })),
  }
}

const METRIC_KIND = new Map<string, MetricKind>(METRICS.map((m) => [m.name, m.kind]))

/** Adds `from` into `into` field by field (a timestamp takes the latest); new fields are appended. */
function addCounters(into: Record<string, number>, from: Readonly<Record<string, number>>): void {
  for (const [k, v] of Object.entries(from)) {
    const have = into[k]
    if (have === undefined) into[k] = v
    else into[k] = METRIC_KIND.get(k) === 'timestamp' ? Math.max(have, v) : have + v
  }
}

function addHistogram(into: LatencyHistogram, from: HistogramData): void {
  const n = Math.min(into.counts.length, from.counts.length)
  for (let i = 0; i < n; i++) into.counts[i] = (into.counts[i] as number) + (from.counts[i] ?? 0)
  into.count += from.count
  into.sumMs += from.sumMs
}

interface SummedServer {
  config: { name: string }
  counters: Record<string, number>
  latency: LatencyHistogram
  reachable: boolean
  retryAt: number
  address?: string | null
  addressChangedAt?: number
}

interface SummedPool {
  config: { name: string }
  counters: Record<string, number>
  latency: LatencyHistogram
  servers: SummedServer[]
}

/**
 * The sum of several workers' data, ready for renderMetrics: counters and gauges
 * add up (timestamps take the latest), histograms add bucket by bucket; a server
 * is `up` only if every worker finds it reachable, ejected until the latest
 * `retryAt`; its address is the first worker's that has one. Pools and servers
 * are matched by name, in the order first seen. Pure.
 */
export function sumMetricsData(parts: readonly MetricsData[]): {
  totalConnections: number
  currConnections: number
  pools: MetricsPool[]
} {
  let totalConnections = 0
  let currConnections = 0
  const pools = new Map<string, SummedPool>()
  for (const part of parts) {
    totalConnections += part.totalConnections
    currConnections += part.currConnections
    for (const p of part.pools) {
      let pool = pools.get(p.name)
      if (pool === undefined) {
        pool = {
          config: { name: p.name },
          counters: {},
          latency: new LatencyHistogram(),
          servers: [],
        }
        pools.set(p.name, pool)
      }
      addCounters(pool.counters, p.counters)
      addHistogram(pool.latency, p.latency)
      for (const s of p.servers) {
        let server = pool.servers.find((x) => x.config.name === s.name)
        if (server === undefined) {
          server = {
            config: { name: s.name },
            counters: {},
            latency: new LatencyHistogram(),
            reachable: true,
            retryAt: 0,
          }
          pool.servers.push(server)
        }
        addCounters(server.counters, s.counters)
        addHistogram(server.latency, s.latency)
        server.reachable &&= s.reachable
        server.retryAt = Math.max(server.retryAt, s.retryAt)
        if (s.address !== undefined && (server.address === undefined || server.address === null)) {
          server.address = s.address
        }
        if (s.addressChangedAt !== undefined) {
          server.addressChangedAt = Math.max(server.addressChangedAt ?? 0, s.addressChangedAt)
        }
      }
    }
  }
  return { totalConnections, currConnections, pools: [...pools.values()] }
}

// ---- HTTP ----------------------------------------------------------------------------------

const MODULE = 'metrics'

export interface MetricsServerOptions {
  /** A host name or address, resolved once at start. */
  readonly host: string
  /** 0 picks a free port (tests). */
  readonly port: number
  /** Called on every scrape; a promise (--workers: the primary asks each worker) delays the reply. */
  readonly render: () => string | Promise<string>
  readonly log: StatsLog
}

export interface MetricsHttpServer {
  readonly address: AddressInfo
  /** Stops listening and drops open scrape connections. */
  close(): Promise<void>
}

function reply(res: ServerResponse, status: number, body: string, head = false): void {
  res.writeHead(status, {
    'Content-Type': status === 200 ? METRICS_CONTENT_TYPE : 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
  })
  res.end(head ? undefined : body)
}

/**
 * Binds the metrics listener: `GET /metrics` (and HEAD) answers the exposition;
 * other paths 404, other methods 405. Rejects with a ProxyError when the
 * address does not resolve or cannot be bound.
 */
export async function startMetricsServer(
  options: MetricsServerOptions,
): Promise<MetricsHttpServer> {
  const { host, port, render, log } = options
  let address: string
  try {
    address = (await lookup(host)).address
  } catch (err) {
    throw new ProxyError(
      'NC_ERR_LISTEN',
      `address resolution of metrics addr '${host}' failed: ${strerror(err)}`,
      { cause: err },
    )
  }
  const sockets = new Set<Socket>()
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '').split('?')[0]
    if (path !== METRICS_PATH) return reply(res, 404, `not found; metrics are at ${METRICS_PATH}\n`)
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD')
      return reply(res, 405, 'method not allowed\n')
    }
    const failed = (err: unknown) => {
      log.log(LOG_ERR, MODULE, () => `metrics exposition failed: ${String(err)}`)
      reply(res, 500, 'metrics exposition failed\n')
    }
    const send = (body: string) => {
      if (log.enabled(LOG_VERB)) {
        log.log(LOG_VERB, MODULE, `scrape from ${req.socket.remoteAddress} ${body.length} bytes`)
      }
      reply(res, 200, body, req.method === 'HEAD')
    }
    let body: string | Promise<string>
    try {
      body = render()
    } catch (err) {
      return failed(err)
    }
    if (body instanceof Promise) body.then(send, failed)
    else send(body)
  })
  server.on('connection', (s: Socket) => {
    sockets.add(s)
    s.once('close', () => sockets.delete(s))
  })
  const bound = await bindListener(server, {
    address,
    port,
    bindWhat: `bind on metrics addr '${host}:${port}'`,
    acceptWhat: `accept on metrics ${host}:${port}`,
    module: MODULE,
    log,
  })
  log.log(LOG_NOTICE, MODULE, `listening on 'http://${host}:${bound.port}${METRICS_PATH}'`)
  return {
    address: bound,
    close: () => closeListener(server, sockets),
  }
}
