/**
 * The stats port (src/stats/server.ts): the document on connect without the
 * client sending anything, then EOF; a fresh view per connection; bytes a client
 * sends change nothing; stats connections are not counted; nutcracker's bind and
 * address-resolution messages.
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer, connect as netConnect, type Server, type Socket } from 'node:net'
import { after, describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { connections } from '../../src/core/counters.js'
import { ProxyError } from '../../src/errors.js'
import { type StatsView, statsJson } from '../../src/stats/json.js'
import {
  POOL_METRICS,
  type PoolMetricName,
  SERVER_METRICS,
  type ServerMetricName,
} from '../../src/stats/metrics.js'
import { STATS_LINGER_MS, type StatsServer, startStatsServer } from '../../src/stats/server.js'
import { memoryLog } from '../helpers/memory-log.js'

const HOST = '127.0.0.1'

/** A view whose `requests` of the only server is `n`. */
function viewWith(n: number): StatsView {
  const pc = {} as Record<PoolMetricName, number>
  for (const m of POOL_METRICS) pc[m.name] = 0
  const sc = {} as Record<ServerMetricName, number>
  for (const m of SERVER_METRICS) sc[m.name] = 0
  sc.requests = n
  return {
    source: 'test-host',
    startedAt: 1_700_000_000_000,
    now: 1_700_000_003_000,
    totalConnections: 2,
    currConnections: 1,
    pools: [{ name: 'alpha', counters: pc, servers: [{ name: '127.0.0.1:24101', counters: sc }] }],
  }
}

interface Received {
  data: string
  /** ms from connect to the peer's FIN. */
  elapsed: number
  /** The socket error seen, if any. */
  error: string | undefined
}

/** Connects, optionally sends `send`, and collects everything until the server's FIN. */
async function fetchDoc(port: number, send?: string): Promise<Received> {
  const sock = netConnect({ host: HOST, port, allowHalfOpen: true })
  const chunks: Buffer[] = []
  let error: string | undefined
  sock.on('data', (c: Buffer) => chunks.push(c))
  sock.on('error', (e: NodeJS.ErrnoException) => {
    error = e.code
  })
  await once(sock, 'connect')
  const t0 = Date.now()
  if (send !== undefined) sock.write(send)
  const timer = setTimeout(() => sock.destroy(new Error('no EOF within 2 s')), 2000)
  await once(sock, 'end')
  clearTimeout(timer)
  const elapsed = Date.now() - t0
  sock.end()
  await once(sock, 'close')
  return { data: Buffer.concat(chunks).toString('utf8'), elapsed, error }
}

/** Connects, reads the document up to the server's FIN, and keeps its own side open. */
async function halfOpenClient(port: number): Promise<Socket> {
  const sock = netConnect({ host: HOST, port, allowHalfOpen: true })
  sock.resume()
  await once(sock, 'end')
  return sock
}

/**
 * Writes a byte every 20 ms until the socket fails (the peer is gone): the error
 * code, or 'none' after `ms`. The socket is destroyed when an error is seen.
 */
function writeUntilError(sock: Socket, ms: number): Promise<string> {
  return new Promise((resolve) => {
    const deadline = Date.now() + ms
    const onError = (e: NodeJS.ErrnoException) => finish(e.code ?? String(e))
    const timer = setInterval(() => {
      if (Date.now() >= deadline) finish('none')
      else sock.write('y')
    }, 20)
    function finish(result: string): void {
      clearInterval(timer)
      sock.off('error', onError)
      if (result !== 'none') sock.destroy()
      resolve(result)
    }
    sock.on('error', onError)
  })
}

