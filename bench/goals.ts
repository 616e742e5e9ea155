/**
 * The speed targets of issue 7, as data, and their evaluation against one run: ratios of
 * the subject (walnut) to the reference (nutcracker -v 4), medians of the repetitions, same
 * run. A ratio is compared as printed (two decimals), so a row never reads "1.00 > 1.00".
 */
import {
  bytesPerConn,
  findSummary,
  MEMORY_PHASES,
  type MemoryPhase,
  type MemoryRow,
  ratio,
  ratiosTo,
  type Summary,
} from './stats.js'

type Metric = 'opsX' | 'cpuX' | 'p99X' | 'rssX'

interface Bound {
  readonly metric: Metric
  readonly op: '<=' | '>='
  readonly limit: number
}

export interface Goal {
  readonly name: string
  readonly workloads: readonly string[]
  readonly bounds: readonly Bound[]
}

const le = (metric: Metric, limit: number): Bound => ({ metric, op: '<=', limit })
const ge = (metric: Metric, limit: number): Bound => ({ metric, op: '>=', limit })

export const GOALS: readonly Goal[] = [
  {
    name: 'plain request/response (pipeline 1)',
    workloads: ['redis_set_p1', 'redis_get_p1', 'mc_set', 'mc_get'],
    bounds: [le('cpuX', 1.0), ge('opsX', 1.0), le('p99X', 1.0)],
  },
  {
    name: 'pipelined (16)',
    workloads: ['redis_set_p16', 'redis_get_p16'],
    bounds: [ge('opsX', 1.5)],
  },
  {
    name: 'fan-out (10 keys)',
    workloads: ['redis_mget10', 'mc_mget10'],
    bounds: [le('cpuX', 0.9)],
  },
  {
    name: 'memory, 10 000 idle connections',
    workloads: ['idle_10k'],
    bounds: [le('rssX', 2.0)],
  },
]

const METRIC_LABEL: Record<Metric, string> = {
  opsX: 'ops_x',
  cpuX: 'cpu_x',
  p99X: 'p99_x',
  rssX: 'rss_x',
}

export interface GoalResult {
  readonly goal: string
  readonly workload: string
  /** e.g. "cpu_x <= 1.00, ops_x >= 1.00, p99_x <= 1.00" */
  readonly required: string
  /** e.g. "cpu_x 1.12, ops_x 0.95, p99_x 1.30" ('-' for a metric not measured). */
  readonly measured: string
  /** undefined: not measured in this run. */
  readonly met: boolean | undefined
}

const round2 = (x: number): number => Math.round(x * 100) / 100

/** RSS with the idle connections open (and its growth per connection), subject ÷ reference. */
export function rssRatio(
  memory: readonly MemoryRow[],
  phase: MemoryPhase,
  subject: string,
  reference: string,
) {
  const find = (t: string) =>
    memory.find((m) => m.phase === phase && m.target === t && m.status === 'ok')
  const s = find(subject)
  const r = find(reference)
  return {
    rssX: ratio(s?.rssAfterKb, r?.rssAfterKb),
    perConnX: ratio(s && bytesPerConn(s), r && bytesPerConn(r)),
  }
}

export function evaluateGoals(
  summaries: readonly Summary[],
  memory: readonly MemoryRow[],
  subject: string,
  reference: string,
  goals: readonly Goal[] = GOALS,
): GoalResult[] {
  const out: GoalResult[] = []
  for (const goal of goals) {
    // The memory goal is judged in each phase the run measured.
    const cases: [string, MemoryPhase | undefined][] = goal.workloads.flatMap((w) =>
      w === 'idle_10k'
        ? MEMORY_PHASES.map((p): [string, MemoryPhase | undefined] => [w, p])
        : [[w, undefined]],
    )
    for (const [workload, phase] of cases) {
      let values: Partial<Record<Metric, number | undefined>>
      let present: boolean
      if (phase !== undefined) {
        values = { rssX: rssRatio(memory, phase, subject, reference).rssX }
        present = memory.some((m) => m.phase === phase && m.target === subject)
      } else {
        const s = findSummary(summaries, workload, subject)
        present = s !== undefined
        values = s ? ratiosTo(s, findSummary(summaries, workload, reference)) : {}
      }
      if (!present) continue
      let failed = false
      let missing = false
      const measured: string[] = []
      for (const b of goal.bounds) {
        const v = values[b.metric]
        const label = METRIC_LABEL[b.metric]
        if (v === undefined) {
          measured.push(`${label} -`)
          missing = true
          continue
        }
        measured.push(`${label} ${v.toFixed(2)}`)
        const ok = b.op === '<=' ? round2(v) <= b.limit : round2(v) >= b.limit
        if (!ok) failed = true
      }
      out.push({
        goal: goal.name,
        workload: phase === undefined ? workload : `${workload} (${phase})`,
        required: goal.bounds
          .map((b) => `${METRIC_LABEL[b.metric]} ${b.op} ${b.limit.toFixed(2)}`)
          .join(', '),
        measured: measured.join(', '),
        met: failed ? false : missing ? undefined : true,
      })
    }
  }
  return out
}
