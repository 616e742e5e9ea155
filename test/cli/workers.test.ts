/**
 * The pieces of `--workers` that need no processes (src/cli/workers.ts and the
 * summing in src/stats): the flag's checks, the restart back-off, the zero view the
 * primary's sum starts from, the Prometheus sum over workers (bucket-wise
 * histograms, latest timestamps, `up` only if every worker reaches the server), the
 * `walnut_workers` families, and the stats and metrics listeners with an
 * asynchronous view (the primary asks the workers first).
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { connect as netConnect } from 'node:net'
import { after, describe, test } from 'node:test'
import { DEFAULT_OPTIONS, parseArgs } from '../../src/cli/args.js'
import {
  emptyMetricsData,
  emptyStatsView,
  RESTART_MAX_MS,
  restartDelay,
} from '../../src/cli/workers.js'
import { parseConfig } from '../../src/config/load.js'
import { type StatsView, statsJson, sumStatsViews } from '../../src/stats/json.js'
import { LATENCY_BOUNDS_SECONDS } from '../../src/stats/latency.js'
import { POOL_METRICS, SERVER_METRICS } from '../../src/stats/metrics.js'
import {
  type MetricsData,
  type MetricsServerData,
  renderMetrics,
  startMetricsServer,
  sumMetricsData,
} from '../../src/stats/prometheus.js'
import { type StatsServer, startStatsServer } from '../../src/stats/server.js'
import { memoryLog } from '../helpers/memory-log.js'

const CONFIG_TEXT =
  'beta:\n  listen: 127.0.0.1:1\n  servers:\n   - 127.0.0.1:11212:1 two\n   - 127.0.0.1:11211:1 one\n' +
  'al:\n  listen: 127.0.0.1:2\n  servers:\n   - 127.0.0.1:11213:1\n'

describe('--workers', () => {
  test('default 1; 1..256; a number', () => {
    assert.equal(DEFAULT_OPTIONS.workers, 1)
    for (const [raw, n] of [
      ['1', 1],
      ['2', 2],
      ['016', 16],
      ['256', 256],
    ] as const) {
      const r = parseArgs(['--workers', raw])
      assert.ok(r.ok)
      assert.equal(r.options.workers, n)
    }
    const eq = parseArgs(['--workers=3'])
    assert.ok(eq.ok && eq.options.workers === 3)
    const fails = (argv: string[]) => {
      const r = parseArgs(argv)
      assert.ok(!r.ok, `${argv.join(' ')} accepted`)
      return r.message
    }
    assert.equal(fails(['--workers', '0']), 'option --workers value 0 is not between 1 and 256')
    assert.equal(fails(['--workers', '257']), 'option --workers value 257 is not between 1 and 256')
    assert.equal(fails(['--workers', 'two']), 'option --workers requires a number')
    assert.equal(fails(['--workers', '-1']), 'option --workers requires a number')
    assert.equal(fails(['--workers']), 'option --workers requires a number')
  })
})

describe('restart back-off', () => {
  test('100 ms, doubling per quick exit in a row, at most 10 s', () => {
    assert.deepEqual(
      Array.from({ length: 10 }, (_, i) => restartDelay(i)),
      [100, 200, 400, 800, 1600, 3200, 6400, 10_000, 10_000, 10_000],
    )
    assert.equal(restartDelay(5000), RESTART_MAX_MS)
  })
})

describe("the primary's sum", () => {
  test("emptyStatsView: the config's pools and servers in nutcracker's order, all 0", async () => {
    const config = await parseConfig(CONFIG_TEXT, 'w.yml')
    const v = emptyStatsView(config, 1_700_000_000_000, 'h')
    assert.deepEqual(
      v.pools.map((p) => [p.name, p.servers.map((s) => s.name)]),
      [
        ['al', ['127.0.0.1:11213']],
        ['beta', ['one', 'two']],
      ],
    )
    for (const p of v.pools) {
      assert.deepEqual(
        Object.keys(p.counters),
        POOL_METRICS.map((m) => m.name),
      )
      assert.ok(Object.values(p.counters).every((n) => n === 0))
      for (const s of p.servers) {
        assert.deepEqual(
          Object.keys(s.counters),
          SERVER_METRICS.map((m) => m.name),
        )
        assert.ok(Object.values(s.counters).every((n) => n === 0))
      }
    }
    // Summed with one worker's view, the document is that worker's (with the primary's start).
    const worker: StatsView = structuredClone({
      ...v,
      startedAt: 1_700_000_005_000,
      // Later than the primary's `now` (the moment of the call), so the sum takes it.
      now: Date.now() + 3_600_000,
      totalConnections: 7,
      currConnections: 4,
    })
    ;(worker.pools[1]!.servers[0]!.counters as Record<string, number>).requests = 12
    const doc = statsJson(sumStatsViews([v, worker]))
    assert.equal(doc, statsJson({ ...worker, startedAt: v.startedAt }))
  })

  function server(name: string, over: Partial<MetricsServerData>): MetricsServerData {
    return {
      name,
      latency: { counts: [], count: 0, sumMs: 0 },
      reachable: true,
      retryAt: 0,
      ...over,
      counters: { server_eof: 0, requests: 0, server_ejected_at: 0, ...over.counters },
    }
  }

  test('sumMetricsData: counters add, timestamps take the latest, histograms add by bucket', () => {
    const counts = (at: Record<number, number>) =>
      Array.from({ length: LATENCY_BOUNDS_SECONDS.length + 1 }, (_, i) => at[i] ?? 0)
    const a: MetricsData = {
      totalConnections: 10,
      currConnections: 3,
      pools: [
        {
          name: 'p',
          counters: { client_eof: 1, request_too_large: 2 },
          latency: { counts: counts({ 0: 5, 3: 1 }), count: 6, sumMs: 1.5 },
          servers: [
            server('s1', {
              counters: { server_eof: 1, requests: 10, server_ejected_at: 5_000_000 },
              latency: { counts: counts({ 0: 4 }), count: 4, sumMs: 0.2 },
              retryAt: 9_000,
              address: null,
              addressChangedAt: 0,
            }),
            server('s2', { counters: { requests: 1 }, reachable: false }),
          ],
        },
      ],
    }
    const b: MetricsData = {
      totalConnections: 5,
      currConnections: 2,
      pools: [
        {
          name: 'p',
          counters: { client_eof: 10, request_too_large: 20 },
          latency: { counts: counts({ 0: 1, 21: 2 }), count: 3, sumMs: 30_000 },
          servers: [
            server('s2', { counters: { requests: 100 } }),
            server('s1', {
              counters: { server_eof: 2, requests: 20, server_ejected_at: 3_000_000 },
              latency: { counts: counts({ 1: 2 }), count: 2, sumMs: 0.3 },
              retryAt: 4_000,
              address: '10.0.0.1',
              addressChangedAt: 1_234,
            }),
          ],
        },
        { name: 'q', counters: { client_eof: 3 }, latency: a.pools[0]!.latency, servers: [] },
      ],
    }
    const before = structuredClone([a, b])
    const sum = sumMetricsData([a, b])
    assert.deepEqual([a, b], before, 'inputs unchanged')
    assert.equal(sum.totalConnections, 15)
    assert.equal(sum.currConnections, 5)
    assert.deepEqual(
      sum.pools.map((p) => p.config.name),
      ['p', 'q'],
    )
    const p = sum.pools[0]!
    assert.deepEqual(p.counters, { client_eof: 11, request_too_large: 22 })
    assert.deepEqual(Array.from(p.latency.counts), counts({ 0: 6, 3: 1, 21: 2 }))
    assert.equal(p.latency.count, 9)
    assert.equal(p.latency.sumMs, 30_001.5)
    assert.deepEqual(
      p.servers.map((s) => s.config.name),
      ['s1', 's2'],
    )
    const [s1, s2] = p.servers as [(typeof p.servers)[0], (typeof p.servers)[0]]
    assert.deepEqual(s1.counters, { server_eof: 3, requests: 30, server_ejected_at: 5_000_000 })
    assert.deepEqual(Array.from(s1.latency.counts), counts({ 0: 4, 1: 2 }))
    assert.equal(s1.latency.count, 6)
    assert.equal(s1.retryAt, 9_000)
    assert.equal(s1.reachable, true)
    assert.equal(s1.address, '10.0.0.1', 'the first worker that has one')
    assert.equal(s1.addressChangedAt, 1_234)
    assert.equal(s2.reachable, false, 'down in one worker: down')
    assert.deepEqual(s2.counters, { server_eof: 0, requests: 101, server_ejected_at: 0 })

    const text = renderMetrics({
      version: 'v',
      startedAt: 0,
      now: 10_000,
      totalConnections: sum.totalConnections,
      currConnections: sum.currConnections,
      pools: sum.pools,
      latency: true,
      workers: { answered: 2, restarts: 3 },
    })
    assert.match(
      text,
      /\n# HELP walnut_workers worker processes summed in this exposition \(--workers\)\n# TYPE walnut_workers gauge\nwalnut_workers 2\n/,
    )
    assert.match(
      text,
      /\n# TYPE walnut_worker_restarts_total counter\nwalnut_worker_restarts_total 3\n/,
    )
    assert.match(text, /\nwalnut_pool_request_duration_seconds_count\{pool="p"\} 9\n/)
    assert.match(text, /\nwalnut_pool_request_duration_seconds_bucket\{pool="p",le="\+Inf"\} 9\n/)
    assert.match(text, /\nwalnut_server_up\{pool="p",server="s2"\} 0\n/)
    assert.match(text, /\nwalnut_server_ejected\{pool="p",server="s1"\} 0\n/)
    assert.match(text, /\nwalnut_server_ejected_timestamp_seconds\{pool="p",server="s1"\} 5\n/)
    assert.doesNotMatch(
      renderMetrics({ ...{ version: 'v', startedAt: 0, now: 0 }, ...sum, latency: false }),
      /walnut_worker/,
    )
  })

  test('emptyMetricsData: every pool and server of the config, zero, up', async () => {
    const config = await parseConfig(CONFIG_TEXT, 'w.yml')
    const sum = sumMetricsData([emptyMetricsData(config)])
    assert.deepEqual(
      sum.pools.map((p) => [p.config.name, p.servers.map((s) => s.config.name)]),
      [
        ['al', ['127.0.0.1:11213']],
        ['beta', ['one', 'two']],
      ],
    )
    for (const p of sum.pools) {
      assert.equal(p.latency.count, 0)
      for (const s of p.servers) assert.equal(s.reachable, true)
    }
  })
})

describe('listeners with an asynchronous view', () => {
  const closers: (() => Promise<void>)[] = []
  after(async () => {
    for (const c of closers) await c()
  })

  async function readAll(port: number): Promise<string> {
    const s = netConnect({ host: '127.0.0.1', port })
    const chunks: Buffer[] = []
    s.on('data', (c: Buffer) => chunks.push(c))
    s.on('error', () => {})
    await once(s, 'close')
    return Buffer.concat(chunks).toString()
  }

  test('the stats port writes what the promise gives; a rejected one closes, logged', async () => {
    const config = await parseConfig(CONFIG_TEXT, 'w.yml')
    const view = emptyStatsView(config, 1_700_000_000_000, 'h')
    let fail = false
    const log = memoryLog()
    const srv: StatsServer = await startStatsServer({
      host: '127.0.0.1',
      port: 0,
      view: () =>
        new Promise<StatsView>((resolve, reject) =>
          setTimeout(() => (fail ? reject(new Error('no')) : resolve(view)), 30),
        ),
      log,
    })
    closers.push(() => srv.close())
    assert.equal(await readAll(srv.address.port), statsJson(view))
    fail = true
    assert.equal(await readAll(srv.address.port), '')
    assert.ok(log.lines.includes('3 stats stats document failed: Error: no'), log.lines.join('\n'))
  })

  test('/metrics answers what the promise gives; a rejected one is a 500', async () => {
    let fail = false
    const srv = await startMetricsServer({
      host: '127.0.0.1',
      port: 0,
      render: () =>
        new Promise<string>((resolve, reject) =>
          setTimeout(() => (fail ? reject(new Error('no')) : resolve('x 1\n')), 30),
        ),
      log: memoryLog(),
    })
    closers.push(() => srv.close())
    const url = `http://127.0.0.1:${srv.address.port}/metrics`
    const ok = await fetch(url)
    assert.equal(ok.status, 200)
    assert.equal(await ok.text(), 'x 1\n')
    fail = true
    const bad = await fetch(url)
    assert.equal(bad.status, 500)
    assert.equal(await bad.text(), 'metrics exposition failed\n')
  })
})
