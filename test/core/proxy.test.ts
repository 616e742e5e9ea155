/**
 * The proxy core (src/core) end to end over loopback, with no redis or
 * memcache: the toy line protocol (test/helpers/toy-protocol.ts) in front of
 * fake backends with fault flags (test/helpers/fake-backend.ts). Each test
 * checks the exact bytes clients receive and the exact pool/server counters,
 * against nutcracker's behaviour in ../shared/spec/redis.md §4, §8 and
 * memcache.md §7-9 (which is the same for both protocols).
 */

import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { performance } from 'node:perf_hooks'
import { describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { connections, type ServerCounters } from '../../src/core/counters.js'
import { type Client, Rig, type RigOptions, until } from './harness.js'

async function rig(t: { after: (fn: () => Promise<void>) => void }, o?: RigOptions) {
  const r = await Rig.start(o)
  t.after(() => r.close())
  return r
}

/** A server's traffic counters, for exact comparison. */
function traffic(c: ServerCounters) {
  return {
    requests: c.requests,
    request_bytes: c.request_bytes,
    responses: c.responses,
    response_bytes: c.response_bytes,
    in_queue: c.in_queue,
    in_queue_bytes: c.in_queue_bytes,
    out_queue: c.out_queue,
    out_queue_bytes: c.out_queue_bytes,
  }
}

/** A server's connection counters. */
function failures(c: ServerCounters) {
  return {
    server_eof: c.server_eof,
    server_err: c.server_err,
    server_timedout: c.server_timedout,
    server_connections: c.server_connections,
  }
}

const len = (s: string) => Buffer.byteLength(s, 'latin1')

describe('ordering', () => {
  test('replies leave in request order: slow server first, fast second, local replies wait', async (t) => {
    const r = await rig(t)
    const [a] = r.keysOf('s1', 1)
    const [b] = r.keysOf('s2', 1)
    r.backend('s1').delay = 150
    const c = await r.connect()
    c.send(`get ${a}\nping\nget ${b}\nping\n`)
    // s2 answers at once, but nothing may leave before s1's reply.
    await until(() => r.server('s2').counters.responses === 1, 's2 reply')
    assert.ok(await c.quiet(30), `early bytes: ${JSON.stringify(c.pending)}`)
    assert.equal(await c.lines(4), `s1:get ${a}\nPONG\ns2:get ${b}\nPONG\n`)
    assert.deepEqual(traffic(r.server('s1').counters), {
      requests: 1,
      request_bytes: len(`get ${a}\n`),
      responses: 1,
      response_bytes: len(`s1:get ${a}\n`),
      in_queue: 0,
      in_queue_bytes: 0,
      out_queue: 0,
      out_queue_bytes: 0,
    })
  })

  test('a reply hook replaces the reply bytes; forwardBytes sends the bytes the protocol built', async (t) => {
    const r = await rig(t, { names: ['s1'] })
    const c = await r.connect()
    c.send('uget abc\nget abc\nrget xyz 1 2\n')
    assert.equal(await c.lines(3), 'S1:UGET ABC\ns1:get abc\ns1:get xyz\n')
    assert.deepEqual(r.backend('s1').lines, ['uget abc', 'get abc', 'get xyz'])
    assert.equal(r.server('s1').counters.request_bytes, len('uget abc\nget abc\nget xyz\n'))
  })

  test('50 clients x 200 pipelined requests over 2 servers: every reply matches its request', async (t) => {
    const r = await rig(t)
    const NC = 50
    const NR = 200
    const clients: Client[] = []
    for (let i = 0; i < NC; i++) clients.push(await r.connect())
    const expected: string[] = []
    const want = {
      s1: { requests: 0, request_bytes: 0, responses: 0, response_bytes: 0 },
      s2: { requests: 0, request_bytes: 0, responses: 0, response_bytes: 0 },
    }
    for (let i = 0; i < NC; i++) {
      let req = ''
      let rep = ''
      for (let j = 0; j < NR; j++) {
        const key = `c${i}-${j}`
        const owner = r.ownerOf(key) as 's1' | 's2'
        const q = `get ${key} v${i * NR + j}\n`
        const a = `${owner}:get ${key} v${i * NR + j}\n`
        req += q
        rep += a
        want[owner].requests++
        want[owner].request_bytes += len(q)
        want[owner].responses++
        want[owner].response_bytes += len(a)
      }
      clients[i]!.send(req)
      expected.push(rep)
    }
    const got = await Promise.all(clients.map((c) => c.lines(NR, 10000)))
    for (let i = 0; i < NC; i++) assert.equal(got[i], expected[i], `client ${i}`)
    // Both servers had work.
    assert.ok(want.s1.requests > 1000 && want.s2.requests > 1000)
    for (const name of ['s1', 's2'] as const) {
      const c = r.server(name).counters
      const { in_queue, in_queue_bytes, out_queue, out_queue_bytes, ...rest } = traffic(c)
      assert.deepEqual(rest, want[name], name)
      assert.deepEqual([in_queue, in_queue_bytes, out_queue, out_queue_bytes], [0, 0, 0, 0])
      assert.deepEqual(failures(c), {
        server_eof: 0,
        server_err: 0,
        server_timedout: 0,
        server_connections: 1,
      })
      assert.equal(r.backend(name).accepted, 1)
    }
    assert.equal(r.pool.counters.client_connections, NC)
    assert.equal(r.pool.counters.forward_error, 0)
  })

  test('requests of many clients in one event-loop turn reach the backend in fewer writes', async (t) => {
    const r = await rig(t, { names: ['s1'] })
    const NC = 40
    const clients: Client[] = []
    for (let i = 0; i < NC; i++) clients.push(await r.connect())
    // Open the server connection first.
    clients[0]!.send('get warm\n')
    await clients[0]!.lines(1)
    const b = r.backend('s1')
    const ROUNDS = 5
    let chunks = 0
    for (let round = 0; round < ROUNDS; round++) {
      const before = b.chunks
      for (let i = 0; i < NC; i++) clients[i]!.send(`get r${round}c${i}\n`)
      const got = await Promise.all(clients.map((c) => c.lines(1)))
      for (let i = 0; i < NC; i++) assert.equal(got[i], `s1:get r${round}c${i}\n`)
      chunks += b.chunks - before
    }
    assert.equal(b.lines.length, 1 + ROUNDS * NC)
    // One write per turn: typically one chunk per round. Allow slack, never one per request.
    assert.ok(chunks <= (ROUNDS * NC) / 4, `${chunks} chunks for ${ROUNDS * NC} requests`)
  })

  for (const n of [3, 5]) {
    test(`server_connections ${n}: one key stays on one connection, keys spread over all of them`, async (t) => {
      const r = await rig(t, { names: ['s1'], pool: { serverConnections: n } })
      // Keys that differ only in their last bytes, as real keys do.
      const keys = Array.from({ length: 30 }, (_, i) => `key${i}`)
      const c = await r.connect()
      let req = ''
      let rep = ''
      for (let j = 0; j < 5; j++) {
        for (const k of keys) {
          req += `get ${k} ${j}\n`
          rep += `s1:get ${k} ${j}\n`
        }
      }
      c.send(req)
      assert.equal(await c.lines(keys.length * 5), rep)
      const b = r.backend('s1')
      assert.equal(b.accepted, n)
      assert.equal(r.server('s1').counters.server_connections, n)
      const connOf = new Map<string, number>()
      b.conns.forEach((conn, ci) => {
        const seen = new Map<string, number>()
        for (const line of conn.lines) {
          const [, k, j] = line.split(' ')
          assert.ok(k !== undefined && j !== undefined)
          const prev = connOf.get(k)
          assert.ok(prev === undefined || prev === ci, `${k} on connections ${prev} and ${ci}`)
          connOf.set(k, ci)
          // In order on its connection.
          assert.equal(Number(j), (seen.get(k) ?? -1) + 1)
          seen.set(k, Number(j))
        }
      })
      assert.equal(connOf.size, keys.length)
      // Every connection carries a fair share of the keys.
      const perConn = b.conns.map((_, ci) => keys.filter((k) => connOf.get(k) === ci).length)
      assert.ok(
        perConn.every((x) => x >= 2),
        `keys per connection: ${perConn.join(', ')}`,
      )
    })
  }

  test('a handshake step goes first on each server connection and its reply is swallowed', async (t) => {
    const r = await rig(t, { names: ['s1'], handshake: true })
    const c = await r.connect()
    c.send('get a\nget b\n')
    assert.equal(await c.lines(2), 's1:get a\ns1:get b\n')
    assert.deepEqual(r.backend('s1').conns[0]!.lines, ['hello', 'get a', 'get b'])
    assert.deepEqual(r.proto.events, ['handshake s1:hello'])
    assert.ok(await c.quiet(30))
  })
})

describe('bytes', () => {
  test('a request sent one byte per write reaches the backend whole', async (t) => {
    const r = await rig(t, { names: ['s1'] })
    const c = await r.connect()
    c.socket.setNoDelay(true)
    const req = 'get abc 12\nping\n'
    for (const ch of req) {
      c.send(ch)
      await sleep(3)
    }
    assert.equal(await c.lines(2), 's1:get abc 12\nPONG\n')
    assert.deepEqual(r.backend('s1').lines, ['get abc 12'])
    assert.equal(r.server('s1').counters.request_bytes, 11)
  })

  test('large requests and replies pass through byte for byte', async (t) => {
    const r = await rig(t, { names: ['s1'] })
    const c = await r.connect()
    const big = Array.from({ length: 3 << 20 }, (_, i) => String.fromCharCode(97 + (i % 26))).join(
      '',
    )
    c.send(`set k ${big}\nget small\nset j ${big.slice(0, 70000)}\n`)
    const got = await c.lines(3, 10000)
    assert.ok(
      got === `s1:set k ${big}\ns1:get small\ns1:set j ${big.slice(0, 70000)}\n`,
      'large reply mangled',
    )
    const s = r.server('s1').counters
    assert.equal(s.request_bytes, len(`set k ${big}\nget small\nset j ${big.slice(0, 70000)}\n`))
    assert.equal(s.response_bytes, len(got))
  })
})

describe('server failures', () => {
  test('refused: `ERR Connection refused` per request, server_err once per connection', async (t) => {
    const r = await rig(t, { names: ['s1'] })
    await r.backend('s1').refuse()
    const c = await r.connect()
    // Two pipelined requests fail on one connect attempt: one failure.
    c.send('get a\nget b\n')
    assert.equal(await c.lines(2), 'ERR Connection refused\nERR Connection refused\n')
    const s = r.server('s1').counters
    assert.equal(s.server_err, 1)
    for (let i = 0; i < 4; i++) {
      c.send(`get x${i}\n`)
      assert.equal(await c.lines(1), 'ERR Connection refused\n')
    }
    // noreply: nothing comes back, also on failure; the next reply is not disturbed.
    c.send('nset y 1\n')
    await until(() => s.server_err === 6, 'server_err 6')
    c.send('ping\n')
    assert.equal(await c.lines(1), 'PONG\n')
    // As nutcracker (stats.md §8): 7 requests, server_err 6, forward_error 6, responses 0.
    assert.deepEqual(failures(s), {
      server_eof: 0,
      server_err: 6,
      server_timedout: 0,
      server_connections: 0,
    })
    assert.equal(s.requests, 7)
    assert.equal(s.responses, 0)
    assert.equal(r.pool.counters.forward_error, 6)
    assert.deepEqual([s.in_queue, s.in_queue_bytes, s.out_queue, s.out_queue_bytes], [0, 0, 0, 0])
  })

  test('backend EOF with requests outstanding: `ERR unknown` for each, server_eof', async (t) => {
    const r = await rig(t, { names: ['s1'] })
    r.backend('s1').closeAfter = 1
    const c = await r.connect()
    c.send('get a\nget b\nget c\n')
    assert.equal(await c.lines(3), 's1:get a\nERR unknown\nERR unknown\n')
    const s = r.server('s1').counters
    await until(() => s.server_connections === 0, 'server_connections 0')
    assert.deepEqual(failures(s), {
      server_eof: 1,
      server_err: 0,
      server_timedout: 0,
      server_connections: 0,
    })
    assert.equal(s.responses, 1)
    assert.equal(r.pool.counters.forward_error, 2)
    // The next request reconnects.
    r.backend('s1').closeAfter = null
    c.send('get d\n')
    assert.equal(await c.lines(1), 's1:get d\n')
    assert.equal(r.backend('s1').accepted, 2)
  })

  test('backend reset: `ERR Connection reset by peer`', async (t) => {
    const r = await rig(t, { names: ['s1'] })
    r.backend('s1').reset = true
    const c = await r.connect()
    c.send('get a\nget b\n')
    assert.equal(await c.lines(2), 'ERR Connection reset by peer\nERR Connection reset by peer\n')
    assert.deepEqual(failures(r.server('s1').counters), {
      server_eof: 0,
      server_err: 1,
      server_timedout: 0,
      server_connections: 0,
    })
  })

  test('garbage reply: `ERR Invalid argument` for every request on the connection', async (t) => {
    const r = await rig(t, { names: ['s1'] })
    r.backend('s1').garbage = true
    const c = await r.connect()
    c.send('get a\nget b\n')
    assert.equal(await c.lines(2), 'ERR Invalid argument\nERR Invalid argument\n')
    const s = r.server('s1').counters
    assert.deepEqual(failures(s), {
      server_eof: 0,
      server_err: 1,
      server_timedout: 0,
      server_connections: 0,
    })
    assert.equal(s.responses, 0)
    assert.equal(r.pool.counters.forward_error, 2)
  })

  test('stray reply: relayed reply, then the server connection is closed; next request reconnects', async (t) => {
    const r = await rig(t, { names: ['s1'] })
    const b = r.backend('s1')
    b.stray = true
    const c = await r.connect()
    c.send('get a\n')
    assert.equal(await c.lines(1), 's1:get a\n')
    const s = r.server('s1').counters
    await until(() => s.server_err === 1, 'server_err 1')
    b.stray = false
    c.send('get b\n')
    assert.equal(await c.lines(1), 's1:get b\n')
    assert.ok(await c.quiet(30), `stray bytes reached the client: ${JSON.stringify(c.pending)}`)
    assert.equal(b.accepted, 2)
    assert.deepEqual(failures(s), {
      server_eof: 0,
      server_err: 1,
      server_timedout: 0,
      server_connections: 1,
    })
    assert.equal(s.responses, 2)
  })

  test('timeout: all requests on the connection fail together; late replies never reach newer requests', async (t) => {
    const r = await rig(t, { names: ['s1'], pool: { timeout: 200 } })
    const b = r.backend('s1')
    b.hang = true
    const c1 = await r.connect()
    const c2 = await r.connect()
    const t0 = performance.now()
    c1.send('get a1\nget a2\n')
    await until(() => b.lines.length === 2, 'a1, a2 at the backend')
    await sleep(100)
    const t2 = performance.now()
    c2.send('get b1\n')
    const [r1, r2] = await Promise.all([c1.lines(2), c2.lines(1)])
    const t1 = performance.now()
    assert.equal(r1, 'ERR Connection timed out\nERR Connection timed out\n')
    assert.equal(r2, 'ERR Connection timed out\n')
    assert.ok(t1 - t0 >= 200, `timed out after ${t1 - t0} ms`)
    // c2's request was queued ~100 ms later, but failed with the connection.
    assert.ok(t1 - t2 < 190, `c2 waited ${t1 - t2} ms`)
    const s = r.server('s1').counters
    assert.deepEqual(failures(s), {
      server_eof: 0,
      server_err: 0,
      server_timedout: 1,
      server_connections: 0,
    })
    assert.equal(r.pool.counters.forward_error, 3)
    // The backend wakes up and sends the late replies; the next request gets its own.
    b.hang = false
    c1.send('get a3\n')
    assert.equal(await c1.lines(1), 's1:get a3\n')
    assert.ok(await c1.quiet(50), `late bytes: ${JSON.stringify(c1.pending)}`)
    assert.ok(await c2.quiet(0))
    assert.equal(b.accepted, 2)
    assert.equal(s.server_timedout, 1)
    assert.deepEqual([s.in_queue, s.in_queue_bytes, s.out_queue, s.out_queue_bytes], [0, 0, 0, 0])
  })

  test('timeout: each connection fails at its own first deadline; other servers are not affected', async (t) => {
    const r = await rig(t, { pool: { timeout: 200 } })
    const [a] = r.keysOf('s1', 1)
    const [b] = r.keysOf('s2', 1)
    r.backend('s1').hang = true
    const c1 = await r.connect()
    const c2 = await r.connect()
    const t0 = performance.now()
    c1.send(`get ${a}\n`)
    await sleep(120)
    // s2 answers while s1 hangs.
    c2.send(`get ${b}\n`)
    assert.equal(await c2.lines(1), `s2:get ${b}\n`)
    r.backend('s2').hang = true
    const t2 = performance.now()
    c2.send(`get ${b}\n`)
    assert.equal(await c1.lines(1), 'ERR Connection timed out\n')
    const t1 = performance.now()
    assert.ok(t1 - t0 >= 200, `first timeout after ${t1 - t0} ms`)
    assert.equal(c2.pending, '')
    assert.equal(await c2.lines(1), 'ERR Connection timed out\n')
    const t3 = performance.now()
    assert.ok(t3 - t2 >= 200, `second timeout after ${t3 - t2} ms`)
    assert.equal(r.server('s1').counters.server_timedout, 1)
    assert.equal(r.server('s2').counters.server_timedout, 1)
    assert.equal(r.server('s2').counters.responses, 1)
  })

  test('pipelined requests at an outstanding-request limit: reading stops, then resumes with every reply', async (t) => {
    const r = await rig(t, { names: ['s1'] })
    const b = r.backend('s1')
    b.hang = true
    const N = 30_000
    const c = await r.connect()
    let req = ''
    for (let i = 0; i < N; i++) req += `get k${i}\n`
    c.send(req)
    let last = -1
    for (let i = 0; i < 100 && b.lines.length !== last; i++) {
      last = b.lines.length
      await sleep(50)
    }
    assert.ok(b.lines.length < N / 2, `${b.lines.length} of ${N} requests reached a hung backend`)
    b.hang = false
    const got = await c.lines(N, 10000)
    let want = ''
    for (let i = 0; i < N; i++) want += `s1:get k${i}\n`
    assert.ok(got === want, 'replies out of order')
    assert.equal(b.lines.length, N)
  })

  test('a well-formed failure reply is relayed and counts a failure; a good reply resets the count', async (t) => {
    const r = await rig(t, {
      pool: { autoEjectHosts: true, serverFailureLimit: 2, serverRetryTimeout: 60000 },
    })
    const [a] = r.keysOf('s1', 1)
    const c = await r.connect()
    c.send(`fail ${a}\nget ${a}\nfail ${a}\n`)
    assert.equal(await c.lines(3), `-FAIL s1\ns1:get ${a}\n-FAIL s1\n`)
    assert.equal(r.pool.counters.server_ejects, 0)
    c.send(`fail ${a}\n`)
    assert.equal(await c.lines(1), '-FAIL s1\n')
    assert.equal(r.pool.counters.server_ejects, 1)
    c.send(`get ${a}\n`)
    assert.equal(await c.lines(1), `s2:get ${a}\n`)
  })
})

describe('split requests', () => {
  test('mget over 2 servers: one fragment per server, merged in key order', async (t) => {
    const r = await rig(t)
    const [a1, a2] = r.keysOf('s1', 2)
    const [b1, b2] = r.keysOf('s2', 2)
    r.backend('s1').delay = 50
    const c = await r.connect()
    c.send(`mget ${b1} ${a1} ${b2} ${a2}\nping\n`)
    assert.equal(await c.lines(2), `VALUES ${b1}=s2 ${a1}=s1 ${b2}=s2 ${a2}=s1\nPONG\n`)
    assert.deepEqual(r.backend('s1').lines, [`mget ${a1} ${a2}`])
    assert.deepEqual(r.backend('s2').lines, [`mget ${b1} ${b2}`])
    assert.equal(r.pool.counters.fragments, 2)
    const s1 = r.server('s1').counters
    assert.equal(s1.requests, 1)
    assert.equal(s1.request_bytes, len(`mget ${a1} ${a2}\n`))
    assert.equal(s1.response_bytes, len(`${a1}=s1 ${a2}=s1\n`))
  })

  test("a fragment's server refused: the hook sees fragmentError; the client stays usable", async (t) => {
    const r = await rig(t)
    const [a] = r.keysOf('s1', 1)
    const [b] = r.keysOf('s2', 1)
    await r.backend('s2').refuse()
    const c = await r.connect()
    c.send(`mget ${a} ${b}\n`)
    assert.equal(await c.lines(1), 'ERR Connection refused\n')
    // s2 is the second server: fragment 1.
    assert.deepEqual(r.proto.events, ['fragmentError 1 Connection refused'])
    assert.equal(r.pool.counters.fragments, 2)
    assert.equal(r.server('s2').counters.server_err, 1)
    // One generated error line: one forward_error (stats.md §5).
    assert.equal(r.pool.counters.forward_error, 1)
    c.send(`get ${a}\n`)
    assert.equal(await c.lines(1), `s1:get ${a}\n`)
    // Both fragments fail: still one error line, one forward_error.
    await r.backend('s1').refuse()
    c.send(`mget ${a} ${b}\n`)
    assert.equal(await c.lines(1), 'ERR Connection refused\n')
    assert.deepEqual(r.proto.events, [
      'fragmentError 1 Connection refused',
      'fragmentError 0 Connection refused',
      'fragmentError 1 Connection refused',
    ])
    assert.equal(r.pool.counters.forward_error, 2)
  })
})

describe('split requests, failures', () => {
  test('a fragment times out: fragmentError with `Connection timed out`', async (t) => {
    const r = await rig(t, { pool: { timeout: 150 } })
    const [a] = r.keysOf('s1', 1)
    const [b] = r.keysOf('s2', 1)
    r.backend('s1').hang = true
    const c = await r.connect()
    c.send(`mget ${b} ${a}\nping\n`)
    assert.equal(await c.lines(2), 'ERR Connection timed out\nPONG\n')
    assert.deepEqual(r.proto.events, ['fragmentError 0 Connection timed out'])
    assert.equal(r.server('s1').counters.server_timedout, 1)
    assert.equal(r.server('s2').counters.responses, 1)
    assert.equal(r.pool.counters.forward_error, 1)
  })
})

describe('noreply', () => {
  test('no reply bytes; the replies of the requests around keep their order', async (t) => {
    const r = await rig(t)
    const [a] = r.keysOf('s1', 1)
    const [b] = r.keysOf('s2', 1)
    r.backend('s1').delay = 60
    const c = await r.connect()
    c.send(`nset ${a} 1\nget ${a}\nnset ${b} 2\nget ${b}\nping\n`)
    assert.equal(await c.lines(3), `s1:get ${a}\ns2:get ${b}\nPONG\n`)
    assert.ok(await c.quiet(80))
    assert.deepEqual(r.backend('s1').lines, [`nset ${a} 1`, `get ${a}`])
    assert.deepEqual(r.backend('s2').lines, [`nset ${b} 2`, `get ${b}`])
    const s1 = r.server('s1').counters
    assert.equal(s1.requests, 2)
    assert.equal(s1.responses, 1)
    assert.deepEqual([s1.in_queue, s1.out_queue, s1.out_queue_bytes], [0, 0, 0])
  })
})

describe('client connections', () => {
  test('quit after pipelined requests: earlier replies, then close; client_eof', async (t) => {
    const r = await rig(t, { names: ['s1'] })
    r.backend('s1').delay = 50
    const c = await r.connect()
    c.send('get a\nget b\nping\nquit\nget c\n')
    assert.equal(await c.end(), 's1:get a\ns1:get b\nPONG\nBYE\n')
    assert.deepEqual(r.backend('s1').lines, ['get a', 'get b'])
    assert.equal(r.pool.counters.client_eof, 1)
    assert.equal(r.pool.counters.client_err, 0)
    c.socket.end()
    await until(() => r.pool.counters.client_connections === 0, 'client_connections 0')
  })

  test('protocol error after pipelined requests: earlier replies, error bytes, close; client_err', async (t) => {
    const r = await rig(t, { names: ['s1'] })
    r.backend('s1').delay = 50
    const c = await r.connect()
    c.send('get a\nget b\nbad\nget c\n')
    assert.equal(await c.end(), 's1:get a\ns1:get b\nERR protocol\n')
    assert.equal(r.pool.counters.client_err, 1)
    assert.equal(r.pool.counters.client_eof, 0)
    c.socket.end()
    await until(() => r.pool.counters.client_connections === 0, 'client_connections 0')
    assert.deepEqual(r.backend('s1').lines, ['get a', 'get b'])
  })

  test('the proxy closes even if the client keeps its side open after quit', async (t) => {
    const r = await rig(t, { names: ['s1'] })
    const c = await r.connect()
    c.send('quit\n')
    assert.equal(await c.end(), 'BYE\n')
    // The client does not close: the proxy must not keep the connection.
    await until(() => r.pool.counters.client_connections === 0, 'client_connections 0')
  })

  test('half-close by the client: replies delivered, then the proxy closes; client_eof', async (t) => {
    const r = await rig(t, { names: ['s1'] })
    r.backend('s1').delay = 50
    const c = await r.connect()
    c.send('get a\nping\nget b\n')
    c.socket.end()
    assert.equal(await c.end(), 's1:get a\nPONG\ns1:get b\n')
    await until(() => r.pool.counters.client_connections === 0, 'client_connections 0')
    assert.equal(r.pool.counters.client_eof, 1)
    assert.equal(r.pool.counters.client_err, 0)
  })

  test('a client gone with requests outstanding does not disturb the next client', async (t) => {
    const r = await rig(t, { names: ['s1'] })
    const b = r.backend('s1')
    b.delay = 80
    const gone = await r.connect()
    const next = await r.connect()
    gone.send('get g0\nget g1\nget g2\nget g3\nget g4\n')
    await until(() => b.lines.length === 5, 'the first client at the backend')
    gone.socket.destroy()
    next.send('get n0\nget n1\nget n2\nget n3\nget n4\n')
    assert.equal(await next.lines(5), 's1:get n0\ns1:get n1\ns1:get n2\ns1:get n3\ns1:get n4\n')
    assert.ok(await next.quiet(30))
    await until(() => r.pool.counters.client_connections === 1, 'client_connections 1')
    // nutcracker counts such a client as client_eof (memcache.md §9, E-32).
    assert.equal(r.pool.counters.client_eof, 1)
    assert.equal(r.pool.counters.client_err, 0)
    const s = r.server('s1').counters
    assert.equal(s.responses, 10)
    assert.deepEqual([s.out_queue, s.out_queue_bytes], [0, 0])
  })

  test('a client that resets the connection with requests outstanding counts as client_err', async (t) => {
    const r = await rig(t, { names: ['s1'] })
    r.backend('s1').delay = 50
    const c = await r.connect()
    c.send('get a\nget b\n')
    await until(() => r.backend('s1').lines.length === 2, 'requests at the backend')
    c.socket.resetAndDestroy()
    await until(() => r.pool.counters.client_connections === 0, 'client_connections 0')
    assert.equal(r.pool.counters.client_err, 1)
    assert.equal(r.pool.counters.client_eof, 0)
    // The replies still come and are dropped; the server connection stays healthy.
    await until(() => r.server('s1').counters.responses === 2, 'responses 2')
    const d = await r.connect()
    d.send('get c\n')
    assert.equal(await d.lines(1), 's1:get c\n')
    assert.equal(r.backend('s1').accepted, 1)
  })

  test('client_connections 2: a third connection is closed and counted as client_err', async (t) => {
    const r = await rig(t, { names: ['s1'], pool: { clientConnections: 2 } })
    const c1 = await r.connect()
    const c2 = await r.connect()
    const c3 = await r.connect()
    assert.equal(await c3.end(), '')
    await until(() => r.pool.counters.client_err === 1, 'client_err 1')
    c1.send('ping\n')
    c2.send('ping\n')
    assert.equal(await c1.lines(1), 'PONG\n')
    assert.equal(await c2.lines(1), 'PONG\n')
    assert.equal(r.pool.counters.client_connections, 2)
    // Once one leaves, a new client is taken.
    c1.socket.destroy()
    await until(() => r.pool.counters.client_connections === 1, 'client_connections 1')
    const c4 = await r.connect()
    c4.send('ping\n')
    assert.equal(await c4.lines(1), 'PONG\n')
  })

  test('preconnect: one connection per server at start', async (t) => {
    const r = await rig(t, { pool: { preconnect: true, serverConnections: 2 } })
    await until(
      () =>
        r.server('s1').counters.server_connections === 1 &&
        r.server('s2').counters.server_connections === 1,
      'preconnected',
    )
    assert.equal(r.backend('s1').accepted, 1)
    assert.equal(r.backend('s2').accepted, 1)
  })

  test('backpressure: a client that does not read stops being read, then gets every reply in order', async (t) => {
    const r = await rig(t, { names: ['s1'] })
    const b = r.backend('s1')
    const PAD = 1000
    b.pad = PAD
    const N = 200_000
    const sock = connect({ host: '127.0.0.1', port: r.port })
    await new Promise<void>((resolve, reject) => {
      sock.once('connect', resolve)
      sock.once('error', reject)
    })
    r.sockets.push(sock)
    sock.pause()
    const parts: string[] = []
    for (let i = 0; i < N; i++) parts.push(`get k${i}\n`)
    sock.write(parts.join(''))
    // Wait until the backend stops receiving.
    let last = -1
    for (let i = 0; i < 200 && b.lines.length !== last; i++) {
      last = b.lines.length
      await sleep(100)
    }
    const seen = b.lines.length
    assert.ok(
      seen < N / 4,
      `the backend got ${seen} of ${N} requests while the client read nothing`,
    )
    // Now read everything: all replies, in order.
    const pad = '.'.repeat(PAD)
    let n = 0
    let rest = ''
    let bad: string | null = null
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${n} replies`)), 15000)
      sock.on('data', (chunk: Buffer) => {
        const text = rest + chunk.toString('latin1')
        let at = 0
        for (;;) {
          const nl = text.indexOf('\n', at)
          if (nl < 0) break
          if (bad === null && text.slice(at, nl) !== `s1:get k${n}${pad}`) {
            bad = `reply ${n}: ${text.slice(at, Math.min(nl, at + 40))}`
          }
          n++
          at = nl + 1
        }
        rest = text.slice(at)
        if (n === N) {
          clearTimeout(timer)
          resolve()
        }
      })
      sock.resume()
    })
    assert.equal(bad, null)
    assert.equal(n, N)
    assert.equal(b.lines.length, N)
  })

  test('close() with clients and server connections open resolves and closes them', async (t) => {
    // Client sockets of earlier tests finish closing just after their close() resolved.
    await until(() => connections.curr_connections === 0, 'earlier connections closed')
    const base = { ...connections }
    const r = await Rig.start({ names: ['s1'] })
    let closed = false
    t.after(async () => {
      if (!closed) await r.close()
    })
    const c = await r.connect()
    c.send('get a\n')
    assert.equal(await c.lines(1), 's1:get a\n')
    r.backend('s1').hang = true
    c.send('get b\n')
    await until(() => r.backend('s1').lines.length === 2, 'get b at the backend')
    // The listener, the client and the server connection.
    assert.deepEqual(connections, {
      total_connections: base.total_connections + 3,
      curr_connections: base.curr_connections + 3,
    })
    const done = r.proxy.close().then(() => true)
    const ok = await Promise.race([done, sleep(2000).then(() => false)])
    assert.ok(ok, 'close() did not resolve')
    closed = true
    await c.end()
    await until(() => r.backend('s1').open === 0, 'backend connections closed')
    for (const b of r.backends) await b.close()
    await until(() => connections.curr_connections === base.curr_connections, 'curr_connections')
    assert.equal(connections.total_connections, base.total_connections + 3)
  })
})

describe('ejection', () => {
  test('auto_eject_hosts: a dead server is ejected after the failure limit, and re-added after the retry time', async (t) => {
    const r = await rig(t, {
      pool: { autoEjectHosts: true, serverFailureLimit: 1, serverRetryTimeout: 300 },
    })
    const [a] = r.keysOf('s1', 1)
    const [b] = r.keysOf('s2', 1)
    const s1 = r.backend('s1')
    await s1.refuse()
    const c = await r.connect()
    const before = Date.now()
    c.send(`get ${a}\n`)
    assert.equal(await c.lines(1), 'ERR Connection refused\n')
    const after = Date.now()
    assert.equal(r.pool.counters.server_ejects, 1)
    const at = r.server('s1').counters.server_ejected_at
    assert.ok(at >= before * 1000 && at <= after * 1000, `server_ejected_at ${at}`)
    // Its keys go to the live server; other keys do not move.
    c.send(`get ${a}\nget ${b}\n`)
    assert.equal(await c.lines(2), `s2:get ${a}\ns2:get ${b}\n`)
    // The server comes back; after the retry time it is re-added on the next request.
    await s1.accept()
    c.send(`get ${a}\n`)
    assert.equal(await c.lines(1), `s2:get ${a}\n`)
    await sleep(320 - (Date.now() - after))
    c.send(`get ${a}\n`)
    assert.equal(await c.lines(1), `s1:get ${a}\n`)
    assert.equal(r.pool.counters.server_ejects, 1)
    assert.equal(r.server('s1').counters.server_err, 1)
    assert.equal(r.server('s1').counters.server_ejected_at, at)
  })

  test('server_retry_timeout 0: the server is re-added at once, every request to it fails', async (t) => {
    const r = await rig(t, {
      pool: { autoEjectHosts: true, serverFailureLimit: 1, serverRetryTimeout: 0 },
    })
    const [a] = r.keysOf('s1', 1)
    await r.backend('s1').refuse()
    const c = await r.connect()
    for (let i = 1; i <= 3; i++) {
      c.send(`get ${a}\n`)
      assert.equal(await c.lines(1), 'ERR Connection refused\n')
      assert.equal(r.pool.counters.server_ejects, i)
    }
    assert.equal(r.server('s1').counters.server_err, 3)
  })

  test('every server ejected: `ERR Connection refused` at once, without a connection attempt', async (t) => {
    const r = await rig(t, {
      names: ['s1'],
      pool: { autoEjectHosts: true, serverFailureLimit: 1, serverRetryTimeout: 60000 },
    })
    await r.backend('s1').refuse()
    const c = await r.connect()
    c.send('get a\n')
    assert.equal(await c.lines(1), 'ERR Connection refused\n')
    assert.equal(r.pool.counters.server_ejects, 1)
    const s = r.server('s1').counters
    assert.equal(s.requests, 1)
    c.send('get b\nget c\n')
    assert.equal(await c.lines(2), 'ERR Connection refused\nERR Connection refused\n')
    // No connection was tried: no request queued to the server, no new failure.
    assert.equal(s.requests, 1)
    assert.equal(s.server_err, 1)
    assert.equal(r.pool.counters.forward_error, 3)
  })
})
