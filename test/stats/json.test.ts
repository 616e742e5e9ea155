/**
 * The stats document (src/stats/json.ts): nutcracker's exact bytes for ordinary
 * names (checked against the sample in ../shared/spec/stats.md §2, read at test
 * time), escaped names (deviation P7), member order from the metrics table, and
 * the sum of several processes' views.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import {
  type PoolView,
  type ServerView,
  type StatsView,
  statsJson,
  sumStatsViews,
} from '../../src/stats/json.js'
import {
  POOL_METRICS,
  type PoolMetricName,
  SERVER_METRICS,
  type ServerMetricName,
} from '../../src/stats/metrics.js'
import { sharedDir } from '../helpers/shared.js'

type PoolCounts = Record<PoolMetricName, number>
type ServerCounts = Record<ServerMetricName, number>

/** Pool counters with every metric at `base`, then `over`. */
function poolCounts(base = 0, over: Partial<PoolCounts> = {}): PoolCounts {
  const c = {} as PoolCounts
  for (const m of POOL_METRICS) c[m.name] = base
  return Object.assign(c, over)
}

/** Server counters: metric i (table order) = base + i, unless `base` is 0; then `over`. */
function serverCounts(base = 0, over: Partial<ServerCounts> = {}): ServerCounts {
  const c = {} as ServerCounts
  SERVER_METRICS.forEach((m, i) => {
    c[m.name] = base === 0 ? 0 : base + i
  })
  return Object.assign(c, over)
}

/** Server counters with metric i (table order) = f(i). */
function byIndex(f: (i: number) => number): ServerCounts {
  const c = {} as ServerCounts
  SERVER_METRICS.forEach((m, i) => {
    c[m.name] = f(i)
  })
  return c
}

function server(name: string, counters = serverCounts()): ServerView {
  return { name, counters }
}

function pool(name: string, counters: PoolCounts, servers: ServerView[]): PoolView {
  return { name, counters, servers }
}

/** The view behind the spec's sample (E-06): all zeros but the header and alpha's client. */
function sampleView(): StatsView {
  return {
    source: 'vm',
    startedAt: 1795461946_000,
    now: 1795461946_700,
    totalConnections: 3,
    currConnections: 2,
    pools: [
      pool('beta', poolCounts(), [server('127.0.0.1')]),
      pool('alpha', poolCounts(0, { client_connections: 1 }), [
        server('named2'),
        server('127.0.0.1:24101'),
      ]),
    ],
  }
}

/** The one-line sample printed in stats.md §2 ("Real sample"), as the spec has it. */
function specSample(): string {
  const text = readFileSync(join(sharedDir(), 'spec', 'stats.md'), 'utf8')
  const at = text.indexOf('Real sample')
  assert.ok(at >= 0, 'stats.md has no "Real sample"')
  const line = text
    .slice(at)
    .split('\n')
    .find((l) => l.startsWith('{"service"'))
  assert.ok(line !== undefined, 'stats.md: no sample line after "Real sample"')
  return line
}

