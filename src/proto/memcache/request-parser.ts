/**
 * Incremental parser for memcached ASCII requests, as nutcracker 0.5.0 accepts
 * them (../shared/spec/memcache.md §2), with walnut's deviations M1-M4
 * (../shared/spec/deviations.md).
 *
 * A resumable byte-level state machine over an InputStream: state lives in
 * fields between chunks, so scanning never restarts from the frame start; a
 * data block is skipped by length, never scanned; keys are recorded as absolute
 * stream offsets (all keys of a get/gets, in order, in reused growable arrays).
 * No sockets, timers, logger, exceptions or per-frame allocation.
 *
 *   frame = SP* name (SP+ token)* SP* CR LF [data CR LF]
 *
 * `next()` returns one of:
 *  - NEED_MORE: wait for the next chunk;
 *  - REQUEST: a valid request; its fields (`kind`, `start`, `end`, keys,
 *    `noreply`, `lineEnd`, `dataStart`, `dataEnd`) are valid until the next call;
 *  - REJECT: an invalid request whose framing is known; answer `rejectReply`
 *    (unless `noreply`), the connection stays usable. For a storage command the
 *    data block that follows is then discarded by the next calls (checked for
 *    its CRLF like any data block);
 *  - FATAL: the framing is lost; answer `rejectReply`, then close. Sticky.
 */

import { doubled } from '../grow.js'
import type { InputStream, PieceSink } from '../stream.js'
import {
  CMD_DECR,
  CMD_DELETE,
  CMD_GET,
  CMD_GETS,
  CMD_INCR,
  CMD_SET,
  CMD_TOUCH,
  KIND_BY_CODE,
  nameStep,
  SYN_BARE,
  SYN_CAS,
  SYN_RETRIEVAL,
  SYN_STORAGE,
  SYNTAX_OF,
} from './commands.js'

export const NEED_MORE = 0
export const REQUEST = 1
export const REJECT = 2
export const FATAL = 3

/** memcached's KEY_MAX_LENGTH; nutcracker's MEMCACHE_MAX_KEY_LENGTH. */
export const MAX_KEY_LENGTH = 250
/** Default cap on one request (command line + data block), like redis's proto-max-bulk-len. */
export const DEFAULT_MAX_REQUEST_SIZE = 512 * 1024 * 1024
/** `bytes` is an unsigned 32-bit number (nutcracker parses it into a uint32_t). */
const MAX_BYTES = 0xffffffff

/** Why a request was rejected; index into REJECT_REPLIES. */
export const E_NONE = 0
/** M1: unknown or unsupported command (also upper-case names, the empty line). */
export const E_UNKNOWN = 1
/** M2: bad token, key > 250 bytes, missing or extra tokens. */
export const E_FORMAT = 2
/** M2, `delete` (memcached's own text, two spaces included). */
export const E_DELETE_FORMAT = 3
/** M2, `incr`/`decr` value that is not `-`? digits. */
export const E_DELTA = 4
/** M2, `touch` exptime that is not `-`? digits. */
export const E_EXPTIME = 5
/** M3: data block not followed by CR LF. Closes. */
export const E_DATA = 6
/** Request larger than `maxRequestSize` (line + data); the data block is discarded. */
export const E_TOO_LARGE = 7
/** Command line longer than `maxRequestSize` without its CR LF. Closes. */
export const E_LINE_TOO_LONG = 8
/** First byte 0x80: a binary-protocol client. Closes. */
export const E_BINARY = 9

/** The reply for each E_* code. memcached's wording wherever memcached has one. */
export const REJECT_TEXT: readonly string[] = [
  '',
  'ERROR\r\n',
  'CLIENT_ERROR bad command line format\r\n',
  'CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n',
  'CLIENT_ERROR invalid numeric delta argument\r\n',
  'CLIENT_ERROR invalid exptime argument\r\n',
  'CLIENT_ERROR bad data chunk\r\n',
  'SERVER_ERROR object too large for cache\r\n',
  'CLIENT_ERROR line too long\r\n',
  'CLIENT_ERROR binary protocol is not supported\r\n',
]

