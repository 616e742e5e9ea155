/**
 * Per-pool and cross-pool checks, after every key of every pool has been read,
 * in nutcracker's order (conf_validate_pool, conf_post_validate):
 *
 *   for each pool in file order: listen present → server_connections ≠ 0 →
 *   redis_auth only with redis → servers non-empty, names unique
 *   then: no two pools with the same listen string → no two pools with the same name
 *
 * then defaults, nutcracker's sort of servers and pools, and a deep freeze.
 */
import { ConfigError } from '../errors.js'
import { POOL_KEYS, type ServerEntry } from './keys.js'
import { firstDuplicate, sortByName } from './names.js'
import { checkTlsKeys, type ListenEntry, listenTlsDuplicate } from './tls.js'
import type { Config, ListenAddress, PoolConfig, ServerConfig } from './types.js'
import type { YamlConfig } from './yaml-shape.js'

/** A value read from the file, with where it sits. */
export interface DraftValue {
  readonly value: unknown
  readonly valueAt: number
}

/** A server entry with its position in the list and in the file. */
export interface DraftServer extends ServerEntry {
  readonly index: number
  readonly at: number
}

/** A pool as read, before defaults and checks. */
export interface PoolDraft {
  readonly name: string
  readonly nameAt: number
  /** By YAML key (`server_connections`), not by field. */
  readonly values: Map<string, DraftValue>
  readonly servers: DraftServer[]
}

/** Checks the pools, applies defaults, sorts, freezes. */
export function validateConfig(drafts: readonly PoolDraft[], yaml: YamlConfig): Config {
  const path = yaml.path
  if (drafts.length === 0) throw new ConfigError(`'${path}' has no pools`, { file: path })

  const built: { pool: PoolConfig; draft: PoolDraft }[] = []
  for (const [index, draft] of drafts.entries()) {
    built.push({ pool: validatePool(draft, index, yaml), draft })
  }

  // nutcracker sorts by the listen string as written and reports the first equal
  // neighbours; a stable sort keeps file order between them.
  const listenDup = firstDuplicate(
    sortByName(built, (b) => b.pool.listen.text),
    (b) => b.pool.listen.text,
  )
  if (listenDup !== undefined) {
    const [a, b] = listenDup
    const at = b.draft.values.get('listen')?.valueAt ?? b.draft.nameAt
    throw new ConfigError(
      `pools '${a.pool.name}' and '${b.pool.name}' have the same listen address '${a.pool.listen.text}'`,
      yaml.locate(at, b.pool.name, 'listen'),
    )
  }

  const byName = sortByName(built, (b) => b.pool.name)
  const nameDup = firstDuplicate(byName, (b) => b.pool.name)
  if (nameDup !== undefined) {
    const [a, b] = nameDup
    // nutcracker: sic, one quote.
    throw new ConfigError(
      `'${path}' has pools with same name ${a.pool.name}'`,
      yaml.locate(b.draft.nameAt, b.pool.name),
    )
  }

  // walnut: a listen_tls address repeats no other listen address (src/config/tls.ts).
  const entries: ListenEntry[] = []
  for (const { pool, draft } of built) {
    const at = (key: string) => draft.values.get(key)?.valueAt ?? draft.nameAt
    entries.push({ pool: pool.name, key: 'listen', text: pool.listen.text, at: at('listen') })
    if (pool.listenTls !== undefined) {
      const text = pool.listenTls.text
      entries.push({ pool: pool.name, key: 'listen_tls', text, at: at('listen_tls') })
    }
  }
  const tlsDup = listenTlsDuplicate(entries)
  if (tlsDup !== null) {
    const { reason, entry } = tlsDup
    throw new ConfigError(reason, yaml.locate(entry.at, entry.pool, entry.key))
  }

  return deepFreeze({ path, pools: byName.map((b) => b.pool) })
}

function validatePool(draft: PoolDraft, index: number, yaml: YamlConfig): PoolConfig {
  const { name, values } = draft
  const fail = (reason: string, at: number, key: string): never => {
    throw new ConfigError(reason, yaml.locate(at, name, key))
  }
  if (!values.has('listen')) fail('directive "listen:" is missing', draft.nameAt, 'listen')

  const fields: Record<string, unknown> = { name, index }
  for (const row of POOL_KEYS) {
    if (row.list) continue
    const v = values.get(row.key)
    fields[row.field] = v !== undefined ? v.value : row.default
  }
  const pool = fields as unknown as Omit<PoolConfig, 'servers'>

  const sc = values.get('server_connections')
  if (sc !== undefined && sc.value === 0) {
    fail('directive "server_connections:" cannot be 0', sc.valueAt, 'server_connections')
  }
  const auth = values.get('redis_auth')
  if (auth !== undefined && !pool.redis) {
    fail('directive "redis_auth:" is only valid for a redis pool', auth.valueAt, 'redis_auth')
  }

  // nutcracker only logs "has no servers" and carries on with an empty pool; the
  // shape check makes this unreachable unless `servers:` is a scalar and another
  // key holds the pool's one sequence. walnut refuses such a pool.
  if (draft.servers.length === 0) {
    fail(`pool '${name}' has no servers`, draft.nameAt, 'servers')
  }
  const sorted = sortByName(draft.servers, (s) => s.name)
  const serverDup = firstDuplicate(sorted, (s) => s.name)
  if (serverDup !== undefined) {
    const [a, b] = serverDup
    const later = a.index > b.index ? a : b
    fail(`pool '${name}' has servers with same name '${a.name}'`, later.at, 'servers')
  }
  // walnut's TLS and auth keys, after nutcracker's checks; resolves the file paths.
  checkTlsKeys(
    fields as typeof fields & typeof pool,
    values,
    draft.servers,
    yaml.path,
    (r, at, k, d) => {
      throw new ConfigError(r, yaml.locate(at, name, k), { detail: d })
    },
  )
  const servers: ServerConfig[] = sorted.map((s) => ({
    text: s.text,
    index: s.index,
    name: s.name,
    weight: s.weight,
    address: s.address,
  }))
  return { ...pool, listen: pool.listen as ListenAddress, servers }
}

/** Freezes objects and arrays all the way down; Buffers (hash_tag) cannot be frozen. */
function deepFreeze<T>(value: T): T {
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value)) return value
  for (const v of Object.values(value)) deepFreeze(v)
  return Object.freeze(value)
}
