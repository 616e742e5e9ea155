/**
 * Coalescing the replies of a split request (MGET, DEL/UNLINK/TOUCH/EXISTS,
 * MSET over several servers; spec §2.4, deviations R8 and R11). One small hook
 * object per split request, no closures: the core calls `fragmentReply` or
 * `fragmentError` once per fragment (numbered in server-index order), then
 * `finish` for the client's single reply.
 *
 * - MGET: `*<nkeys>\r\n`, then each key's element in request key order, pushed
 *   as pieces of the servers' replies (no copies); for a RESP3 client a
 *   missing key's `$-1` becomes `_` (R7).
 * - DEL/UNLINK/TOUCH/EXISTS: `:<sum>\r\n`.
 * - MSET: `+OK\r\n`.
 *
 * A fragment whose reply has the wrong type (any error reply, a non-array for
 * MGET or one with the wrong element count, a non-integer for the sums, a
 * non-status for MSET) makes the reply `-ERR Invalid argument\r\n`; a fragment
 * that failed at connection level makes it `-ERR <reason>\r\n`. With several
 * failures the first fragment in server-index order decides. The client
 * connection stays open in every case (R11).
 */

import type { PieceSink } from '../stream.js'
import type { ReplyFrame, SplitHook } from '../types.js'
import { KIND_ARRAY, KIND_INTEGER, KIND_STATUS } from './reply-parser.js'
import { RESP3_NULL } from './resp3.js'

export const INVALID_ARGUMENT = 'Invalid argument'
const OK = Buffer.from('+OK\r\n')

/** `-ERR <reason>\r\n`. */
export function errorBytes(reason: string): Buffer {
  return Buffer.from(`-ERR ${reason}\r\n`, 'latin1')
}

/** Records the first failure in fragment (server-index) order. */
abstract class Coalesce implements SplitHook {
  /** The lowest fragment index that failed, and why; -1 while none has. */
  private failIndex = -1
  private failReason = ''

  abstract fragmentReply(i: number, frame: ReplyFrame): void

  fragmentError(i: number, reason: string): void {
    if (this.failIndex < 0 || i < this.failIndex) {
      this.failIndex = i
      this.failReason = reason
    }
  }

  protected failed(out: PieceSink): boolean {
    if (this.failIndex < 0) return false
    const bytes = errorBytes(this.failReason)
    out.piece(bytes, 0, bytes.length)
    return true
  }

  abstract finish(out: PieceSink): void
}

/** `*<n>\r\n` for the common small key counts, made once. */
const ARRAY_HEADS: Buffer[] = Array.from({ length: 128 }, (_, n) => Buffer.from(`*${n}\r\n`))

export class MgetCoalesce extends Coalesce {
  /** Per fragment: a buffer holding its reply (its chunk, or a copy). */
  private readonly fragBuf: Buffer[]
  /**
   * Per key, in request order: its element's bounds in its fragment's buffer; a RESP3 null has end -1.
   * Plain arrays, not typed ones: a typed array over 64 bytes is allocated outside the heap
   * (malloc, and a free after GC), which cost more than the whole merge.
   */
  private readonly keyBounds: number[]

  /**
   * @param keyFragment for each key in request order, the fragment it went to
   * @param fragmentKeys the number of keys each fragment carries
   * @param resp3 the client speaks RESP3: nulls are sent as `_`
   */
  constructor(
    private readonly keyFragment: number[],
    private readonly fragmentKeys: number[],
    private readonly resp3 = false,
  ) {
    super()
    this.fragBuf = new Array<Buffer>(fragmentKeys.length)
    // Every bound is written by fragmentReply before finish reads it (or a failure is sent).
    this.keyBounds = new Array<number>(2 * keyFragment.length)
  }

  fragmentReply(i: number, frame: ReplyFrame): void {
    const n = this.fragmentKeys[i]!
    if (frame.kind !== KIND_ARRAY || frame.count !== n) {
      this.fragmentError(i, INVALID_ARGUMENT)
      return
    }
    // The whole reply in one buffer: its chunk, or a copy if it spans chunks.
    const stream = frame.stream
    const buf = stream.hold(frame.start, frame.end)
    // Element offsets in `buf` are the stream's less `base`.
    const base = frame.start - stream.rs
    this.fragBuf[i] = buf
    const keyFragment = this.keyFragment
    const bounds = this.keyBounds
    let j = 0
    for (let k = 0; k < keyFragment.length && j < n; k++) {
      if (keyFragment[k] !== i) continue
      const s = frame.elemStart(j) - base
      const e = frame.elemEnd(j) - base
      j++
      bounds[2 * k] = s
      // RESP3: a null element (`$-1\r\n`, the only 5-byte element with a `-`) is marked by end -1.
      bounds[2 * k + 1] = this.resp3 && e - s === 5 && buf[s + 1] === 45 ? -1 : e
    }
  }

  finish(out: PieceSink): void {
    if (this.failed(out)) return
    const keys = this.keyFragment.length
    const head = keys < ARRAY_HEADS.length ? ARRAY_HEADS[keys]! : Buffer.from(`*${keys}\r\n`)
    out.piece(head, 0, head.length)
    const bounds = this.keyBounds
    for (let k = 0; k < keys; k++) {
      const end = bounds[2 * k + 1]!
      if (end < 0) out.piece(RESP3_NULL, 0, RESP3_NULL.length)
      else out.piece(this.fragBuf[this.keyFragment[k]!]!, bounds[2 * k]!, end)
    }
  }
}

export class SumCoalesce extends Coalesce {
  private sum = 0

  fragmentReply(i: number, frame: ReplyFrame): void {
    if (frame.kind !== KIND_INTEGER) {
      this.fragmentError(i, INVALID_ARGUMENT)
      return
    }
    // `:<digits>\r\n`, digits already checked by the reply parser.
    const stream = frame.stream
    const buf = stream.resolve(frame.start + 1, frame.end - 2)
    let k = stream.rs
    const negative = buf[k] === 45
    if (negative) k++
    let n = 0
    for (; k < stream.re; k++) n = n * 10 + (buf[k]! - 48)
    this.sum += negative ? -n : n
  }

  finish(out: PieceSink): void {
    if (this.failed(out)) return
    const bytes = Buffer.from(`:${this.sum}\r\n`)
    out.piece(bytes, 0, bytes.length)
  }
}

export class MsetCoalesce extends Coalesce {
  fragmentReply(i: number, frame: ReplyFrame): void {
    if (frame.kind !== KIND_STATUS) this.fragmentError(i, INVALID_ARGUMENT)
  }

  finish(out: PieceSink): void {
    if (this.failed(out)) return
    out.piece(OK, 0, OK.length)
  }
}
