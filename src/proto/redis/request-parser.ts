/**
 * Incremental parser for the requests a redis client sends (client → proxy).
 *
 * Two request forms, as redis-server accepts them (networking.c,
 * processMultibulkBuffer / processInlineBuffer):
 *
 *   multibulk   *<N>\r\n  then N times  $<len>\r\n<len bytes>\r\n
 *   inline      a line not starting with `*`, split like redis's sdssplitargs
 *               (spaces; "..." with \n \r \t \b \a \\ \xHH escapes; '...' with \')
 *
 * A resumable byte-level state machine (like nutcracker's redis_parse_req): the
 * state, the cursor and the number being read live in fields, so a request may
 * arrive one byte at a time and scanning never restarts from the frame start.
 * Bulk payloads are skipped by length, never scanned. Argument bounds are
 * recorded as absolute stream offsets in reused growable arrays; nothing is
 * copied except an inline line (at most 64 KiB), which is decoded into a reused
 * buffer because quotes and escapes make its arguments differ from its bytes.
 *
 * Framing errors carry redis's own texts (the client sees
 * `-ERR Protocol error: ...` and the connection closes, deviation R3). Two
 * texts are walnut's, for checks redis does not make: bulk data not followed by
 * CRLF (redis skips two bytes blindly), and a request larger than
 * `maxRequestSize` (R12; a single bulk over that size is redis's own
 * `invalid bulk length`, as for proto-max-bulk-len).
 *
 * `*0` and any negative count (`*-1`) are empty requests that redis skips; so
 * are empty inline lines (`\r\n`, `\n`, blanks only). A count above 2^31-1 is
 * `invalid multibulk length` (redis 7), whatever the request size limit.
 */

import { doubled } from '../grow.js'
import type { InputStream } from '../stream.js'
import { lengthLine, lengthRead } from './length-line.js'

/** `next()` results. */
export const NEED_MORE = 0
export const FRAME = 1
export const ERROR = 2

/** redis's PROTO_INLINE_MAX_SIZE: the longest inline line. */
export const INLINE_MAX = 64 * 1024
/** Default cap on one request's total size: redis's proto-max-bulk-len default (R12). */
export const DEFAULT_MAX_REQUEST_SIZE = 512 * 1024 * 1024
/** redis 7 rejects multibulk counts above INT_MAX. */
const MAX_COUNT = 0x7fffffff

/** Error texts (the client gets `-ERR <text>\r\n`). */
export const PROTOCOL_ERRORS = {
  multibulkLength: 'Protocol error: invalid multibulk length',
  bulkLength: 'Protocol error: invalid bulk length',
  /** Followed by the offending byte and a quote: `expected '$', got 'X'`. */
  expectedDollar: "Protocol error: expected '$', got '",
  bulkCrlf: 'Protocol error: expected CRLF after bulk data',
  tooLarge: 'Protocol error: request too large',
  inlineTooBig: 'Protocol error: too big inline request',
  unbalancedQuotes: 'Protocol error: unbalanced quotes in request',
} as const

const CR = 13
const LF = 10
const STAR = 42 // *
const DOLLAR = 36 // $
const MINUS = 45 // -
const ZERO = 48
const NINE = 57
const SPACE = 32
const TAB = 9
const DQUOTE = 34
const SQUOTE = 39
const BACKSLASH = 92

// States.
const S_START = 0 // at a request's first byte
const S_COUNT_FIRST = 1 // after '*': '-' or a digit
const S_COUNT_NEG = 2 // after "*-": the first digit
const S_COUNT = 3 // count digits, until CR
const S_COUNT_LF = 4
const S_DOLLAR = 5 // expecting '$'
const S_LEN = 6 // bulk length digits, until CR
const S_LEN_LF = 7
const S_DATA = 8 // skipping bulk payload
const S_DATA_CR = 9
const S_DATA_LF = 10
const S_INLINE = 11 // looking for the inline line's LF
const S_DEAD = 12 // after an error

