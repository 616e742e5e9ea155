/**
 * Incremental parser for memcached ASCII replies, as they come back from a
 * server (memcached protocol.txt; ../shared/spec/memcache.md §3).
 *
 * One frame per request: a retrieval reply
 *   (VALUE <key> <flags> <bytes> [<cas>] CRLF <data> CRLF)* END CRLF
 * is ONE frame whatever the number of items, with each item's bounds (and its
 * key's) recorded; every other reply is one line: STORED, NOT_STORED, EXISTS,
 * NOT_FOUND, DELETED, TOUCHED, a number, VERSION <text>, ERROR [<text>],
 * CLIENT_ERROR <text>, SERVER_ERROR <text>. Anything else (e.g. `HELLO WORLD`)
 * is an ERROR result: the session fails the server connection, as nutcracker
 * does (`SERVER_ERROR Invalid argument` for the request).
 *
 * Lines are found with a resumable LF search (never rescanned), then classified
 * from one contiguous view (a copy only when a short line straddles chunks).
 * Data blocks are skipped by length: values of any size (1 MB default item
 * size, more when the server allows) cost one comparison per chunk.
 * The parser object itself is the ReplyFrame handed to the core (reused).
 */

import { doubled } from '../grow.js'
import type { InputStream, PieceSink } from '../stream.js'
import type { ReplyFrame } from '../types.js'

/** Reply kinds (ReplyFrame.kind). */
export const MC_VALUE = 1 // one or more VALUE items, then END
export const MC_END = 2 // END alone: no item found
export const MC_STORED = 3
export const MC_NOT_STORED = 4
export const MC_EXISTS = 5
export const MC_NOT_FOUND = 6
export const MC_DELETED = 7
export const MC_TOUCHED = 8
export const MC_NUMBER = 9 // incr/decr result
export const MC_VERSION = 10
export const MC_ERROR = 11
export const MC_CLIENT_ERROR = 12
export const MC_SERVER_ERROR = 13

/** next() results. */
export const RP_NEED_MORE = 0
export const RP_FRAME = 1
export const RP_ERROR = 2

/** Default cap on a reply line (not a data block): memcached's lines are far shorter. */
export const DEFAULT_MAX_REPLY_LINE = 8192

/** A memcache ReplyFrame: also the key bounds of each VALUE item. */
export interface MemcacheReplyFrame extends ReplyFrame {
  /** Absolute offsets of item `i`'s key in its VALUE line. */
  keyStart(i: number): number
  keyEnd(i: number): number
}

export interface ReplyParserOptions {
  /** Longest reply line accepted, CRLF included. Default 8192. */
  readonly maxLine?: number
}

const SP = 0x20
const CR = 0x0d
const LF = 0x0a
const D0 = 0x30
const D9 = 0x39

const S_LINE = 0 // looking for the LF of a line
const S_DATA = 1 // skipping a VALUE data block
const S_DATA_CR = 2
const S_DATA_LF = 3
const S_DEAD = 4

function ascii(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0))
}

const W_VALUE = ascii('VALUE')
const W_END = ascii('END')
const W_STORED = ascii('STORED')
const W_NOT_STORED = ascii('NOT_STORED')
const W_EXISTS = ascii('EXISTS')
const W_NOT_FOUND = ascii('NOT_FOUND')
const W_DELETED = ascii('DELETED')
const W_TOUCHED = ascii('TOUCHED')
const W_VERSION = ascii('VERSION')
const W_ERROR = ascii('ERROR')
const W_CLIENT_ERROR = ascii('CLIENT_ERROR')
const W_SERVER_ERROR = ascii('SERVER_ERROR')

/** `buf[s..s+n)` equals `w`. */
function is(buf: Uint8Array, s: number, n: number, w: Uint8Array): boolean {
  if (n !== w.length) return false
  for (let k = 0; k < n; k++) if (buf[s + k] !== w[k]) return false
  return true
}

