/**
 * statsJson against the real nutcracker 0.5.0: a document read from nutcracker's
 * stats port (ordinary names, some traffic so values are not all 0) is parsed
 * into a StatsView, and statsJson must print exactly the same bytes. This pins
 * the separators, member order and number format to the reference binary,
 * independently of the spec's transcription.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { PoolView, ServerView, StatsView } from '../../src/stats/json.js'
import { statsJson } from '../../src/stats/json.js'
import {
  POOL_METRICS,
  type PoolMetricName,
  SERVER_METRICS,
  type ServerMetricName,
} from '../../src/stats/metrics.js'
import { freePort } from '../helpers/ports.js'
import { connect, startNutcracker } from '../helpers/servers.js'

const HEADER = [
  'service',
  'source',
  'version',
  'uptime',
  'timestamp',
  'total_connections',
  'curr_connections',
] as const

/** The StatsView a nutcracker document describes (names must be ordinary: it is parsed). */
function viewOf(text: string): StatsView {
  const doc = JSON.parse(text) as Record<string, unknown>
  const keys = Object.keys(doc)
  assert.deepEqual(keys.slice(0, HEADER.length), [...HEADER])
  const num = (v: unknown): number => {
    assert.equal(typeof v, 'number')
    return v as number
  }
  const poolNames = new Set<string>(POOL_METRICS.map((m) => m.name))
  const pools: PoolView[] = keys.slice(HEADER.length).map((name) => {
    const p = doc[name] as Record<string, unknown>
    const counters = {} as Record<PoolMetricName, number>
    for (const m of POOL_METRICS) counters[m.name] = num(p[m.name])
    const servers: ServerView[] = Object.keys(p)
      .filter((k) => !poolNames.has(k))
      .map((sname) => {
        const s = p[sname] as Record<string, unknown>
        const sc = {} as Record<ServerMetricName, number>
        for (const m of SERVER_METRICS) sc[m.name] = num(s[m.name])
        return { name: sname, counters: sc }
      })
    return { name, counters, servers }
  })
  const timestamp = num(doc.timestamp)
  return {
    source: doc.source as string,
    startedAt: (timestamp - num(doc.uptime)) * 1000,
    now: timestamp * 1000,
    totalConnections: num(doc.total_connections),
    currConnections: num(doc.curr_connections),
    pools,
  }
}

test("statsJson prints nutcracker's own document byte for byte", async () => {
  const [pa, pb, pc, dead, dead2] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ])
  const yaml = [
    'alpha:',
    `  listen: 127.0.0.1:${pa}`,
    '  servers:',
    `   - 127.0.0.1:${dead}:1`,
    `   - 127.0.0.1:${dead2}:1 named2`,
    'beta:',
    `  listen: 127.0.0.1:${pb}`,
    '  servers:',
    '   - 127.0.0.1:11211:1',
    '   - /nonexistent-walnut/mc.sock:1',
    'b:',
    `  listen: 127.0.0.1:${pc}`,
    '  servers:',
    '   - /nonexistent-walnut/mc.sock:1 u1',
    '',
  ].join('\n')
  const nc = await startNutcracker(yaml, { args: ['-i', '50'] })
  // Traffic: a request to a refused server (requests, server_err, forward_error) and a
  // client left open (client_connections, curr_connections).
  const client = await connect(pa)
  await client.send('get k\r\n')
  assert.equal((await client.readMcReply()).toString(), 'SERVER_ERROR Connection refused\r\n')
  let text = ''
  const deadline = Date.now() + 3000
  // nutcracker's pool counters lag by up to an interval: poll until they show.
  while (Date.now() < deadline) {
    const s = await connect(nc.statsPort)
    text = (await s.readUntilClose()).toString('utf8')
    if (text.includes('"forward_error":1,')) break
    await new Promise((r) => setTimeout(r, 50))
  }
  assert.ok(text.includes('"forward_error":1,'), text)
  assert.ok(text.includes('"client_connections":1,'), text)
  assert.equal(statsJson(viewOf(text)), text)
  // The document holds every shape of member: three pools, a unix-socket key, a named one.
  const view = viewOf(text)
  assert.deepEqual(
    view.pools.map((p) => [p.name, p.servers.map((s) => s.name)]),
    [
      ['b', ['u1']],
      ['beta', ['127.0.0.1', '/nonexistent-walnut/mc.sock:']],
      ['alpha', ['named2', '127.0.0.1:' + dead]],
    ],
  )
  await client.close()
})