function isSpace(c: number): boolean {
  // C isspace in the "C" locale, as sdssplitargs uses it.
  return c === SPACE || (c >= TAB && c <= CR)
}

function hexValue(c: number): number {
  if (c >= ZERO && c <= NINE) return c - ZERO
  if (c >= 97 && c <= 102) return c - 87 // a-f
  if (c >= 65 && c <= 70) return c - 55 // A-F
  return -1
}

/** A byte as redis prints it in `got '%c'`, with CR/LF made spaces as addReplyError does. */
function printable(c: number): string {
  return c === CR || c === LF ? ' ' : String.fromCharCode(c)
}

export class RequestParser {
  private readonly stream: InputStream
  private readonly maxRequestSize: number

  private state = S_START
  /** Absolute offset of the next byte to scan. */
  private pos = 0
  /** Number being read (count or bulk length) and its digit count. */
  private num = 0
  private digits = 0
  /** Bulk bytes still to skip. */
  private remaining = 0
  /** Arguments the current multibulk request declares. */
  private nargs = 0

  /** Absolute offsets of the current (or last complete) request. */
  start = 0
  end = 0
  /** Number of arguments recorded (argv[0] is the command name). */
  argc = 0
  /**
   * True when the request was an inline line: its arguments then live in the
   * parser's own decode buffer (argument bounds are offsets in it), and it must be
   * re-encoded before it is forwarded.
   */
  inline = false
  // 8 doubles = 64 bytes, the most V8 keeps on its heap: larger typed arrays cost a malloc'd
  // backing store per connection. pushArg grows them.
  private argStarts = new Float64Array(8)
  private argEnds = new Float64Array(8)
  /** Decoded inline arguments. */
  private ibuf: Buffer = Buffer.alloc(0)

  /** Set by `arg()`: where the argument lies in the returned buffer. */
  rs = 0
  re = 0

  /** After ERROR: the text (`Protocol error: ...`) and the absolute offset of the bad byte. */
  error = ''
  errorOffset = 0

  constructor(stream: InputStream, maxRequestSize: number = DEFAULT_MAX_REQUEST_SIZE) {
    this.stream = stream
    this.maxRequestSize = maxRequestSize
    this.pos = stream.end
    this.start = stream.end
    this.end = stream.end
  }

  /**
   * Absolute offset of the first byte the parser still needs: every chunk that
   * lies wholly before it may be released once the last frame was handed on.
   */
  get mark(): number {
    return this.state === S_START ? this.pos : this.start
  }

  /** Start of argument `i` (absolute stream offset, or an offset in the inline buffer). */
  argStart(i: number): number {
    return this.argStarts[i]!
  }

  argEnd(i: number): number {
    return this.argEnds[i]!
  }

  argLength(i: number): number {
    return this.argEnds[i]! - this.argStarts[i]!
  }

  /**
   * Argument `i` addressable as one buffer: returns it and sets `rs`/`re` to the
   * argument's bounds in it. Valid until the next call (it may be the stream's
   * scratch buffer when the argument straddles chunks).
   */
  arg(i: number): Buffer {
    const s = this.argStarts[i]!
    const e = this.argEnds[i]!
    if (this.inline) {
      this.rs = s | 0
      this.re = e | 0
      return this.ibuf
    }
    const buf = this.stream.resolve(s, e)
    this.rs = this.stream.rs
    this.re = this.stream.re
    return buf
  }

  /** Copies argument `i` into `target` at `at`. */
  copyArg(i: number, target: Buffer, at: number): void {
    const s = this.argStarts[i]!
    const e = this.argEnds[i]!
    if (this.inline) this.ibuf.copy(target, at, s, e)
    else this.stream.copyOut(s, e, target, at)
  }

  /** True when argument `i` equals the lowercase ASCII `lower`, ignoring ASCII case. */
  argIs(i: number, lower: string): boolean {
    if (this.argLength(i) !== lower.length) return false
    const buf = this.arg(i)
    const s = this.rs
    for (let k = 0; k < lower.length; k++) {
      let c = buf[s + k]!
      if (c >= 65 && c <= 90) c += 32
      if (c !== lower.charCodeAt(k)) return false
    }
    return true
  }

