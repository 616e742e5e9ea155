/**
 * Failure handling and client limits of the core (docs/failures.md), over
 * loopback with the toy protocol and fake backends (harness.ts), plus the real
 * protocols for max_request_size:
 *  - a fragment takes the server connection of its first key (server_connections > 1);
 *  - ejection counted as nutcracker counts it (a server already out is ejected again);
 *  - client_max_buffer closes a client that leaves too many reply bytes unread,
 *    whether they sit in its socket or wait behind an unanswered request;
 *  - client_max_inflight stops reading a client, then resumes with every reply;
 *  - max_request_size: memcache answers and goes on, redis answers and closes;
 *    both counted in request_too_large and logged;
 *  - a session that throws takes down its client only.
 */

import assert from 'node:assert/strict'
import { connect, type Socket } from 'node:net'
import { describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Config, PoolConfig } from '../../src/config/types.js'
import { ProxyServer } from '../../src/core/proxy.js'
import { createMemcacheProtocol } from '../../src/proto/memcache/index.js'
import { createRedisProtocol } from '../../src/proto/redis/index.js'
import { FakeBackend } from '../helpers/fake-backend.js'
import { freePort } from '../helpers/ports.js'
import { Client, poolConfig, Rig, type RigOptions, TestLog, until } from './harness.js'

async function rig(t: { after: (fn: () => Promise<void>) => void }, o?: RigOptions) {
  const r = await Rig.start(o)
  t.after(() => r.close())
  return r
}

/** A connected raw socket that reads nothing until told to. */
async function pausedSocket(r: Rig): Promise<Socket> {
  const sock = connect({ host: '127.0.0.1', port: r.port })
  sock.on('error', () => {})
  await new Promise<void>((resolve, reject) => {
    sock.once('connect', resolve)
    sock.once('error', reject)
  })
  r.sockets.push(sock)
  sock.pause()
  return sock
}

describe('split requests with server_connections > 1', () => {
  test("a fragment goes on its first key's connection: `set k` then `mget k x` stay in order for k", async (t) => {
    const r = await rig(t, { pool: { serverConnections: 4 } })
    const c = await r.connect()
    const N = 40
    let req = ''
    let rep = ''
    for (let i = 0; i < N; i++) {
      // The other key is looked up last: it used to pick the fragment's connection.
      req += `set a${i}\nmget a${i} z${i}\n`
      rep += `${r.ownerOf(`a${i}`)}:set a${i}\nVALUES a${i}=${r.ownerOf(`a${i}`)} z${i}=${r.ownerOf(`z${i}`)}\n`
    }
    c.send(req)
    assert.equal(await c.lines(2 * N), rep)
    let checked = 0
    for (const b of r.backends) {
      b.conns.forEach((conn, ci) => {
        conn.lines.forEach((line, li) => {
          const m = /^mget (a\d+)/.exec(line)
          if (m === null) return
          const key = m[1]!
          const at = conn.lines.indexOf(`set ${key}`)
          assert.ok(at >= 0, `${b.name}: mget ${key} on connection ${ci}, its set on another`)
          assert.ok(at < li, `${b.name}: mget ${key} before its set`)
          checked++
        })
      })
    }
    assert.equal(checked, N)
    // The keys do use several connections.
    assert.ok(r.backends.every((b) => b.accepted > 1))
  })
})

