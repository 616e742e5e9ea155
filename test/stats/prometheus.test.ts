/**
 * The Prometheus exposition (src/stats/prometheus.ts), parsed back with the
 * parse-prometheus-text-format library: every nutcracker counter and gauge under
 * its walnut name, labelled by pool and server, with its value; `_total` on
 * counters only; up/ejected; label escaping; histograms cumulative with `+Inf`
 * equal to the count; walnut-only counter fields; and the HTTP listener's routes.
 *
 * parse-prometheus-text-format 1.1.1 drops the labels of labelled histograms
 * (its issue #13; sum and count are lost, buckets of all series are merged), so
 * each histogram series is also parsed on its own with its pool/server labels
 * removed: the library then returns that series' buckets, sum and count.
 */
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { after, describe, test } from 'node:test'
import { PoolCounters, ServerCounters } from '../../src/core/counters.js'
import { LATENCY_BOUNDS_SECONDS, LatencyHistogram } from '../../src/stats/latency.js'
import { METRICS, POOL_METRICS, SERVER_METRICS } from '../../src/stats/metrics.js'
import {
  EXTRA_METRICS,
  METRICS_CONTENT_TYPE,
  type MetricsPool,
  type MetricsServer,
  type MetricsSnapshot,
  renderMetrics,
  startMetricsServer,
} from '../../src/stats/prometheus.js'
import type { StatsLog } from '../../src/stats/server.js'
import { histogramLines, labelText } from '../helpers/metrics-text.js'

/** One family as parse-prometheus-text-format returns it (values are strings). */
interface Family {
  name: string
  help: string
  type: string
  metrics: {
    value?: string
    labels?: Record<string, string>
    buckets?: Record<string, string>
    count?: string
    sum?: string
  }[]
}
const parse = createRequire(import.meta.url)('parse-prometheus-text-format') as (
  text: string,
) => Family[]

const NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/

interface FakeServer extends MetricsServer {
  counters: ServerCounters
  latency: LatencyHistogram
  reachable: boolean
  retryAt: number
}
interface FakePool extends MetricsPool {
  counters: PoolCounters
  latency: LatencyHistogram
  servers: FakeServer[]
}

function server(name: string): FakeServer {
  return {
    config: { name },
    counters: new ServerCounters(),
    latency: new LatencyHistogram(),
    reachable: true,
    retryAt: 0,
  }
}

function pool(name: string, servers: string[]): FakePool {
  return {
    config: { name },
    counters: new PoolCounters(),
    latency: new LatencyHistogram(),
    servers: servers.map(server),
  }
}

const NOW = 1_700_000_010_500

function snapshot(pools: FakePool[], latency = true): MetricsSnapshot {
  return {
    version: '9.8.7',
    startedAt: 1_700_000_000_000,
    now: NOW,
    totalConnections: 12,
    currConnections: 5,
    pools,
    latency,
  }
}

/** Checks what the text format requires beyond what the library checks. */
function checkShape(text: string, families: Family[]): void {
  assert.ok(text.endsWith('\n'), 'ends with a newline')
  const names = families.map((f) => f.name)
  assert.equal(new Set(names).size, names.length, `families appear once: ${names.join(' ')}`)
  for (const f of families) {
    assert.match(f.name, NAME_RE)
    assert.ok(['COUNTER', 'GAUGE', 'HISTOGRAM', 'UNTYPED'].includes(f.type), f.type)
    assert.equal(f.type === 'COUNTER', f.name.endsWith('_total'), `${f.name}: _total iff counter`)
    assert.notEqual(f.help, '', `${f.name} has help`)
    for (const m of f.metrics)
      for (const l of Object.keys(m.labels ?? {})) assert.match(l, LABEL_RE)
  }
}

/** One histogram series, parsed by the library alone with its identifying labels removed. */
function histogramSeries(text: string, family: string, labels: Record<string, string>) {
  const lt = labelText(labels)
  const lines = histogramLines(text, family, labels)
  assert.equal(lines.length, 1 + LATENCY_BOUNDS_SECONDS.length + 1 + 2, `${family} ${lt}`)
  const [f] = parse(`${lines.join('\n')}\n`)
  const m = f?.metrics[0]
  assert.ok(m?.buckets !== undefined, `${family} ${lt}: parsed as a histogram`)
  return {
    buckets: Object.fromEntries(Object.entries(m.buckets).map(([k, v]) => [k, Number(v)])),
    count: Number(m.count),
    sum: Number(m.sum),
  }
}

