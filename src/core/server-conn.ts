/**
 * One connection to a backend server, shared by many clients.
 *
 *   client A ─┐                        ┌────────── server conn ──────────┐
 *   client B ─┼─ enqueue(msg) ───────► │ out: request bytes (one write   │ ──► server
 *   client C ─┘                        │      per event-loop turn)       │
 *                                      │ queue: msgs awaiting replies,   │ ◄── replies
 *                                      │        oldest first             │
 *                                      └─────────────────────────────────┘
 *
 * The server answers in the order it was asked, so each reply belongs to the
 * oldest message in the queue. When anything goes wrong (connect failure,
 * reset, EOF, a reply that cannot be framed, a stray reply, a timeout) the
 * connection is closed and every message still in its queue fails with the
 * same reason, as nutcracker does: a late reply can then never be matched with
 * a newer request. The next request opens a new connection. Why a timeout fails
 * the whole connection rather than the late request alone: docs/failures.md §1.
 */

import type { Socket } from 'node:net'
import { LOG_ERR, LOG_INFO, LOG_VVERB } from '../log/logger.js'
import { F_NOREPLY, type ReplyFrame, type ServerApi, type ServerSession } from '../proto/types.js'
import { OutQueue } from './bytes.js'
import { connections } from './counters.js'
import { REASON_INVALID, REASON_UNKNOWN, reasonOf } from './errno.js'
import { type Flushable, markDirty } from './flush.js'
import { Msg } from './msg.js'
import type { Server } from './server.js'
import { connectDirect, onChunks } from './socket-read.js'
import { isDirectWrite } from './socket-write.js'
import { untime } from './timeouts.js'
import {
  connectBackend,
  firstTlsFailure,
  TLS_CONNECTING,
  TLS_HANDSHAKE,
  TLS_OPEN,
  TLS_QUIET,
  tlsFailureReason,
  tlsRecovered,
} from './tls.js'

/** Why a server connection ended, for the server_eof / server_err / server_timedout counters. */
export const END_EOF = 0
export const END_ERROR = 1
export const END_TIMEOUT = 2
/** Closed by the proxy itself (shutdown, reconfiguration): not a failure. */
export const END_LOCAL = 3

export class ServerConn implements ServerApi, Flushable {
  dirty = false
  private readonly socket: Socket
  private connected = false
  /** `tls: true`: a TLSSocket; `connected` then means the handshake is done (src/core/tls.ts). */
  private readonly tls: boolean
  /** TLS only: TLS_CONNECTING → TLS_HANDSHAKE → TLS_QUIET → TLS_OPEN, for failure reasons. */
  private tlsPhase = TLS_CONNECTING
  /** Set once the connection has failed or been closed; it takes no more requests. */
  dead = false
  /** Retired (address change, reload): takes no new requests, closes once it has none. */
  private retiring = false
  /** End the socket politely (FIN after what was written) instead of destroying it. */
  private graceful = false
  private readonly out = new OutQueue()
  /** Written directly (socket-write.ts). */
  private readonly direct: boolean
  private readonly session: ServerSession
  /** Messages awaiting replies, oldest first (linked through Msg.snext). */
  private head: Msg | null = null
  private tail: Msg | null = null
  /** Requests (and bytes) queued but not yet written / written and awaiting replies. */
  private inQ = 0
  private inQBytes = 0
  /** The part of inQ that expects replies (and so moves to the out queue when written). */
  private inQReplies = 0
  private inQReplyBytes = 0
  private outQ = 0
  private outQBytes = 0

