/** The proxy core's public surface. */

export { connections, PoolCounters, ServerCounters } from './counters.js'
export type { Pool } from './pool.js'
export { type ProxyOptions, ProxyServer } from './proxy.js'
export type { Server } from './server.js'