  /**
   * Scans on from where the last call stopped. FRAME: a request is complete
   * (`start`, `end`, `argc`, the argument accessors describe it). NEED_MORE:
   * every byte received so far is consumed. ERROR: `error` says why; the parser
   * stays dead.
   */
  next(): number {
    const stream = this.stream
    while (this.pos < stream.end) {
      if (this.state === S_DEAD) return ERROR
      const chunk = stream.resolve(this.pos, this.pos + 1)
      const base = this.pos - stream.rs
      const r = this.state === S_INLINE ? this.scanInline(chunk, base) : this.scan(chunk, base)
      if (r !== NEED_MORE) return r
    }
    return this.state === S_DEAD ? ERROR : NEED_MORE
  }

  private fail(text: string, at: number): number {
    this.state = S_DEAD
    this.error = text
    this.errorOffset = at
    return ERROR
  }

  private pushArg(s: number, e: number): void {
    const n = this.argc
    if (n === this.argStarts.length) {
      this.argStarts = doubled(this.argStarts)
      this.argEnds = doubled(this.argEnds)
    }
    this.argStarts[n] = s
    this.argEnds[n] = e
    this.argc = n + 1
  }

  /**
   * Frames a well-formed multibulk request that lies whole in `chunk` from `i0`
   * (its `*`), without the state machine. Anything else (a request cut by the
   * chunk's end, an odd number, a protocol error, a size over the cap) returns
   * false and leaves the parser as it was: the state machine then reads the same
   * bytes and reaches the same result.
   */
  private fastFrame(chunk: Buffer, base: number, i0: number): boolean {
    const len = chunk.length
    let i = lengthLine(chunk, i0 + 1)
    // No leading zero, not 0 (`*0` is skipped by the state machine).
    if (i < 0 || chunk[i0 + 1] === ZERO) return false
    const n = lengthRead.value
    const max = this.maxRequestSize
    this.argc = 0
    for (let a = 0; a < n; a++) {
      if (i >= len || chunk[i] !== DOLLAR) return this.unwind()
      const f = i + 1
      i = lengthLine(chunk, f)
      if (i < 0) return this.unwind()
      // A leading zero only in `$0`: more than one digit makes the line longer than 3 bytes.
      if (i - f > 3 && chunk[f] === ZERO) return this.unwind()
      const l = lengthRead.value
      const s = i
      i += l
      if (i + 1 >= len || chunk[i] !== CR || chunk[i + 1] !== LF) return this.unwind()
      if (l > max || i + 2 - i0 > max) return this.unwind()
      this.pushArg(base + s, base + i)
      i += 2
    }
    this.start = base + i0
    this.end = base + i
    this.pos = this.end
    this.inline = false
    return true
  }

  /** A fast attempt gave up: forget the arguments it recorded. */
  private unwind(): boolean {
    this.argc = 0
    return false
  }

