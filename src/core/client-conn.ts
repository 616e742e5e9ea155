/**
 * One client connection of a pool.
 *
 * Requests are parsed by the pool's protocol session and queued in arrival
 * order (Msg.cnext). Replies may complete in any order — different servers,
 * proxy-made replies, merged fragments — but leave strictly in request order:
 * only the head of the queue is ever written, and when it completes every
 * completed message behind it follows. A reply that completes while its
 * message is the head goes straight into the write queue, without being held
 * in the message.
 *
 * Flow control: past `client_max_inflight` unanswered requests, or
 * MAX_BUFFERED bytes of replies the client has not read yet, the connection
 * stops reading (the kernel then pushes back on the client) until it falls
 * below half of both. Requests already read still complete, so the count can
 * overshoot by one read's worth of requests; memory stays bounded.
 *
 * Hard bound (like redis's client-output-buffer-limit): a client that leaves
 * more than `client_max_buffer` reply bytes unread — written to its socket
 * and not yet taken by the kernel, plus completed replies held behind an
 * earlier one — is closed at once, its replies dropped; client_err counts it.
 * See docs/failures.md.
 */

import type { Socket } from 'node:net'
import { LOG_INFO } from '../log/logger.js'
import type { InputStream, PieceSink, PieceSource } from '../proto/stream.js'
import {
  type ClientApi,
  type ClientSession,
  F_NOREPLY,
  type ProtoLog,
  type ReplyHook,
  type SplitHook,
} from '../proto/types.js'
import { OutQueue } from './bytes.js'
import { clockNow } from './clock.js'
import { connections } from './counters.js'
import { type Flushable, markDirty } from './flush.js'
import { CLOSE_CLEAN, CLOSE_ERROR, CLOSE_NONE, Msg } from './msg.js'
import type { Pool } from './pool.js'
import { onChunks } from './socket-read.js'
import { isDirectWrite, unsentBytes } from './socket-write.js'

/** How long a connection the proxy closes keeps reading (and dropping) input after its FIN. */
export const LINGER_MS = 2000

/** Reply bytes buffered for a client that does not read before it stops being read. */
export const MAX_BUFFERED = 16 * 1024 * 1024

export class ClientConn implements ClientApi, Flushable {
  dirty = false
  readonly log: ProtoLog
  /** Made at the first bytes: an idle connection costs no parser (docs/failures.md). */
  private session: ClientSession | null = null
  private readonly out = new OutQueue()
  /** Written directly (socket-write.ts). */
  private readonly direct: boolean
  /** Request-order queue. */
  private head: Msg | null = null
  private tail: Msg | null = null
  /** Requests not yet written back. */
  private outstanding = 0
  /** No more requests are taken (QUIT, protocol error, or the client's EOF). */
  private closing = false
  /** CLOSE_*: end the connection once the queued bytes are written. */
  private endAfterFlush = CLOSE_NONE
  /** The client half-closed: answer what it sent, then close. */
  private eof = false
  private gone = false
  private paused = false
  private sawError = false
  private counted = false
  /** When the chunk being parsed was read (performance.now()) if the pool times requests, else 0. */
  private t0 = 0
  /** The split request being built between beginSplit and endSplit. */
  private splitMsg: Msg | null = null
  private nfrag = 0
  /** Reply bytes of completed messages held behind an earlier, unanswered one. */
  private held = 0
  /** Closes the socket at the end of its lingering close. */
  private lingerTimer: NodeJS.Timeout | null = null
  /** client_max_buffer (0: none), client_max_inflight (0: none), and the pause level for bytes. */
  private readonly maxBuffer: number
  private readonly maxInflight: number
  private readonly pauseBytes: number