describe('statsJson', () => {
  test("equals nutcracker's sample bytes (spec §2), elided members included", () => {
    const out = statsJson(sampleView())
    assert.ok(out.endsWith('}}}\n'))
    assert.equal(out.indexOf('\n'), out.length - 1, 'one line')
    // `...` in the sample stands for omitted `"member":0, ` runs; the text around
    // each elision must appear verbatim, in order, and the gap must be such members.
    const pieces = specSample().split(/ ?\.\.\.,? ?/)
    assert.equal(pieces.length, 3, 'the sample has two elisions')
    let pos = 0
    for (const [i, piece] of pieces.entries()) {
      const at = out.indexOf(piece, pos)
      if (i === 0) assert.equal(at, 0, `sample start:\n${piece}\nours:\n${out}`)
      else {
        assert.ok(at > pos, `piece ${i} not found after ${pos}: ${piece}`)
        assert.match(out.slice(pos, at), /^( "[a-z_]+":0,)+ $/, `gap before piece ${i}`)
      }
      pos = at + piece.length
    }
    assert.equal(out.slice(pos), '\n', 'nothing after the sample but the newline')
    // The beta pool is printed whole in the sample, so it is checked byte for byte above.
    assert.ok(out.includes('"beta": {"client_eof":0, "client_err":0, "client_connections":0, '))
  })

  test('exact text: two pools, escaped names, unix-socket server, every value distinct', () => {
    const view: StatsView = {
      source: 'host-1',
      startedAt: 1_700_000_000_900,
      now: 1_700_000_042_100,
      totalConnections: 7,
      currConnections: 4,
      pools: [
        pool(
          'b',
          {
            client_eof: 1,
            client_err: 2,
            client_connections: 3,
            server_ejects: 4,
            forward_error: 5,
            fragments: 6,
          },
          [
            server(
              '/tmp/mc.sock:',
              serverCounts(101, {
                server_connections: -1,
                server_ejected_at: 1_700_000_001_000_000,
              }),
            ),
          ],
        ),
        pool('we"ird', poolCounts(11), [
          server('na\\me', serverCounts(201)),
          server('127.0.0.1:24101'),
        ]),
      ],
    }
    const expected =
      '{"service":"nutcracker", "source":"host-1", "version":"0.5.0", "uptime":42, ' +
      '"timestamp":1700000042, "total_connections":7, "curr_connections":4, ' +
      '"b": {"client_eof":1, "client_err":2, "client_connections":3, "server_ejects":4, ' +
      '"forward_error":5, "fragments":6, ' +
      '"/tmp/mc.sock:": {"server_eof":101, "server_err":102, "server_timedout":103, ' +
      '"server_connections":-1, "server_ejected_at":1700000001000000, "requests":106, ' +
      '"request_bytes":107, "responses":108, "response_bytes":109, "in_queue":110, ' +
      '"in_queue_bytes":111, "out_queue":112, "out_queue_bytes":113}},' +
      '"we\\"ird": {"client_eof":11, "client_err":11, "client_connections":11, ' +
      '"server_ejects":11, "forward_error":11, "fragments":11, ' +
      '"na\\\\me": {"server_eof":201, "server_err":202, "server_timedout":203, ' +
      '"server_connections":204, "server_ejected_at":205, "requests":206, "request_bytes":207, ' +
      '"responses":208, "response_bytes":209, "in_queue":210, "in_queue_bytes":211, ' +
      '"out_queue":212, "out_queue_bytes":213},' +
      '"127.0.0.1:24101": {"server_eof":0, "server_err":0, "server_timedout":0, ' +
      '"server_connections":0, "server_ejected_at":0, "requests":0, "request_bytes":0, ' +
      '"responses":0, "response_bytes":0, "in_queue":0, "in_queue_bytes":0, "out_queue":0, ' +
      '"out_queue_bytes":0}}}\n'
    assert.equal(statsJson(view), expected)
    // uptime counts whole seconds of both times (time(2) - start), not elapsed ms / 1000.
    assert.equal(JSON.parse(statsJson(view)).uptime, 42)
  })

  test('parses as JSON; members and values in the metrics-table order', () => {
    const view: StatsView = {
      source: 'h\t"x"\u0001',
      startedAt: 1_000,
      now: 5_999,
      totalConnections: 12,
      currConnections: 9,
      pools: [
        pool('zz', poolCounts(3), [server('a'), server('u\n1', serverCounts(40))]),
        pool('p"q', poolCounts(0, { fragments: 8 }), [
          server('/var/run/x y.sock:', serverCounts(7)),
        ]),
        pool('√ü', poolCounts(1), []),
      ],
    }
    const out = statsJson(view)
    assert.equal(out.indexOf('\n'), out.length - 1, 'one line')
    const doc = JSON.parse(out) as Record<string, unknown>
    assert.deepEqual(Object.keys(doc), [
      'service',
      'source',
      'version',
      'uptime',
      'timestamp',
      'total_connections',
      'curr_connections',
      'zz',
      'p"q',
      '√ü',
    ])
    assert.equal(doc.service, 'nutcracker')
    assert.equal(doc.version, '0.5.0')
    assert.equal(doc.source, 'h\t"x"\u0001')
    assert.equal(doc.uptime, 4)
    assert.equal(doc.timestamp, 5)
    assert.equal(doc.total_connections, 12)
    assert.equal(doc.curr_connections, 9)
    for (const p of view.pools) {
      const pd = doc[p.name] as Record<string, unknown>
      assert.deepEqual(Object.keys(pd), [
        ...POOL_METRICS.map((m) => m.name),
        ...p.servers.map((s) => s.name),
      ])
      for (const m of POOL_METRICS)
        assert.equal(pd[m.name], p.counters[m.name], `${p.name} ${m.name}`)
      for (const s of p.servers) {
        const sd = pd[s.name] as Record<string, unknown>
        assert.deepEqual(
          Object.keys(sd),
          SERVER_METRICS.map((m) => m.name),
        )
        for (const m of SERVER_METRICS) assert.equal(sd[m.name], s.counters[m.name])
      }
    }
  })

  test('no pools: the header alone is closed', () => {
    const out = statsJson({
      source: 's',
      startedAt: 0,
      now: 0,
      totalConnections: 0,
      currConnections: 0,
      pools: [],
    })
    assert.equal(
      out,
      '{"service":"nutcracker", "source":"s", "version":"0.5.0", "uptime":0, "timestamp":0, ' +
        '"total_connections":0, "curr_connections":0}\n',
    )
  })

  test('a pool without servers; numbers are written as integers', () => {
    const out = statsJson({
      source: 's',
      startedAt: 0,
      now: 0,
      totalConnections: 2.9,
      currConnections: Number.NaN,
      pools: [pool('p', poolCounts(0, { client_eof: 2 ** 40, forward_error: -3 }), [])],
    })
    assert.equal(
      out,
      '{"service":"nutcracker", "source":"s", "version":"0.5.0", "uptime":0, "timestamp":0, ' +
        '"total_connections":2, "curr_connections":0, "p": {"client_eof":1099511627776, ' +
        '"client_err":0, "client_connections":0, "server_ejects":0, "forward_error":-3, ' +
        '"fragments":0}}\n',
    )
  })
})

