/**
 * A fixed-size latency histogram for the load generator: recording is one array increment,
 * with no allocation, so measuring does not disturb what is measured. Values are
 * non-negative integers (the load generator records nanoseconds).
 *
 * Layout (log-linear, like HdrHistogram with 5 significant bits): values below 64 have a
 * bucket each; above that, every power of two [2^e, 2^(e+1)) is cut into 32 equal buckets,
 * so a bucket is at most 1/32 (3.1 %) of its values wide and a reported percentile, the
 * bucket's midpoint, is within 1.6 % of the true value. Values of 2^32 and more (4.3 s in
 * ns) fall into the last bucket.
 */

const EXACT = 64
const SUB_BITS = 5
const SUB = 1 << SUB_BITS
/** Exponents 6..31 each get SUB buckets. */
const BUCKETS = EXACT + (32 - 6) * SUB
const MAX_VALUE = 0xffffffff

/** Bucket index of a value (exported for tests). */
export function bucketOf(value: number): number {
  if (value < EXACT) return value < 0 ? 0 : value | 0
  const v = value > MAX_VALUE ? MAX_VALUE : value >>> 0
  const e = 31 - Math.clz32(v)
  const sub = (v >>> (e - SUB_BITS)) & (SUB - 1)
  return EXACT + (e - 6) * SUB + sub
}

/** Smallest value of a bucket and its width. */
export function bucketRange(index: number): { low: number; width: number } {
  if (index < EXACT) return { low: index, width: 1 }
  const e = ((index - EXACT) >> SUB_BITS) + 6
  const sub = (index - EXACT) & (SUB - 1)
  const width = 2 ** (e - SUB_BITS)
  return { low: (SUB + sub) * width, width }
}

export class Histogram {
  readonly counts = new Float64Array(BUCKETS)
  count = 0
  max = 0

  record(value: number): void {
    this.counts[bucketOf(value)]!++
    this.count++
    if (value > this.max) this.max = value
  }

  /** Adds another histogram's counts to this one. */
  merge(other: Histogram): void {
    for (let i = 0; i < BUCKETS; i++) this.counts[i]! += other.counts[i]!
    this.count += other.count
    if (other.max > this.max) this.max = other.max
  }

  /**
   * The value at quantile q (0 < q <= 1): the first bucket where the running count reaches
   * ceil(q × count), reported as that bucket's midpoint (exact below 64). 0 when empty.
   */
  quantile(q: number): number {
    if (this.count === 0) return 0
    const rank = Math.max(1, Math.ceil(q * this.count))
    let seen = 0
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]!
      if (seen >= rank) {
        const { low, width } = bucketRange(i)
        return width === 1 ? low : low + width / 2
      }
    }
    return this.max
  }
}
