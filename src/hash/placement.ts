/**
 * Key → server placement for one pool, as nutcracker 0.5.0 routes
 * (server_pool_idx / server_pool_hash in nc_server.c):
 *
 *   no live server ──────────────────────────────► -1 (the request fails)
 *   one server ───────────────────────────────────► 0, nothing hashed
 *   key ─► hash_tag part ─► hash (0 if empty) ─► distribution ─► server index
 *
 * Server indexes are positions in the pool's server array in nutcracker's
 * internal order (sorted by name, see compareNutcrackerNames). The distribution
 * is rebuilt from the live servers whenever a live flag changes (ejection).
 */
import type { DistributionName, HashName } from '../config/types.js'
import { DISTRIBUTIONS, HASHES } from './index.js'
import type { Distribution, DistServer, HashFn } from './types.js'

/** The part of a server Placement needs; ServerConfig satisfies it. */
export interface PlacementServer {
  readonly name: string
  readonly weight: number
}

/** The part of a pool Placement needs; PoolConfig satisfies it. */
export interface PlacementPool {
  readonly hash: HashName
  /** Exactly two bytes (open, close), or undefined for none. */
  readonly hashTag: Uint8Array | undefined
  readonly distribution: DistributionName
  /** In nutcracker's internal order. */
  readonly servers: readonly PlacementServer[]
}

/**
 * nutcracker's order for server (and pool) names: shorter UTF-8 byte length
 * first, then unsigned bytewise. Use with Array#sort.
 */
export function compareNutcrackerNames(a: string, b: string): number {
  const x = Buffer.from(a, 'utf8')
  const y = Buffer.from(b, 'utf8')
  if (x.length !== y.length) return x.length - y.length
  return Buffer.compare(x, y)
}

export class Placement {
  /** Number of servers in the pool (live or not). */
  readonly serverCount: number
  private readonly hashFn: HashFn
  private readonly distributionName: DistributionName
  /** hash_tag open/close bytes, or -1 when the pool has no hash_tag. */
  private readonly tagOpen: number
  private readonly tagClose: number
  /** Random placement ignores the hash, so it is not computed. */
  private readonly hashed: boolean
  private readonly servers: DistServer[]
  private dist: Distribution
  private nLive: number

  /**
   * @param pool hash, hash_tag, distribution and servers (internal order).
   * @param live per-server live flags in the same order; all live when omitted.
   */
  constructor(pool: PlacementPool, live?: readonly boolean[]) {
    const n = pool.servers.length
    if (live !== undefined && live.length !== n) {
      throw new RangeError(`placement: ${live.length} live flags for ${n} servers`)
    }
    const tag = pool.hashTag
    if (tag !== undefined && tag.length !== 2) {
      throw new RangeError(`placement: hash_tag must be 2 bytes, got ${tag.length}`)
    }
    this.serverCount = n
    this.hashFn = HASHES[pool.hash]
    this.distributionName = pool.distribution
    this.tagOpen = tag === undefined ? -1 : tag[0]!
    this.tagClose = tag === undefined ? -1 : tag[1]!
    this.hashed = pool.distribution !== 'random'
    this.servers = pool.servers.map((s, i) => {
      if (!Number.isInteger(s.weight) || s.weight < 1) {
        throw new RangeError(`placement: server '${s.name}' has weight ${s.weight}`)
      }
      return { name: s.name, weight: s.weight, live: live === undefined ? true : live[i]! }
    })
    this.nLive = 0
    this.dist = this.build()
  }

  /** Number of servers currently live. */
  get liveCount(): number {
    return this.nLive
  }

  /** The current distribution (for stats and debugging). */
  get distribution(): Distribution {
    return this.dist
  }

  isLive(index: number): boolean {
    return this.servers[index]?.live === true
  }

  /**
   * Marks one server live or ejected and rebuilds the distribution if that
   * changed anything. Returns whether it did.
   */
  setLive(index: number, live: boolean): boolean {
    const s = this.servers[index]
    if (s === undefined) throw new RangeError(`placement: no server ${index}`)
    if (s.live === live) return false
    this.servers[index] = { name: s.name, weight: s.weight, live }
    this.dist = this.build()
    return true
  }

  /** Sets every live flag at once (internal order), rebuilding at most once. Returns whether anything changed. */
  setLiveFlags(live: readonly boolean[]): boolean {
    if (live.length !== this.serverCount) {
      throw new RangeError(`placement: ${live.length} live flags for ${this.serverCount} servers`)
    }
    let changed = false
    for (let i = 0; i < live.length; i++) {
      const s = this.servers[i]!
      if (s.live !== live[i]) {
        this.servers[i] = { name: s.name, weight: s.weight, live: live[i]! }
        changed = true
      }
    }
    if (changed) this.dist = this.build()
    return changed
  }

  /**
   * The hash used to route key[start..end): the hash_tag part if there is a
   * non-empty one, else the whole key; 0 for zero bytes (the function is not
   * called).
   */
  hashOf(key: Uint8Array, start: number, end: number): number {
    const open = this.tagOpen
    if (open >= 0) {
      // nutcracker: only the first open byte counts, then the first close byte after it.
      let i = start
      while (i < end && key[i] !== open) i++
      if (i < end) {
        const close = this.tagClose
        let j = i + 1
        while (j < end && key[j] !== close) j++
        // An empty tag ("{}") or a missing close byte hashes the whole key.
        if (j < end && j - i > 1) {
          start = i + 1
          end = j
        }
      }
    }
    if (end <= start) return 0
    return this.hashFn(key, start, end)
  }

  /** Server index (internal order) for key[start..end), or -1 when no server is live. */
  serverFor(key: Uint8Array, start: number, end: number): number {
    if (this.nLive === 0) return -1
    if (this.serverCount === 1) return 0
    return this.dist.dispatch(this.hashed ? this.hashOf(key, start, end) : 0)
  }

  private build(): Distribution {
    let n = 0
    for (const s of this.servers) if (s.live) n++
    this.nLive = n
    return DISTRIBUTIONS[this.distributionName](this.servers)
  }
}