describe('ejection counted as nutcracker counts it', () => {
  test('two connections of a server time out together: two ejections, as server_failure counts them', async (t) => {
    const r = await rig(t, {
      pool: {
        serverConnections: 2,
        timeout: 200,
        autoEjectHosts: true,
        serverFailureLimit: 1,
        serverRetryTimeout: 60000,
      },
    })
    const keys = r.keysOf('s1', 20)
    const b = r.backend('s1')
    b.hang = true
    const c = await r.connect()
    c.send(keys.map((k) => `get ${k}\n`).join(''))
    const got = await c.lines(keys.length)
    assert.equal(got, 'ERR Connection timed out\n'.repeat(keys.length))
    assert.equal(b.accepted, 2, 'the keys should use both connections')
    const s = r.server('s1').counters
    assert.equal(s.server_timedout, 2)
    assert.equal(r.pool.counters.server_ejects, 2)
    // While out, s1's keys go to s2.
    c.send(`get ${keys[0]}\n`)
    assert.equal(await c.lines(1), `s2:get ${keys[0]}\n`)
  })

  test('failure limit 2: failures are counted per connection, a reply resets the count', async (t) => {
    const r = await rig(t, {
      pool: { autoEjectHosts: true, serverFailureLimit: 2, serverRetryTimeout: 60000 },
    })
    const [a] = r.keysOf('s1', 1)
    const b = r.backend('s1')
    const c = await r.connect()
    // Three pipelined requests on one connection that resets: one failure.
    b.reset = true
    c.send(`get ${a}\nget ${a}\nget ${a}\n`)
    assert.equal(await c.lines(3), 'ERR Connection reset by peer\n'.repeat(3))
    assert.equal(r.pool.counters.server_ejects, 0)
    b.reset = false
    c.send(`get ${a}\n`)
    assert.equal(await c.lines(1), `s1:get ${a}\n`)
    // The reply reset the count: one more failure does not eject.
    b.reset = true
    c.send(`get ${a}\n`)
    assert.equal(await c.lines(1), 'ERR Connection reset by peer\n')
    assert.equal(r.pool.counters.server_ejects, 0)
    c.send(`get ${a}\n`)
    assert.equal(await c.lines(1), 'ERR Connection reset by peer\n')
    assert.equal(r.pool.counters.server_ejects, 1)
    c.send(`get ${a}\n`)
    assert.equal(await c.lines(1), `s2:get ${a}\n`)
  })
})

describe('client_max_buffer', () => {
  test('a client that reads nothing is closed once its unread replies pass the limit', async (t) => {
    const r = await rig(t, { names: ['s1'], pool: { clientMaxBuffer: 256 * 1024 } })
    r.backend('s1').pad = 10_000
    const sock = await pausedSocket(r)
    const closed = new Promise<void>((resolve) => sock.once('close', () => resolve()))
    // 20 MB of replies: more than loopback's socket buffers hold.
    let req = ''
    for (let i = 0; i < 2000; i++) req += `get k${i}\n`
    sock.write(req)
    await until(() => r.pool.counters.client_buffer_closed === 1, 'the client closed', 10000)
    sock.resume()
    await closed
    const pc = r.pool.counters
    assert.equal(pc.client_err, 1)
    assert.equal(pc.client_eof, 0)
    assert.ok(
      r.log.lines.some((l) =>
        /closed: \d+ reply bytes unread, over client_max_buffer 262144/.test(l),
      ),
      r.log.lines.join('\n'),
    )
    // The proxy goes on serving others.
    const c = await r.connect()
    c.send('get x\n')
    assert.equal((await c.lines(1)).slice(0, 10), 's1:get x..')
    await until(() => pc.client_connections === 1, 'client_connections 1')
  })

  test('replies held behind an unanswered request count too, even when the client reads', async (t) => {
    const r = await rig(t, { pool: { clientMaxBuffer: 200 * 1024 } })
    const [a] = r.keysOf('s1', 1)
    const bs = r.keysOf('s2', 60)
    r.backend('s1').hang = true
    r.backend('s2').pad = 10_000
    const c = await r.connect()
    c.send(`get ${a}\n${bs.map((k) => `get ${k}\n`).join('')}`)
    await until(() => r.pool.counters.client_buffer_closed === 1, 'the client closed', 5000)
    assert.equal(await c.end(), '')
    assert.equal(r.pool.counters.client_err, 1)
  })

  test('a client that reads keeps its connection: 20 MB of replies through a 4 MiB limit', async (t) => {
    // In rounds of 1 MB of replies: the limit bounds what waits unread, not what passes.
    const r = await rig(t, { names: ['s1'], pool: { clientMaxBuffer: 4 * 1024 * 1024 } })
    r.backend('s1').pad = 10_000
    const pad = '.'.repeat(10_000)
    const c = await r.connect()
    for (let round = 0; round < 20; round++) {
      let req = ''
      let want = ''
      for (let i = 0; i < 100; i++) {
        req += `get k${round}-${i}\n`
        want += `s1:get k${round}-${i}${pad}\n`
      }
      c.send(req)
      assert.ok((await c.lines(100, 10_000)) === want, `round ${round}: replies differ`)
    }
    assert.equal(r.pool.counters.client_buffer_closed, 0)
    assert.equal(r.pool.counters.client_err, 0)
  })

  test('0 turns the limit off', async (t) => {
    const r = await rig(t, { names: ['s1'], pool: { clientMaxBuffer: 0 } })
    r.backend('s1').pad = 10_000
    const sock = await pausedSocket(r)
    let req = ''
    for (let i = 0; i < 2000; i++) req += `get k${i}\n`
    sock.write(req)
    await until(() => r.server('s1').counters.responses === 2000, 'every reply in', 10000)
    await sleep(50)
    assert.equal(r.pool.counters.client_buffer_closed, 0)
    assert.ok(!sock.destroyed)
  })
})

