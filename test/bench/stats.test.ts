/**
 * The benchmark's arithmetic: median/min/max, ratios to the reference, the noise estimate,
 * the per-workload summary of raw rows, and the issue 7 goal evaluation. No processes.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { evaluateGoals } from '../../bench/goals.js'
import { scaledRequests, WORKLOADS } from '../../bench/plan.js'
import {
  bytesPerConn,
  type LoadRow,
  type MemoryRow,
  median,
  noisePercent,
  ratio,
  ratiosTo,
  type Summary,
  spread,
  summarise,
} from '../../bench/stats.js'

function row(p: Partial<LoadRow> & Pick<LoadRow, 'rep' | 'workload' | 'target'>): LoadRow {
  return {
    opsPerSec: 1000,
    p50Ms: 0.5,
    p99Ms: 1,
    proxyUs: 10,
    backendUs: 5,
    clientUs: 7,
    requests: 1000,
    seconds: 1,
    noisePct: 0,
    status: 'ok',
    ...p,
  }
}

describe('median, spread, ratio', () => {
  test('median of odd and even counts, unsorted input untouched', () => {
    const xs = [5, 1, 3]
    assert.equal(median(xs), 3)
    assert.deepEqual(xs, [5, 1, 3])
    assert.equal(median([4, 1, 3, 2]), 2.5)
    assert.equal(median([7]), 7)
    assert.equal(median([10, 2, 33]), 10) // numeric, not lexicographic
    assert.throws(() => median([]), /empty/)
  })

  test('spread', () => {
    assert.deepEqual(spread([3, 9, 1]), { min: 1, median: 3, max: 9 })
    assert.equal(spread([]), undefined)
  })

  test('ratio', () => {
    assert.equal(ratio(3, 2), 1.5)
    assert.equal(ratio(undefined, 2), undefined)
    assert.equal(ratio(3, undefined), undefined)
    assert.equal(ratio(3, 0), undefined)
  })

  test('scaled request counts have a floor of 1000', () => {
    assert.equal(scaledRequests(WORKLOADS.redis_get_p1, 1), 100_000)
    assert.equal(scaledRequests(WORKLOADS.redis_get_p16, 0.25), 100_000)
    assert.equal(scaledRequests(WORKLOADS.redis_mget10, 0.001), 1000)
  })
})

describe('noise', () => {
  test('foreign busy time plus steal over the machine capacity', () => {
    // 2 s on 2 CPUs at 100 Hz = 400 ticks; busy 300, ours 200 → foreign 100; steal 20.
    assert.equal(
      noisePercent({ busy: 300, steal: 20, ours: 200, seconds: 2, ticksPerSecond: 100, cpus: 2 }),
      30,
    )
  })
  test('ours above busy (tick rounding) is no negative noise', () => {
    assert.equal(
      noisePercent({ busy: 100, steal: 0, ours: 104, seconds: 1, ticksPerSecond: 100, cpus: 2 }),
      0,
    )
  })
  test('zero duration and the 100 % ceiling', () => {
    assert.equal(
      noisePercent({ busy: 10, steal: 0, ours: 0, seconds: 0, ticksPerSecond: 100, cpus: 2 }),
      0,
    )
    assert.equal(
      noisePercent({ busy: 900, steal: 50, ours: 0, seconds: 1, ticksPerSecond: 100, cpus: 2 }),
      100,
    )
  })
})

describe('summarise', () => {
  const rows: LoadRow[] = [
    row({ rep: 1, workload: 'w', target: 'a', opsPerSec: 100, proxyUs: 10, p99Ms: 2, noisePct: 5 }),
    row({
      rep: 2,
      workload: 'w',
      target: 'a',
      opsPerSec: 300,
      proxyUs: 30,
      p99Ms: 4,
      noisePct: 25,
    }),
    row({ rep: 3, workload: 'w', target: 'a', opsPerSec: 200, proxyUs: 20, p99Ms: 3, noisePct: 1 }),
    row({ rep: 1, workload: 'w', target: 'ref', opsPerSec: 400, proxyUs: 40, p99Ms: 6 }),
    row({ rep: 2, workload: 'w', target: 'ref', opsPerSec: 0, status: 'TIMEOUT', noisePct: 9 }),
    row({ rep: 1, workload: 'w', target: 'direct', proxyUs: undefined }),
    row({ rep: 1, workload: 'other', target: 'a', status: 'FAIL' }),
  ]
  const s = summarise(rows, ['w', 'other', 'absent'], ['direct', 'a', 'ref'])

  test('one summary per present pair, in the orders given', () => {
    assert.deepEqual(
      s.map((x) => `${x.workload}/${x.target}`),
      ['w/direct', 'w/a', 'w/ref', 'other/a'],
    )
  })

  test('min/median/max and medians over ok reps; noise is the max of all reps', () => {
    const a = s[1]!
    assert.deepEqual(a.ops, { min: 100, median: 200, max: 300 })
    assert.deepEqual(a.proxyUs, { min: 10, median: 20, max: 30 })
    assert.equal(a.p99Ms, 3)
    assert.equal(a.p50Ms, 0.5)
    assert.equal(a.okReps, 3)
    assert.equal(a.noisePct, 25)
    assert.deepEqual(a.failures, [])
  })

  test('failed reps do not count but are listed', () => {
    const ref = s[2]!
    assert.equal(ref.okReps, 1)
    assert.deepEqual(ref.ops, { min: 400, median: 400, max: 400 })
    assert.deepEqual(ref.failures, ['TIMEOUT'])
    assert.equal(ref.noisePct, 9)
    const other = s[3]!
    assert.equal(other.ops, undefined)
    assert.equal(other.p99Ms, undefined)
    assert.deepEqual(other.failures, ['FAIL'])
  })

  test('direct has no proxy CPU', () => {
    assert.equal(s[0]!.proxyUs, undefined)
  })

  test('ratios to the reference', () => {
    assert.deepEqual(ratiosTo(s[1]!, s[2]), { opsX: 0.5, cpuX: 0.5, p99X: 0.5 })
    assert.deepEqual(ratiosTo(s[0]!, s[2]), { opsX: 2.5, cpuX: undefined, p99X: 1 / 6 })
    assert.deepEqual(ratiosTo(s[1]!, undefined), {
      opsX: undefined,
      cpuX: undefined,
      p99X: undefined,
    })
  })
})

describe('memory', () => {
  test('bytes per connection', () => {
    const m: MemoryRow = {
      phase: 'fresh',
      target: 't',
      conns: 1000,
      rssBeforeKb: 1000,
      rssAfterKb: 3000,
      status: 'ok',
    }
    assert.equal(bytesPerConn(m), 2048)
    assert.equal(bytesPerConn({ ...m, status: 'DIED' }), undefined)
  })
})

function summary(workload: string, target: string, ops: number, cpu: number, p99: number): Summary {
  return {
    workload,
    target,
    okReps: 3,
    ops: { min: ops, median: ops, max: ops },
    p50Ms: 0.1,
    p99Ms: p99,
    proxyUs: { min: cpu, median: cpu, max: cpu },
    backendUs: 1,
    clientUs: 1,
    noisePct: 0,
    failures: [],
  }
}

describe('issue 7 goals', () => {
  const mem = (phase: 'fresh' | 'after load', target: string, after: number): MemoryRow => ({
    phase,
    target,
    conns: 10_000,
    rssBeforeKb: 1000,
    rssAfterKb: after,
    status: 'ok',
  })

  test('every rule, met and not met, compared as printed', () => {
    const s = [
      summary('redis_get_p1', 'ref', 1000, 10, 1),
      summary('redis_get_p1', 'w', 1000, 10.04, 0.999), // 1.004 prints as 1.00: met
      summary('mc_get', 'ref', 1000, 10, 1),
      summary('mc_get', 'w', 1200, 9, 1.2), // p99 1.20: not met
      summary('redis_get_p16', 'ref', 1000, 3, 1),
      summary('redis_get_p16', 'w', 1500, 2, 1),
      summary('redis_mget10', 'ref', 1000, 20, 1),
      summary('redis_mget10', 'w', 1000, 18.2, 1), // 0.91: not met
    ]
    const m = [mem('fresh', 'ref', 2000), mem('fresh', 'w', 4000), mem('after load', 'w', 5000)]
    const g = evaluateGoals(s, m, 'w', 'ref')
    assert.deepEqual(
      g.map((x) => [x.workload, x.measured, x.met]),
      [
        ['redis_get_p1', 'cpu_x 1.00, ops_x 1.00, p99_x 1.00', true],
        ['mc_get', 'cpu_x 0.90, ops_x 1.20, p99_x 1.20', false],
        ['redis_get_p16', 'ops_x 1.50', true],
        ['redis_mget10', 'cpu_x 0.91', false],
        ['idle_10k (fresh)', 'rss_x 2.00', true],
        ['idle_10k (after load)', 'rss_x -', undefined],
      ],
    )
    assert.equal(g[0]!.required, 'cpu_x <= 1.00, ops_x >= 1.00, p99_x <= 1.00')
    assert.equal(g[0]!.goal, 'plain request/response (pipeline 1)')
  })

  test('a failed bound wins over a missing one', () => {
    const s = [
      summary('redis_set_p1', 'ref', 1000, 10, 1),
      { ...summary('redis_set_p1', 'w', 500, 10, 1), proxyUs: undefined },
    ]
    const g = evaluateGoals(s, [], 'w', 'ref')
    assert.equal(g.length, 1)
    assert.equal(g[0]!.measured, 'cpu_x -, ops_x 0.50, p99_x 1.00')
    assert.equal(g[0]!.met, false)
  })

  test('no reference: not measured', () => {
    const g = evaluateGoals([summary('redis_set_p16', 'w', 1, 1, 1)], [], 'w', 'ref')
    assert.deepEqual(
      g.map((x) => [x.measured, x.met]),
      [['ops_x -', undefined]],
    )
  })
})
