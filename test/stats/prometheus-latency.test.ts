/**
 * Request latency for the Prometheus histograms: LatencyHistogram's buckets
 * (src/stats/latency.ts), and what the core records (src/core) when a pool
 * times its requests — one observation per answered request for the pool and
 * its server, one per fragment for the fragment's server, none for noreply
 * requests, proxy-made replies, or when timing is off. Run on the core test rig
 * (toy protocol, fake backends).
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { LATENCY_BOUNDS_SECONDS, LatencyHistogram } from '../../src/stats/latency.js'
import { Rig, until } from '../core/harness.js'

describe('LatencyHistogram', () => {
  test('21 fixed bounds, 50 µs to 10 s, increasing', () => {
    assert.equal(LATENCY_BOUNDS_SECONDS.length, 21)
    assert.equal(LATENCY_BOUNDS_SECONDS[0], 0.00005)
    assert.equal(LATENCY_BOUNDS_SECONDS.at(-1), 10)
    for (let i = 1; i < LATENCY_BOUNDS_SECONDS.length; i++) {
      assert.ok((LATENCY_BOUNDS_SECONDS[i] as number) > (LATENCY_BOUNDS_SECONDS[i - 1] as number))
    }
  })

  test('a value on a bound falls in that bucket; above the last, only in +Inf', () => {
    const h = new LatencyHistogram()
    h.observe(0) // le 0.00005
    h.observe(0.05) // on the first bound (ms)
    h.observe(0.0500001) // just above: le 0.0001
    h.observe(1) // le 0.001
    h.observe(10_000) // on the last bound
    h.observe(10_000.5) // over: +Inf only
    assert.equal(h.count, 6)
    assert.ok(Math.abs(h.sumMs - 20_001.6000001) < 1e-6)
    const raw = Array.from(h.counts)
    assert.equal(raw.length, 22)
    assert.deepEqual(raw.map((n, i) => (n > 0 ? `${i}:${n}` : '')).filter(Boolean), [
      '0:2',
      '1:1',
      '6:1',
      '20:1',
      '21:1',
    ])
    const cum = h.cumulative()
    assert.equal(cum.length, 22)
    assert.deepEqual(cum.slice(0, 7), [2, 3, 3, 3, 3, 3, 4])
    assert.equal(cum[20], 5)
    assert.equal(cum[21], 6)
  })
})

describe('core timing', () => {
  test('off by default: nothing is recorded', async (t) => {
    const rig = await Rig.start()
    t.after(() => rig.close())
    assert.equal(rig.pool.timing, false)
    const c = await rig.connect()
    c.send('get a\nget b\n')
    await c.lines(2)
    assert.equal(rig.pool.latency.count, 0)
    for (const s of rig.pool.servers) assert.equal(s.latency.count, 0)
  })

  test('one observation per answered request, for the pool and its server', async (t) => {
    const rig = await Rig.start()
    t.after(() => rig.close())
    rig.pool.timing = true
    const k1 = rig.keysOf('s1', 3)
    const k2 = rig.keysOf('s2', 2)
    const c = await rig.connect()
    // 5 gets, a noreply set, a proxy-answered ping: 5 observations.
    c.send(`${[...k1, ...k2].map((k) => `get ${k}\n`).join('')}nset ${k1[0]} x\nping\n`)
    await c.lines(6)
    const s1 = rig.server('s1')
    const s2 = rig.server('s2')
    assert.equal(rig.pool.latency.count, 5)
    assert.equal(s1.latency.count, 3)
    assert.equal(s2.latency.count, 2)

    // A split request: one observation for the pool, one per fragment for its server.
    c.send(`mget ${k1[1]} ${k2[1]}\n`)
    await c.lines(1)
    assert.equal(rig.pool.latency.count, 6)
    assert.equal(s1.latency.count, 4)
    assert.equal(s2.latency.count, 3)
  })

  test('the time includes the backend delay, in the bucket of its value', async (t) => {
    const rig = await Rig.start({ names: ['s1'] })
    t.after(() => rig.close())
    rig.pool.timing = true
    rig.backend('s1').delay = 30
    const c = await rig.connect()
    c.send('get a\n')
    await c.lines(1)
    const h = rig.server('s1').latency
    assert.equal(h.count, 1)
    assert.ok(h.sumMs >= 29 && h.sumMs < 1000, String(h.sumMs))
    // The one bucket holding it is the first bound >= the value (0.05 s unless the machine stalls).
    const i = LATENCY_BOUNDS_SECONDS.findIndex((b) => h.sumMs <= b * 1000)
    assert.ok(i >= 13, `bucket ${i}`)
    assert.equal(h.counts[i], 1)
    assert.equal(rig.pool.latency.count, 1)
    assert.ok(rig.pool.latency.sumMs >= h.sumMs)
  })

  test('a failed request is timed too (server refused)', async (t) => {
    const rig = await Rig.start({ names: ['s1'] })
    t.after(() => rig.close())
    rig.pool.timing = true
    await rig.backend('s1').refuse()
    const c = await rig.connect()
    c.send('get a\n')
    assert.match(await c.lines(1), /^ERR /)
    await until(() => rig.pool.latency.count === 1, 'the failure observed')
    assert.equal(rig.server('s1').latency.count, 1)
  })
})