/** Shared, never-mutated reply buffers for REJECT_TEXT. */
export const REJECT_REPLIES: readonly Buffer[] = REJECT_TEXT.map((t) => Buffer.from(t, 'latin1'))

const SP = 0x20
const CR = 0x0d
const LF = 0x0a
const NUL = 0x00
const MINUS = 0x2d
const D0 = 0x30
const D9 = 0x39
const BINARY_MAGIC = 0x80
const NOREPLY = [0x6e, 0x6f, 0x72, 0x65, 0x70, 0x6c, 0x79] // 'noreply'

// States. Line states first: anything < S_DATA is inside a command line.
const S_START = 0 // first byte of a frame
const S_LEAD = 1 // leading spaces
const S_NAME = 2 // command name
const S_GAP = 3 // spaces between tokens
const S_KEY = 4 // a key
const S_NUM = 5 // a number (flags, exptime, bytes, cas, incr/touch value)
const S_WORD = 6 // the token in the `noreply` position
const S_EXTRA = 7 // a token with no place in the layout
const S_CR = 8 // CR seen, LF expected
const S_SKIP = 9 // rest of a bad line, up to CR LF
const S_SKIP_CR = 10 // CR seen while skipping
const S_DATA = 11 // data block, skipped by length
const S_DATA_CR = 12 // CR after the data block
const S_DATA_LF = 13 // LF after the data block
const S_DEAD = 14 // after FATAL

// Token types, by layout position.
const T_KEY = 0
const T_UNUM = 1 // digits only (flags, cas unique)
const T_SNUM = 2 // `-`? digits (exptime: M4; incr/decr/touch value)
const T_BYTES = 3 // digits, unsigned 32-bit
const T_NOREPLY = 4
const T_EXTRA = 5

/** Token types per syntax; positions past the end are T_EXTRA. */
const LAYOUT: readonly (readonly number[])[] = [
  [], // SYN_RETRIEVAL: every token is a key (handled apart)
  [T_KEY, T_UNUM, T_SNUM, T_BYTES, T_NOREPLY],
  [T_KEY, T_UNUM, T_SNUM, T_BYTES, T_UNUM, T_NOREPLY],
  [T_KEY, T_NOREPLY],
  [T_KEY, T_SNUM, T_NOREPLY],
  [T_KEY, T_SNUM, T_NOREPLY],
  [],
]
/** Required tokens per syntax (the optional `noreply` is not counted). */
const REQUIRED = [1, 4, 5, 1, 2, 2, 0]

export interface RequestParserOptions {
  /** Largest request accepted (command line + data block + CRLF). Default 512 MiB. */
  readonly maxRequestSize?: number
}

/**
 * Index past the 1 to 18 digits at `buf[i]` (fewer than 19: the parser's
 * `longNumber` stays false), or -1. Stops at the first non-digit, at the line's
 * CR at the latest.
 */
function digitsEnd(buf: Buffer, i: number): number {
  const s = i
  while (buf[i]! >= D0 && buf[i]! <= D9) i++
  return i === s || i - s > 18 ? -1 : i
}

export class RequestParser implements PieceSink {
  readonly stream: InputStream
  readonly maxRequestSize: number

  /** Absolute offsets of the current frame: from its first byte (leading spaces included) to one past its end. */
  start = 0
  end = 0
  /** CMD_* of the current frame; 0 while unknown. */
  kind = 0
  /** The command line ends (one past its LF) here. */
  lineEnd = 0
  /** Data block bounds (storage commands; without its CRLF), else -1. */
  dataStart = -1
  dataEnd = -1
  /** Whether the request carries `noreply` (storage, cas, delete, incr, decr, touch). */
  noreply = false
  /** Number of keys recorded (get/gets: all; other keyed commands: 1). */
  nkeys = 0
  /** A key holds LF or NUL (noted while scanning, so the session need not rescan keys). */
  keyLfNul = false
  /**
   * A number token (flags, exptime, cas unique, ...) has 19 digits or more, leading
   * zeros included: the session then checks it against memcached's 64-bit bounds.
   */
  longNumber = false
  /** E_* reason of a REJECT or FATAL. */
  error = E_NONE
  /** Absolute offset of the offending token or byte of a REJECT or FATAL. */
  errorAt = -1
  /** Bytes before this offset are no longer needed by the parser (release them). */
  consumed = 0

