/**
 * Direct socket writes (src/core/socket-write.ts) on real loopback sockets:
 * available on this Node (a Node upgrade that loses them fails here instead of
 * silently writing the slow way); bytes arrive in order whether the kernel
 * takes them at once or libuv queues them; the queued bytes count as unsent and
 * 'drain' says when they are gone; write errors, destroy with writes pending,
 * and end after pending writes behave as with socket.write.
 */

import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { connect, createServer, type Server, type Socket } from 'node:net'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { OutQueue } from '../../src/core/bytes.js'
import { connectDirect } from '../../src/core/socket-read.js'
import {
  directWriteAvailable,
  isDirectWrite,
  unsentBytes,
  writeOut,
  writeOutv,
} from '../../src/core/socket-write.js'

/** A direct socket `d` connected to a plain server socket `peer`. */
async function pair(): Promise<{ server: Server; d: Socket; peer: Socket }> {
  const server = createServer()
  const accepted = once(server, 'connection')
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const addr = server.address()
  assert.ok(addr !== null && typeof addr === 'object')
  const d = connectDirect({ host: '127.0.0.1', port: addr.port, noDelay: true })
  await once(d, 'connect')
  const [peer] = (await accepted) as [Socket]
  return { server, d, peer }
}

/** Everything `socket` receives until it ends. */
async function readAll(socket: Socket): Promise<Buffer> {
  const chunks: Buffer[] = []
  socket.on('data', (c: Buffer) => chunks.push(c))
  await once(socket, 'end')
  return Buffer.concat(chunks)
}

/** `n` bytes that differ from one position to the next. */
function pattern(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n)
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff
  return b
}

test('direct writes are available here; connectDirect sockets use them, others do not', async () => {
  assert.equal(directWriteAvailable, true, 'this Node has the stream_wrap binding')
  const { server, d, peer } = await pair()
  assert.equal(isDirectWrite(d), true)
  assert.equal(isDirectWrite(peer), false)
  d.destroy()
  peer.destroy()
  server.close()
})

test('small writes are taken at once: in order, nothing left in Writable or libuv', async () => {
  const { server, d, peer } = await pair()
  const got = readAll(peer)
  const parts: Buffer[] = []
  for (let i = 0; i < 200; i++) {
    const part = pattern(1 + (i % 97), i)
    parts.push(part)
    writeOut(d, part, true)
    assert.equal(d.writableLength, 0, 'not through Writable')
    assert.equal(unsentBytes(d, true), 0)
  }
  d.end()
  assert.deepEqual(await got, Buffer.concat(parts))
  server.close()
})

test('a peer that does not read: libuv queues the rest, it counts as unsent, drain when gone', async () => {
  const { server, d, peer } = await pair()
  peer.pause()
  const parts: Buffer[] = []
  let queued = false
  // Writes go on while bytes are queued: each must land behind the last.
  for (let i = 0; i < 64; i++) {
    const part = pattern(256 * 1024, i)
    parts.push(part)
    writeOut(d, part, true)
    if (unsentBytes(d, true) > 0) queued = true
  }
  assert.ok(queued, 'the kernel did not take 16 MiB at once')
  assert.equal(d.writableLength, 0, 'queued by libuv, not by Writable')
  const before = unsentBytes(d, true)
  assert.ok(before > 0 && before <= 16 << 20, `unsent ${before}`)
  const drained = once(d, 'drain')
  const got = readAll(peer)
  peer.resume()
  await drained
  assert.equal(unsentBytes(d, true), 0)
  d.end()
  assert.deepEqual(await got, Buffer.concat(parts))
  server.close()
})

test('end after queued writes sends every byte, then the FIN', async () => {
  const { server, d, peer } = await pair()
  peer.pause()
  const want = pattern(8 << 20, 7)
  writeOut(d, want, true)
  assert.ok(unsentBytes(d, true) > 0)
  const finished = once(d, 'finish')
  d.end()
  const got = readAll(peer)
  peer.resume()
  assert.deepEqual(await got, want)
  await finished
  server.close()
})

test('destroy with writes queued: no error, close comes, the cancelled write is ignored', async () => {
  const { server, d, peer } = await pair()
  peer.pause()
  writeOut(d, pattern(8 << 20, 3), true)
  assert.ok(unsentBytes(d, true) > 0)
  const errors: Error[] = []
  d.on('error', (e) => errors.push(e))
  const closed = once(d, 'close')
  d.destroy()
  await closed
  await sleep(20)
  assert.deepEqual(errors, [])
  peer.destroy()
  server.close()
})

