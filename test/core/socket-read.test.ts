/**
 * Direct socket reads (src/core/socket-read.ts) on real loopback sockets: the
 * accept hook is active on this Node (so a Node upgrade that loses it fails
 * here instead of silently reading the slow way), chunks copied out of the one
 * shared read buffer stay intact after later reads on any socket, EOF and
 * pause/resume behave as with 'data', and a server without the hook is left as
 * it is.
 */

import assert from 'node:assert/strict'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { connect, createServer, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { clockNow } from '../../src/core/clock.js'
import { acceptDirect, connectDirect, onChunks } from '../../src/core/socket-read.js'

/** A listening server whose accepted sockets are handed to `accept` directly. */
async function directServer(
  accept: (s: Socket) => void,
): Promise<{ server: Server; port: number }> {
  const server = createServer({ allowHalfOpen: true }, () => {
    throw new Error('accepted through net.Server, not the direct hook')
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  assert.equal(acceptDirect(server, accept), true, 'this Node has the onconnection hook')
  const addr = server.address()
  assert.ok(addr !== null && typeof addr === 'object')
  return { server, port: addr.port }
}

/** A direct server with one connected client `c`; `s` is the server's side of it. */
async function oneClient(): Promise<{ server: Server; c: Socket; s: Socket }> {
  let accepted: Socket | null = null
  const { server, port } = await directServer((socket) => {
    accepted = socket
  })
  const c = connect(port, '127.0.0.1')
  await once(c, 'connect')
  while (accepted === null) await sleep(5)
  return { server, c, s: accepted }
}

/** Resolves once `bytes` bytes have arrived, with every chunk kept as delivered. */
function collect(socket: Socket, bytes: number): Promise<Buffer[]> {
  const chunks: Buffer[] = []
  let got = 0
  return new Promise((resolve) => {
    onChunks(socket, (chunk) => {
      chunks.push(chunk)
      got += chunk.length
      if (got >= bytes) resolve(chunks)
    })
  })
}

test('accepted sockets read directly: no data event, chunks stay intact across reads of two sockets', async () => {
  const accepted: Socket[] = []
  const { server, port } = await directServer((s) => accepted.push(s))
  const a = connect(port, '127.0.0.1')
  const b = connect(port, '127.0.0.1')
  await Promise.all([once(a, 'connect'), once(b, 'connect')])
  while (accepted.length < 2) await sleep(5)
  const [sa, sb] = accepted as [Socket, Socket]
  // Which accepted socket belongs to which client: by the client's local port.
  const [fromA, fromB] = sa.remotePort === a.localPort ? [sa, sb] : [sb, sa]
  const wantA = Buffer.alloc(3 * 1000, 'a')
  const wantB = Buffer.alloc(3 * 1000, 'b')
  const gotA = collect(fromA, wantA.length)
  const gotB = collect(fromB, wantB.length)
  // Interleave small writes so the shared read buffer is reused many times.
  for (let i = 0; i < 3; i++) {
    a.write(wantA.subarray(i * 1000, (i + 1) * 1000))
    b.write(wantB.subarray(i * 1000, (i + 1) * 1000))
    await sleep(10)
  }
  const [ca, cb] = await Promise.all([gotA, gotB])
  assert.ok(ca.length >= 2, `several reads (${ca.length})`)
  assert.deepEqual(Buffer.concat(ca), wantA)
  assert.deepEqual(Buffer.concat(cb), wantB)
  // Delivered without a 'data' listener: the direct path, not the fallback.
  assert.equal(fromA.listenerCount('data'), 0)
  // The accepted socket writes back normally.
  const echo = once(a, 'data')
  fromA.write('pong')
  assert.equal(String((await echo)[0]), 'pong')
  a.destroy()
  b.destroy()
  for (const s of accepted) s.destroy()
  server.close()
})

test('EOF from the peer ends a direct socket (end, then close, allowHalfOpen kept)', async () => {
  const { server, c, s } = await oneClient()
  const got = collect(s, 5)
  const ended = once(s, 'end')
  c.end('hello')
  assert.equal(Buffer.concat(await got).toString(), 'hello')
  await ended
  // allowHalfOpen: the proxy can still answer after the client's FIN.
  const reply = once(c, 'data')
  const closed = once(s, 'close')
  s.end('bye')
  assert.equal(String((await reply)[0]), 'bye')
  await closed
  server.close()
})

test('pause stops direct reads until resume', async () => {
  const { server, c, s } = await oneClient()
  const seen: string[] = []
  onChunks(s, (chunk) => seen.push(chunk.toString()))
  c.write('one')
  while (seen.length === 0) await sleep(5)
  s.pause()
  c.write('two')
  await sleep(100)
  assert.deepEqual(seen, ['one'])
  s.resume()
  while (seen.length < 2) await sleep(5)
  assert.deepEqual(seen, ['one', 'two'])
  c.destroy()
  s.destroy()
  server.close()
})

test('a direct read shares one clock reading with everything it triggers (clock.ts)', async () => {
  const { server, c, s } = await oneClient()
  const readings: [number, number][] = []
  onChunks(s, () => {
    const first = clockNow()
    const t = performance.now()
    while (performance.now() <= t) {}
    readings.push([first, clockNow()])
  })
  c.write('one')
  while (readings.length === 0) await sleep(5)
  c.write('two')
  while (readings.length < 2) await sleep(5)
  assert.equal(readings[0]![1], readings[0]![0], 'one reading within a read')
  assert.ok(readings[1]![0] > readings[0]![0], 'a new reading for the next read')
  const outside = clockNow()
  const t = performance.now()
  while (performance.now() <= t) {}
  assert.ok(clockNow() > outside, 'outside a read the clock moves')
  c.destroy()
  s.destroy()
  server.close()
})

test('connectDirect reads 4 MiB over TCP and a unix socket byte for byte', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'walnut-read-'))
  const payload = Buffer.alloc(4 << 20)
  for (let i = 0; i < payload.length; i++) payload[i] = (i * 7919) & 0xff
  const server = createServer((s) => s.end(payload))
  try {
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    const addr = server.address()
    assert.ok(addr !== null && typeof addr === 'object')
    const tcp = connectDirect({ host: '127.0.0.1', port: addr.port, noDelay: true })
    const fromTcp = collect(tcp, payload.length)
    assert.deepEqual(Buffer.concat(await fromTcp), payload)
    await once(tcp, 'close')
    server.close()
    const path = join(dir, 's.sock')
    server.listen(path)
    await once(server, 'listening')
    const unix = connectDirect({ path })
    const fromUnix = collect(unix, payload.length)
    assert.deepEqual(Buffer.concat(await fromUnix), payload)
    await once(unix, 'close')
  } finally {
    server.close()
    rmSync(dir, { recursive: true, force: true })
  }
})

test('accept errors reach the server as error events with the errno name', async () => {
  const { server } = await directServer(() => assert.fail('no socket on an accept error'))
  const handle = (
    server as unknown as { _handle: { onconnection: (e: number, h: unknown) => void } }
  )._handle
  const error = once(server, 'error')
  handle.onconnection(-24, undefined)
  const [err] = (await error) as [NodeJS.ErrnoException]
  assert.equal(err.code, 'EMFILE')
  assert.equal(err.message, 'accept EMFILE')
  server.close()
})

test('a server without a listening handle is left as it is', () => {
  const server = createServer()
  assert.equal(
    acceptDirect(server, () => {}),
    false,
  )
})
