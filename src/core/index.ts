/** The proxy core's public surface. */

export { connections, PoolCounters, ServerCounters } from './counters.js'
export type { Pool } from './pool.js'
export { ProxyServer, type ProxyOptions } from './proxy.js'
export type { Server } from './server.js'
