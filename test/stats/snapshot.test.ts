/**
 * proxyStatsView (src/stats/snapshot.ts): copies the core's live counters, by
 * their nutcracker names, in the proxy's pool and server order, with the
 * process-wide connection counts; each call is a fresh copy.
 */
import assert from 'node:assert/strict'
import { hostname } from 'node:os'
import { test } from 'node:test'
import { connections, PoolCounters, ServerCounters } from '../../src/core/counters.js'
import type { ProxyServer } from '../../src/core/proxy.js'
import { statsJson } from '../../src/stats/json.js'
import { POOL_METRICS, SERVER_METRICS } from '../../src/stats/metrics.js'
import { proxyStatsView } from '../../src/stats/snapshot.js'

/** The parts of a ProxyServer a stats view reads. */
function fakeProxy() {
  const mk = (name: string, servers: string[]) => ({
    config: { name },
    counters: new PoolCounters(),
    servers: servers.map((s) => ({ config: { name: s }, counters: new ServerCounters() })),
  })
  const b = mk('b', ['/tmp/m.sock:', 'named'])
  const aa = mk('aa', ['127.0.0.1'])
  const [sock, named] = b.servers as [FakeServer, FakeServer]
  return { b, aa, sock, named, proxy: { pools: [b, aa] } as unknown as ProxyServer }
}

interface FakeServer {
  config: { name: string }
  counters: ServerCounters
}

test('copies every counter by name, in pool and server order, with the header', () => {
  const { b, aa, sock, named, proxy } = fakeProxy()
  let now = 1_700_000_010_500
  const view = proxyStatsView(proxy, {
    startedAt: 1_700_000_000_000,
    source: 'box',
    clock: () => now,
  })
  POOL_METRICS.forEach((m, i) => {
    aa.counters[m.name] = 10 + i
  })
  SERVER_METRICS.forEach((m, i) => {
    named.counters[m.name] = 100 + i
  })
  const v = view()
  assert.equal(v.source, 'box')
  assert.equal(v.startedAt, 1_700_000_000_000)
  assert.equal(v.now, 1_700_000_010_500)
  assert.equal(v.totalConnections, connections.total_connections)
  assert.equal(v.currConnections, connections.curr_connections)
  assert.deepEqual(
    v.pools.map((p) => [p.name, p.servers.map((s) => s.name)]),
    [
      ['b', ['/tmp/m.sock:', 'named']],
      ['aa', ['127.0.0.1']],
    ],
  )
  assert.deepEqual(
    Object.entries(v.pools[1]?.counters ?? {}),
    POOL_METRICS.map((m, i) => [m.name, 10 + i]),
  )
  assert.deepEqual(
    Object.entries(v.pools[0]?.servers[1]?.counters ?? {}),
    SERVER_METRICS.map((m, i) => [m.name, 100 + i]),
  )
  assert.deepEqual(
    Object.values(v.pools[0]?.servers[0]?.counters ?? {}),
    SERVER_METRICS.map(() => 0),
  )

  // A copy: later increments show in the next view only.
  b.counters.client_eof++
  sock.counters.requests += 5
  now += 2_000
  assert.equal(v.pools[0]?.counters.client_eof, 0)
  const w = view()
  assert.equal(w.pools[0]?.counters.client_eof, 1)
  assert.equal(w.pools[0]?.servers[0]?.counters.requests, 5)
  assert.equal(JSON.parse(statsJson(w)).uptime, 12)
})

test('defaults: source is the hostname, uptime counts from when the view was made', () => {
  const { proxy } = fakeProxy()
  const v = proxyStatsView(proxy)()
  assert.equal(v.source, hostname())
  assert.ok(v.now - v.startedAt >= 0 && v.now - v.startedAt < 1000)
})
