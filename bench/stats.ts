/**
 * The arithmetic of the benchmark: raw rows (one per run), their summary per workload and
 * target (min/median/max over repetitions), ratios to the reference target, and the noise
 * estimate. Pure functions only.
 */

/** One load run of one workload against one target. */
export interface LoadRow {
  readonly rep: number
  readonly workload: string
  readonly target: string
  readonly opsPerSec: number
  readonly p50Ms: number | undefined
  readonly p99Ms: number | undefined
  /** Proxy CPU per request, µs; undefined for direct. */
  readonly proxyUs: number | undefined
  readonly backendUs: number
  readonly clientUs: number
  /** Requests answered. */
  readonly requests: number
  readonly seconds: number
  readonly noisePct: number
  /** 'ok', or why the run does not count: FAIL, TIMEOUT, ERR(...), DIED, NOT_RUNNING. */
  readonly status: string
}

/** When the idle connections were opened: right after start, or after the load workloads. */
export type MemoryPhase = 'fresh' | 'after load'
export const MEMORY_PHASES: readonly MemoryPhase[] = ['fresh', 'after load']

/** The idle-connections measurement of one proxy. */
export interface MemoryRow {
  readonly phase: MemoryPhase
  readonly target: string
  readonly conns: number
  readonly rssBeforeKb: number
  readonly rssAfterKb: number
  readonly status: string
}

export interface Spread {
  readonly min: number
  readonly median: number
  readonly max: number
}

/** Median of a non-empty list (mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of an empty list')
  const s = [...values].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

export function spread(values: readonly number[]): Spread | undefined {
  if (values.length === 0) return undefined
  return { min: Math.min(...values), median: median(values), max: Math.max(...values) }
}

/** a / b, or undefined when either is missing or b is not positive. */
export function ratio(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined || b === undefined || !(b > 0)) return undefined
  return a / b
}

export interface NoiseInput {
  /** Δ busy ticks of the whole machine. */
  readonly busy: number
  /** Δ steal ticks. */
  readonly steal: number
  /** Δ ticks of our own processes: proxy, backends, load generator, the bench itself. */
  readonly ours: number
  readonly seconds: number
  readonly ticksPerSecond: number
  readonly cpus: number
}

/**
 * Share (percent) of the machine's CPU during a run that our processes did not use and the
 * hypervisor did not give us: other people's work plus steal. Above ~20 %, ops/s and p99 of
 * that run are suspect; CPU per request holds up better.
 */
export function noisePercent(n: NoiseInput): number {
  const capacity = n.seconds * n.ticksPerSecond * n.cpus
  if (!(capacity > 0)) return 0
  const foreign = Math.max(0, n.busy - n.ours)
  return Math.min(100, ((foreign + n.steal) / capacity) * 100)
}

export interface Summary {
  readonly workload: string
  readonly target: string
  /** Repetitions that counted ('ok'). */
  readonly okReps: number
  readonly ops: Spread | undefined
  /** Medians over the repetitions. */
  readonly p50Ms: number | undefined
  readonly p99Ms: number | undefined
  readonly proxyUs: Spread | undefined
  readonly backendUs: number | undefined
  readonly clientUs: number | undefined
  /** Highest noise of any repetition. */
  readonly noisePct: number
  /** Statuses of the runs that did not count. */
  readonly failures: readonly string[]
}

const defined = (xs: readonly (number | undefined)[]): number[] =>
  xs.filter((x): x is number => x !== undefined && Number.isFinite(x))

/** One summary per (workload, target) present in rows, in the given orders. */
export function summarise(
  rows: readonly LoadRow[],
  workloads: readonly string[],
  targets: readonly string[],
): Summary[] {
  const out: Summary[] = []
  for (const workload of workloads) {
    for (const target of targets) {
      const mine = rows.filter((r) => r.workload === workload && r.target === target)
      if (mine.length === 0) continue
      const ok = mine.filter((r) => r.status === 'ok')
      const med = (xs: number[]): number | undefined => (xs.length ? median(xs) : undefined)
      out.push({
        workload,
        target,
        okReps: ok.length,
        ops: spread(ok.map((r) => r.opsPerSec)),
        p50Ms: med(defined(ok.map((r) => r.p50Ms))),
        p99Ms: med(defined(ok.map((r) => r.p99Ms))),
        proxyUs: spread(defined(ok.map((r) => r.proxyUs))),
        backendUs: med(defined(ok.map((r) => r.backendUs))),
        clientUs: med(defined(ok.map((r) => r.clientUs))),
        noisePct: Math.max(...mine.map((r) => r.noisePct)),
        failures: mine.filter((r) => r.status !== 'ok').map((r) => r.status),
      })
    }
  }
  return out
}

export interface Ratios {
  /** Median ops/s ÷ the reference's. */
  readonly opsX: number | undefined
  /** Median proxy µs/req ÷ the reference's. */
  readonly cpuX: number | undefined
  /** Median p99 ÷ the reference's. */
  readonly p99X: number | undefined
}

/** Ratios of a summary to the reference target's summary of the same workload. */
export function ratiosTo(s: Summary, ref: Summary | undefined): Ratios {
  return {
    opsX: ratio(s.ops?.median, ref?.ops?.median),
    cpuX: ratio(s.proxyUs?.median, ref?.proxyUs?.median),
    p99X: ratio(s.p99Ms, ref?.p99Ms),
  }
}

export function findSummary(
  all: readonly Summary[],
  workload: string,
  target: string,
): Summary | undefined {
  return all.find((s) => s.workload === workload && s.target === target)
}

/** Growth of resident memory per idle connection, bytes. */
export function bytesPerConn(m: MemoryRow): number | undefined {
  if (m.status !== 'ok' || m.conns <= 0) return undefined
  return ((m.rssAfterKb - m.rssBeforeKb) * 1024) / m.conns
}