  constructor(
    private readonly socket: Socket,
    private readonly pool: Pool,
    private readonly onGone: (c: ClientConn) => void,
  ) {
    this.log = pool.log
    this.direct = isDirectWrite(socket)
    const cfg = pool.config
    this.maxBuffer = cfg.clientMaxBuffer
    this.maxInflight = cfg.clientMaxInflight > 0 ? cfg.clientMaxInflight : Number.POSITIVE_INFINITY
    // Stop reading well before the hard bound, so a client that reads slowly is slowed, not closed.
    this.pauseBytes = this.maxBuffer > 0 ? Math.min(MAX_BUFFERED, this.maxBuffer / 2) : MAX_BUFFERED
    connections.total_connections++
    connections.curr_connections++
    pool.counters.client_connections++
    socket.setNoDelay(true)
    if (pool.config.tcpkeepalive) socket.setKeepAlive(true)
    onChunks(socket, this.onData)
    socket.on('end', this.onEnd)
    socket.on('error', this.onError)
    socket.on('close', this.onClose)
    socket.on('drain', this.onDrain)
    if (this.log.enabled(LOG_INFO)) this.log.log(LOG_INFO, 'client', `accepted ${this.label}`)
  }

  // ---- ClientApi -------------------------------------------------------

  serverFor(buf: Uint8Array, start: number, end: number): number {
    return this.pool.serverFor(buf, start, end)
  }

  forward(
    server: number,
    stream: InputStream,
    start: number,
    end: number,
    flags: number,
    hook: ReplyHook | null,
  ): void {
    if (this.closing) return
    const msg = new Msg(this)
    stream.pieces(start, end, msg.req)
    this.dispatch(server, msg, flags, hook)
  }

  forwardBytes(server: number, bytes: Buffer, flags: number, hook: ReplyHook | null): void {
    if (this.closing) return
    const msg = new Msg(this)
    msg.req.append(bytes)
    this.dispatch(server, msg, flags, hook)
  }

  private dispatch(server: number, msg: Msg, flags: number, hook: ReplyHook | null): void {
    msg.flags = flags
    msg.hook = hook
    // noreply requests get no reply, so no latency.
    if ((flags & F_NOREPLY) === 0) msg.t0 = this.t0
    this.link(msg)
    this.pool.send(server, msg)
    // noreply: the client expects nothing; the request only has to keep its place.
    if ((flags & F_NOREPLY) !== 0) this.complete(msg)
  }

  beginSplit(hook: SplitHook): void {
    if (this.closing) return
    const parent = new Msg(this)
    parent.split = hook
    parent.t0 = this.t0
    // Held at 1 until endSplit, so a fragment failing at once cannot finish it early.
    parent.pending = 1
    this.link(parent)
    this.splitMsg = parent
    this.nfrag = 0
  }

  fragment(
    server: number,
    request: Buffer | PieceSource,
    key: Uint8Array,
    keyStart: number,
    keyEnd: number,
  ): void {
    const parent = this.splitMsg
    if (parent === null) return
    const frag = new Msg(null)
    frag.parent = parent
    frag.fragIndex = this.nfrag++
    frag.t0 = parent.t0
    if (request instanceof Uint8Array) frag.req.append(request)
    else request.pushTo(frag.req)
    parent.pending++
    this.pool.counters.fragments++
    this.pool.sendFragment(server, frag, key, keyStart, keyEnd)
  }

  endSplit(): void {
    const parent = this.splitMsg
    if (parent === null) return
    this.splitMsg = null
    this.pool.splitPartDone(parent)
  }

  reply(bytes: Buffer): void {
    if (this.closing) return
    if (this.head === null) {
      // Nothing ahead of it: no need to hold it in a message.
      this.out.append(bytes)
      markDirty(this)
      return
    }
    const msg = new Msg(this)
    msg.rep.append(bytes)
    this.link(msg)
    this.complete(msg)
  }

  requestTooLarge(): void {
    this.pool.counters.request_too_large++
    this.log.log(
      5,
      'client',
      () =>
        `${this.label} sent a request over max_request_size ${this.pool.config.maxRequestSize}: refused`,
    )
  }

