/**
 * The stats port's document: nutcracker 0.5.0's JSON, byte for byte, except that
 * names are escaped (deviation P7) so the text is always valid JSON
 * (../shared/spec/stats.md §2-6).
 *
 *   {"service":"nutcracker", "source":"<host>", "version":"0.5.0", "uptime":<n>, ...,
 *    "<pool>": {"client_eof":<n>, ..., "<server>": {"server_eof":<n>, ...},"<server2>": {...}},
 *    "<pool2>": {...}}\n                                             (one line in reality)
 *
 * Separators are nutcracker's, because scrapers match them with regexes: a scalar
 * member is `"key":value` and is followed by `, `; an object member is opened as
 * `"name": {` and, once closed, is followed by `,` without a space; the document is
 * closed by `}` and one `\n`. These are the bytes nutcracker's rewrite-the-last-two-
 * bytes scheme produces, and they are already valid JSON.
 *
 * `service` stays "nutcracker" and `version` stays "0.5.0": exporters, monitoring
 * checks and scripts written for nutcracker may test these values, and none of them
 * needs walnut's name; walnut's own version is printed by `-V`. Reporting walnut
 * here could break a drop-in replacement for no gain.
 *
 * This module only formats a StatsView; it knows nothing of the core. snapshot.ts
 * builds a view from a running proxy, sumStatsViews merges views of several
 * processes.
 */

import {
  METRICS,
  POOL_METRICS,
  type PoolMetricName,
  SERVER_METRICS,
  type ServerMetricName,
} from './metrics.js'

/** What the document reports; times in milliseconds since the epoch. */
export interface StatsView {
  /** The machine's hostname (`source`). */
  readonly source: string
  /** When the stats module started (uptime is counted from here). */
  readonly startedAt: number
  /** The moment the document describes (`timestamp`). */
  readonly now: number
  /** Connection objects ever created (listeners, clients, server connection attempts). */
  readonly totalConnections: number
  /** Connection objects open now; stats-port connections are never counted. */
  readonly currConnections: number
  /** Pools in nutcracker's order (by name, shorter first, then bytewise). */
  readonly pools: readonly PoolView[]
}

export interface PoolView {
  readonly name: string
  readonly counters: Readonly<Record<PoolMetricName, number>>
  /** Servers in nutcracker's order (by name, shorter first, then bytewise). */
  readonly servers: readonly ServerView[]
}

export interface ServerView {
  /** The stats key: node name, `host:port` (`host` for 11211), or `/path:`. */
  readonly name: string
  readonly counters: Readonly<Record<ServerMetricName, number>>
}

/** nutcracker's fixed header values (see the file comment for why they are kept). */
export const STATS_SERVICE = 'nutcracker'
export const STATS_VERSION = '0.5.0'

/** Whole seconds of a millisecond time, as time(2) gives them. */
function seconds(ms: number): number {
  return Math.floor(ms / 1000)
}

/** A number as a JSON integer; a value that is not finite would make invalid JSON. */
function int(n: number): string {
  return Number.isFinite(n) ? String(Math.trunc(n)) : '0'
}

/** The stats document for `view`: one line of valid JSON ending in `\n`. */
export function statsJson(view: StatsView): string {
  const timestamp = seconds(view.now)
  // nutcracker: scalars are followed by `, `, closed objects by `,`; the separator
  // is written before the next member, so nothing precedes a closing brace.
  let out =
    `{"service":${JSON.stringify(STATS_SERVICE)}, ` +
    `"source":${JSON.stringify(view.source)}, ` +
    `"version":${JSON.stringify(STATS_VERSION)}, ` +
    `"uptime":${int(timestamp - seconds(view.startedAt))}, ` +
    `"timestamp":${int(timestamp)}, ` +
    `"total_connections":${int(view.totalConnections)}, ` +
    `"curr_connections":${int(view.currConnections)}`
  let sep = ', '
  for (const pool of view.pools) {
    // Deviation P7: names are escaped; nutcracker inserts them raw.
    out += `${sep}${JSON.stringify(pool.name)}: {`
    sep = ''
    for (const m of POOL_METRICS) {
      out += `${sep}"${m.name}":${int(pool.counters[m.name])}`
      sep = ', '
    }
    for (const server of pool.servers) {
      out += `${sep}${JSON.stringify(server.name)}: {`
      sep = ''
      for (const m of SERVER_METRICS) {
        out += `${sep}"${m.name}":${int(server.counters[m.name])}`
        sep = ', '
      }
      out += '}'
      sep = ','
    }
    out += '}'
    sep = ','
  }
  return `${out}}\n`
}

/** Kind of each metric by name, for summing. */
const KIND = new Map<string, string>(METRICS.map((m) => [m.name, m.kind]))

/** Adds (or, for timestamps, takes the max of) `from` into `into`, metric by metric. */
function merge<K extends string>(
  into: Record<K, number>,
  from: Readonly<Record<K, number>>,
  names: readonly { readonly name: K }[],
): void {
  for (const { name } of names) {
    into[name] =
      KIND.get(name) === 'timestamp' ? Math.max(into[name], from[name]) : into[name] + from[name]
  }
}

/** A plain copy of the metrics `names` of `from`, in table order. */
export function pickMetrics<K extends string>(
  from: Readonly<Record<K, number>>,
  names: readonly { readonly name: K }[],
): Record<K, number> {
  const c = {} as Record<K, number>
  for (const { name } of names) c[name] = from[name]
  return c
}

/**
 * The sum of several processes' views (for multi-process workers): counters and
 * gauges add up, `server_ejected_at` takes the latest time; connection counts add
 * up; `startedAt` is the earliest, `now` the latest, `source` the first view's.
 * Pools and servers are matched by name and keep the first view's order; a pool or
 * server only some views have is appended where it is first seen. Pure: the inputs
 * are not modified and the result shares no objects with them.
 */
export function sumStatsViews(views: readonly StatsView[]): StatsView {
  const first = views[0]
  if (first === undefined) throw new RangeError('sumStatsViews: no views to sum')
  const pools = new Map<
    string,
    {
      counters: Record<PoolMetricName, number>
      servers: Map<string, Record<ServerMetricName, number>>
    }
  >()
  let startedAt = first.startedAt
  let now = first.now
  let totalConnections = 0
  let currConnections = 0
  for (const v of views) {
    startedAt = Math.min(startedAt, v.startedAt)
    now = Math.max(now, v.now)
    totalConnections += v.totalConnections
    currConnections += v.currConnections
    for (const p of v.pools) {
      let sum = pools.get(p.name)
      if (sum === undefined) {
        sum = { counters: pickMetrics(p.counters, POOL_METRICS), servers: new Map() }
        pools.set(p.name, sum)
      } else {
        merge(sum.counters, p.counters, POOL_METRICS)
      }
      for (const s of p.servers) {
        const c = sum.servers.get(s.name)
        if (c === undefined) sum.servers.set(s.name, pickMetrics(s.counters, SERVER_METRICS))
        else merge(c, s.counters, SERVER_METRICS)
      }
    }
  }
  return {
    source: first.source,
    startedAt,
    now,
    totalConnections,
    currConnections,
    pools: [...pools].map(([name, p]) => ({
      name,
      counters: p.counters,
      servers: [...p.servers].map(([sname, counters]) => ({ name: sname, counters })),
    })),
  }
}
