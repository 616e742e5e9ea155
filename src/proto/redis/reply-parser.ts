/**
 * Incremental framer for the RESP2 replies a redis server sends (server → proxy).
 *
 *   +<line>\r\n   -<line>\r\n   :<integer>\r\n
 *   $<len>\r\n<len bytes>\r\n   $-1\r\n
 *   *<n>\r\n<n values>          *-1\r\n
 *
 * It only finds where each reply ends (replies are passed on as the bytes the
 * server sent); it records the type byte and, for an array, the bounds of its
 * top-level elements (what an MGET merge needs). Arrays nest to any depth
 * through an explicit stack of remaining-element counts, never recursion. Bulk
 * payloads are skipped by length. State lives in fields, so a reply may arrive
 * one byte at a time.
 *
 * Anything else (an unknown type byte, RESP3's `_ , % ~ # ( = > |`, a
 * malformed length) is an error: the session then fails the server connection
 * with `Invalid argument`, as nutcracker does (spec §8.1).
 *
 * The parser object is itself the ReplyFrame handed to the core: its fields
 * describe the last complete reply until `next()` is called again.
 */

import { doubled } from '../grow.js'
import type { InputStream } from '../stream.js'
import type { ReplyFrame } from '../types.js'
import { lengthLine, lengthRead } from './length-line.js'

export const NEED_MORE = 0
export const FRAME = 1
export const ERROR = 2

/** Reply kinds: the type byte. */
export const KIND_STATUS = 43 // +
export const KIND_ERROR = 45 // -
export const KIND_INTEGER = 58 // :
export const KIND_BULK = 36 // $
export const KIND_ARRAY = 42 // *

const CR = 13
const LF = 10
const MINUS = 45
const ZERO = 48
const NINE = 57
/** Lengths beyond 15 digits cannot be real (and would lose precision). */
const MAX_DIGITS = 15

// States.
const S_TYPE = 0 // at a value's type byte
const S_LINE = 1 // status / error text, until CR
const S_LINE_LF = 2
const S_INT_FIRST = 3 // ':' then '-' or a digit
const S_INT = 4
const S_LEN_FIRST = 5 // after '$' or '*': "-1" or digits
const S_LEN_NEG = 6 // after '-': only "1" may follow
const S_LEN = 7
const S_LEN_LF = 8
const S_DATA = 9
const S_DATA_CR = 10
const S_DATA_LF = 11
const S_DEAD = 12

export class ReplyParser implements ReplyFrame {
  readonly stream: InputStream

  private state = S_TYPE
  private pos = 0
  /** Type byte of the value whose length is being read ('$' or '*'). */
  private lenKind = 0
  private num = 0
  private digits = 0
  private negative = false
  private remaining = 0
  /** Remaining elements of each open array; `depth` arrays are open. */
  private stack = new Float64Array(32)
  private depth = 0
  private starts = new Float64Array(16)
  private ends = new Float64Array(16)

  start = 0
  end = 0
  kind = 0
  count = 0

  /** After ERROR: why, and where. */
  error = ''
  errorOffset = 0

  constructor(stream: InputStream) {
    this.stream = stream
    this.pos = stream.end
    this.start = stream.end
    this.end = stream.end
  }

  /** First byte still needed (chunks wholly before it may be released). */
  get mark(): number {
    return this.state === S_TYPE && this.depth === 0 ? this.pos : this.start
  }

  elemStart(i: number): number {
    return this.starts[i]!
  }

  elemEnd(i: number): number {
    return this.ends[i]!
  }