  close(bytes: Buffer | null, clean: boolean): void {
    if (this.closing) return
    this.closing = true
    this.stopReading()
    const msg = new Msg(this)
    if (bytes !== null) msg.rep.append(bytes)
    msg.close = clean ? CLOSE_CLEAN : CLOSE_ERROR
    this.link(msg)
    this.complete(msg)
  }

  // ---- replies ---------------------------------------------------------

  /** Where `msg`'s reply bytes go: straight to the socket queue when it is next in line. */
  sinkFor(msg: Msg): PieceSink {
    return msg === this.head ? this.out : msg.rep
  }

  /** `msg`'s reply is complete; write it and whatever completed behind it. */
  complete(msg: Msg): void {
    msg.done = true
    if (msg !== this.head) {
      // Held until the replies before it are in: counts toward client_max_buffer.
      this.held += msg.repLength
      if (
        this.maxBuffer > 0 &&
        this.held + unsentBytes(this.socket, this.direct) > this.maxBuffer
      ) {
        this.overflow()
      }
      return
    }
    // `msg` itself was the head: its bytes went straight to `out`, it was never held.
    let m: Msg | null = msg
    let wasHeld = false
    let now = 0
    while (m?.done) {
      if (wasHeld) this.held -= m.repLength
      wasHeld = true
      m.pushRep(this.out)
      if (m.t0 > 0) {
        if (now === 0) now = clockNow()
        this.pool.observe(m, now)
      }
      this.outstanding--
      m.client = null
      if (m.close !== CLOSE_NONE) {
        this.endAfterFlush = m.close
        m = null
        break
      }
      m = m.cnext
    }
    this.head = m
    if (m === null) this.tail = null
    markDirty(this)
  }

  flush(): void {
    if (this.gone || this.socket.destroyed) {
      this.out.clear()
      return
    }
    this.out.writeTo(this.socket, this.direct)
    if (this.maxBuffer > 0 && unsentBytes(this.socket, this.direct) + this.held > this.maxBuffer) {
      this.overflow()
      return
    }
    if (this.endAfterFlush !== CLOSE_NONE) {
      this.count(this.endAfterFlush === CLOSE_CLEAN)
      if (!this.socket.writableEnded) {
        // nutcracker closes the connection, it does not wait for the client's FIN. walnut
        // sends its FIN after the replies, then lingers: input is read (and dropped, `closing`
        // is set) until the client closes too, at most LINGER_MS. Closing the socket at once
        // with input still arriving would answer it with a reset, and a reset makes the
        // client's kernel drop replies it has received but not read yet (found by fuzzing).
        this.socket.resume()
        this.socket.end(this.linger)
      }
      return
    }
    if (this.eof && this.head === null) {
      this.count(true)
      this.socket.end()
      return
    }
    if (this.paused) this.maybeResume()
  }

  // ---- socket events ---------------------------------------------------

  private readonly onData = (chunk: Buffer): void => {
    if (this.closing) return
    // One clock read per chunk: every request completed by this read gets its time.
    if (this.pool.timing) this.t0 = clockNow()
    try {
      const session = this.session ?? this.newSession()
      session.feed(chunk)
    } catch (err) {
      this.internalError(err)
      return
    }
    if (
      !this.paused &&
      (this.outstanding > this.maxInflight ||
        unsentBytes(this.socket, this.direct) + this.held > this.pauseBytes)
    ) {
      this.paused = true
      this.pool.counters.client_read_paused++
      this.socket.pause()
    }
  }

  private newSession(): ClientSession {
    const session = this.pool.protocol.newClientSession(this)
    this.session = session
    return session
  }

  private readonly destroySocket = (): void => {
    this.socket.destroy()
  }

  /** Every reply is handed to the kernel: close for good after LINGER_MS (or at the client's FIN). */
  private readonly linger = (): void => {
    if (this.socket.destroyed) return
    this.lingerTimer = setTimeout(this.destroySocket, LINGER_MS)
    this.lingerTimer.unref()
  }

  private readonly onDrain = (): void => {
    if (this.paused) this.maybeResume()
  }