describe('client_max_inflight', () => {
  test('past the limit the client stops being read; every reply comes, in order', async (t) => {
    const r = await rig(t, { names: ['s1'], pool: { clientMaxInflight: 100 } })
    const b = r.backend('s1')
    b.hang = true
    const N = 30_000
    const c = await r.connect()
    let req = ''
    let want = ''
    for (let i = 0; i < N; i++) {
      req += `get k${i}\n`
      want += `s1:get k${i}\n`
    }
    c.send(req)
    let last = -1
    for (let i = 0; i < 100 && b.lines.length !== last; i++) {
      last = b.lines.length
      await sleep(50)
    }
    // One read's worth of requests at most went on before reading stopped.
    assert.ok(b.lines.length < N / 2, `${b.lines.length} of ${N} requests reached a hung backend`)
    assert.ok(r.pool.counters.client_read_paused >= 1)
    b.hang = false
    assert.ok((await c.lines(N, 10000)) === want, 'replies out of order')
    assert.equal(r.pool.counters.client_err, 0)
  })
})

describe('a session that throws', () => {
  test('closes that client alone, counted as client_err and logged; the proxy goes on', async (t) => {
    const r = await rig(t, { names: ['s1'] })
    const c1 = await r.connect()
    const c2 = await r.connect()
    c1.send('boom\n')
    await c1.end()
    assert.equal(r.pool.counters.client_err, 1)
    assert.ok(
      r.log.lines.some(
        (l) => l.includes('internal error on client') && l.includes('toy session bug'),
      ),
    )
    c2.send('get a\n')
    assert.equal(await c2.lines(1), 's1:get a\n')
  })
})

/** A proxy with one pool of the real protocol in front of a fake backend that is never used. */
async function realProxy(
  t: { after: (fn: () => Promise<void>) => void },
  redis: boolean,
  over: Partial<PoolConfig>,
): Promise<{ proxy: ProxyServer; port: number; log: TestLog }> {
  const backend = await FakeBackend.start('s1')
  const port = await freePort()
  const pool = poolConfig(port, [backend], { redis, ...over })
  const config: Config = { path: 'limits-test.yml', pools: [pool] }
  const log = new TestLog()
  const proxy = await ProxyServer.start(config, {
    log,
    protocolFor: (p) => (p.redis ? createRedisProtocol(p) : createMemcacheProtocol(p)),
  })
  t.after(async () => {
    await proxy.close()
    await backend.close()
  })
  return { proxy, port, log }
}

