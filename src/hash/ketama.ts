/**
 * The ketama continuum as nutcracker 0.5.0 builds it (hashkit/nc_ketama.c).
 *
 * Each live server gets a number of points on a 32-bit ring, in proportion to
 * its weight; a key goes to the owner of the first point >= its hash, wrapping
 * past the last point to the first. Point values come from MD5 of
 * `name-i`, four little-endian uint32 per digest.
 *
 * Equal point values (from different servers) are ordered by server index in
 * the internal order, lowest first. nutcracker sorts with C qsort on the value
 * alone, so its tie order is unspecified; ours equals a stable sort of
 * nutcracker's generation order (servers in internal order), which is what a
 * merge-sort qsort such as glibc's gives. No such tie occurs in the vectors.
 */
import { md5Words } from './md5.js'
import type { Distribution, DistServer } from './types.js'

/** Points per server at equal weights (40 MD5 digests × 4 points). */
export const KETAMA_POINTS_PER_SERVER = 160
/** Points taken from one MD5 digest. */
export const KETAMA_POINTS_PER_HASH = 4
/** nutcracker's snprintf buffer for a point string: at most 272 bytes plus NUL. */
export const KETAMA_MAX_HOSTLEN = 273

/** Sort key = value * OWNER_SPAN + owner: exact in a double while owners < 2^21. */
const OWNER_SPAN = 2 ** 21

/**
 * Number of continuum points for a live server of `weight`, when the live
 * servers number `liveCount` with weights summing to `totalWeight`.
 * nutcracker: computed in IEEE single precision, rounding after each step:
 * `4 * floorf((float)(pct * 160 / 4 * (float)n + 1e-10))` with
 * `pct = (float)w / (float)W`. So 25 equal servers get 156 points, not 160.
 */
export function ketamaPointCount(weight: number, totalWeight: number, liveCount: number): number {
  const f = Math.fround
  const pct = f(f(weight) / f(totalWeight))
  const v = f(f(f(pct * KETAMA_POINTS_PER_SERVER) / KETAMA_POINTS_PER_HASH) * f(liveCount))
  // The C source adds 1e-10 in double precision and narrows back to float.
  const points = Math.floor(f(v + 1e-10)) * KETAMA_POINTS_PER_HASH
  // A zero total weight gives NaN; such a server gets no points.
  return Number.isNaN(points) ? 0 : points
}

/** Writes `n` (a non-negative integer) in decimal at buf[at..], returns the digit count. */
function writeDecimal(buf: Uint8Array, at: number, n: number): number {
  let digits = 1
  for (let x = n; x >= 10; x = Math.floor(x / 10)) digits++
  for (let i = at + digits - 1, x = n; i >= at; i--, x = Math.floor(x / 10))
    buf[i] = 0x30 + (x % 10)
  return digits
}

export class KetamaContinuum implements Distribution {
  /** Point values, sorted ascending. */
  readonly values: Uint32Array
  /** owners[i]: server index (internal order) of point values[i]. */
  readonly owners: Uint32Array
  /** Points per server (0 for servers that are not live or whose share rounds down to 0). */
  readonly pointCounts: Uint32Array

  constructor(servers: readonly DistServer[]) {
    if (servers.length >= OWNER_SPAN) throw new RangeError('ketama: too many servers')
    let liveCount = 0
    let totalWeight = 0
    for (const s of servers) {
      if (!s.live) continue
      liveCount++
      totalWeight += s.weight
    }
    const pointCounts = new Uint32Array(servers.length)
    let total = 0
    for (let i = 0; i < servers.length; i++) {
      const s = servers[i]!
      if (!s.live) continue
      const n = ketamaPointCount(s.weight, totalWeight, liveCount)
      pointCounts[i] = n
      total += n
    }

    const keys = new Float64Array(total)
    const words = new Uint32Array(4)
    let k = 0
    for (let owner = 0; owner < servers.length; owner++) {
      const digests = pointCounts[owner]! / KETAMA_POINTS_PER_HASH
      if (digests === 0) continue
      const name = Buffer.from(servers[owner]!.name, 'utf8')
      // Room for `name-` and up to 10 decimal digits of the point index.
      const buf = new Uint8Array(name.length + 11)
      buf.set(name)
      buf[name.length] = 0x2d // '-'
      for (let i = 0; i < digests; i++) {
        let len = name.length + 1 + writeDecimal(buf, name.length + 1, i)
        // nutcracker: snprintf into a 273-byte buffer cuts the point string to 272 bytes.
        if (len > KETAMA_MAX_HOSTLEN - 1) len = KETAMA_MAX_HOSTLEN - 1
        md5Words(buf, 0, len, words)
        for (let j = 0; j < KETAMA_POINTS_PER_HASH; j++) keys[k++] = words[j]! * OWNER_SPAN + owner
      }
    }
    keys.sort()

    this.values = new Uint32Array(total)
    this.owners = new Uint32Array(total)
    for (let i = 0; i < total; i++) {
      const key = keys[i]!
      const value = Math.floor(key / OWNER_SPAN)
      this.values[i] = value
      this.owners[i] = key - value * OWNER_SPAN
    }
    this.pointCounts = pointCounts
    // At least as many buckets as points (2^8..2^16), so a bucket holds about one point.
    let bits = 8
    while (bits < 16 && 1 << bits < total) bits++
    this.shift = 32 - bits
    this.buckets = new Uint32Array(1 << bits)
    let i = 0
    for (let b = 0; b < this.buckets.length; b++) {
      const floor = b * 2 ** this.shift
      while (i < total && this.values[i]! < floor) i++
      this.buckets[b] = i
    }
  }

  /**
   * Where each hash bucket starts: buckets[b] is the first point >= the bucket's
   * lowest hash (b << shift). A lookup starts there and steps over the few points
   * below the hash: the same lower bound as a binary search over all points,
   * without its unpredictable branches.
   */
  private readonly buckets: Uint32Array
  private readonly shift: number

  /** Owner of the first point >= hash (lower bound), wrapping to the first point. */
  dispatch(hash: number): number {
    const values = this.values
    const n = values.length
    if (n === 0) return -1
    let i = this.buckets[hash >>> this.shift]!
    while (i < n && values[i]! < hash) i++
    return this.owners[i === n ? 0 : i]!
  }
}
