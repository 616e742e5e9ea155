/**
 * Coalescing the replies of a split request (MGET, DEL/UNLINK/TOUCH/EXISTS,
 * MSET over several servers; spec §2.4, deviations R8 and R11). One small hook
 * object per split request, no closures: the core calls `fragmentReply` or
 * `fragmentError` once per fragment (numbered in server-index order), then
 * `finish` for the client's single reply.
 *
 * - MGET: `*<nkeys>\r\n`, then each key's element in request key order, pushed
 *   as pieces of the servers' replies (views, no copies); for a RESP3 client a
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

/** The pieces of one reply, kept with their absolute stream offsets. */
class Pieces implements PieceSink {
  private readonly bufs: Buffer[] = []
  private readonly from: number[] = []
  private readonly to: number[] = []
  /** Absolute offset of each piece's first byte. */
  private readonly abs: number[] = []
  private at: number
  /** Emission cursor: the piece holding the last range emitted. */
  private cursor = 0

  constructor(frame: ReplyFrame) {
    this.at = frame.start
    frame.stream.pieces(frame.start, frame.end, this)
  }

  piece(buf: Buffer, start: number, end: number): void {
    this.bufs.push(buf)
    this.from.push(start)
    this.to.push(end)
    this.abs.push(this.at)
    this.at += end - start
  }

  /** Pushes `[start, end)` (absolute offsets, not before the last range emitted). */
  emit(start: number, end: number, out: PieceSink): void {
    let i = this.cursor
    while (this.abs[i]! + (this.to[i]! - this.from[i]!) <= start) i++
    this.cursor = i
    let off = start
    while (off < end) {
      const base = this.abs[i]! - this.from[i]!
      const to = Math.min(this.to[i]!, end - base)
      out.piece(this.bufs[i]!, off - base, to)
      off = base + to
      if (off < end) i++
    }
  }
}

/** Records the first failure in fragment (server-index) order. */
abstract class Coalesce implements SplitHook {
  protected readonly reasons: (string | null)[]

  constructor(fragments: number) {
    this.reasons = new Array<string | null>(fragments).fill(null)
  }

  abstract fragmentReply(i: number, frame: ReplyFrame): void

  fragmentError(i: number, reason: string): void {
    this.reasons[i] = reason
  }

  protected failed(out: PieceSink): boolean {
    for (const reason of this.reasons) {
      if (reason !== null) {
        const bytes = errorBytes(reason)
        out.piece(bytes, 0, bytes.length)
        return true
      }
    }
    return false
  }

  abstract finish(out: PieceSink): void
}

export class MgetCoalesce extends Coalesce {
  private readonly pieces: (Pieces | null)[]
  private readonly bounds: (Float64Array | null)[]
  private readonly next: Int32Array

  /**
   * @param keyFragment for each key in request order, the fragment it went to
   * @param fragmentKeys the number of keys each fragment carries
   * @param resp3 the client speaks RESP3: nulls are sent as `_`
   */
  constructor(
    private readonly keyFragment: Int32Array,
    private readonly fragmentKeys: Int32Array,
    private readonly resp3 = false,
  ) {
    super(fragmentKeys.length)
    this.pieces = new Array<Pieces | null>(fragmentKeys.length).fill(null)
    this.bounds = new Array<Float64Array | null>(fragmentKeys.length).fill(null)
    this.next = new Int32Array(fragmentKeys.length)
  }

  fragmentReply(i: number, frame: ReplyFrame): void {
    const n = this.fragmentKeys[i]!
    if (frame.kind !== KIND_ARRAY || frame.count !== n) {
      this.reasons[i] = INVALID_ARGUMENT
      return
    }
    const bounds = new Float64Array(2 * n)
    for (let j = 0; j < n; j++) {
      const s = frame.elemStart(j)
      const e = frame.elemEnd(j)
      bounds[2 * j] = s
      // RESP3: a null element (`$-1\r\n`, the only 5-byte element with a `-`) is marked by end -1.
      bounds[2 * j + 1] = this.resp3 && e - s === 5 && frame.stream.byteAt(s + 1) === 45 ? -1 : e
    }
    this.bounds[i] = bounds
    this.pieces[i] = new Pieces(frame)
  }

  finish(out: PieceSink): void {
    if (this.failed(out)) return
    const keys = this.keyFragment.length
    const head = Buffer.from(`*${keys}\r\n`)
    out.piece(head, 0, head.length)
    for (let k = 0; k < keys; k++) {
      const f = this.keyFragment[k]!
      const j = this.next[f]!++
      const bounds = this.bounds[f]!
      const end = bounds[2 * j + 1]!
      if (end < 0) out.piece(RESP3_NULL, 0, RESP3_NULL.length)
      else this.pieces[f]!.emit(bounds[2 * j]!, end, out)
    }
  }
}

export class SumCoalesce extends Coalesce {
  private sum = 0

  fragmentReply(i: number, frame: ReplyFrame): void {
    if (frame.kind !== KIND_INTEGER) {
      this.reasons[i] = INVALID_ARGUMENT
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
    if (frame.kind !== KIND_STATUS) this.reasons[i] = INVALID_ARGUMENT
  }

  finish(out: PieceSink): void {
    if (this.failed(out)) return
    out.piece(OK, 0, OK.length)
  }
}
