/**
 * Builds StatsViews from a running proxy: the core's live counters copied into
 * plain objects, in the metrics table's order, with the pools and servers in the
 * proxy's (nutcracker's) order. A view is a copy, so it can be kept, summed with
 * other processes' views, or sent to another process.
 *
 * walnut serves always-fresh numbers: every stats request reads the counters at
 * that moment, where nutcracker may lag by up to two `-i` intervals
 * (../shared/spec/stats.md §7).
 */

import { hostname } from 'node:os'
import { connections } from '../core/counters.js'
import type { ProxyServer } from '../core/proxy.js'
import { type PoolView, pickMetrics, type ServerView, type StatsView } from './json.js'
import {
  POOL_METRICS,
  type PoolMetricName,
  SERVER_METRICS,
  type ServerMetricName,
} from './metrics.js'

export interface StatsViewOptions {
  /** When the stats module started; defaults to the moment of the call. */
  readonly startedAt?: number
  /** `source`; defaults to the hostname, read once (nutcracker reads it once at start). */
  readonly source?: string
  /** Milliseconds since the epoch; replaceable for tests. */
  readonly clock?: () => number
}

/** A function returning a fresh view of `proxy` each time it is called. */
export function proxyStatsView(
  proxy: ProxyServer,
  options: StatsViewOptions = {},
): () => StatsView {
  const clock = options.clock ?? Date.now
  const startedAt = options.startedAt ?? clock()
  const source = options.source ?? hostname()
  return () => ({
    source,
    startedAt,
    now: clock(),
    totalConnections: connections.total_connections,
    currConnections: connections.curr_connections,
    pools: proxy.pools.map(
      (pool): PoolView => ({
        name: pool.config.name,
        counters: pickMetrics<PoolMetricName>(pool.counters, POOL_METRICS),
        servers: pool.servers.map(
          (server): ServerView => ({
            name: server.config.name,
            counters: pickMetrics<ServerMetricName>(server.counters, SERVER_METRICS),
          }),
        ),
      }),
    ),
  })
}