/** `buf[s..s+n)` is `w`, or `w` SP <anything>. */
function isWord(buf: Uint8Array, s: number, n: number, w: Uint8Array): boolean {
  const len = w.length
  if (n < len || (n > len && buf[s + len] !== SP)) return false
  for (let k = 0; k < len; k++) if (buf[s + k] !== w[k]) return false
  return true
}

/** Index past the digits at `buf[i]` when there is at least one and a byte follows them in `buf[..to)`, else -1. */
function digitsEnd(buf: Buffer, i: number, to: number): number {
  const s = i
  while (i < to && buf[i]! >= D0 && buf[i]! <= D9) i++
  return i === s || i === to ? -1 : i
}

export class ReplyParser implements MemcacheReplyFrame, PieceSink {
  readonly stream: InputStream
  readonly maxLine: number

  // The last complete frame (valid until the next call to next()).
  start = 0
  end = 0
  kind = 0
  count = 0
  /** Bytes before this offset are no longer needed (release them). */
  consumed = 0

  private elemStarts = new Float64Array(8)
  private elemEnds = new Float64Array(8)
  private keyStarts = new Float64Array(8)
  private keyEnds = new Float64Array(8)

  private pos = 0
  private state = S_LINE
  private result = RP_NEED_MORE
  /** Start of the frame being parsed. */
  private cur = 0
  private lineStart = 0
  /** Items of the frame being parsed (becomes `count`). */
  private items = 0
  private dataEnd = 0

  constructor(stream: InputStream, options: ReplyParserOptions = {}) {
    this.stream = stream
    this.maxLine = options.maxLine ?? DEFAULT_MAX_REPLY_LINE
  }

  elemStart(i: number): number {
    return this.elemStarts[i]!
  }

  elemEnd(i: number): number {
    return this.elemEnds[i]!
  }

  keyStart(i: number): number {
    return this.keyStarts[i]!
  }

  keyEnd(i: number): number {
    return this.keyEnds[i]!
  }

  next(): number {
    if (this.state === S_DEAD) return RP_ERROR
    this.result = RP_NEED_MORE
    const stream = this.stream
    if (this.pos < stream.end) stream.pieces(this.pos, stream.end, this)
    if (this.result !== RP_NEED_MORE) return this.result
    if (this.state === S_LINE && this.pos - this.lineStart > this.maxLine) {
      // Same verdict as at the line's end, whatever the chunking.
      this.state = S_DEAD
      return RP_ERROR
    }
    this.consumed = this.cur
    return RP_NEED_MORE
  }

  /** @internal PieceSink: scans `buf[from..to)`, which starts at absolute offset `pos`. */
  piece(buf: Buffer, from: number, to: number): void {
    if (this.result !== RP_NEED_MORE) return
    const base = this.pos - from
    let i = from
    while (i < to) {
      switch (this.state) {
        case S_LINE: {
          // Most replies lie whole in the chunk in the common form: frame them in one pass.
          if (this.items === 0 && this.lineStart === base + i && this.fastReply(buf, i, to, base)) {
            this.pos = this.end
            return
          }
          const j = buf.indexOf(LF, i)
          if (j < 0 || j >= to) {
            i = to
            break
          }
          i = j + 1
          // The line lies in this piece unless it began in an earlier one.
          const ls = this.lineStart - base
          if (ls >= from ? this.line(buf, ls, base + i) : this.line(null, 0, base + i)) {
            this.pos = base + i
            return
          }
          break
        }
        case S_DATA: {
          const left = this.dataEnd - (base + i)
          if (left > to - i) {
            i = to
          } else {
            i += left
            this.state = S_DATA_CR
          }
          break
        }
        case S_DATA_CR: {
          if (buf[i] !== CR) {
            this.dead(base + i)
            return
          }
          this.state = S_DATA_LF
          i++
          break
        }
        case S_DATA_LF: {
          if (buf[i] !== LF) {
            this.dead(base + i)
            return
          }
          i++
          this.lineStart = base + i
          this.state = S_LINE
          break
        }
        default:
          this.pos = base + i
          return
      }
    }
    this.pos = base + i
  }

