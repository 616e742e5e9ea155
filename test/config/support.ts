/**
 * Shared helpers for the config tests: the standard one-pool file of the spec's
 * evidence (E-08), an offline resolver, and an assertion on ConfigError's reason
 * and location. No test here touches the network.
 */
import assert from 'node:assert/strict'
import { type LoadOptions, parseConfig } from '../../src/config/load.js'
import type { Config } from '../../src/config/types.js'
import { ConfigError } from '../../src/errors.js'

/** The file name used in messages. */
export const FILE = 'test.yml'

/**
 * The standard pool. Lines: 1 `alpha:`, 2 `  listen: ...` (value at column 11),
 * 3 `  servers:`, 4 `   - 127.0.0.1:24101:1` (item at column 6). Extra lines are
 * appended from line 5, keys at column 3.
 */
export const BASE_LINES = [
  'alpha:',
  '  listen: 127.0.0.1:24201',
  '  servers:',
  '   - 127.0.0.1:24101:1',
] as const

export function yaml(...lines: readonly string[]): string {
  return `${lines.join('\n')}\n`
}

/** BASE plus extra lines (line 5 onwards). */
export function base(...extra: readonly string[]): string {
  return yaml(...BASE_LINES, ...extra)
}

/** A resolver that knows a few names and fails every other as getaddrinfo would. */
export const fakeResolve = async (host: string): Promise<string> => {
  const known: Record<string, string> = {
    localhost: '127.0.0.1',
    'cache.example': '10.1.2.3',
  }
  const address = known[host]
  if (address !== undefined) return address
  throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' })
}

/** A resolver that fails the test if it is asked anything. */
export const noResolve = async (host: string): Promise<string> => {
  throw new Error(`resolver called for '${host}'`)
}

export function load(text: string | Uint8Array, options: LoadOptions = {}): Promise<Config> {
  return parseConfig(text, FILE, { resolve: fakeResolve, ...options })
}

export interface Expected {
  readonly reason: string
  /** Omit for errors without a position. */
  readonly line?: number
  readonly column?: number
  readonly pool?: string
  readonly key?: string
  readonly detail?: string
}

/** Asserts that loading `text` fails with exactly this reason and location. */
export async function rejects(
  text: string | Uint8Array,
  want: Expected,
  options: LoadOptions = {},
): Promise<ConfigError> {
  let caught: unknown
  try {
    await load(text, options)
  } catch (err) {
    caught = err
  }
  assert.ok(caught instanceof ConfigError, `expected a ConfigError, got ${String(caught)}`)
  const got = caught
  assert.equal(got.reason, want.reason)
  assert.equal(got.code, 'NC_ERR_CONFIG')
  assert.deepEqual(
    {
      file: got.location.file,
      line: got.location.line,
      column: got.location.column,
      pool: got.location.pool,
      key: got.location.key,
    },
    { file: FILE, line: want.line, column: want.column, pool: want.pool, key: want.key },
  )
  if (want.detail !== undefined) assert.equal(got.detail, want.detail)
  return got
}

/** The only pool of a config. */
export function onlyPool(config: Config) {
  assert.equal(config.pools.length, 1)
  return config.pools[0]!
}
