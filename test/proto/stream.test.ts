/**
 * InputStream (src/proto/stream.ts): absolute offsets over chunks, and
 * releaseTail, which gives a small retained tail in pooled chunks a buffer of
 * its own so a stalled client does not keep a shared pool slab alive.
 */

import assert from 'node:assert/strict'
import { test } from 'node:test'
import { InputStream, StreamRanges } from '../../src/proto/stream.js'

/** `text` in a slice of a larger buffer, as reads copied into Node's Buffer pool are. */
function pooled(text: string): Buffer {
  const slab = Buffer.alloc(8192, 0x2e)
  slab.write(text, 100, 'latin1')
  return slab.subarray(100, 100 + text.length)
}

const text = (s: InputStream, start: number, end: number): string =>
  s.view(start, end).toString('latin1')

test('offsets stay absolute across chunks and releases', () => {
  const s = new InputStream()
  s.push(Buffer.from('*1\r\n$4\r\nPI', 'latin1'))
  s.push(Buffer.from('NG\r\n*1', 'latin1'))
  assert.equal(s.end, 16)
  assert.equal(text(s, 8, 12), 'PING')
  s.release(14)
  assert.equal(s.start, 10)
  assert.equal(text(s, 14, 16), '*1')
})

test('releaseTail copies a small tail in pooled chunks, at the same offsets', () => {
  const s = new InputStream()
  const first = pooled('*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$3')
  s.push(first)
  s.push(pooled('\r\nke'))
  const mark = 14 // the second request starts here, and is incomplete
  s.releaseTail(mark)
  assert.equal(s.start, mark)
  assert.equal(s.retained, s.end - mark)
  const tail = s.view(mark, s.end)
  assert.equal(tail.toString('latin1'), '*2\r\n$3\r\nGET\r\n$3\r\nke')
  // One buffer of exactly the tail's size: no pool slab is referenced any more.
  assert.equal(tail.buffer.byteLength, s.end - mark)
  assert.notEqual(tail.buffer, first.buffer)
  // More bytes arrive; the request is addressed as before.
  s.push(Buffer.from('y\r\n', 'latin1'))
  assert.equal(text(s, mark, s.end), '*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n')
  assert.equal(text(s, 31, 34), 'key')
})

test('releaseTail leaves large tails, unpooled chunks and empty streams alone', () => {
  const big = new InputStream()
  const value = pooled(`$3000\r\n${'v'.repeat(2500)}`)
  big.push(value)
  big.releaseTail(0)
  assert.equal(big.view(0, 10).buffer, value.buffer, 'a 2507-byte tail is not copied')

  const own = new InputStream()
  const chunk = Buffer.from(new ArrayBuffer(5))
  chunk.write('GET k', 'latin1')
  own.push(chunk)
  own.releaseTail(0)
  assert.equal(own.view(0, 5).buffer, chunk.buffer, 'a chunk with a buffer of its own stays')

  const done = new InputStream()
  done.push(pooled('+OK\r\n'))
  done.releaseTail(5)
  assert.equal(done.retained, 0)
  assert.equal(done.start, 5)
})

test('view: a whole chunk is returned as is, a part as a view, a straddling range as a copy', () => {
  const s = new InputStream()
  const a = Buffer.from('VALUE k 0 1\r\nx\r\nEND\r\n', 'latin1')
  const b = Buffer.from('STORED\r\n', 'latin1')
  s.push(a)
  s.push(b)
  assert.equal(s.view(0, a.length), a)
  assert.equal(s.view(a.length, s.end), b)
  const part = s.view(6, 7)
  assert.equal(part.toString('latin1'), 'k')
  assert.equal(part.buffer, a.buffer)
  assert.equal(part.byteOffset, a.byteOffset + 6)
  const across = s.view(a.length - 5, a.length + 6)
  assert.equal(across.toString('latin1'), 'END\r\nSTORED')
  a[a.length - 5] = 0x58
  assert.equal(across.toString('latin1'), 'END\r\nSTORED', 'a copy, not a view')
  assert.equal(part.toString('latin1'), 'k')
})

test('StreamRanges: the head, then each range as pieces of the chunks; adjacent ranges merge', () => {
  const s = new InputStream()
  const first = Buffer.from('*3\r\n$4\r\nMGET\r\n$2\r\nk1', 'latin1')
  const second = Buffer.from('\r\n$2\r\nk2\r\n', 'latin1')
  s.push(first)
  s.push(second)
  const r = new StreamRanges()
  const head = Buffer.from('HEAD', 'latin1')
  const pushed = (): [Buffer, number, number][] => {
    const out: [Buffer, number, number][] = []
    r.pushTo({ piece: (buf, start, end) => out.push([buf, start, end]) })
    return out
  }
  r.begin(head, s)
  // k1's element straddles the chunks; k2's follows it at once and joins its range.
  r.add(14, 22)
  r.add(22, 30)
  assert.deepEqual(pushed(), [
    [head, 0, 4],
    [first, 14, 20],
    [second, 0, 10],
  ])
  // Reused: begin starts over; separate ranges stay separate, in the order added.
  r.begin(head, s)
  r.add(22, 30)
  r.add(4, 14)
  assert.deepEqual(
    pushed().map(([buf, start, end]) => buf.toString('latin1', start, end)),
    ['HEAD', '$2\r\nk2\r\n', '$4\r\nMGET\r\n'],
  )
})

test('hold: a range inside a chunk is that chunk with its bounds; a straddling one, a copy', () => {
  const s = new InputStream()
  const first = pooled('$1\r\na\r\n$2\r')
  const second = pooled('\nbc\r\n')
  s.push(first)
  s.push(second)
  assert.equal(s.hold(4, 7), first)
  assert.deepEqual([s.rs, s.re], [4, 7])
  assert.equal(s.hold(11, 15), second)
  assert.deepEqual([s.rs, s.re], [1, 5])
  const copy = s.hold(7, 15)
  assert.notEqual(copy.buffer, first.buffer)
  assert.notEqual(copy.buffer, second.buffer)
  assert.deepEqual([s.rs, s.re, copy.toString('latin1', s.rs, s.re)], [0, 8, '$2\r\nbc\r\n'])
})