  /** The multibulk state machine over `chunk` (whose byte 0 is absolute offset `base`). */
  private scan(chunk: Buffer, base: number): number {
    const len = chunk.length
    let i = this.pos - base
    while (i < len) {
      const c = chunk[i]!
      switch (this.state) {
        case S_START:
          // Most requests lie whole in one chunk: frame them in one pass with locals.
          if (c === STAR && this.fastFrame(chunk, base, i)) return FRAME
          this.start = base + i
          this.argc = 0
          this.inline = false
          if (c !== STAR) {
            this.state = S_INLINE
            this.pos = base + i
            return this.scanInline(chunk, base)
          }
          this.state = S_COUNT_FIRST
          this.num = 0
          this.digits = 0
          i++
          break

        case S_COUNT_FIRST:
          if (c === MINUS) {
            this.state = S_COUNT_NEG
            i++
            break
          }
          // The first digit: read it again in S_COUNT.
          this.state = S_COUNT
          continue

        case S_COUNT:
          if (c >= ZERO && c <= NINE) {
            // redis's string2ll: no leading zeros ("0" alone is fine).
            if (this.digits > 0 && this.num === 0) {
              return this.fail(PROTOCOL_ERRORS.multibulkLength, base + i)
            }
            this.num = this.num * 10 + (c - ZERO)
            this.digits++
            if (this.num > MAX_COUNT) return this.fail(PROTOCOL_ERRORS.multibulkLength, base + i)
            i++
          } else if (c === CR && this.digits > 0) {
            this.state = S_COUNT_LF
            i++
          } else {
            return this.fail(PROTOCOL_ERRORS.multibulkLength, base + i)
          }
          break

        case S_COUNT_NEG:
          // A negative count is an empty request, as in redis; "-0" is not a number.
          if (c >= ZERO && c <= NINE && !(this.digits === 0 && c === ZERO)) {
            this.digits++
            if (this.digits > 19) return this.fail(PROTOCOL_ERRORS.multibulkLength, base + i)
            i++
          } else if (c === CR && this.digits > 0) {
            this.num = 0
            this.state = S_COUNT_LF
            i++
          } else {
            return this.fail(PROTOCOL_ERRORS.multibulkLength, base + i)
          }
          break

        case S_COUNT_LF:
          if (c !== LF) return this.fail(PROTOCOL_ERRORS.multibulkLength, base + i)
          i++
          if (this.num === 0) {
            // `*0`, `*-1`: nothing to do, as redis.
            this.state = S_START
          } else {
            this.nargs = this.num
            this.state = S_DOLLAR
          }
          break

        case S_DOLLAR:
          if (c !== DOLLAR) {
            return this.fail(`${PROTOCOL_ERRORS.expectedDollar}${printable(c)}'`, base + i)
          }
          this.state = S_LEN
          this.num = 0
          this.digits = 0
          i++
          break

        case S_LEN:
          if (c >= ZERO && c <= NINE) {
            if (this.digits > 0 && this.num === 0) {
              return this.fail(PROTOCOL_ERRORS.bulkLength, base + i)
            }
            this.num = this.num * 10 + (c - ZERO)
            this.digits++
            // A single bulk over the cap is redis's own error (proto-max-bulk-len).
            if (this.num > this.maxRequestSize)
              return this.fail(PROTOCOL_ERRORS.bulkLength, base + i)
            i++
          } else if (c === CR && this.digits > 0) {
            this.state = S_LEN_LF
            i++
          } else {
            // Includes `$-1` (a null bulk) and `$` with no digits.
            return this.fail(PROTOCOL_ERRORS.bulkLength, base + i)
          }
          break

        case S_LEN_LF: {
          if (c !== LF) return this.fail(PROTOCOL_ERRORS.bulkLength, base + i)
          i++
          const at = base + i
          // R12: refuse now, before buffering a request that cannot be accepted.
          if (at - this.start + this.num + 2 > this.maxRequestSize) {
            return this.fail(PROTOCOL_ERRORS.tooLarge, at - 1)
          }
          this.pushArg(at, at + this.num)
          this.remaining = this.num
          this.state = this.num > 0 ? S_DATA : S_DATA_CR
          break
        }

        case S_DATA: {
          const take = Math.min(this.remaining, len - i)
          i += take
          this.remaining -= take
          if (this.remaining === 0) this.state = S_DATA_CR
          break
        }

        case S_DATA_CR:
          if (c !== CR) return this.fail(PROTOCOL_ERRORS.bulkCrlf, base + i)
          this.state = S_DATA_LF
          i++
          break

        case S_DATA_LF:
          if (c !== LF) return this.fail(PROTOCOL_ERRORS.bulkCrlf, base + i)
          i++
          if (this.argc === this.nargs) {
            this.state = S_START
            this.pos = base + i
            this.end = this.pos
            return FRAME
          }
          this.state = S_DOLLAR
          break

        default:
          return ERROR
      }
    }
    this.pos = base + i
    return NEED_MORE
  }