describe('max_request_size', () => {
  test('memcache: a data block over the limit gets SERVER_ERROR and the connection goes on; a line over it closes', async (t) => {
    const { proxy, port, log } = await realProxy(t, false, { maxRequestSize: 100 })
    const pc = proxy.pools[0]!.counters
    const c = await Client.open(port)
    t.after(() => {
      c.socket.destroy()
    })
    c.send(`set k 0 0 200\r\n${'v'.repeat(200)}\r\nset k 0 0 201 noreply\r\n${'v'.repeat(201)}\r\n`)
    assert.equal(await c.lines(1), 'SERVER_ERROR object too large for cache\r\n')
    await until(() => pc.request_too_large === 2, 'two refusals counted')
    assert.equal(pc.client_err, 0)
    c.send(`get ${'k'.repeat(120)}`)
    assert.equal(await c.end(), 'CLIENT_ERROR line too long\r\n')
    await until(() => pc.client_err === 1, 'client_err')
    assert.equal(pc.request_too_large, 3)
    assert.equal(log.lines.filter((l) => l.includes('over max_request_size 100')).length, 3)
  })

  test('redis: a request over the limit gets `request too large` and is closed', async (t) => {
    const { proxy, port, log } = await realProxy(t, true, { maxRequestSize: 100 })
    const pc = proxy.pools[0]!.counters
    const c = await Client.open(port)
    t.after(() => {
      c.socket.destroy()
    })
    c.send(`*1\r\n$4\r\nPING\r\n*3\r\n$3\r\nSET\r\n$50\r\n${'k'.repeat(50)}\r\n$60\r\n`)
    assert.equal(await c.end(), '+PONG\r\n-ERR Protocol error: request too large\r\n')
    await until(() => pc.client_err === 1, 'client_err')
    assert.equal(pc.request_too_large, 1)
    assert.ok(log.lines.some((l) => l.includes('over max_request_size 100')))
  })

  test('redis: an inline request over the limit is refused the same way', async (t) => {
    const { proxy, port } = await realProxy(t, true, { maxRequestSize: 100 })
    const pc = proxy.pools[0]!.counters
    const c = await Client.open(port)
    t.after(() => {
      c.socket.destroy()
    })
    c.send(`PING\r\nECHO ${'e'.repeat(100)}\r\n`)
    assert.equal(await c.end(), '+PONG\r\n-ERR Protocol error: request too large\r\n')
    await until(() => pc.client_err === 1, 'client_err')
    assert.equal(pc.request_too_large, 1)
  })
})

describe('closing a client', () => {
  test('after quit the proxy sends FIN and lingers; the client closing too ends it at once', async (t) => {
    const r = await rig(t, { names: ['s1'] })
    const c = await r.connect()
    c.send('get a\nquit\n')
    assert.equal(await c.end(), 's1:get a\nBYE\n')
    assert.equal(r.pool.counters.client_connections, 1, 'lingering until the client closes')
    const t0 = Date.now()
    c.socket.end()
    await until(() => r.pool.counters.client_connections === 0, 'closed at the client FIN', 1000)
    assert.ok(Date.now() - t0 < 500)
  })

  test('input after a protocol error is read and dropped; a client that never closes is dropped after LINGER_MS', async (t) => {
    const r = await rig(t, { names: ['s1'] })
    const c = await r.connect()
    c.send('get a\nbad\n')
    // The client goes on sending after the error: no reset, the replies arrive whole.
    for (let i = 0; i < 20; i++) c.send(`${'x'.repeat(10_000)}\n`)
    assert.equal(await c.end(), 's1:get a\nERR protocol\n')
    await until(() => r.pool.counters.client_connections === 0, 'closed after lingering', 3000)
    assert.equal(r.pool.counters.client_err, 1)
  })
})
