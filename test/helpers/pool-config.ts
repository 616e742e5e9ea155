/**
 * PoolConfig fixtures for tests that build a pool without a YAML file: POOL_DEFAULTS
 * (nutcracker 0.5.0's defaults and walnut's own keys), a TCP listener on 127.0.0.1,
 * no hash tag, no auth, then the test's overrides. One place, so a new PoolConfig
 * field needs a default here (or in POOL_DEFAULTS) rather than in every test.
 */
import { POOL_DEFAULTS, type PoolConfig, type ServerConfig } from '../../src/config/types.js'
import { compareNutcrackerNames } from '../../src/hash/placement.js'

/** A pool named `alpha` with nutcracker's defaults, listening on 127.0.0.1:`port`. */
export function testPoolConfig(port: number, overrides: Partial<PoolConfig> = {}): PoolConfig {
  return {
    ...POOL_DEFAULTS,
    name: 'alpha',
    index: 0,
    listen: {
      kind: 'tcp',
      host: '127.0.0.1',
      address: '127.0.0.1',
      port,
      text: `127.0.0.1:${port}`,
    },
    hashTag: undefined,
    redisAuth: undefined,
    servers: [],
    ...overrides,
  }
}

/**
 * Servers as the loader leaves them: `index` is the position as written, the
 * list is in nutcracker's internal order (by name, shorter first, then bytewise).
 */
export function inNutcrackerOrder(servers: readonly Omit<ServerConfig, 'index'>[]): ServerConfig[] {
  return servers
    .map((s, index) => ({ ...s, index }))
    .sort((a, b) => compareNutcrackerNames(a.name, b.name))
}
