/**
 * The redis request parser: every case runs whole, byte by byte and split in
 * two at every offset (test/helpers/split.ts) and must give the same frames.
 * Error texts are redis-server's own (checked against redis 7.0), except the
 * two walnut adds (bulk data not followed by CRLF, request too large).
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import {
  ERROR,
  FRAME,
  INLINE_MAX,
  NEED_MORE,
  PROTOCOL_ERRORS,
  RequestParser,
} from '../../../src/proto/redis/request-parser.js'
import { InputStream } from '../../../src/proto/stream.js'
import { forEverySplit } from '../../helpers/split.js'

interface Frame {
  args: string[]
  inline: boolean
  start: number
  end: number
  /** The frame's bytes (multibulk only: what is forwarded verbatim). */
  raw: string | null
}

interface Result {
  frames: Frame[]
  error: string | null
  at: number
  /** Bytes the parser still holds for an incomplete request. */
  pending: number
}

function parse(chunks: readonly Buffer[], maxRequestSize?: number): Result {
  const stream = new InputStream()
  const p = new RequestParser(stream, maxRequestSize)
  const frames: Frame[] = []
  for (const chunk of chunks) {
    stream.push(chunk)
    for (;;) {
      const r = p.next()
      if (r === NEED_MORE) break
      if (r === ERROR) return { frames, error: p.error, at: p.errorOffset, pending: 0 }
      assert.equal(r, FRAME)
      const args: string[] = []
      for (let i = 0; i < p.argc; i++) {
        const buf = p.arg(i)
        args.push(buf.toString('latin1', p.rs, p.re))
      }
      frames.push({
        args,
        inline: p.inline,
        start: p.start,
        end: p.end,
        raw: p.inline ? null : stream.view(p.start, p.end).toString('latin1'),
      })
    }
    stream.release(p.mark)
  }
  return { frames, error: null, at: -1, pending: stream.end - p.mark }
}

const b = (s: string): Buffer => Buffer.from(s, 'latin1')