  // 64 bytes each: kept on V8's heap (see the redis request parser); grown on demand.
  private keyStarts = new Float64Array(8)
  private keyEnds = new Float64Array(8)

  // Scanning state, kept between chunks.
  private pos = 0
  private state = S_START
  private result = NEED_MORE
  private syntax = SYN_BARE
  private nameCode = 0
  private nameLen = 0
  /** Index of the token being scanned, counting from the first after the name. */
  private tok = 0
  private tokType = T_EXTRA
  private tokStart = 0
  // Number token accumulators.
  private numDigits = 0
  private numBad = false
  private numValue = 0
  // `noreply` token matcher: bytes matched so far, or -1 on mismatch.
  private wordAt = 0
  /** `bytes` of a storage command, or -1 when missing or unreadable. */
  private bytes = -1
  /** Discarding a rejected request's data block (no REQUEST at its end). */
  private swallowing = false

  constructor(stream: InputStream, options: RequestParserOptions = {}) {
    this.stream = stream
    this.maxRequestSize = options.maxRequestSize ?? DEFAULT_MAX_REQUEST_SIZE
  }

  /** Absolute start offset of key `i` (0 <= i < nkeys). */
  keyStart(i: number): number {
    return this.keyStarts[i]!
  }

  /** Absolute end offset of key `i`. */
  keyEnd(i: number): number {
    return this.keyEnds[i]!
  }

  /** The reply for the current REJECT or FATAL. */
  get rejectReply(): Buffer {
    return REJECT_REPLIES[this.error]!
  }

  /** Parses on from where the last call stopped. */
  next(): number {
    if (this.state === S_DEAD) return FATAL
    this.result = NEED_MORE
    const stream = this.stream
    if (this.pos < stream.end) stream.pieces(this.pos, stream.end, this)
    if (this.result !== NEED_MORE) return this.result
    const state = this.state
    if (state < S_DATA && state !== S_START && this.pos - this.start > this.maxRequestSize) {
      // Deterministic whatever the chunking: the same check runs at the line's end.
      this.fail(E_LINE_TOO_LONG, this.start + this.maxRequestSize)
      return FATAL
    }
    // The bytes of a frame that will be forwarded stay; anything else may go.
    this.consumed =
      state === S_START || this.swallowing || this.error !== E_NONE ? this.pos : this.start
    return NEED_MORE
  }

