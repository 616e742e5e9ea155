/**
 * The RESP2 reply framer: reply boundaries, kinds and top-level element bounds,
 * every case whole, byte by byte and split in two at every offset.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ERROR, FRAME, NEED_MORE, ReplyParser } from '../../../src/proto/redis/reply-parser.js'
import { InputStream } from '../../../src/proto/stream.js'
import { forEverySplit } from '../../helpers/split.js'

interface Reply {
  kind: string
  bytes: string
  count: number
  /** Top-level element bytes. */
  elems: string[]
}

interface Result {
  replies: Reply[]
  error: boolean
  at: number
  pending: number
}

function frame(chunks: readonly Buffer[]): Result {
  const stream = new InputStream()
  const p = new ReplyParser(stream)
  const replies: Reply[] = []
  for (const chunk of chunks) {
    stream.push(chunk)
    for (;;) {
      const r = p.next()
      if (r === NEED_MORE) break
      if (r === ERROR) return { replies, error: true, at: p.errorOffset, pending: 0 }
      assert.equal(r, FRAME)
      const elems: string[] = []
      for (let i = 0; i < p.count; i++) {
        elems.push(stream.view(p.elemStart(i), p.elemEnd(i)).toString('latin1'))
      }
      replies.push({
        kind: String.fromCharCode(p.kind),
        bytes: stream.view(p.start, p.end).toString('latin1'),
        count: p.count,
        elems,
      })
    }
    stream.release(p.mark)
  }
  return { replies, error: false, at: -1, pending: stream.end - p.mark }
}

const b = (s: string): Buffer => Buffer.from(s, 'latin1')

function r(bytes: string, elems: string[] = []): Reply {
  return { kind: bytes[0]!, bytes, count: elems.length, elems }
}

function expectReplies(replies: Reply[], pending = ''): void {
  const input = replies.map((x) => x.bytes).join('') + pending
  forEverySplit(b(input), frame, {
    expected: { replies, error: false, at: -1, pending: pending.length },
  })
}

function expectError(input: string, at: number, before: Reply[] = []): void {
  forEverySplit(b(input), frame, { expected: { replies: before, error: true, at, pending: 0 } })
}