  /**
   * Frames the reply at `buf[i0]` without the line classifier when it lies whole
   * in `buf[i0..to)` in the common form: `STORED`, or VALUE items (single spaces,
   * key bytes above SP, a `bytes` of at most 10 digits, an optional cas) then
   * `END`. Anything else (another reply, a cut, extra spaces, an error) returns
   * false and leaves the frame to the line classifier, which reads the same
   * bytes from the same offset and reaches the same result. A failed try may
   * have overwritten the item arrays, which only hold the last frame until the
   * next call to next().
   */
  private fastReply(buf: Buffer, i0: number, to: number, base: number): boolean {
    let i = i0
    if (buf[i] === 0x53) {
      // STORED CR LF
      if (i + 8 > to || 8 > this.maxLine) return false
      for (let k = 1; k < 6; k++) if (buf[i + k] !== W_STORED[k]) return false
      if (buf[i + 6] !== CR || buf[i + 7] !== LF) return false
      return this.frame(MC_STORED, base + i + 8)
    }
    let n = 0
    while (i < to && buf[i] === 0x56) {
      // VALUE SP key SP flags SP bytes [SP cas] CR LF data CR LF
      const ls = i
      if (i + 6 > to) return false
      for (let k = 1; k < 5; k++) if (buf[i + k] !== W_VALUE[k]) return false
      if (buf[i + 5] !== SP) return false
      i += 6
      const ks = i
      while (i < to && buf[i]! > SP) i++
      const ke = i
      if (ke === ks || i === to || buf[i] !== SP) return false
      i = digitsEnd(buf, i + 1, to)
      if (i < 0 || buf[i] !== SP) return false
      const bs = i + 1
      i = digitsEnd(buf, bs, to)
      if (i < 0 || i - bs > 10) return false
      let bytes = 0
      for (let k = bs; k < i; k++) bytes = bytes * 10 + (buf[k]! - D0)
      if (bytes > 0xffffffff) return false
      if (buf[i] === SP) {
        i = digitsEnd(buf, i + 1, to)
        if (i < 0) return false
      }
      if (buf[i] !== CR || i + 1 === to || buf[i + 1] !== LF) return false
      const lineEnd = i + 2
      if (lineEnd - ls > this.maxLine) return false
      const dataEnd = lineEnd + bytes
      if (dataEnd + 2 > to || buf[dataEnd] !== CR || buf[dataEnd + 1] !== LF) return false
      if (n === this.elemStarts.length) this.grow()
      this.elemStarts[n] = base + ls
      this.elemEnds[n] = base + dataEnd + 2
      this.keyStarts[n] = base + ks
      this.keyEnds[n] = base + ke
      n++
      i = dataEnd + 2
    }
    // END CR LF
    if (i + 5 > to || 5 > this.maxLine) return false
    if (buf[i] !== 0x45 || buf[i + 1] !== 0x4e || buf[i + 2] !== 0x44) return false
    if (buf[i + 3] !== CR || buf[i + 4] !== LF) return false
    this.items = n
    return this.frame(n > 0 ? MC_VALUE : MC_END, base + i + 5)
  }

  private dead(at: number): void {
    this.pos = at
    this.state = S_DEAD
    this.result = RP_ERROR
  }

