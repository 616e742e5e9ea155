/**
 * Request latency as the proxy sees it: from the read that completed a request
 * to the moment its reply is handed to the client's write queue. One fixed
 * histogram per pool and per server, exported as Prometheus histograms
 * (src/stats/prometheus.ts).
 *
 * Recording is on the hot path, so it allocates nothing: a handful of number
 * compares to find the bucket (most requests land in the first few), then three
 * field updates. Bounds are fixed, not configurable, so every walnut exposes the
 * same `le` labels and dashboards can sum histograms across processes.
 */

/** Upper bounds of the buckets, in seconds, as the `le` labels show them. */
export const LATENCY_BOUNDS_SECONDS: readonly number[] = [
  0.00005, 0.0001, 0.0002, 0.0003, 0.0005, 0.00075, 0.001, 0.0015, 0.002, 0.003, 0.005, 0.01, 0.025,
  0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
]

/** The same bounds in milliseconds (the unit of performance.now()), for the hot path. */
const BOUNDS_MS = Float64Array.from(LATENCY_BOUNDS_SECONDS, (s) => s * 1000)
const NBOUNDS = BOUNDS_MS.length

export class LatencyHistogram {
  /**
   * Observations per bucket, not cumulative: `counts[i]` holds those in
   * (bound[i-1], bound[i]]; the last slot holds those above the largest bound.
   */
  readonly counts = new Float64Array(NBOUNDS + 1)
  /** Observations in all. */
  count = 0
  /** Sum of all observations, in milliseconds. */
  sumMs = 0

  /** Records one request that took `ms` milliseconds. */
  observe(ms: number): void {
    let i = 0
    // i < NBOUNDS bounds the index, so BOUNDS_MS[i] is defined.
    while (i < NBOUNDS && ms > (BOUNDS_MS[i] as number)) i++
    this.counts[i] = (this.counts[i] as number) + 1
    this.count++
    this.sumMs += ms
  }

  /**
   * Cumulative counts per bound, as Prometheus `_bucket` samples report them:
   * element i counts observations <= LATENCY_BOUNDS_SECONDS[i]; one more element
   * at the end for `+Inf` (equal to `count`).
   */
  cumulative(): number[] {
    const out = new Array<number>(NBOUNDS + 1)
    let sum = 0
    for (let i = 0; i <= NBOUNDS; i++) {
      sum += this.counts[i] as number
      out[i] = sum
    }
    return out
  }
}
