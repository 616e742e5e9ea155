/**
 * The benchmark's text output, byte for byte: markdown tables (load, memory, goals), the
 * dated page, the docs/bench.md block replacement, and the raw TSV. No processes.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { GoalResult } from '../../bench/goals.js'
import {
  LATEST_END,
  LATEST_START,
  type ReportInput,
  renderGoals,
  renderLatest,
  renderLoadTable,
  renderMemoryTable,
  renderReport,
  renderTsv,
  replaceLatest,
  TSV_HEADER,
  table,
} from '../../bench/report.js'
import type { LoadRow, MemoryRow, Summary } from '../../bench/stats.js'

const s = (p: Partial<Summary> & Pick<Summary, 'workload' | 'target'>): Summary => ({
  okReps: 3,
  ops: { min: 900, median: 1000, max: 1100.4 },
  p50Ms: 0.5,
  p99Ms: 2,
  proxyUs: { min: 9.96, median: 10, max: 12.25 },
  backendUs: 3,
  clientUs: 4,
  noisePct: 12.4,
  failures: [],
  ...p,
})

const SUMMARIES: Summary[] = [
  s({ workload: 'redis_get_p1', target: 'direct', proxyUs: undefined, p99Ms: 1 }),
  s({ workload: 'redis_get_p1', target: 'nutcracker-v4' }),
  s({
    workload: 'redis_get_p1',
    target: 'walnut',
    ops: { min: 1100, median: 1200, max: 1300 },
    proxyUs: { min: 8, median: 9, max: 10 },
    p99Ms: 3,
    failures: ['TIMEOUT'],
  }),
]

const MEMORY: MemoryRow[] = [
  {
    phase: 'fresh',
    target: 'nutcracker-v4',
    conns: 10000,
    rssBeforeKb: 2048,
    rssAfterKb: 4096,
    status: 'ok',
  },
  {
    phase: 'fresh',
    target: 'walnut',
    conns: 10000,
    rssBeforeKb: 51200,
    rssAfterKb: 131072,
    status: 'ok',
  },
  {
    phase: 'after load',
    target: 'walnut',
    conns: 10000,
    rssBeforeKb: 0,
    rssAfterKb: 0,
    status: 'DIED',
  },
]

const GOALS: GoalResult[] = [
  {
    goal: 'g1',
    workload: 'redis_get_p1',
    required: 'cpu_x <= 1.00',
    measured: 'cpu_x 0.90',
    met: true,
  },
  { goal: 'g1', workload: 'mc_get', required: 'cpu_x <= 1.00', measured: 'cpu_x 1.10', met: false },
  {
    goal: 'g2',
    workload: 'idle_10k (after load)',
    required: 'rss_x <= 2.00',
    measured: 'rss_x -',
    met: undefined,
  },
]

describe('markdown tables', () => {
  test('table', () => {
    assert.equal(
      table(
        ['a', 'b'],
        [
          ['1', '2'],
          ['3', ''],
        ],
      ),
      '| a | b |\n| --- | --- |\n| 1 | 2 |\n| 3 |  |',
    )
  })

  test('load table: spreads, medians, ratios, noise, failures', () => {
    assert.equal(
      renderLoadTable(SUMMARIES, 'nutcracker-v4'),
      [
        '| workload | target | ops/s min / med / max | p50 ms | p99 ms | proxy µs/req min / med / max | ops_x | cpu_x | p99_x | noise | notes |',
        '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
        '| redis_get_p1 | direct | 900 / 1000 / 1100 | 0.500 | 1.000 | - | 1.00 | - | 0.50 | 12% |  |',
        '| redis_get_p1 | nutcracker-v4 | 900 / 1000 / 1100 | 0.500 | 2.000 | 10.0 / 10.0 / 12.3 | 1.00 | 1.00 | 1.00 | 12% |  |',
        '| redis_get_p1 | walnut | 1100 / 1200 / 1300 | 0.500 | 3.000 | 8.0 / 9.0 / 10.0 | 1.20 | 0.90 | 1.50 | 12% | failed: TIMEOUT |',
      ].join('\n'),
    )
  })

  test('load table without the reference: no ratios', () => {
    const out = renderLoadTable([SUMMARIES[2]!], 'nutcracker-v4')
    assert.match(out, /\| 8\.0 \/ 9\.0 \/ 10\.0 \| - \| - \| - \| 12% \| failed: TIMEOUT \|$/)
  })

  test('memory table: MiB, bytes/conn and ratios for fresh; statuses', () => {
    assert.equal(
      renderMemoryTable(MEMORY, 'nutcracker-v4'),
      [
        '| phase | target | idle conns | RSS before, MiB | RSS with conns, MiB | bytes/conn | rss_x | per_conn_x | notes |',
        '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
        '| fresh | nutcracker-v4 | 10000 | 2.0 | 4.0 | 210 | 1.00 | 1.00 |  |',
        '| fresh | walnut | 10000 | 50.0 | 128.0 | 8179 | 32.00 | 39.00 |  |',
        '| after load | walnut | 10000 | - | - | - | - | - | DIED |',
      ].join('\n'),
    )
  })

  test('goals', () => {
    assert.equal(
      renderGoals(GOALS),
      [
        '| target (issue 7) | workload | required | measured | result |',
        '| --- | --- | --- | --- | --- |',
        '| g1 | redis_get_p1 | cpu_x <= 1.00 | cpu_x 0.90 | **met** |',
        '| g1 | mc_get | cpu_x <= 1.00 | cpu_x 1.10 | not met |',
        '| g2 | idle_10k (after load) | rss_x <= 2.00 | rss_x - | not measured |',
      ].join('\n'),
    )
    assert.equal(renderGoals([]), '_No target of issue 7 was measured in this run._')
  })
})

const INPUT: ReportInput = {
  startedAt: '2026-11-23T22:10:00Z',
  durationSec: 301.6,
  machine: {
    cpuModel: 'AMD EPYC',
    cpus: 2,
    kernel: '6.18.44',
    node: 'v20.20.2',
    versions: { walnut: 'abc1234', 'redis-server': '7.0.15' },
  },
  reps: 3,
  scale: 1,
  workloads: [
    { name: 'redis_get_p1', describe: 'redis GET 100 B, 50 clients', requests: 100000 },
    { name: 'idle_10k', describe: 'RSS with 10000 idle client connections', requests: undefined },
  ],
  targets: [
    { name: 'nutcracker-v4', describe: 'nutcracker -v 4' },
    { name: 'walnut', describe: 'walnut' },
  ],
  reference: 'nutcracker-v4',
  subject: 'walnut',
  summaries: SUMMARIES,
  memory: MEMORY,
  goals: GOALS,
  notes: ['a note'],
}

describe('pages', () => {
  test('the dated page: header, machine, sections in order', () => {
    const page = renderReport(INPUT)
    assert.ok(page.startsWith('# Benchmark results, 2026-11-23\n\n'))
    assert.ok(page.endsWith('| idle_10k | RSS with 10000 idle client connections | - |\n'))
    assert.ok(
      page.includes(
        '- **Machine:** AMD EPYC, 2 cores, Linux 6.18.44, Node.js v20.20.2; walnut abc1234, redis-server 7.0.15.\n',
      ),
    )
    assert.ok(page.includes('Run started 2026-11-23T22:10:00Z, took 302 s.'))
    assert.ok(page.includes('\n\n> a note\n\n'))
    const order = [
      '## Targets of issue 7 (walnut vs nutcracker-v4)',
      '## Throughput, latency and proxy CPU',
      '## Memory',
      '## Workloads',
    ].map((h) => page.indexOf(h))
    assert.ok(
      order.every((x, i) => x > 0 && (i === 0 || x > order[i - 1]!)),
      String(order),
    )
    assert.ok(page.includes(renderGoals(GOALS)))
    assert.ok(page.includes(renderLoadTable(SUMMARIES, 'nutcracker-v4')))
  })

  test('the latest block and its replacement in docs/bench.md', () => {
    const block = renderLatest(INPUT, 'bench-results/2026-11-23.md')
    assert.ok(
      block.startsWith(
        `${LATEST_START}\nLatest run: [2026-11-23](bench-results/2026-11-23.md) on AMD EPYC`,
      ),
    )
    assert.ok(block.endsWith(`\n${LATEST_END}`))
    const doc = `# Benchmark\n\nintro\n\n${LATEST_START}\nold\n${LATEST_END}\n\n## After\n`
    assert.equal(replaceLatest(doc, 'NEW'), '# Benchmark\n\nintro\n\nNEW\n\n## After\n')
    assert.equal(replaceLatest('# B\n', 'NEW'), '# B\n\n## Latest results\n\nNEW\n')
    assert.equal(replaceLatest('# B', 'NEW'), '# B\n\n## Latest results\n\nNEW\n')
  })

  test('raw TSV', () => {
    const load: LoadRow[] = [
      {
        rep: 2,
        workload: 'mc_get',
        target: 'walnut',
        opsPerSec: 41234.56,
        p50Ms: 0.81,
        p99Ms: undefined,
        proxyUs: 14.256,
        backendUs: 5,
        clientUs: 9.5,
        requests: 100000,
        seconds: 2.4251,
        noisePct: 7.6,
        status: 'ok',
      },
    ]
    assert.equal(
      renderTsv(load, [MEMORY[0]!]),
      `${TSV_HEADER}\n` +
        '2\tmc_get\twalnut\t41235\t0.810\t-\t14.26\t5.00\t9.50\t100000\t2.425\t8\tok\t-\t-\t-\t-\n' +
        '1\tidle_10k\tnutcracker-v4\t-\t-\t-\t-\t-\t-\t-\t-\t-\tok\tfresh\t10000\t2048\t4096\n',
    )
    assert.equal(TSV_HEADER.split('\t').length, 17)
  })
})
