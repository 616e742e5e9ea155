/**
 * The input side of one connection, as the parsers see it: the socket's chunks,
 * addressed by absolute stream offsets (bytes since the connection opened).
 *
 *   chunk 0          chunk 1               chunk 2 (newest)
 *   [..........][.....................][.........]
 *   ^base[0]    ^base[1]               ^base[2]   ^end
 *
 * A parser scans each chunk in place and records frame and argument boundaries
 * as absolute offsets, so a frame may span any number of chunks without being
 * copied. Frames are handed on as pieces (views of the chunks that hold them);
 * the stream keeps a chunk only while the frame being parsed still needs it.
 * Only a small argument that straddles chunks (a key, a number) is ever copied,
 * into a reused scratch buffer.
 */

import { doubled } from './grow.js'

const EMPTY = Buffer.alloc(0)
/** releaseTail copies a retained tail up to this size (a pool slab is 8 KiB). */
const TAIL_COPY_MAX = 2048

/** Receives the pieces of a byte range: `buf[start..end)`, in order. */
export interface PieceSink {
  piece(buf: Buffer, start: number, end: number): void
}

/** Bytes that are pushed, on request and at once, into a sink as pieces. */
export interface PieceSource {
  pushTo(sink: PieceSink): void
}

export class InputStream {
  private chunks: Buffer[] = []
  private bases: number[] = []
  /** Absolute offset one past the last byte received. */
  end = 0
  /** Set by `resolve`: where the resolved range lies in the returned buffer. */
  rs = 0
  re = 0
  /** Made on first use: most connections never need it. */
  private scratch: Buffer = EMPTY

  /** Appends a chunk; its first byte gets offset `end`. */
  push(chunk: Buffer): void {
    if (chunk.length === 0) return
    this.chunks.push(chunk)
    this.bases.push(this.end)
    this.end += chunk.length
  }

  /** Absolute offset of the first byte still retained. */
  get start(): number {
    return this.bases.length > 0 ? this.bases[0]! : this.end
  }

  /** Number of bytes retained (for buffer limits). */
  get retained(): number {
    return this.end - this.start
  }

  /** Drops every chunk that lies wholly before `off`. */
  release(off: number): void {
    let n = 0
    const len = this.chunks.length
    while (n < len && this.bases[n]! + this.chunks[n]!.length <= off) n++
    if (n === 0) return
    if (n === len) {
      // pop() keeps the arrays' storage; `length = 0` takes V8's slow path and frees it,
      // so the next push would grow the arrays again (this runs once per request).
      while (this.chunks.length > 0) {
        this.chunks.pop()
        this.bases.pop()
      }
    } else {
      this.chunks.splice(0, n)
      this.bases.splice(0, n)
    }
  }

  /**
   * `release(off)` for a client that has sent part of a request and may stop
   * there: when what is left is small and lies in pooled chunks (reads are
   * copied into Node's shared 8 KiB Buffer pool, src/core/socket-read.ts), it is
   * copied into a buffer of its own, so a stalled client holds its bytes and not
   * a pool slab. Offsets do not change.
   */
  releaseTail(off: number): void {
    this.release(off)
    const n = this.chunks.length
    if (n === 0 || off < this.bases[0]!) return
    const keep = this.end - off
    if (keep > TAIL_COPY_MAX) return
    let pooled = false
    for (let i = 0; i < n; i++) {
      const c = this.chunks[i]!
      if (c.byteLength < c.buffer.byteLength) pooled = true
    }
    if (!pooled) return
    const tail = Buffer.allocUnsafeSlow(keep)
    this.copyOut(off, this.end, tail, 0)
    while (this.chunks.length > 0) {
      this.chunks.pop()
      this.bases.pop()
    }
    this.chunks.push(tail)
    this.bases.push(off)
  }

  /** Index of the chunk holding absolute offset `off` (searching from the newest). */
  private find(off: number): number {
    let i = this.chunks.length - 1
    while (i > 0 && this.bases[i]! > off) i--
    return i
  }

  /** The byte at absolute offset `off` (which must be retained). */
  byteAt(off: number): number {
    const i = this.find(off)
    return this.chunks[i]![off - this.bases[i]!]!
  }

  /**
   * The chunk that holds all of the non-empty range `[start, end)`, with `rs`/`re`
   * set to the range's bounds in it; null when the range straddles chunks.
   */
  private within(start: number, end: number): Buffer | null {
    const i = this.find(start)
    const chunk = this.chunks[i]!
    const local = start - this.bases[i]!
    if (local + (end - start) > chunk.length) return null
    // Offsets inside a chunk fit int32; `| 0` keeps them small integers (Smis), not
    // doubles, for the byte loops and hash functions that index with them.
    this.rs = local | 0
    this.re = (local + (end - start)) | 0
    return chunk
  }