  constructor(readonly server: Server) {
    const pool = server.pool
    this.session = pool.protocol.newServerSession(this)
    const addr = server.config.address
    connections.total_connections++
    connections.curr_connections++
    this.tls = pool.config.tls
    this.socket = this.tls
      ? connectBackend(pool.config, addr, server.host)
      : addr.kind === 'unix'
        ? connectDirect({ path: addr.path })
        : connectDirect({ host: server.host, port: addr.port, noDelay: true })
    this.direct = isDirectWrite(this.socket)
    if (this.tls) {
      this.socket.once('connect', this.onTcpConnect)
      this.socket.on('secureConnect', this.onConnect)
    } else {
      this.socket.on('connect', this.onConnect)
    }
    onChunks(this.socket, this.onData)
    this.socket.on('error', this.onError)
    this.socket.on('end', this.onEnd)
    this.socket.on('close', this.onClose)
    for (const step of pool.protocol.handshake(addr.kind === 'unix')) {
      const msg = new Msg(null)
      msg.req.append(step.bytes)
      msg.handshake = step.check
      this.enqueue(msg)
    }
  }

  /** Queues a request; it is written at the next flush. */
  enqueue(msg: Msg): void {
    const len = msg.req.length
    const log = this.server.pool.log
    if (log.enabled(LOG_VVERB)) {
      log.log(LOG_VVERB, 'server', `req ${len} bytes to ${this.server.label}`)
    }
    msg.req.pushTo(this.out)
    const c = this.server.counters
    c.requests++
    c.request_bytes += len
    c.in_queue++
    c.in_queue_bytes += len
    this.inQ++
    this.inQBytes += len
    if ((msg.flags & F_NOREPLY) === 0) {
      this.inQReplies++
      this.inQReplyBytes += len
      msg.conn = this
      msg.snext = null
      if (this.tail === null) this.head = msg
      else this.tail.snext = msg
      this.tail = msg
      const tl = this.server.pool.timeouts
      if (tl !== null && msg.handshake === null) tl.add(msg)
    }
    markDirty(this)
  }

  flush(): void {
    if (!this.connected || this.dead || this.out.empty) return
    const c = this.server.counters
    c.in_queue -= this.inQ
    c.in_queue_bytes -= this.inQBytes
    // Only requests that expect a reply wait in the out queue.
    c.out_queue += this.inQReplies
    c.out_queue_bytes += this.inQReplyBytes
    this.outQ += this.inQReplies
    this.outQBytes += this.inQReplyBytes
    this.inQ = this.inQBytes = this.inQReplies = this.inQReplyBytes = 0
    this.out.writeTo(this.socket, this.direct)
    if (this.retiring) this.finishRetired()
  }

  /** ServerApi: the next reply from the server. */
  reply(frame: ReplyFrame, flags: number): void {
    const msg = this.head
    if (msg === null) {
      // nutcracker: a reply nobody asked for closes the server connection.
      this.fail(REASON_INVALID, END_ERROR)
      return
    }
    this.head = msg.snext
    if (this.head === null) this.tail = null
    msg.snext = null
    msg.conn = null
    untime(msg)
    this.outQ--
    this.outQBytes -= msg.req.length
    const c = this.server.counters
    c.out_queue--
    c.out_queue_bytes -= msg.req.length
    c.responses++
    c.response_bytes += frame.end - frame.start
    const log = this.server.pool.log
    if (log.enabled(LOG_VVERB)) {
      log.log(LOG_VVERB, 'server', `rsp ${frame.end - frame.start} bytes from ${this.server.label}`)
    }
    this.server.delivered(msg, frame, flags)
    if (this.retiring) this.finishRetired()
  }

  /** ServerApi: the server sent bytes that are not a reply. */
  fail(reason: string, why: number = END_ERROR): void {
    if (this.dead) return
    this.dead = true
    const log = this.server.pool.log
    if (log.enabled(LOG_INFO)) {
      const what =
        why === END_EOF
          ? 'eof'
          : why === END_TIMEOUT
            ? 'timeout'
            : why === END_LOCAL
              ? 'closed by proxy'
              : 'error'
      const pending = this.outQ + this.inQ
      log.log(
        LOG_INFO,
        'server',
        `close s to ${this.server.label} (${what}: ${reason}), ${pending} requests pending`,
      )
    }
    if (this.graceful) this.socket.end()
    else this.socket.destroy()
    this.out.clear()
    const c = this.server.counters
    c.in_queue -= this.inQ
    c.in_queue_bytes -= this.inQBytes
    c.out_queue -= this.outQ
    c.out_queue_bytes -= this.outQBytes
    this.inQ = this.inQBytes = this.inQReplies = this.inQReplyBytes = 0
    this.outQ = this.outQBytes = 0
    if (this.connected) {
      this.connected = false
      c.server_connections--
    }
    connections.curr_connections--
    this.server.connEnded(this, why)
    let msg = this.head
    this.head = this.tail = null
    while (msg !== null) {
      const next = msg.snext
      msg.snext = null
      msg.conn = null
      untime(msg)
      this.server.failed(msg, reason)
      msg = next
    }
  }