describe('sumStatsViews', () => {
  const a: StatsView = {
    source: 'a',
    startedAt: 5_000,
    now: 9_000,
    totalConnections: 10,
    currConnections: 3,
    pools: [
      pool('x', poolCounts(1), [
        server('s1', serverCounts(10, { server_ejected_at: 2_000_000, server_connections: -1 })),
        server('s2', serverCounts(20)),
      ]),
      pool('yy', poolCounts(2), [server('t', serverCounts(30))]),
    ],
  }
  const b: StatsView = {
    source: 'b',
    startedAt: 4_000,
    now: 8_000,
    totalConnections: 5,
    currConnections: 2,
    pools: [
      pool('x', poolCounts(100), [
        server('s2', serverCounts(1000)),
        server('s1', serverCounts(2000, { server_ejected_at: 1_000_000, server_connections: 2 })),
        server('s3', serverCounts(5)),
      ]),
      pool('zzz', poolCounts(7), []),
    ],
  }

  test('counters and gauges add, server_ejected_at takes the latest, header merged', () => {
    const before = structuredClone([a, b])
    const sum = sumStatsViews([a, b])
    assert.deepEqual([a, b], before, 'inputs unchanged')
    // Metric i is 10 + i in a and 2000 + i in b (s1), 20 + i and 1000 + i (s2).
    const s1 = byIndex((i) => 2010 + 2 * i)
    s1.server_connections = -1 + 2
    s1.server_ejected_at = 2_000_000 // max, not the sum
    const s2 = byIndex((i) => 1020 + 2 * i)
    s2.server_ejected_at = 1004 // max(20 + 4, 1000 + 4)
    assert.deepEqual(sum, {
      source: 'a',
      startedAt: 4_000,
      now: 9_000,
      totalConnections: 15,
      currConnections: 5,
      pools: [
        {
          name: 'x',
          counters: poolCounts(101),
          servers: [
            { name: 's1', counters: s1 },
            { name: 's2', counters: s2 },
            { name: 's3', counters: serverCounts(5) },
          ],
        },
        {
          name: 'yy',
          counters: poolCounts(2),
          servers: [{ name: 't', counters: serverCounts(30) }],
        },
        { name: 'zzz', counters: poolCounts(7), servers: [] },
      ],
    })
  })

  test('the result shares no objects with its inputs', () => {
    const sum = sumStatsViews([a])
    assert.deepEqual(sum, a)
    const x = sum.pools[0] as PoolView
    ;(x.counters as PoolCounts).client_eof = 999
    ;((x.servers[0] as ServerView).counters as ServerCounts).requests = 999
    assert.equal(a.pools[0]?.counters.client_eof, 1)
    assert.equal(a.pools[0]?.servers[0]?.counters.requests, 15)
  })

  test('the sum prints like any view', () => {
    const out = statsJson(sumStatsViews([a, b]))
    const doc = JSON.parse(out)
    assert.deepEqual(Object.keys(doc).slice(7), ['x', 'yy', 'zzz'])
    assert.equal(doc.x.client_eof, 101)
    assert.equal(doc.x.s1.server_connections, 1)
  })

  test('no views is an error', () => {
    assert.throws(() => sumStatsViews([]), RangeError)
  })
})