  next(): number {
    const stream = this.stream
    while (this.pos < stream.end) {
      if (this.state === S_DEAD) return ERROR
      const chunk = stream.resolve(this.pos, this.pos + 1)
      const r = this.scan(chunk, this.pos - stream.rs)
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

  /** A value ended at `at`: pop finished arrays; FRAME when the top-level reply is done. */
  private valueDone(at: number): boolean {
    for (;;) {
      const d = this.depth
      if (d === 0) {
        this.end = at
        this.state = S_TYPE
        return true
      }
      if (d === 1) this.ends[this.count - 1] = at
      const left = this.stack[d - 1]! - 1
      this.stack[d - 1] = left
      this.state = S_TYPE
      if (left > 0) return false
      this.depth = d - 1
    }
  }

  private beginElement(at: number): void {
    const n = this.count
    if (n === this.starts.length) this.growElements()
    this.starts[n] = at
    this.count = n + 1
  }

  private growElements(): void {
    this.starts = doubled(this.starts)
    this.ends = doubled(this.ends)
  }

  private pushArray(n: number): void {
    const d = this.depth
    if (d === this.stack.length) this.stack = doubled(this.stack)
    this.stack[d] = n
    this.depth = d + 1
  }

  /**
   * Frames a reply that lies whole in `chunk` from `i0` without the state
   * machine: a status, error, integer or bulk reply, or an array of those (an
   * MGET reply). Anything else (cut by the chunk's end, nested, malformed)
   * returns false and leaves the frame to the state machine, which reads the
   * same bytes from the same offset and reaches the same result.
   */
  private fastReply(chunk: Buffer, base: number, i0: number): boolean {
    const t = chunk[i0]!
    let i: number
    let count = 0
    if (t === 42) {
      i = lengthLine(chunk, i0 + 1)
      if (i < 0) return false
      const n = lengthRead.value
      const len = chunk.length
      // Every element takes 3 bytes or more: a count the chunk cannot hold is left to the
      // state machine, so a huge count never sizes anything here.
      if (n === 0 || n > (len - i) / 3) return false
      for (let k = 0; k < n; k++) {
        const e = simpleEnd(chunk, i)
        if (e < 0) return false
        if (k === this.starts.length) this.growElements()
        this.starts[k] = base + i
        this.ends[k] = base + e
        i = e
      }
      count = n
    } else {
      i = simpleEnd(chunk, i0)
      if (i < 0) return false
    }
    this.start = base + i0
    this.kind = t
    this.count = count
    this.end = base + i
    this.pos = this.end
    return true
  }

  private scan(chunk: Buffer, base: number): number {
    const len = chunk.length
    let i = this.pos - base
    while (i < len) {
      const c = chunk[i]!
      switch (this.state) {
        case S_TYPE:
          if (this.depth === 0) {
            // Most replies are one simple value lying whole in the chunk: frame it in one pass.
            if (this.fastReply(chunk, base, i)) return FRAME
            this.start = base + i
            this.kind = c
            this.count = 0
          } else if (this.depth === 1) {
            this.beginElement(base + i)
          }
          if (c === 43 || c === 45) {
            this.state = S_LINE
          } else if (c === 58) {
            this.state = S_INT_FIRST
          } else if (c === 36 || c === 42) {
            this.lenKind = c
            this.num = 0
            this.digits = 0
            this.negative = false
            this.state = S_LEN_FIRST
          } else {
            return this.fail(`unknown reply type byte ${c}`, base + i)
          }
          i++
          break

        case S_LINE: {
          const cr = chunk.indexOf(CR, i)
          if (cr < 0) {
            i = len
          } else {
            i = cr + 1
            this.state = S_LINE_LF
          }
          break
        }

        case S_LINE_LF:
          if (c !== LF) return this.fail('CR not followed by LF', base + i)
          i++
          if (this.valueDone(base + i)) {
            this.pos = base + i
            return FRAME
          }
          break

        case S_INT_FIRST:
          this.digits = 0
          this.state = S_INT
          if (c === MINUS) {
            i++
            break
          }
          continue

        case S_INT:
          if (c >= ZERO && c <= NINE) {
            this.digits++
            i++
          } else if (c === CR && this.digits > 0) {
            this.state = S_LINE_LF
            i++
          } else {
            return this.fail('malformed integer reply', base + i)
          }
          break

        case S_LEN_FIRST:
          if (c === MINUS) {
            this.negative = true
            this.state = S_LEN_NEG
            i++
            break
          }
          this.state = S_LEN
          continue

        case S_LEN_NEG:
          // Only -1 (null bulk, null array) is a valid negative length.
          if (c !== 49) return this.fail('malformed length', base + i)
          this.digits = 1
          this.num = 1
          this.state = S_LEN
          i++
          break

        case S_LEN:
          if (c === CR && this.digits > 0) {
            this.state = S_LEN_LF
            i++
          } else if (c >= ZERO && c <= NINE && !this.negative) {
            this.num = this.num * 10 + (c - ZERO)
            if (++this.digits > MAX_DIGITS) return this.fail('length too long', base + i)
            i++
          } else {
            return this.fail('malformed length', base + i)
          }
          break

        case S_LEN_LF: {
          if (c !== LF) return this.fail('CR not followed by LF', base + i)
          i++
          const at = base + i
          if (this.lenKind === 36) {
            if (this.negative) {
              if (this.valueDone(at)) {
                this.pos = at
                return FRAME
              }
            } else {
              this.remaining = this.num
              this.state = this.num > 0 ? S_DATA : S_DATA_CR
            }
          } else if (this.negative || this.num === 0) {
            // *-1 or *0: a complete value.
            if (this.valueDone(at)) {
              this.pos = at
              return FRAME
            }
          } else {
            this.pushArray(this.num)
            this.state = S_TYPE
          }
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
          if (c !== CR) return this.fail('bulk data not followed by CRLF', base + i)
          this.state = S_DATA_LF
          i++
          break

        case S_DATA_LF:
          if (c !== LF) return this.fail('bulk data not followed by CRLF', base + i)
          i++
          if (this.valueDone(base + i)) {
            this.pos = base + i
            return FRAME
          }
          break

        default:
          return ERROR
      }
    }
    this.pos = base + i
    return NEED_MORE
  }
}

/**
 * End (index one past) of the status, error, integer or bulk value at `chunk[i0]`
 * when it lies whole and well-formed in `chunk`; -1 for anything else.
 */
function simpleEnd(chunk: Buffer, i0: number): number {
  const len = chunk.length
  if (i0 >= len) return -1
  const t = chunk[i0]!
  let i = i0 + 1
  if (t === 43 || t === 45) {
    const cr = chunk.indexOf(CR, i)
    if (cr < 0 || cr + 1 >= len || chunk[cr + 1] !== LF) return -1
    return cr + 2
  }
  if (t === 58) {
    if (i < len && chunk[i] === MINUS) i++
    const f = i
    while (i < len && chunk[i]! >= ZERO && chunk[i]! <= NINE) i++
    if (i === f || i + 1 >= len || chunk[i] !== CR || chunk[i + 1] !== LF) return -1
    return i + 2
  }
  if (t !== 36) return -1
  if (i < len && chunk[i] === MINUS) {
    // Only `$-1` (a null bulk) is a valid negative length.
    if (i + 3 >= len || chunk[i + 1] !== 49 || chunk[i + 2] !== CR || chunk[i + 3] !== LF) {
      return -1
    }
    return i + 4
  }
  const data = lengthLine(chunk, i)
  if (data < 0) return -1
  i = data + lengthRead.value
  if (i + 1 >= len || chunk[i] !== CR || chunk[i + 1] !== LF) return -1
  return i + 2
}