  private maybeResume(): void {
    if (this.closing) return
    if (
      this.outstanding <= this.maxInflight / 2 &&
      unsentBytes(this.socket, this.direct) + this.held <= this.pauseBytes / 2
    ) {
      this.paused = false
      this.socket.resume()
    }
  }

  private readonly onEnd = (): void => {
    // Half-close: answer everything already sent, then close (nutcracker does too).
    this.eof = true
    this.closing = true
    markDirty(this)
  }

  private readonly onError = (): void => {
    this.sawError = true
  }

  private readonly onClose = (): void => {
    if (this.gone) return
    this.gone = true
    if (this.lingerTimer !== null) clearTimeout(this.lingerTimer)
    this.count(!this.sawError)
    if (this.log.enabled(LOG_INFO)) {
      const end = this.endAfterFlush
      const why = this.sawError
        ? 'error'
        : end === CLOSE_ERROR
          ? 'bad request'
          : end === CLOSE_CLEAN
            ? 'quit'
            : this.eof
              ? 'eof'
              : 'closed'
      this.log.log(
        LOG_INFO,
        'client',
        `close ${this.label} (${why}), ${this.outstanding} unanswered`,
      )
    }
    connections.curr_connections--
    this.pool.counters.client_connections--
    // Requests still out complete at their servers; their replies are dropped.
    for (let m = this.head; m !== null; m = m.cnext) m.client = null
    this.head = this.tail = null
    this.out.clear()
    this.onGone(this)
  }

  // ---- helpers ---------------------------------------------------------

  private link(msg: Msg): void {
    this.outstanding++
    if (this.tail === null) this.head = msg
    else this.tail.cnext = msg
    this.tail = msg
  }

  private stopReading(): void {
    this.socket.pause()
  }

  /**
   * More than client_max_buffer reply bytes unread: the client is not reading.
   * Close it now and drop its replies (redis's client-output-buffer-limit);
   * requests still out complete at their servers.
   */
  private overflow(): void {
    if (this.socket.destroyed) return
    this.closing = true
    this.pool.counters.client_buffer_closed++
    this.count(false)
    const unread = unsentBytes(this.socket, this.direct) + this.held
    this.log.log(
      5,
      'client',
      () =>
        `${this.label} closed: ${unread} reply bytes unread, over client_max_buffer ${this.maxBuffer}`,
    )
    this.socket.destroy()
  }

  /**
   * A bug met this client's bytes (its session threw): close this client alone,
   * counted as client_err, and log it loudly; the proxy and its other clients
   * go on. Fuzz tests look for this line.
   */
  private internalError(err: unknown): void {
    this.closing = true
    this.count(false)
    const what = err instanceof Error ? (err.stack ?? err.message) : String(err)
    this.log.log(3, 'client', () => `internal error on ${this.label}, closed: ${what}`)
    this.socket.destroy()
  }

  /** `client <addr> on pool <name>` for logs (built only when a line is logged). */
  private get label(): string {
    const s = this.socket
    return `client ${s.remoteAddress ?? '?'}:${s.remotePort ?? '?'} on pool ${this.pool.config.name}`
  }

  /** Counts the connection's end once: client_eof when clean, client_err otherwise. */
  private count(clean: boolean): void {
    if (this.counted) return
    this.counted = true
    if (clean) this.pool.counters.client_eof++
    else this.pool.counters.client_err++
  }

  /**
   * Graceful shutdown: take no new requests, answer the ones already read, then
   * close. Input is still read (and dropped), so the client's FIN is seen and
   * unread bytes cannot turn the close into a reset that loses replies.
   */
  drain(): void {
    if (this.closing || this.gone) return
    this.closing = true
    this.eof = true
    if (this.paused) {
      this.paused = false
      this.socket.resume()
    }
    markDirty(this)
  }

  /** Closes the connection at once (shutdown). */
  destroy(): void {
    this.socket.destroy()
  }
}