function cmd(...args: string[]): string {
  return `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a, 'latin1')}\r\n${a}\r\n`).join('')}`
}

function mb(args: string[], start: number, input: string): Frame {
  const raw = cmd(...args)
  assert.equal(input.slice(start, start + raw.length), raw, 'fixture: raw bytes at start')
  return { args, inline: false, start, end: start + raw.length, raw }
}

function il(args: string[], start: number, end: number): Frame {
  return { args, inline: true, start, end, raw: null }
}

function expectFrames(input: string, frames: Frame[], pending = 0): void {
  forEverySplit(b(input), (chunks) => parse(chunks), {
    expected: { frames, error: null, at: -1, pending },
  })
}

function expectError(input: string, error: string, at: number, frames: Frame[] = []): void {
  forEverySplit(b(input), (chunks) => parse(chunks), {
    expected: { frames, error, at, pending: 0 },
  })
}

describe('redis request parser: multibulk', () => {
  it('parses one request and records argument bounds', () => {
    const input = cmd('GET', 'a')
    expectFrames(input, [mb(['GET', 'a'], 0, input)])
  })

  it('parses pipelined requests, any letter case, binary and empty arguments', () => {
    const a = cmd('get', 'key')
    const c = cmd('SET', 'k\r\n*1\r\n$', '')
    const d = cmd('mget', '', 'x')
    const input = a + c + d
    expectFrames(input, [
      mb(['get', 'key'], 0, input),
      mb(['SET', 'k\r\n*1\r\n$', ''], a.length, input),
      mb(['mget', '', 'x'], a.length + c.length, input),
    ])
  })

  it('skips *0 and negative counts as empty requests, as redis does', () => {
    const input = `*0\r\n*-1\r\n*-123\r\n${cmd('PING')}`
    expectFrames(input, [mb(['PING'], 16, input)])
  })

  it('skips an empty line after a request (trailing CRLF)', () => {
    const input = `${cmd('PING')}\r\n\n${cmd('PING')}`
    expectFrames(input, [mb(['PING'], 0, input), mb(['PING'], 17, input)])
  })

  it('waits for an incomplete request and reports what it holds', () => {
    const input = '*3\r\n$3\r\nSET\r\n$1\r\na\r\n'
    expectFrames(input, [], input.length)
  })

  it('accepts the largest count redis accepts (2^31-1) and waits', () => {
    const input = '*2147483647\r\n$3\r\nGET\r\n'
    expectFrames(input, [], input.length)
  })

  it('a 16 MiB bulk is skipped by length, across many chunks', () => {
    const size = 16 * 1024 * 1024
    const head = b('*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$16777216\r\n')
    const data = Buffer.alloc(size, 0x61)
    const tail = b(`\r\n${cmd('GET', 'k')}`)
    const input = Buffer.concat([head, data, tail])
    const chunks: Buffer[] = []
    for (let off = 0; off < input.length; off += 65536) {
      chunks.push(input.subarray(off, Math.min(input.length, off + 65536)))
    }
    const stream = new InputStream()
    const p = new RequestParser(stream)
    const got: number[][] = []
    const t0 = process.hrtime.bigint()
    for (const chunk of chunks) {
      stream.push(chunk)
      for (let r = p.next(); r !== NEED_MORE; r = p.next()) {
        assert.equal(r, FRAME)
        const bounds: number[] = [p.start, p.end, p.argc]
        for (let i = 0; i < p.argc; i++) bounds.push(p.argStart(i), p.argEnd(i))
        got.push(bounds)
      }
      stream.release(p.mark)
    }
    const ms = Number(process.hrtime.bigint() - t0) / 1e6
    const dataStart = head.length
    const firstEnd = dataStart + size + 2
    assert.deepEqual(got, [
      [0, firstEnd, 3, 8, 11, 17, 18, dataStart, dataStart + size],
      [firstEnd, input.length, 2, firstEnd + 8, firstEnd + 11, firstEnd + 17, firstEnd + 18],
    ])
    assert.equal(stream.retained, 0)
    assert.ok(ms < 500, `16 MiB took ${ms} ms: payload must not be scanned`)
    // And a few targeted two-way splits around the data's edges.
    const offsets = [1, head.length - 1, head.length, head.length + 1, firstEnd - 2, firstEnd - 1]
    forEverySplit(input, (cs) => parse(cs).frames.map((f) => [f.start, f.end, f.args.length]), {
      byteByByte: false,
      offsets,
      expected: [
        [0, firstEnd, 3],
        [firstEnd, input.length, 2],
      ],
    })
  })
})

describe('redis request parser: inline commands (R4)', () => {
  it('splits on spaces; CRLF or bare LF ends the line', () => {
    const input = 'PING\r\nGET a\n  SET  k\tv  \r\n'
    expectFrames(input, [
      il(['PING'], 0, 6),
      il(['GET', 'a'], 6, 12),
      il(['SET', 'k', 'v'], 12, input.length),
    ])
  })

  it('skips empty and blank lines', () => {
    const input = '\r\n\n   \r\nPING\n'
    expectFrames(input, [il(['PING'], 8, 13)])
  })

  it('decodes double-quoted escapes like sdssplitargs', () => {
    const input = 'SET "a b" "x\\x41\\n\\r\\t\\b\\a\\\\\\"\\qz"\r\n'
    expectFrames(input, [il(['SET', 'a b', 'xA\n\r\t\b\x07\\"qz'], 0, input.length)])
  })

  it('\\x without two hex digits is a plain x', () => {
    const input = 'ECHO "\\x4" "\\xg1" "\\x"\r\n'
    expectFrames(input, [il(['ECHO', 'x4', 'xg1', 'x'], 0, input.length)])
  })

  it("single quotes take \\' and nothing else", () => {
    const input = "ECHO 'it\\'s' 'a\\nb' ''\r\n"
    expectFrames(input, [il(['ECHO', "it's", 'a\\nb', ''], 0, input.length)])
  })

  it('a quote may start inside a word; \\v and \\f do not end a word', () => {
    const input = 'ECHO a"b c" x\x0by "q"\x0b\r\n'
    expectFrames(input, [il(['ECHO', 'ab c', 'x\x0by', 'q'], 0, input.length)])
  })

  it('a bare CR inside the line separates words', () => {
    const input = 'ECHO a\rb\r\n'
    expectFrames(input, [il(['ECHO', 'a', 'b'], 0, input.length)])
  })

  it('a NUL byte is an ordinary byte', () => {
    const input = 'ECHO a\x00b\r\n'
    expectFrames(input, [il(['ECHO', 'a\x00b'], 0, input.length)])
  })

  it('mixes with multibulk requests', () => {
    const m = cmd('GET', 'x')
    const input = `PING\r\n${m}ECHO ""\r\n`
    expectFrames(input, [
      il(['PING'], 0, 6),
      mb(['GET', 'x'], 6, input),
      il(['ECHO', ''], 6 + m.length, input.length),
    ])
  })

  it('unbalanced quotes are a protocol error', () => {
    const E = PROTOCOL_ERRORS.unbalancedQuotes
    expectError('ECHO "abc\r\n', E, 10)
    expectError("'\r\n", E, 2)
    expectError('ECHO "a"b\r\n', E, 10)
    expectError("ECHO 'a'b\n", E, 9)
    expectError('ECHO a"b c"d\r\n', E, 13)
    expectError('ECHO "a\\"\r\n', E, 10)
    expectError('PING\r\nECHO "\r\n', E, 13, [il(['PING'], 0, 6)])
  })

  it('a line of 64 KiB is accepted; a longer one is an error even without its newline', () => {
    const ok = `ECHO ${'a'.repeat(INLINE_MAX - 5)}\n`
    const r = parse([b(ok)])
    assert.equal(r.error, null)
    assert.equal(r.frames[0]!.args[1]!.length, INLINE_MAX - 5)
    const long = `ECHO ${'a'.repeat(INLINE_MAX)}`
    for (const chunks of [[b(long)], [b(long.slice(0, 1000)), b(long.slice(1000))]]) {
      assert.deepEqual(parse(chunks), {
        frames: [],
        error: PROTOCOL_ERRORS.inlineTooBig,
        at: INLINE_MAX,
        pending: 0,
      })
    }
    assert.equal(parse([b(`${long}\r\n`)]).error, PROTOCOL_ERRORS.inlineTooBig)
    // Still incomplete and under the cap: held, no error.
    assert.deepEqual(parse([b(long.slice(0, INLINE_MAX))]).pending, INLINE_MAX)
  })
})

describe('redis request parser: framing errors (exact texts, R3)', () => {
  const ML = PROTOCOL_ERRORS.multibulkLength
  const BL = PROTOCOL_ERRORS.bulkLength
  const CRLF = PROTOCOL_ERRORS.bulkCrlf

  it('invalid multibulk length', () => {
    expectError('*+2\r\n', ML, 1)
    expectError('*2a\r\n', ML, 2)
    expectError('*\r\n', ML, 1)
    expectError('* 2\r\n', ML, 1)
    expectError('*01\r\n', ML, 2)
    expectError('*-0\r\n', ML, 2)
    expectError('*-\r\n', ML, 2)
    expectError('*1\rX', ML, 3)
    expectError('*1\n$4\nPING\n', ML, 2)
    expectError('*4294967298\r\n$3\r\nGET\r\n$1\r\na\r\n', ML, 10)
    expectError('*2147483648\r\n', ML, 10)
    expectError(`*-${'1'.repeat(20)}\r\n`, ML, 21)
  })

  it("expected '$', got 'X' (CR and LF shown as spaces)", () => {
    expectError('*1\r\n:1\r\n', "Protocol error: expected '$', got ':'", 4)
    expectError('*1\r\n*\r\n', "Protocol error: expected '$', got '*'", 4)
    expectError('*1\r\n\r\n', "Protocol error: expected '$', got ' '", 4)
    expectError('*2\r\n$1\r\na\r\nb', "Protocol error: expected '$', got 'b'", 11)
  })

  it('invalid bulk length', () => {
    expectError('*1\r\n$-1\r\n', BL, 5)
    expectError('*2\r\n$3\r\nGET\r\n$-1\r\n', BL, 14)
    expectError('*1\r\n$\r\n', BL, 5)
    expectError('*1\r\n$ 4\r\nPING\r\n', BL, 5)
    expectError('*1\r\n$01\r\nx\r\n', BL, 6)
    expectError('*1\r\n$4x\r\n', BL, 6)
    expectError('*1\r\n$4\rX', BL, 7)
    expectError(`*1\r\n$${'9'.repeat(30)}\r\n`, BL, 13)
  })

  it('bulk data not followed by CRLF', () => {
    expectError('*1\r\n$4\r\nPINGxx', CRLF, 12)
    expectError('*1\r\n$4\r\nPING\rx', CRLF, 13)
    expectError('*1\r\n$0\r\n\n', CRLF, 8)
  })

  it('earlier frames come out before the error; the parser stays dead', () => {
    const input = `${cmd('PING')}*x\r\n${cmd('PING')}`
    expectError(input, ML, 15, [mb(['PING'], 0, input)])
    const stream = new InputStream()
    const p = new RequestParser(stream)
    stream.push(b('*x'))
    assert.equal(p.next(), ERROR)
    stream.push(b(cmd('PING')))
    assert.equal(p.next(), ERROR)
  })
})

describe('redis request parser: request size cap (R12)', () => {
  it('one bulk longer than the cap is redis invalid bulk length, found while reading digits', () => {
    forEverySplit(b('*1\r\n$1001\r\n'), (chunks) => parse(chunks, 1000), {
      expected: { frames: [], error: PROTOCOL_ERRORS.bulkLength, at: 8, pending: 0 },
    })
  })

  it('a request whose declared total exceeds the cap is refused before its data arrives', () => {
    const head = '*2\r\n$3\r\nSET\r\n$80\r\n' // 18 + 80 + 2 = 100
    forEverySplit(b(head), (chunks) => parse(chunks, 99), {
      expected: { frames: [], error: PROTOCOL_ERRORS.tooLarge, at: 17, pending: 0 },
    })
    const input = `${head}${'v'.repeat(80)}\r\n`
    const r = parse([b(input)], 100)
    assert.equal(r.error, null)
    assert.equal(r.frames.length, 1)
  })

  it('many small arguments hit the cap too', () => {
    const many = `*1000\r\n${'$0\r\n\r\n'.repeat(20)}`
    const r = parse([b(many)], 100)
    assert.equal(r.error, PROTOCOL_ERRORS.tooLarge)
    assert.ok(r.at < 110)
  })
})

describe('redis request parser: property', () => {
  const argArb = fc.oneof(
    fc.uint8Array({ maxLength: 40 }).map((u) => Buffer.from(u).toString('latin1')),
    fc.string({ maxLength: 12 }).map((s) => s.replace(/[^\x21-\x7e]/g, 'x')),
  )
  const reqArb = fc.record({
    args: fc.array(argArb, { minLength: 1, maxLength: 6 }),
    inline: fc.boolean(),
  })

  function encode(r: { args: string[]; inline: boolean }): { text: string; inline: boolean } {
    // Inline form only for arguments it can carry: quote each one, escaping bytes.
    if (!r.inline) return { text: cmd(...r.args), inline: false }
    const words = r.args.map(
      (a) =>
        `"${[...a].map((ch) => `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`).join('')}"`,
    )
    return { text: `${words.join(' ')}\r\n`, inline: true }
  }

  it('random requests, concatenated and cut at random points, give the same frames', () => {
    const deadline = Date.now() + 3000
    fc.assert(
      fc.property(
        fc.array(reqArb, { minLength: 1, maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        (reqs, cuts) => {
          if (Date.now() > deadline) return
          const encoded = reqs.map(encode)
          const input = b(encoded.map((e) => e.text).join(''))
          const points = [...new Set(cuts.map((c) => c % (input.length + 1)))].sort((x, y) => x - y)
          const chunks: Buffer[] = []
          let last = 0
          for (const pt of points) {
            chunks.push(input.subarray(last, pt))
            last = pt
          }
          chunks.push(input.subarray(last))
          const got = parse(chunks)
          assert.equal(got.error, null)
          assert.deepEqual(
            got.frames.map((f) => [f.args, f.inline]),
            reqs.map((r, i) => [r.args, encoded[i]!.inline]),
          )
        },
      ),
      { numRuns: 400 },
    )
  })
})