  /** A request on this connection timed out: the whole connection fails (nutcracker). */
  timedOut(reason: string): void {
    this.fail(reason, END_TIMEOUT)
  }

  /** True while requests are queued or awaiting replies. */
  /**
   * Its server moved or left the pool (src/core/server.ts took it out of its
   * slots, so nothing new is queued): close once every request is answered.
   */
  retire(): void {
    if (this.dead) return
    this.retiring = true
    this.finishRetired()
  }

  private finishRetired(): void {
    if (this.dead || this.head !== null || !this.out.empty) return
    // Nothing awaited and nothing to write: END_LOCAL is not a failure.
    this.graceful = true
    this.fail(REASON_UNKNOWN, END_LOCAL)
  }

  get busy(): boolean {
    return this.head !== null || !this.out.empty
  }

  private readonly onTcpConnect = (): void => {
    this.tlsPhase = TLS_HANDSHAKE
  }

  private readonly onConnect = (): void => {
    if (this.dead) return
    this.connected = true
    if (this.tls) {
      this.tlsPhase = TLS_QUIET
      tlsRecovered(this.server)
    }
    this.server.counters.server_connections++
    this.server.reachable = true
    const log = this.server.pool.log
    if (log.enabled(LOG_INFO)) log.log(LOG_INFO, 'server', `connected on s to ${this.server.label}`)
    markDirty(this)
  }

  private readonly onData = (chunk: Buffer): void => {
    if (this.dead) return
    if (this.tlsPhase === TLS_QUIET) this.tlsPhase = TLS_OPEN
    try {
      this.session.feed(chunk)
    } catch (err) {
      // A bug met these bytes: fail this connection alone (its requests get an error
      // reply) and log it loudly, rather than let the exception end the process.
      const what = err instanceof Error ? (err.stack ?? err.message) : String(err)
      this.server.pool.log.log(3, 'server', () => `internal error on ${this.server.label}: ${what}`)
      this.fail(REASON_INVALID, END_ERROR)
    }
  }

  private readonly onError = (err: Error): void => {
    const tlsReason = this.tls && !this.dead ? tlsFailureReason(err, this.tlsPhase) : null
    if (tlsReason !== null) this.logTlsFailure(tlsReason)
    this.fail(tlsReason ?? reasonOf(err), END_ERROR)
  }

  private readonly onEnd = (): void => {
    this.closedByServer()
    this.fail(REASON_UNKNOWN, END_EOF)
  }

  private readonly onClose = (): void => {
    this.closedByServer()
    this.fail(REASON_UNKNOWN, END_EOF)
  }

  /** TLS: the server closed in the handshake or right after it: a TLS failure. */
  private closedByServer(): void {
    if (!this.tls || this.dead) return
    const reason = tlsFailureReason(null, this.tlsPhase)
    if (reason === null) return
    this.logTlsFailure(reason)
    this.fail(reason, END_ERROR)
  }

  /** One line per failing server and reason at LOG_ERR; repeats at LOG_INFO (src/core/tls.ts). */
  private logTlsFailure(reason: string): void {
    const server = this.server
    const level = firstTlsFailure(server, reason) ? LOG_ERR : LOG_INFO
    server.pool.log.log(level, 'server', () => `tls to ${server.label} failed: ${reason}`)
  }
}