  /** `[start, end)` copied into a buffer of its own. */
  private copy(start: number, end: number): Buffer {
    const out = Buffer.allocUnsafe(end - start)
    this.copyOut(start, end, out, 0)
    return out
  }

  /**
   * Makes `[start, end)` addressable as one buffer without allocating in the
   * common case: returns the chunk that holds the whole range and sets `rs`/`re`
   * to its local bounds; if the range straddles chunks, copies it into a reused
   * scratch buffer (valid until the next call). Used to hash keys in place.
   */
  resolve(start: number, end: number): Buffer {
    if (start === end) {
      this.rs = 0
      this.re = 0
      return EMPTY
    }
    const chunk = this.within(start, end)
    if (chunk !== null) return chunk
    const len = end - start
    if (this.scratch.length < len)
      this.scratch = Buffer.allocUnsafe(Math.max(len, 256, this.scratch.length * 2))
    this.copyOut(start, end, this.scratch, 0)
    this.rs = 0
    this.re = len | 0
    return this.scratch
  }

  /** The bytes `[start, end)` as a Buffer of their own: a view if contiguous, else a copy. */
  view(start: number, end: number): Buffer {
    if (start === end) return EMPTY
    const chunk = this.within(start, end)
    if (chunk === null) return this.copy(start, end)
    // A whole chunk (a merge's fragment reply, usually) needs no view: making one costs
    // a typed array and a read of its `.buffer`, which V8 answers in C++.
    if (this.rs === 0 && this.re === chunk.length) return chunk
    return chunk.subarray(this.rs, this.re)
  }

  /**
   * A buffer that holds `[start, end)` and may be kept: the chunk that holds
   * the whole range, with `rs`/`re` set to its bounds there, or else a copy of
   * its own (`rs` 0). Unlike `view`, it makes no typed array for a range inside
   * a chunk (a merge's fragment reply, which shares its read with others).
   */
  hold(start: number, end: number): Buffer {
    if (start !== end) {
      const chunk = this.within(start, end)
      if (chunk !== null) return chunk
    }
    this.rs = 0
    this.re = (end - start) | 0
    return start === end ? EMPTY : this.copy(start, end)
  }

  /** Copies `[start, end)` into `target` at `at`. */
  copyOut(start: number, end: number, target: Buffer, at: number): void {
    let i = this.find(start)
    let off = start
    while (off < end) {
      const chunk = this.chunks[i]!
      const base = this.bases[i]!
      const from = off - base
      const to = Math.min(chunk.length, end - base)
      chunk.copy(target, at, from, to)
      at += to - from
      off = base + to
      i++
    }
  }

  /** Calls `sink.piece` for each chunk piece of `[start, end)`, in order. */
  pieces(start: number, end: number, sink: PieceSink): void {
    if (start === end) return
    let i = this.find(start)
    let off = start
    while (off < end) {
      const chunk = this.chunks[i]!
      const base = this.bases[i]!
      const from = off - base
      const to = Math.min(chunk.length, end - base)
      sink.piece(chunk, from, to)
      off = base + to
      i++
    }
  }

  /** True when `[start, end)` equals the ASCII string `lower`, ignoring ASCII case. */
  equalsIgnoreCase(start: number, end: number, lower: string): boolean {
    if (end - start !== lower.length) return false
    const buf = this.resolve(start, end)
    const s = this.rs
    for (let k = 0; k < lower.length; k++) {
      let c = buf[s + k]!
      if (c >= 65 && c <= 90) c += 32
      if (c !== lower.charCodeAt(k)) return false
    }
    return true
  }
}

/**
 * A request assembled without copying: a head buffer, then ranges of a
 * client's stream as its chunks hold them (the pieces are read by `pushTo`
 * only, so the object is reused from one request to the next).
 */
export class StreamRanges implements PieceSource {
  private head: Buffer = EMPTY
  private stream: InputStream | null = null
  /** Absolute [start, end) pairs; adjacent ranges are merged as they are added. */
  private ranges = new Float64Array(16)
  private n = 0

  /** Starts over with `head`, then ranges of `stream`. */
  begin(head: Buffer, stream: InputStream): void {
    this.head = head
    this.stream = stream
    this.n = 0
  }

  add(start: number, end: number): void {
    const n = this.n
    if (n > 0 && this.ranges[2 * n - 1] === start) {
      this.ranges[2 * n - 1] = end
      return
    }
    if (2 * n === this.ranges.length) this.ranges = doubled(this.ranges)
    this.ranges[2 * n] = start
    this.ranges[2 * n + 1] = end
    this.n = n + 1
  }

  pushTo(sink: PieceSink): void {
    sink.piece(this.head, 0, this.head.length)
    const stream = this.stream!
    for (let i = 0; i < this.n; i++)
      stream.pieces(this.ranges[2 * i]!, this.ranges[2 * i + 1]!, sink)
  }
}