describe('stats server', () => {
  const started: StatsServer[] = []
  const holders: Server[] = []
  after(async () => {
    for (const s of started) await s.close()
    for (const h of holders) await new Promise((r) => h.close(r))
  })

  test('writes the document on connect, unasked, then closes; a fresh view each time', async () => {
    let calls = 0
    const log = memoryLog()
    const srv = await startStatsServer({ host: HOST, port: 0, view: () => viewWith(++calls), log })
    started.push(srv)
    assert.equal(srv.address.address, HOST)
    assert.ok(srv.address.port > 0)
    assert.ok(
      log.lines.includes(`5 stats m listening on '${HOST}:${srv.address.port}'`),
      log.lines.join('\n'),
    )

    const total = connections.total_connections
    const curr = connections.curr_connections
    const first = await fetchDoc(srv.address.port)
    assert.equal(first.data, statsJson(viewWith(1)))
    assert.equal(first.error, undefined)
    assert.ok(first.elapsed < 1000, `EOF after ${first.elapsed} ms`)
    const second = await fetchDoc(srv.address.port)
    assert.equal(second.data, statsJson(viewWith(2)))
    assert.equal(calls, 2)
    // Stats connections are not connections of the proxy.
    assert.equal(connections.total_connections, total)
    assert.equal(connections.curr_connections, curr)
    assert.ok(
      log.lines.some((l) => /^8 stats send stats to 127\.0\.0\.1:\d+ \d+ bytes$/.test(l)),
      log.lines.join('\n'),
    )
  })

  test('bytes the client sends are ignored: bare JSON, clean EOF, no reset', async () => {
    const srv = await startStatsServer({
      host: HOST,
      port: 0,
      view: () => viewWith(7),
      log: memoryLog(),
    })
    started.push(srv)
    const got = await fetchDoc(srv.address.port, 'GET /metrics HTTP/1.0\r\n\r\n')
    assert.equal(got.data, statsJson(viewWith(7)))
    assert.equal(got.error, undefined)
    const big = await fetchDoc(srv.address.port, 'x'.repeat(256 * 1024))
    assert.equal(big.data, statsJson(viewWith(7)))
    assert.equal(big.error, undefined)
    // The server read the client's bytes and its FIN: it closed without waiting for the
    // linger bound.
    const deadline = Date.now() + STATS_LINGER_MS / 2
    while (srv.openConnections() > 0 && Date.now() < deadline) await sleep(10)
    assert.equal(srv.openConnections(), 0)
  })

  test('close() ends listening and drops lingering clients at once', async () => {
    const srv = await startStatsServer({
      host: HOST,
      port: 0,
      view: () => viewWith(1),
      log: memoryLog(),
    })
    // A client that reads the document but never closes its side.
    const sock = await halfOpenClient(srv.address.port)
    const t0 = Date.now()
    await srv.close()
    assert.ok(Date.now() - t0 < STATS_LINGER_MS / 2, `close took ${Date.now() - t0} ms`)
    assert.match(await writeUntilError(sock, 1000), /^(ECONNRESET|EPIPE)$/)
    const refused = netConnect({ host: HOST, port: srv.address.port })
    const [err] = (await once(refused, 'error')) as [NodeJS.ErrnoException]
    assert.equal(err.code, 'ECONNREFUSED')
  })

  test('a client that never closes is closed after STATS_LINGER_MS', async () => {
    const srv = await startStatsServer({
      host: HOST,
      port: 0,
      view: () => viewWith(1),
      log: memoryLog(),
    })
    started.push(srv)
    const sock = await halfOpenClient(srv.address.port)
    const t0 = Date.now()
    // Still open before the linger time: writes are accepted (and discarded).
    await new Promise<void>((r, j) => sock.write('x', (e) => (e ? j(e) : r())))
    assert.equal(await writeUntilError(sock, STATS_LINGER_MS / 2), 'none')
    assert.match(await writeUntilError(sock, STATS_LINGER_MS + 1000), /^(ECONNRESET|EPIPE)$/)
    assert.ok(Date.now() - t0 >= STATS_LINGER_MS - 50, `closed after ${Date.now() - t0} ms`)
  })

  test("bind failure: nutcracker's message without the fd number", async () => {
    const holder = createServer()
    holders.push(holder)
    holder.listen({ host: HOST, port: 0 })
    await once(holder, 'listening')
    const port = (holder.address() as { port: number }).port
    const err = await startStatsServer({
      host: HOST,
      port,
      view: () => viewWith(0),
      log: memoryLog(),
    }).then(
      () => assert.fail('bound a port in use'),
      (e: unknown) => e,
    )
    assert.ok(err instanceof ProxyError)
    assert.equal(err.code, 'NC_ERR_LISTEN')
    assert.equal(
      err.message,
      `bind on m to stats server addr '${HOST}:${port}' failed: Address already in use`,
    )
  })

  test('bind failure: an address that is not local', async () => {
    // 192.0.2.1 is TEST-NET-1: never a local address; bind(2) fails without any traffic.
    await assert.rejects(
      startStatsServer({
        host: '192.0.2.1',
        port: 24301,
        view: () => viewWith(0),
        log: memoryLog(),
      }),
      {
        code: 'NC_ERR_LISTEN',
        message:
          "bind on m to stats server addr '192.0.2.1:24301' failed: Cannot assign requested address",
      },
    )
  })

  test("address resolution failure: nutcracker's message", async () => {
    for (const host of ['no-such-host.invalid', '']) {
      await assert.rejects(
        startStatsServer({ host, port: 24301, view: () => viewWith(0), log: memoryLog() }),
        {
          code: 'NC_ERR_LISTEN',
          message: `address resolution of node '${host}' service '24301' failed: Name or service not known`,
        },
      )
    }
  })
})
