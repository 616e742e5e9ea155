/**
 * Picks a pool's protocol from its `redis:` flag, as nutcracker installs its
 * proto function table per pool. The composition root (src/cli) passes this to
 * the core, which never imports a protocol module itself.
 */

import type { PoolConfig } from '../config/types.js'
import { createMemcacheProtocol } from './memcache/index.js'
import { createRedisProtocol } from './redis/index.js'
import type { Protocol } from './types.js'

export function protocolFor(pool: PoolConfig): Protocol {
  return pool.redis ? createRedisProtocol(pool) : createMemcacheProtocol(pool)
}
