/**
 * The core's byte containers (src/core/bytes.ts), without sockets: ByteList
 * keeps pieces without copying; OutQueue merges adjacent pieces, gathers small
 * ones into one write and corks around large ones.
 */

import assert from 'node:assert/strict'
import type { Socket } from 'node:net'
import { test } from 'node:test'
import { ByteList, OutQueue } from '../../src/core/bytes.js'
import type { PieceSink } from '../../src/proto/stream.js'

const b = (s: string) => Buffer.from(s, 'latin1')

/** A socket stand-in that records writes and cork state. */
function fakeSocket() {
  const calls: string[] = []
  const writes: Buffer[] = []
  const socket = {
    write(buf: Buffer) {
      calls.push(`write ${buf.length}`)
      writes.push(Buffer.from(buf))
      return true
    },
    cork() {
      calls.push('cork')
    },
    uncork() {
      calls.push('uncork')
    },
  }
  return { socket: socket as unknown as Socket, calls, writes }
}

/** A sink recording pieces as [same buffer as `ref`, start, end, text]. */
function recordSink(ref: Buffer) {
  const pieces: [boolean, number, number, string][] = []
  const sink: PieceSink = {
    piece(buf, start, end) {
      pieces.push([buf === ref, start, end, buf.toString('latin1', start, end)])
    },
  }
  return { sink, pieces }
}

test('ByteList: one piece is kept as a reference to the chunk', () => {
  const chunk = b('xxget a\nyy')
  const l = new ByteList()
  l.piece(chunk, 2, 8)
  l.piece(chunk, 5, 5) // empty: ignored
  assert.equal(l.length, 6)
  const { sink, pieces } = recordSink(chunk)
  l.pushTo(sink)
  assert.deepEqual(pieces, [[true, 2, 8, 'get a\n']])
  assert.equal(l.toBuffer().toString('latin1'), 'get a\n')
  assert.equal(l.toBuffer().buffer, chunk.buffer)
})

test('ByteList: several pieces keep their order; clear empties it', () => {
  const one = b('..get ')
  const two = b('abc\n..')
  const l = new ByteList()
  l.piece(one, 2, 6)
  l.piece(two, 0, 4)
  l.append(b('!'))
  assert.equal(l.length, 9)
  assert.equal(l.toBuffer().toString('latin1'), 'get abc\n!')
  // The chunks themselves, with bounds: no view is made per piece.
  const { sink, pieces } = recordSink(one)
  l.pushTo(sink)
  assert.deepEqual(pieces, [
    [true, 2, 6, 'get '],
    [false, 0, 4, 'abc\n'],
    [false, 0, 1, '!'],
  ])
  l.clear()
  assert.equal(l.length, 0)
  assert.equal(l.toBuffer().length, 0)
  l.pushTo({ piece: () => assert.fail('no piece expected') })
})

test('OutQueue: adjacent pieces of one chunk merge into one view', () => {
  const chunk = b('r1\nr2\nr3\n')
  const q = new OutQueue()
  q.piece(chunk, 0, 3)
  q.piece(chunk, 3, 6)
  q.piece(chunk, 6, 9)
  assert.equal(q.bytes, 9)
  const { socket, calls, writes } = fakeSocket()
  q.writeTo(socket)
  assert.deepEqual(calls, ['write 9'])
  assert.equal(writes[0]!.toString('latin1'), 'r1\nr2\nr3\n')
  assert.ok(q.empty)
  assert.equal(q.bytes, 0)
})

test('OutQueue: the same buffer twice (not adjacent) is not merged; small pieces are gathered', () => {
  const pong = b('PONG\n')
  const q = new OutQueue()
  q.append(pong)
  q.append(pong)
  q.piece(b('xx-a\n'), 2, 5)
  const { socket, calls, writes } = fakeSocket()
  q.writeTo(socket)
  assert.deepEqual(calls, ['write 13'])
  assert.equal(writes[0]!.toString('latin1'), 'PONG\nPONG\n-a\n')
})

test('OutQueue: more than 64 KB goes out as corked views, in order', () => {
  const big = Buffer.alloc(70000, 0x61)
  const q = new OutQueue()
  q.append(b('head\n'))
  q.append(big)
  q.append(b('tail\n'))
  const { socket, calls, writes } = fakeSocket()
  q.writeTo(socket)
  assert.deepEqual(calls, ['cork', 'write 5', 'write 70000', 'write 5', 'uncork'])
  assert.equal(Buffer.concat(writes).toString('latin1'), `head\n${'a'.repeat(70000)}tail\n`)
  // Nothing left: a second writeTo writes nothing.
  q.writeTo(socket)
  assert.equal(calls.length, 5)
})

test('OutQueue: clear drops what was queued', () => {
  const q = new OutQueue()
  q.append(b('x\n'))
  q.clear()
  assert.ok(q.empty)
  const { socket, calls } = fakeSocket()
  q.writeTo(socket)
  assert.deepEqual(calls, [])
})
