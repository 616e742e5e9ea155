/**
 * Byte containers of the core: what a message holds (ByteList) and what a
 * connection is about to write (OutQueue). Both take pieces `buf[start..end)`
 * of chunks read from sockets and never copy them, except that OutQueue
 * gathers many small pieces into one buffer at write time: a piece handed to
 * libuv needs a view of its own, which costs more than copying a few bytes.
 * Pieces that are whole buffers need no view and go out as they are (writev).
 */

import type { Socket } from 'node:net'
import type { PieceSink } from '../proto/stream.js'
import { writeOut, writeOutv } from './socket-write.js'

const EMPTY = Buffer.alloc(0)
/** Pieces a ByteList makes room for when it first holds more than one. */
const MORE_ROOM = 4

/** The bytes of one request or reply: usually one piece, sometimes several. */
export class ByteList implements PieceSink {
  private buf: Buffer = EMPTY
  private start = 0
  private end = 0
  /**
   * Every piece as (buffer, start, end) triplets in `more[0..moreUsed)`, once
   * there is more than one: one array, where views would cost a typed array
   * per piece. Made with room for MORE_ROOM pieces, so a split request's
   * fragment (a head and a few runs of keys) never grows it.
   */
  private more: (Buffer | number)[] | null = null
  private moreUsed = 0
  length = 0

  piece(buf: Buffer, start: number, end: number): void {
    if (end <= start) return
    if (this.length === 0) {
      this.buf = buf
      this.start = start
      this.end = end
    } else {
      let more = this.more
      if (more === null) {
        more = new Array<Buffer | number>(3 * MORE_ROOM)
        more[0] = this.buf
        more[1] = this.start
        more[2] = this.end
        this.more = more
        this.moreUsed = 3
      }
      const n = this.moreUsed
      more[n] = buf
      more[n + 1] = start
      more[n + 2] = end
      this.moreUsed = n + 3
    }
    this.length += end - start
  }

  /** Appends a whole buffer (proxy-made bytes). */
  append(buf: Buffer): void {
    this.piece(buf, 0, buf.length)
  }

  /** Hands every piece to `sink`, in order. */
  pushTo(sink: PieceSink): void {
    const more = this.more
    if (more !== null) {
      for (let i = 0; i < this.moreUsed; i += 3) {
        sink.piece(more[i] as Buffer, more[i + 1] as number, more[i + 2] as number)
      }
    } else if (this.length > 0) {
      sink.piece(this.buf, this.start, this.end)
    }
  }

  /** The bytes as one Buffer (a view when there is one piece). For tests and logs. */
  toBuffer(): Buffer {
    if (this.more === null) return this.buf.subarray(this.start, this.end)
    const out = Buffer.allocUnsafe(this.length)
    let at = 0
    this.pushTo({
      piece: (b, s, e) => {
        at += b.copy(out, at, s, e)
      },
    })
    return out
  }

  clear(): void {
    this.buf = EMPTY
    this.start = 0
    this.end = 0
    this.more = null
    this.moreUsed = 0
    this.length = 0
  }
}

/** Pieces up to this size are copied byte by byte: Buffer#copy makes a view per call. */
const SMALL_COPY = 64

/** Copies `src[s..e)` into `dst` at `at`; returns the new end. */
function copyPiece(src: Buffer, s: number, e: number, dst: Buffer, at: number): number {
  if (e - s <= SMALL_COPY) {
    for (let k = s; k < e; k++) dst[at++] = src[k]!
    return at
  }
  return at + src.copy(dst, at, s, e)
}

/** Up to this many pieces that are whole buffers are written with writev, not gathered. */
const WHOLE_WRITEV_MAX = 16

/** Pieces this small or smaller are gathered into one buffer before writing. */
const GATHER_LIMIT = 64 * 1024

/**
 * The bytes a connection will write at the next flush. Adjacent pieces of the
 * same chunk merge, so a pipeline of replies that arrived in one chunk goes out
 * as one view.
 */
export class OutQueue implements PieceSink {
  private bufs: Buffer[] = []
  private starts: number[] = []
  private ends: number[] = []
  private n = 0
  /** Bytes queued and not yet handed to the socket. */
  bytes = 0

  piece(buf: Buffer, start: number, end: number): void {
    if (end <= start) return
    const last = this.n - 1
    if (last >= 0 && this.bufs[last] === buf && this.ends[last] === start) {
      this.ends[last] = end
    } else {
      this.bufs[this.n] = buf
      this.starts[this.n] = start
      this.ends[this.n] = end
      this.n++
    }
    this.bytes += end - start
  }

  append(buf: Buffer): void {
    this.piece(buf, 0, buf.length)
  }

  get empty(): boolean {
    return this.n === 0
  }

  /** Writes everything queued to `socket` (`direct`: see socket-write.ts) and empties the queue. */
  writeTo(socket: Socket, direct = false): void {
    const n = this.n
    if (n === 0) return
    if (n === 1) {
      const b = this.bufs[0]!
      const s = this.starts[0]!
      const e = this.ends[0]!
      writeOut(socket, s === 0 && e === b.length ? b : b.subarray(s, e), direct)
    } else if (direct && n <= WHOLE_WRITEV_MAX && this.allWhole()) {
      // Whole buffers (requests that were each one client read, at pipeline 1) go out as
      // they are: one writev, no gather buffer and no copy. (Through Writable, the
      // gathered buffer is one write where these would be one each.)
      writeOutv(socket, this.bufs.slice(0, n), direct)
    } else if (this.bytes <= GATHER_LIMIT) {
      const out = Buffer.allocUnsafe(this.bytes)
      let at = 0
      for (let i = 0; i < n; i++)
        at = copyPiece(this.bufs[i]!, this.starts[i]!, this.ends[i]!, out, at)
      writeOut(socket, out, direct)
    } else {
      const views: Buffer[] = []
      for (let i = 0; i < n; i++) views.push(this.bufs[i]!.subarray(this.starts[i], this.ends[i]))
      writeOutv(socket, views, direct)
    }
    this.clear()
  }

  /** True when every queued piece is a whole buffer. */
  private allWhole(): boolean {
    for (let i = 0; i < this.n; i++) {
      if (this.starts[i] !== 0 || this.ends[i] !== this.bufs[i]!.length) return false
    }
    return true
  }

  /** Drops everything queued (the connection is gone). */
  clear(): void {
    for (let i = 0; i < this.n; i++) this.bufs[i] = EMPTY
    this.n = 0
    this.bytes = 0
  }
}