  /**
   * A line `[lineStart, lineEnd)` ended with LF; it starts at `buf[at]` when the
   * caller has it in one piece (`buf` null: resolved here). Returns true when
   * next() must return.
   */
  private line(piece: Buffer | null, at: number, lineEnd: number): boolean {
    const lineStart = this.lineStart
    const len = lineEnd - lineStart
    if (len > this.maxLine) {
      this.dead(lineEnd)
      return true
    }
    let buf: Uint8Array
    let s: number
    if (piece !== null) {
      buf = piece
      s = at
    } else {
      buf = this.stream.resolve(lineStart, lineEnd)
      s = this.stream.rs
    }
    const n = len - 2 // without CRLF
    if (n < 0 || buf[s + n] !== CR) {
      this.dead(lineEnd)
      return true
    }
    if (this.items > 0) {
      // Inside a retrieval reply: more items, or END.
      if (is(buf, s, n, W_END)) return this.frame(MC_VALUE, lineEnd)
      if (isWord(buf, s, n, W_VALUE) && this.valueLine(buf, s, n, lineEnd)) return false
      this.dead(lineEnd)
      return true
    }
    let kind = 0
    switch (buf[s]) {
      case 0x56: // V
        if (isWord(buf, s, n, W_VALUE)) {
          if (this.valueLine(buf, s, n, lineEnd)) return false
        } else if (isWord(buf, s, n, W_VERSION)) {
          kind = MC_VERSION
        }
        break
      case 0x45: // E
        if (is(buf, s, n, W_END)) kind = MC_END
        else if (is(buf, s, n, W_EXISTS)) kind = MC_EXISTS
        else if (isWord(buf, s, n, W_ERROR)) kind = MC_ERROR
        break
      case 0x53: // S
        if (is(buf, s, n, W_STORED)) kind = MC_STORED
        else if (isWord(buf, s, n, W_SERVER_ERROR)) kind = MC_SERVER_ERROR
        break
      case 0x4e: // N
        if (is(buf, s, n, W_NOT_STORED)) kind = MC_NOT_STORED
        else if (is(buf, s, n, W_NOT_FOUND)) kind = MC_NOT_FOUND
        break
      case 0x44: // D
        if (is(buf, s, n, W_DELETED)) kind = MC_DELETED
        break
      case 0x54: // T
        if (is(buf, s, n, W_TOUCHED)) kind = MC_TOUCHED
        break
      case 0x43: // C
        if (isWord(buf, s, n, W_CLIENT_ERROR)) kind = MC_CLIENT_ERROR
        break
      default: {
        let k = 0
        while (k < n && buf[s + k]! >= D0 && buf[s + k]! <= D9) k++
        if (n > 0 && k === n) kind = MC_NUMBER
      }
    }
    if (kind === 0) {
      this.dead(lineEnd)
      return true
    }
    return this.frame(kind, lineEnd)
  }

  /**
   * `VALUE <key> <flags> <bytes> [<cas>]`: records the item and enters its data
   * block. Returns false when the line is malformed.
   */
  private valueLine(buf: Uint8Array, s: number, n: number, lineEnd: number): boolean {
    const e = s + n
    let k = s + W_VALUE.length
    while (k < e && buf[k] === SP) k++
    const keyAt = k
    while (k < e && buf[k] !== SP) k++
    const keyEndAt = k
    if (keyEndAt === keyAt) return false
    // flags, bytes, [cas]: digits separated by spaces.
    let field = 0
    let bytes = 0
    for (;;) {
      while (k < e && buf[k] === SP) k++
      if (k === e) break
      const at = k
      let v = 0
      while (k < e && buf[k]! >= D0 && buf[k]! <= D9) {
        if (v <= 0xffffffff) v = v * 10 + (buf[k]! - D0)
        k++
      }
      if (k === at || (k < e && buf[k] !== SP)) return false
      if (field === 1) bytes = v
      field++
    }
    if (field < 2 || field > 3 || bytes > 0xffffffff) return false
    const base = this.lineStart - s
    const i = this.items
    if (i === this.elemStarts.length) this.grow()
    this.elemStarts[i] = this.lineStart
    this.elemEnds[i] = lineEnd + bytes + 2
    this.keyStarts[i] = base + keyAt
    this.keyEnds[i] = base + keyEndAt
    this.items = i + 1
    this.dataEnd = lineEnd + bytes
    this.state = S_DATA
    return true
  }

  /** A frame `[cur, lineEnd)` is complete. */
  private frame(kind: number, lineEnd: number): true {
    this.start = this.cur
    this.end = lineEnd
    this.kind = kind
    this.count = this.items
    this.items = 0
    this.cur = lineEnd
    this.lineStart = lineEnd
    this.result = RP_FRAME
    return true
  }

  private grow(): void {
    this.elemStarts = doubled(this.elemStarts)
    this.elemEnds = doubled(this.elemEnds)
    this.keyStarts = doubled(this.keyStarts)
    this.keyEnds = doubled(this.keyEnds)
  }
}