describe('redis reply parser', () => {
  it('frames every RESP2 type, pipelined', () => {
    expectReplies([
      r('+OK\r\n'),
      r('-ERR custom failure\r\n'),
      r('-\r\n'),
      r(':-5\r\n'),
      r(':99999999999\r\n'),
      r('$3\r\nv\r\n\r\n'),
      r('$0\r\n\r\n'),
      r('$-1\r\n'),
      r('*-1\r\n'),
      r('*0\r\n'),
      r('+QUEUED\r\n'),
    ])
  })

  it('records the bounds of top-level array elements, nested arrays included', () => {
    expectReplies([
      r('*3\r\n*-1\r\n$-1\r\n*0\r\n', ['*-1\r\n', '$-1\r\n', '*0\r\n']),
      r('*4\r\n+OK\r\n-ERR x\r\n:5\r\n$-1\r\n', ['+OK\r\n', '-ERR x\r\n', ':5\r\n', '$-1\r\n']),
      r('*2\r\n*2\r\n:1\r\n*1\r\n$1\r\nx\r\n$2\r\n\r\n\r\n', [
        '*2\r\n:1\r\n*1\r\n$1\r\nx\r\n',
        '$2\r\n\r\n\r\n',
      ]),
    ])
  })

  it('the nested EVAL reply of the evidence (E5)', () => {
    const bytes =
      '*3\r\n:1\r\n*2\r\n:2\r\n*2\r\n:3\r\n*2\r\n:4\r\n*2\r\n:5\r\n*3\r\n$1\r\nx\r\n$-1\r\n*0\r\n$1\r\ny\r\n'
    expectReplies([
      r(bytes, [':1\r\n', bytes.slice(8, bytes.length - 7), '$1\r\ny\r\n']),
      r('*3\r\n+FINE\r\n-BAD x\r\n:7\r\n', ['+FINE\r\n', '-BAD x\r\n', ':7\r\n']),
    ])
  })

  it('holds an incomplete reply', () => {
    expectReplies([r('+OK\r\n')], '*2\r\n$3\r\nabc\r\n*1\r\n')
  })

  it('arrays nested 1000 deep (an explicit stack, no recursion)', () => {
    const deep = `${'*1\r\n'.repeat(999)}*2\r\n:1\r\n$1\r\nz\r\n`
    expectReplies([r(deep, [deep.slice(4)]), r('+OK\r\n')])
    const chain = `${'*2\r\n:7\r\n'.repeat(1000)}*0\r\n`
    expectReplies([r(chain, [':7\r\n', chain.slice(8)])])
  })

  it('an array of 200 000 elements', () => {
    const n = 200_000
    const parts: string[] = [`*${n}\r\n`]
    for (let i = 0; i < n; i++) parts.push(i % 2 === 0 ? `$1\r\n${i % 10}\r\n` : `:${i}\r\n`)
    const input = b(`${parts.join('')}+OK\r\n`)
    const chunks: Buffer[] = []
    for (let off = 0; off < input.length; off += 65536)
      chunks.push(input.subarray(off, off + 65536))
    const stream = new InputStream()
    const p = new ReplyParser(stream)
    let frames = 0
    for (const chunk of chunks) {
      stream.push(chunk)
      for (let s = p.next(); s !== NEED_MORE; s = p.next()) {
        assert.equal(s, FRAME)
        frames++
        if (frames === 1) {
          assert.equal(p.count, n)
          assert.equal(p.end, input.length - 5)
          let expectedStart = parts[0]!.length
          for (let i = 0; i < n; i++) {
            assert.equal(p.elemStart(i), expectedStart)
            expectedStart += parts[i + 1]!.length
            assert.equal(p.elemEnd(i), expectedStart)
          }
        }
      }
      stream.release(p.mark)
    }
    assert.equal(frames, 2)
    assert.equal(stream.retained, 0)
  })

  it('a 16 MiB bulk is skipped by length', () => {
    const size = 16 * 1024 * 1024
    const head = b(`$${size}\r\n`)
    const input = Buffer.concat([head, Buffer.alloc(size, 0x7a), b('\r\n:1\r\n')])
    const t0 = process.hrtime.bigint()
    const got = forEverySplit(
      input,
      (chunks) => {
        const big: Buffer[] = []
        for (const c of chunks) {
          for (let off = 0; off < c.length; off += 1 << 20)
            big.push(c.subarray(off, off + (1 << 20)))
        }
        const stream = new InputStream()
        const p = new ReplyParser(stream)
        const out: number[][] = []
        for (const c of big) {
          stream.push(c)
          for (let s = p.next(); s !== NEED_MORE; s = p.next()) out.push([p.kind, p.start, p.end])
          stream.release(p.mark)
        }
        return out
      },
      { byteByByte: false, offsets: [1, head.length, head.length + 1, size + head.length + 1] },
    )
    const ms = Number(process.hrtime.bigint() - t0) / 1e6
    assert.deepEqual(got, [
      [36, 0, head.length + size + 2],
      [58, head.length + size + 2, input.length],
    ])
    assert.ok(ms < 1000, `took ${ms} ms`)
  })

  it('RESP3 types and unknown type bytes are errors, at any depth', () => {
    for (const t of ['_', ',', '%', '~', '#', '(', '=', '>', '|', '?', 'x', '\r']) {
      expectError(`${t}1\r\n`, 0)
      expectError(`+OK\r\n*2\r\n:1\r\n${t}\r\n`, 13, [r('+OK\r\n')])
    }
  })

  it('malformed lengths, integers and terminators are errors', () => {
    expectError('$-2\r\n', 2)
    expectError('*-2\r\n', 2)
    expectError('$-11\r\n', 3)
    expectError('$x\r\n', 1)
    expectError('$\r\n', 1)
    expectError('*1x\r\n', 2)
    expectError('$1\rx', 3)
    expectError(':x\r\n', 1)
    expectError(':\r\n', 1)
    expectError(':-\r\n', 2)
    expectError(':1 \r\n', 2)
    expectError('$3\r\nabcX', 7)
    expectError('$3\r\nabc\rX', 8)
    expectError('+OK\rX', 4)
    expectError(`$${'9'.repeat(16)}\r\n`, 16)
  })

  // Arrays of simple values lying whole in a chunk take the one-pass path; cut anywhere,
  // the state machine frames them. forEverySplit checks both give the same result.
  it('flat arrays of simple values, 1 to 40 elements (the element arrays grow)', () => {
    for (const n of [1, 2, 5, 16, 17, 40]) {
      const elems = Array.from({ length: n }, (_, i) =>
        i % 4 === 0
          ? '$-1\r\n'
          : i % 4 === 1
            ? `:${i}\r\n`
            : i % 4 === 2
              ? '+OK\r\n'
              : `$${i}\r\n${'v'.repeat(i)}\r\n`,
      )
      expectReplies([r(`*${n}\r\n${elems.join('')}`, elems), r('+after\r\n')])
    }
  })

  it('a huge element count is held as incomplete, never sized up front', () => {
    // 999 999 999 elements whole in one chunk (the one-pass path): sizing the element arrays
    // for them would take gigabytes. Measured first, while no other test's garbage can be
    // collected into the difference.
    const stream = new InputStream()
    const p = new ReplyParser(stream)
    const before = process.memoryUsage().arrayBuffers
    stream.push(b('*999999999\r\n:1\r\n$1\r\nv\r\n'))
    assert.equal(p.next(), NEED_MORE)
    const grown = process.memoryUsage().arrayBuffers - before
    assert.ok(grown < 1 << 20, `the parser's arrays grew by ${grown} bytes`)
    assert.equal(p.mark, 0)
    expectReplies([r('+OK\r\n')], '*999999999\r\n:1\r\n$1\r\nv\r\n')
    expectReplies([], '*40\r\n:1\r\n')
  })

  it('a malformed element of a flat array is the same error as with the state machine', () => {
    expectError('*2\r\n$1\r\nv\r\n$3\r\nabcX', 18)
    expectError('*2\r\n+OK\r\n:1x\r\n', 11)
    expectError('*2\r\n$-2\r\n:1\r\n', 6)
    expectError('*1\r\n$1\r\nvX\r\n', 9)
    expectError(`*1\r\n$${'9'.repeat(16)}\r\n`, 20)
  })
})