test('writing to a reset connection destroys the socket with the errno as code', async () => {
  const { server, d, peer } = await pair()
  // Not reading: the reset must surface through the write, not a read.
  d.pause()
  const errored = once(d, 'error')
  peer.resetAndDestroy()
  await sleep(50)
  // The first write may still be taken by the kernel; the reset answers it.
  for (let i = 0; i < 20 && !d.destroyed; i++) {
    writeOut(d, Buffer.from('x'), true)
    await sleep(10)
  }
  const [err] = (await errored) as [NodeJS.ErrnoException]
  assert.ok(err.code === 'EPIPE' || err.code === 'ECONNRESET', `code ${err.code}`)
  assert.equal(err.syscall, 'write')
  assert.equal(err.message, `write ${err.code}`)
  assert.equal(d.destroyed, true)
  server.close()
})

test('an unmarked socket is written through Writable, as before', async () => {
  const { server, d, peer } = await pair()
  const accepted = once(server, 'connection')
  const plain = connect((server.address() as { port: number }).port, '127.0.0.1')
  await once(plain, 'connect')
  const [other] = (await accepted) as [Socket]
  other.pause()
  writeOut(plain, pattern(16 << 20, 1), false)
  assert.ok(plain.writableLength > 0, 'Writable holds what the kernel did not take')
  assert.equal(unsentBytes(plain, false), plain.writableLength)
  plain.destroy()
  other.destroy()
  d.destroy()
  peer.destroy()
  server.close()
})

test('writeOutv: buffer lists go out directly, in order with single writes, counted once', async () => {
  const { server, d, peer } = await pair()
  peer.pause()
  const parts: Buffer[] = []
  for (let i = 0; i < 12; i++) {
    if (i % 3 === 0) {
      const one = pattern(1_000_000, i)
      parts.push(one)
      writeOut(d, one, true)
    } else {
      const list = [pattern(700_000, i), pattern(5, i + 100), pattern(3_000_000, i + 200)]
      parts.push(...list)
      writeOutv(d, list, true)
    }
    assert.equal(d.writableLength, 0, 'Writable is not used')
  }
  const handle = (d as unknown as { _handle: { writeQueueSize: number } })._handle
  assert.ok(handle.writeQueueSize > 0, 'the peer does not read: libuv queues')
  assert.equal(unsentBytes(d, true), handle.writeQueueSize, 'each unsent byte counted once')
  const got = readAll(peer)
  peer.resume()
  await once(d, 'drain')
  d.end()
  assert.deepEqual(await got, Buffer.concat(parts))
  server.close()
})

test('OutQueue: whole buffers go out directly in one writev, in order even while libuv queues', async () => {
  const { server, d, peer } = await pair()
  peer.pause()
  const q = new OutQueue()
  const parts: Buffer[] = []
  for (let round = 0; round < 40; round++) {
    // Whole buffers (one writev), then pieces of one (gathered): the queue's arrays are
    // reused at once, while libuv may still hold the previous writev's list.
    for (let i = 0; i < 5; i++) {
      const whole = pattern(round < 20 ? 30 : 200_000, round * 7 + i)
      parts.push(whole)
      q.append(whole)
    }
    q.writeTo(d, true)
    const chunk = pattern(100, round)
    q.piece(chunk, 10, 20)
    q.piece(chunk, 50, 60)
    parts.push(chunk.subarray(10, 20), chunk.subarray(50, 60))
    q.writeTo(d, true)
    assert.equal(d.writableLength, 0, 'Writable is not used')
  }
  const handle = (d as unknown as { _handle: { writeQueueSize: number } })._handle
  assert.ok(handle.writeQueueSize > 0, 'the peer does not read: libuv queues')
  const got = readAll(peer)
  peer.resume()
  await once(d, 'drain')
  d.end()
  assert.deepEqual(await got, Buffer.concat(parts))
  server.close()
})

test('with --throw-deprecation the deprecated binding is not touched: plain writes, no crash', () => {
  const url = new URL('../../src/core/socket-write.js', import.meta.url).href
  const script = `const m = await import(${JSON.stringify(url)}); console.log(m.directWriteAvailable); await new Promise((r) => setTimeout(r, 50))`
  for (const [flags, want] of [
    [['--throw-deprecation'], 'false'],
    [['--throw-deprecation', '--pending-deprecation'], 'false'],
    [[], 'true'],
  ] as const) {
    const r = spawnSync(process.execPath, [...flags, '--input-type=module', '-e', script], {
      encoding: 'utf8',
    })
    assert.equal(r.status, 0, `${flags.join(' ')}: ${r.stderr}`)
    assert.equal(r.stdout, `${want}\n`, flags.join(' '))
  }
})