function family(families: Family[], name: string): Family {
  const f = families.find((x) => x.name === name)
  assert.ok(f !== undefined, `family ${name} present`)
  return f
}

/** Value of the sample of `name` with exactly `labels`. */
function value(families: Family[], name: string, labels: Record<string, string> = {}): number {
  const f = family(families, name)
  const m = f.metrics.find(
    (x) => JSON.stringify(x.labels ?? {}) === JSON.stringify(labels) && x.value !== undefined,
  )
  assert.ok(m !== undefined, `${name}${JSON.stringify(labels)} present`)
  return Number(m.value)
}

/** nutcracker field → exposition name, as the module's header comment states. */
function expectedName(scope: 'pool' | 'server', field: string, kind: string): string {
  const stat = scope === 'server' && field.startsWith('server_') ? field.slice(7) : field
  if (kind === 'timestamp') return `walnut_server_${stat.replace(/_at$/, '')}_timestamp_seconds`
  return `walnut_${scope}_${stat}${kind === 'counter' ? '_total' : ''}`
}

describe('renderMetrics', () => {
  test('every nutcracker metric, labelled, with its value; header gauges; up/ejected', () => {
    const alpha = pool('alpha', ['127.0.0.1:24101', 'named2'])
    const b = pool('b', ['/tmp/mc.sock:'])
    POOL_METRICS.forEach((m, i) => {
      alpha.counters[m.name] = 10 + i
      b.counters[m.name] = 20 + i
    })
    const [s1, s2] = alpha.servers as [FakeServer, FakeServer]
    const s3 = b.servers[0] as FakeServer
    SERVER_METRICS.forEach((m, i) => {
      s1.counters[m.name] = 100 + i
      s2.counters[m.name] = 200 + i
      s3.counters[m.name] = 300 + i
    })
    s1.counters.server_ejected_at = 1_700_000_005_250_000 // µs
    s1.retryAt = NOW + 1 // still out
    s1.reachable = false
    s3.retryAt = NOW // its time has come: no longer ejected
    const text = renderMetrics(snapshot([b, alpha]))
    const families = parse(text)
    checkShape(text, families)

    assert.equal(value(families, 'walnut_info', { version: '9.8.7' }), 1)
    assert.equal(value(families, 'walnut_start_time_seconds'), 1_700_000_000)
    assert.equal(value(families, 'walnut_uptime_seconds'), 10)
    assert.equal(value(families, 'walnut_connections_total'), 12)
    assert.equal(family(families, 'walnut_connections_total').type, 'COUNTER')
    assert.equal(value(families, 'walnut_curr_connections'), 5)

    for (const m of POOL_METRICS) {
      const name = expectedName('pool', m.name, m.kind)
      const f = family(families, name)
      assert.equal(f.type, m.kind === 'counter' ? 'COUNTER' : 'GAUGE', name)
      assert.equal(f.help, m.description)
      assert.deepEqual(
        f.metrics.map((x) => x.labels?.pool),
        ['b', 'alpha'],
        `${name}: pools in the proxy's order`,
      )
      assert.equal(value(families, name, { pool: 'alpha' }), alpha.counters[m.name])
      assert.equal(value(families, name, { pool: 'b' }), b.counters[m.name])
    }
    for (const m of SERVER_METRICS) {
      const name = expectedName('server', m.name, m.kind)
      const f = family(families, name)
      assert.equal(f.type, m.kind === 'counter' ? 'COUNTER' : 'GAUGE', name)
      const divisor = m.kind === 'timestamp' ? 1e6 : 1
      for (const [p, s] of [
        [alpha, s1],
        [alpha, s2],
        [b, s3],
      ] as const) {
        const labels = { pool: p.config.name, server: s.config.name }
        assert.equal(
          value(families, name, labels),
          s.counters[m.name] / divisor,
          `${name} ${s.config.name}`,
        )
      }
    }
    assert.equal(
      value(families, 'walnut_server_ejected_timestamp_seconds', {
        pool: 'alpha',
        server: '127.0.0.1:24101',
      }),
      1_700_000_005.25,
    )
    const up = (s: string, p = 'alpha') =>
      value(families, 'walnut_server_up', { pool: p, server: s })
    const ej = (s: string, p = 'alpha') =>
      value(families, 'walnut_server_ejected', { pool: p, server: s })
    assert.deepEqual([up('127.0.0.1:24101'), up('named2'), up('/tmp/mc.sock:', 'b')], [0, 1, 1])
    assert.deepEqual([ej('127.0.0.1:24101'), ej('named2'), ej('/tmp/mc.sock:', 'b')], [1, 0, 0])
    // The brief's examples, spelled out.
    assert.equal(family(families, 'walnut_pool_client_connections').type, 'GAUGE')
    assert.equal(family(families, 'walnut_server_requests_total').type, 'COUNTER')
    assert.equal(family(families, 'walnut_pool_fragments_total').type, 'COUNTER')
    assert.equal(family(families, 'walnut_server_in_queue_bytes').type, 'GAUGE')
  })

  test('the exact text of the first families', () => {
    const text = renderMetrics(snapshot([pool('p', [])], false))
    assert.ok(
      text.startsWith(
        [
          '# HELP walnut_info walnut version (always 1)',
          '# TYPE walnut_info gauge',
          'walnut_info{version="9.8.7"} 1',
          '# HELP walnut_start_time_seconds when the stats module started',
          '# TYPE walnut_start_time_seconds gauge',
          'walnut_start_time_seconds 1700000000',
          '# HELP walnut_uptime_seconds seconds since the stats module started',
          '# TYPE walnut_uptime_seconds gauge',
          'walnut_uptime_seconds 10',
          '# HELP walnut_connections_total connections ever created: listeners, clients, server connection attempts',
          '# TYPE walnut_connections_total counter',
          'walnut_connections_total 12',
          '# HELP walnut_curr_connections connections open now',
          '# TYPE walnut_curr_connections gauge',
          'walnut_curr_connections 5',
          '# HELP walnut_pool_client_eof_total # eof on client connections',
          '# TYPE walnut_pool_client_eof_total counter',
          'walnut_pool_client_eof_total{pool="p"} 0',
          '',
        ].join('\n'),
      ),
      text.slice(0, 1200),
    )
  })

  test('label values are escaped and parse back to the names', () => {
    const odd = 'we"ird\\pool\nname'
    const p = pool(odd, ['srv "1"\\x'])
    p.counters.client_eof = 3
    const s = p.servers[0] as FakeServer
    s.counters.requests = 4
    s.latency.observe(0.2)
    const text = renderMetrics(snapshot([p]))
    assert.ok(text.includes('pool="we\\"ird\\\\pool\\nname"'), 'escaped in the text')
    const families = parse(text)
    checkShape(text, families)
    assert.equal(value(families, 'walnut_pool_client_eof_total', { pool: odd }), 3)
    assert.equal(
      value(families, 'walnut_server_requests_total', { pool: odd, server: 'srv "1"\\x' }),
      4,
    )
    const h = histogramSeries(text, 'walnut_server_request_duration_seconds', {
      pool: odd,
      server: 'srv "1"\\x',
    })
    assert.equal(h.count, 1)
  })

  test('latency histograms: cumulative buckets, +Inf = count, sum in seconds', () => {
    const p = pool('alpha', ['s1', 's2'])
    const s1 = p.servers[0] as FakeServer
    // ms: 0.04 → le 0.00005; 0.05 → le 0.00005 (bounds are inclusive); 0.6 → le 0.00075;
    // 7 → le 0.01; 20000 → +Inf only.
    for (const ms of [0.04, 0.05, 0.6, 7, 20000]) p.latency.observe(ms)
    s1.latency.observe(1)
    const text = renderMetrics(snapshot([p]))
    const families = parse(text)
    checkShape(text, families)
    assert.equal(family(families, 'walnut_pool_request_duration_seconds').type, 'HISTOGRAM')
    assert.equal(family(families, 'walnut_server_request_duration_seconds').type, 'HISTOGRAM')

    const h = histogramSeries(text, 'walnut_pool_request_duration_seconds', { pool: 'alpha' })
    assert.equal(h.count, 5)
    assert.ok(Math.abs(h.sum - 20007.69 / 1000) < 1e-9, String(h.sum))
    const expected: Record<string, number> = {}
    for (const b of LATENCY_BOUNDS_SECONDS) {
      expected[String(b)] = [0.04, 0.05, 0.6, 7, 20000].filter((ms) => ms <= b * 1000).length
    }
    expected['+Inf'] = 5
    assert.deepEqual(h.buckets, expected)
    assert.equal(h.buckets['0.00005'], 2)
    assert.equal(h.buckets['0.0005'], 2)
    assert.equal(h.buckets['0.00075'], 3)
    assert.equal(h.buckets['10'], 4)

    const h1 = histogramSeries(text, 'walnut_server_request_duration_seconds', {
      pool: 'alpha',
      server: 's1',
    })
    assert.equal(h1.count, 1)
    assert.equal(h1.buckets['0.001'], 1)
    assert.equal(h1.buckets['0.00075'], 0)
    const h2 = histogramSeries(text, 'walnut_server_request_duration_seconds', {
      pool: 'alpha',
      server: 's2',
    })
    assert.deepEqual([h2.count, h2.sum, h2.buckets['+Inf']], [0, 0, 0])
  })

  test('no histograms when requests are not timed', () => {
    const text = renderMetrics(snapshot([pool('alpha', ['s1'])], false))
    assert.ok(!text.includes('request_duration'))
    checkShape(text, parse(text))
  })

  test("walnut-only counter fields: typed by EXTRA_METRICS, else untyped; never nutcracker's", () => {
    const p = pool('alpha', ['s1'])
    Object.assign(p.counters, { request_too_large: 7, some_future_field: 9, not_a_number: 'x' })
    Object.assign(p.servers[0]?.counters ?? {}, { server_future: 4 })
    const text = renderMetrics(snapshot([p]))
    const families = parse(text)
    checkShape(text, families)
    assert.equal(EXTRA_METRICS.request_too_large?.kind, 'counter')
    assert.equal(family(families, 'walnut_pool_request_too_large_total').type, 'COUNTER')
    assert.equal(value(families, 'walnut_pool_request_too_large_total', { pool: 'alpha' }), 7)
    assert.equal(family(families, 'walnut_pool_some_future_field').type, 'UNTYPED')
    assert.equal(value(families, 'walnut_pool_some_future_field', { pool: 'alpha' }), 9)
    assert.ok(!text.includes('not_a_number'))
    assert.equal(family(families, 'walnut_server_future').type, 'UNTYPED')
    // Every field PoolCounters has today is exported, nutcracker's and walnut's.
    for (const k of Object.keys(new PoolCounters())) {
      const known = METRICS.find((m) => m.name === k)
      const kind = known?.kind ?? EXTRA_METRICS[k]?.kind ?? 'untyped'
      family(families, expectedName('pool', k, kind))
    }
  })
})