  /** Looks for the end of an inline line, then splits it. */
  private scanInline(chunk: Buffer, base: number): number {
    const from = this.pos - base
    const nl = chunk.indexOf(LF, from)
    if (nl < 0) {
      this.pos = base + chunk.length
      if (this.pos - this.start > INLINE_MAX) {
        return this.fail(PROTOCOL_ERRORS.inlineTooBig, this.start + INLINE_MAX)
      }
      return NEED_MORE
    }
    const lf = base + nl
    if (lf - this.start > INLINE_MAX) {
      return this.fail(PROTOCOL_ERRORS.inlineTooBig, this.start + INLINE_MAX)
    }
    this.pos = lf + 1
    let lineEnd = lf
    if (lineEnd > this.start && this.stream.byteAt(lineEnd - 1) === CR) lineEnd--
    this.state = S_START
    if (!this.splitInline(this.start, lineEnd)) {
      return this.fail(PROTOCOL_ERRORS.unbalancedQuotes, lf)
    }
    if (this.argc === 0) return NEED_MORE // an empty line: skipped, as redis does
    this.inline = true
    this.end = this.pos
    return FRAME
  }

  /**
   * Splits the line `[s, e)` into arguments the way redis's sdssplitargs does,
   * decoding them into `ibuf`. Returns false on unbalanced quotes (which include
   * a closing quote followed by anything but a space). One difference: a NUL
   * byte is an ordinary byte here (sdssplitargs, working on C strings, stops
   * there, and redis then waits for a newline it cannot see).
   */
  private splitInline(s: number, e: number): boolean {
    this.argc = 0
    const n = e - s
    if (n === 0) return true
    const line = this.stream.resolve(s, e)
    let p = this.stream.rs
    const end = this.stream.re
    if (this.ibuf.length < n) this.ibuf = Buffer.allocUnsafe(Math.max(n, 256, this.ibuf.length * 2))
    const out = this.ibuf
    let o = 0
    for (;;) {
      while (p < end && isSpace(line[p]!)) p++
      if (p >= end) return true
      const argStart = o
      let inDouble = false
      let inSingle = false
      for (;;) {
        if (inDouble) {
          if (p >= end) return false
          const c = line[p]!
          if (c === BACKSLASH && p + 3 < end && line[p + 1] === 120) {
            const hi = hexValue(line[p + 2]!)
            const lo = hexValue(line[p + 3]!)
            if (hi >= 0 && lo >= 0) {
              out[o++] = (hi << 4) | lo
              p += 4
              continue
            }
          }
          if (c === BACKSLASH && p + 1 < end) {
            const d = line[p + 1]!
            // \n \r \t \b \a, anything else stands for itself.
            out[o++] =
              d === 110 ? LF : d === 114 ? CR : d === 116 ? TAB : d === 98 ? 8 : d === 97 ? 7 : d
            p += 2
          } else if (c === DQUOTE) {
            // The closing quote must be followed by a space or the end of the line.
            if (p + 1 < end && !isSpace(line[p + 1]!)) return false
            p++
            break
          } else {
            out[o++] = c
            p++
          }
        } else if (inSingle) {
          if (p >= end) return false
          const c = line[p]!
          if (c === BACKSLASH && p + 1 < end && line[p + 1] === SQUOTE) {
            out[o++] = SQUOTE
            p += 2
          } else if (c === SQUOTE) {
            if (p + 1 < end && !isSpace(line[p + 1]!)) return false
            p++
            break
          } else {
            out[o++] = c
            p++
          }
        } else {
          if (p >= end) break
          const c = line[p]!
          // Only these end an unquoted word (not \v or \f, which isspace skips).
          if (c === SPACE || c === LF || c === CR || c === TAB) {
            p++
            break
          }
          if (c === DQUOTE) inDouble = true
          else if (c === SQUOTE) inSingle = true
          else out[o++] = c
          p++
        }
      }
      this.pushArg(argStart, o)
    }
  }
}