  /** @internal PieceSink: scans `buf[from..to)`, which starts at absolute offset `pos`. */
  piece(buf: Buffer, from: number, to: number): void {
    if (this.result !== NEED_MORE) return
    const base = this.pos - from
    let i = from
    while (i < to) {
      switch (this.state) {
        case S_START: {
          // Most requests are a plain get or set lying whole in the chunk: one pass.
          if (this.fastRequest(buf, i, to, base)) {
            this.pos = this.end
            return
          }
          this.beginFrame(base + i)
          if (buf[i] === BINARY_MAGIC) {
            this.fail(E_BINARY, base + i)
            this.pos = base + i
            return
          }
          this.state = S_LEAD
          break
        }
        case S_LEAD: {
          while (i < to && buf[i] === SP) i++
          if (i < to) this.state = S_NAME
          break
        }
        case S_NAME: {
          let code = this.nameCode
          let len = this.nameLen
          let j = i
          while (j < to) {
            const c = buf[j]!
            if (c === SP || c === CR) break
            code = nameStep(code, len, c)
            len++
            j++
          }
          this.nameCode = code
          this.nameLen = len
          i = j
          if (j < to) {
            this.endName(buf[j] === CR, base + j)
            i++
          }
          break
        }
        case S_GAP: {
          while (i < to && buf[i] === SP) i++
          if (i === to) break
          if (buf[i] === CR) {
            this.state = S_CR
            i++
          } else {
            this.beginToken(base + i)
          }
          break
        }
        case S_KEY: {
          // Anything but SP and CR is key data (tab, LF, control bytes, UTF-8).
          let j = i
          while (j < to) {
            const c = buf[j]!
            if (c <= SP) {
              if (c === SP || c === CR) break
              if (c === LF || c === NUL) this.keyLfNul = true
            }
            j++
          }
          i = j
          if (j < to) {
            this.endKey(base + j)
            this.state = buf[j] === CR ? S_CR : S_GAP
            i++
          }
          break
        }
        case S_NUM: {
          const c = buf[i]!
          if (c === SP || c === CR) {
            this.endNumber()
            this.state = c === CR ? S_CR : S_GAP
          } else if (c >= D0 && c <= D9) {
            this.numDigits++
            if (this.tokType === T_BYTES && this.numValue <= MAX_BYTES) {
              this.numValue = this.numValue * 10 + (c - D0)
            }
          } else if (!(c === MINUS && this.tokType === T_SNUM && base + i === this.tokStart)) {
            this.numBad = true
          }
          i++
          break
        }
        case S_WORD: {
          const c = buf[i]!
          if (c === SP || c === CR) {
            this.endWord()
            this.state = c === CR ? S_CR : S_GAP
          } else if (this.wordAt >= 0) {
            this.wordAt = this.wordAt < 7 && NOREPLY[this.wordAt] === c ? this.wordAt + 1 : -1
          }
          i++
          break
        }
        case S_EXTRA: {
          while (i < to && buf[i] !== SP && buf[i] !== CR) i++
          if (i < to) {
            this.state = buf[i] === CR ? S_CR : S_GAP
            i++
          }
          break
        }
        case S_CR: {
          if (buf[i] === LF) {
            i++
            if (this.endLine(base + i)) {
              this.pos = base + i
              return
            }
          } else {
            // A CR that does not end the line: no valid token holds a CR.
            this.setError(E_FORMAT, base + i)
            this.state = S_SKIP
          }
          break
        }
        case S_SKIP: {
          const j = buf.indexOf(CR, i)
          if (j < 0 || j >= to) {
            i = to
          } else {
            i = j + 1
            this.state = S_SKIP_CR
          }
          break
        }
        case S_SKIP_CR: {
          const c = buf[i]!
          if (c === LF) {
            i++
            if (this.endLine(base + i)) {
              this.pos = base + i
              return
            }
          } else {
            if (c !== CR) this.state = S_SKIP
            i++
          }
          break
        }
        case S_DATA: {
          // Skipped by length: a 1 MB value costs one comparison per chunk.
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
            this.fail(E_DATA, base + i)
            this.pos = base + i
            return
          }
          this.state = S_DATA_LF
          i++
          break
        }
        case S_DATA_LF: {
          if (buf[i] !== LF) {
            this.fail(E_DATA, base + i)
            this.pos = base + i
            return
          }
          i++
          this.state = S_START
          if (!this.swallowing) {
            this.end = base + i
            this.result = REQUEST
            this.pos = base + i
            return
          }
          this.swallowing = false
          break
        }
        default:
          // S_DEAD: nothing more is parsed.
          this.pos = base + i
          return
      }
    }
    this.pos = base + i
  }

  /**
   * Frames the request at `buf[i0]` without the state machine when it is in the
   * common form and lies whole in `buf[i0..to)`: `get`/`gets` and single-space
   * separated keys, or `set <key> <flags> <exptime> <bytes> [noreply]` and its
   * data block; keys of bytes above SP, numbers of at most 18 digits. Anything
   * else (another command, a cut, extra spaces, a control byte, an error)
   * returns false and leaves the frame to the state machine, which reads the
   * same bytes from the same offset and reaches the same result. A failed try
   * may have overwritten the key arrays: the last frame's fields are only valid
   * until the next call to next(), as documented.
   */
  private fastRequest(buf: Buffer, i0: number, to: number, base: number): boolean {
    const lf = buf.indexOf(LF, i0)
    if (lf < 0 || lf >= to || lf + 1 - i0 > this.maxRequestSize) return false
    const cr = lf - 1
    if (cr <= i0 || buf[cr] !== CR) return false
    // Names are matched byte by byte up to their SP: no read goes past the CR.
    let kind: number
    let i: number
    if (buf[i0] === 0x67 && buf[i0 + 1] === 0x65 && buf[i0 + 2] === 0x74) {
      const c = buf[i0 + 3]
      if (c === SP) {
        kind = CMD_GET
        i = i0 + 4
      } else if (c === 0x73 && buf[i0 + 4] === SP) {
        kind = CMD_GETS
        i = i0 + 5
      } else {
        return false
      }
    } else if (
      buf[i0] === 0x73 &&
      buf[i0 + 1] === 0x65 &&
      buf[i0 + 2] === 0x74 &&
      buf[i0 + 3] === SP
    ) {
      kind = CMD_SET
      i = i0 + 4
    } else {
      return false
    }
    let n = 0
    let keyEnd: number
    for (;;) {
      // A key ends at SP or at the CR; any other byte up to SP goes to the state machine.
      const ks = i
      while (buf[i]! > SP) i++
      if (i === ks || i - ks > MAX_KEY_LENGTH) return false
      if (n === this.keyStarts.length) this.growKeys()
      this.keyStarts[n] = base + ks
      this.keyEnds[n] = base + i
      n++
      keyEnd = i
      if (i === cr || kind === CMD_SET) break
      if (buf[i] !== SP || i + 1 === cr) return false
      i++
    }
    const lineEnd = lf + 1
    let end = lineEnd
    let noreply = false
    let dataStart = -1
    let dataEnd = -1
    if (kind === CMD_SET) {
      // SP flags SP [-]exptime SP bytes [SP noreply] CR
      if (buf[keyEnd] !== SP) return false
      i = digitsEnd(buf, keyEnd + 1)
      if (i < 0 || buf[i] !== SP) return false
      i = digitsEnd(buf, buf[i + 1] === MINUS ? i + 2 : i + 1)
      if (i < 0 || buf[i] !== SP) return false
      const bs = i + 1
      i = digitsEnd(buf, bs)
      if (i < 0 || i - bs > 10) return false
      let bytes = 0
      for (let k = bs; k < i; k++) bytes = bytes * 10 + (buf[k]! - D0)
      if (bytes > MAX_BYTES) return false
      if (i !== cr) {
        if (i + 8 !== cr || buf[i] !== SP) return false
        for (let k = 0; k < 7; k++) if (buf[i + 1 + k] !== NOREPLY[k]) return false
        noreply = true
      }
      end = lineEnd + bytes + 2
      if (end > to || end - i0 > this.maxRequestSize) return false
      if (buf[end - 2] !== CR || buf[end - 1] !== LF) return false
      dataStart = base + lineEnd
      dataEnd = base + end - 2
    }
    this.start = base + i0
    this.end = base + end
    this.kind = kind
    this.lineEnd = base + lineEnd
    this.dataStart = dataStart
    this.dataEnd = dataEnd
    this.noreply = noreply
    this.nkeys = n
    this.keyLfNul = false
    this.longNumber = false
    this.error = E_NONE
    this.errorAt = -1
    this.result = REQUEST
    return true
  }

  private beginFrame(at: number): void {
    this.start = at
    this.end = at
    this.kind = 0
    this.lineEnd = at
    this.dataStart = -1
    this.dataEnd = -1
    this.noreply = false
    this.nkeys = 0
    this.keyLfNul = false
    this.longNumber = false
    this.error = E_NONE
    this.errorAt = -1
    this.syntax = SYN_BARE
    this.nameCode = 0
    this.nameLen = 0
    this.tok = 0
    this.bytes = -1
  }

  private endName(atCr: boolean, at: number): void {
    const kind = this.nameLen > 0 ? (KIND_BY_CODE.get(this.nameCode) ?? 0) : 0
    if (kind === 0) {
      // M1: unknown command; only its line is skipped (a data block that may
      // follow is read as further command lines, as memcached does).
      this.setError(E_UNKNOWN, at - this.nameLen)
      this.state = atCr ? S_SKIP_CR : S_SKIP
      return
    }
    this.kind = kind
    this.syntax = SYNTAX_OF[kind]!
    this.state = atCr ? S_CR : S_GAP
  }

  private beginToken(at: number): void {
    const syntax = this.syntax
    const layout = LAYOUT[syntax]!
    const type =
      syntax === SYN_RETRIEVAL ? T_KEY : this.tok < layout.length ? layout[this.tok]! : T_EXTRA
    this.tokType = type
    this.tokStart = at
    switch (type) {
      case T_KEY:
        this.state = S_KEY
        break
      case T_NOREPLY:
        this.wordAt = 0
        this.state = S_WORD
        break
      case T_EXTRA:
        this.tokenError(at)
        this.state = S_EXTRA
        break
      default:
        this.numDigits = 0
        this.numBad = false
        this.numValue = 0
        this.state = S_NUM
    }
    this.tok++
  }

  private endKey(at: number): void {
    const n = this.nkeys
    if (n === this.keyStarts.length) this.growKeys()
    this.keyStarts[n] = this.tokStart
    this.keyEnds[n] = at
    this.nkeys = n + 1
    if (at - this.tokStart > MAX_KEY_LENGTH) this.setError(E_FORMAT, this.tokStart)
  }

  private endNumber(): void {
    if (this.numDigits >= 19) this.longNumber = true
    const ok = this.numDigits > 0 && !this.numBad
    const type = this.tokType
    if (type === T_BYTES) {
      if (ok && this.numValue <= MAX_BYTES) this.bytes = this.numValue
      else this.setError(E_FORMAT, this.tokStart)
    } else if (!ok) {
      const kind = this.kind
      const reason =
        kind === CMD_INCR || kind === CMD_DECR ? E_DELTA : kind === CMD_TOUCH ? E_EXPTIME : E_FORMAT
      this.setError(reason, this.tokStart)
    }
  }

  private endWord(): void {
    if (this.wordAt === 7) this.noreply = true
    else this.tokenError(this.tokStart)
  }

  /** A token that has no place: `delete` has its own wording. */
  private tokenError(at: number): void {
    this.setError(this.kind === CMD_DELETE ? E_DELETE_FORMAT : E_FORMAT, at)
  }

  /** The line ended at `lineEnd` (one past LF). Returns true when next() must return. */
  private endLine(lineEnd: number): boolean {
    this.lineEnd = lineEnd
    this.end = lineEnd
    if (lineEnd - this.start > this.maxRequestSize) {
      this.fail(E_LINE_TOO_LONG, this.start + this.maxRequestSize)
      return true
    }
    const syntax = this.syntax
    if (this.error === E_NONE && this.tok < REQUIRED[syntax]!) {
      // Missing tokens: reported at the line's CR.
      this.tokenError(lineEnd - 2)
    }
    const storage = syntax === SYN_STORAGE || syntax === SYN_CAS
    if (storage && this.kind !== 0) {
      if (this.bytes < 0) {
        // `bytes` missing or unreadable (an error is recorded): the data
        // block's length is unknown, so nothing after this line can be framed.
        this.fail(this.error, this.errorAt)
        return true
      }
      if (this.error === E_NONE && lineEnd - this.start + this.bytes + 2 > this.maxRequestSize) {
        this.setError(E_TOO_LARGE, lineEnd)
      }
      this.dataStart = lineEnd
      this.dataEnd = lineEnd + this.bytes
      this.state = S_DATA
      if (this.error === E_NONE) return false
      // REJECT now; the following calls discard the data block.
      this.swallowing = true
      this.result = REJECT
      return true
    }
    this.state = S_START
    this.result = this.error === E_NONE ? REQUEST : REJECT
    return true
  }

  /** Records the first error of the frame. */
  private setError(code: number, at: number): void {
    if (this.error === E_NONE) {
      this.error = code
      this.errorAt = at
    }
  }

  /** FATAL: the framing is lost. */
  private fail(code: number, at: number): void {
    this.error = code
    this.errorAt = at
    this.state = S_DEAD
    this.result = FATAL
  }

  private growKeys(): void {
    this.keyStarts = doubled(this.keyStarts)
    this.keyEnds = doubled(this.keyEnds)
  }
}