describe('startMetricsServer', () => {
  const quiet: StatsLog = { enabled: () => false, log: () => {} }
  let calls = 0
  const started = startMetricsServer({
    host: '127.0.0.1',
    port: 0,
    render: () => `# HELP x y\n# TYPE x gauge\nx ${++calls}\n`,
    log: quiet,
  })
  after(async () => (await started).close())

  test('GET /metrics: 200, the text format content type, a fresh render each time', async () => {
    const { address } = await started
    const url = `http://127.0.0.1:${address.port}/metrics`
    const r1 = await fetch(url)
    assert.equal(r1.status, 200)
    assert.equal(r1.headers.get('content-type'), METRICS_CONTENT_TYPE)
    assert.equal(METRICS_CONTENT_TYPE, 'text/plain; version=0.0.4; charset=utf-8')
    const t1 = await r1.text()
    const t2 = await (await fetch(`${url}?x=1`)).text()
    assert.notEqual(t1, t2)
    assert.equal(parse(t2)[0]?.metrics[0]?.value, String(calls))
  })

  test('HEAD has no body; other paths 404; other methods 405', async () => {
    const { address } = await started
    const base = `http://127.0.0.1:${address.port}`
    const head = await fetch(`${base}/metrics`, { method: 'HEAD' })
    assert.equal(head.status, 200)
    assert.equal(await head.text(), '')
    assert.equal((await fetch(`${base}/`)).status, 404)
    assert.equal((await fetch(`${base}/metricsx`)).status, 404)
    const post = await fetch(`${base}/metrics`, { method: 'POST', body: 'x' })
    assert.equal(post.status, 405)
    assert.equal(post.headers.get('allow'), 'GET, HEAD')
  })

  test('a port in use fails with nutcracker-style wording', async () => {
    const { address } = await started
    await assert.rejects(
      startMetricsServer({ host: '127.0.0.1', port: address.port, render: () => '', log: quiet }),
      {
        name: 'ProxyError',
        message: `bind on metrics addr '127.0.0.1:${address.port}' failed: Address already in use`,
      },
    )
  })
})
