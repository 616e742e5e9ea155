/**
 * The one interface between the proxy core and a wire protocol (redis, memcache).
 * The core (src/core) imports only this file from src/proto; a pool's protocol
 * object is picked once, from its `redis:` flag, as nutcracker picks its
 * function-pointer table in msg_get/conn_get.
 *
 * Client side: the core hands each chunk a client sends to the client's
 * `ClientSession`; the session parses requests and tells the core, through
 * `ClientApi`, what to do with each one: forward it verbatim, split it into
 * fragments, answer it locally, or close. Replies reach the client strictly in
 * request order whatever the order of these calls' completions.
 *
 * Server side: the core hands each chunk a server sends to the connection's
 * `ServerSession`; the session frames replies and reports each one through
 * `ServerApi.reply`; the core matches it with the oldest request outstanding on
 * that connection and forwards its bytes unchanged, unless the request carries
 * a hook (fragments, reply conversion).
 */

import type { PoolConfig } from '../config/types.js'
import type { InputStream, PieceSink, PieceSource } from './stream.js'

/** Request flag: the client expects no reply (memcache `noreply`); the server sends none. */
export const F_NOREPLY = 1

/** Reply flag: a well-formed reply that still counts as a server failure (redis -OOM/-BUSY/-LOADING, R9). */
export const F_FAILURE = 1

/**
 * A complete reply as framed by a server-side parser. Valid only during the
 * call it is passed to: the parser reuses it. Its bytes stay valid afterwards
 * (chunks are never overwritten); copy offsets or take views to keep them.
 */
export interface ReplyFrame {
  readonly stream: InputStream
  /** Absolute stream offsets of the whole reply. */
  readonly start: number
  readonly end: number
  /**
   * Protocol-specific kind. Redis: the type byte (`+ - : $ *`). Memcache: one of
   * the MC_* reply kinds of the memcache module.
   */
  readonly kind: number
  /**
   * Top-level elements whose bounds were recorded: the elements of a redis array
   * reply, the `VALUE` items of a memcache retrieval reply (header + data + CRLF).
   */
  readonly count: number
  elemStart(i: number): number
  elemEnd(i: number): number
}

/** A protocol's way to see, and replace, the reply of one forwarded request. */
export interface ReplyHook {
  /**
   * Called with the server's reply. Push the bytes the client should get into
   * `out` (pieces of the frame's stream, or new buffers). Not called on failure.
   */
  reply(frame: ReplyFrame, out: PieceSink): void
}

/** Assembles one client reply from the replies to a split request's fragments. */
export interface SplitHook {
  /** Fragment `i` (in the order `fragment()` was called) got its reply. Read the frame now. */
  fragmentReply(i: number, frame: ReplyFrame): void
  /** Fragment `i` failed at connection level; `reason` is nutcracker's text (`Connection refused`). */
  fragmentError(i: number, reason: string): void
  /** Every fragment is in: push the client's reply into `out`. */
  finish(out: PieceSink): void
}

/** What a client session may ask of its client connection. Implemented by the core. */
export interface ClientApi {
  /**
   * Index of the pool server (internal order) that owns the key `buf[start..end)`,
   * or -1 when every server is ejected. It also remembers the key's hash: the next
   * `forward`/`forwardBytes` picks its server connection by it (server_connections
   * > 1), so call it for the request's key just before forwarding.
   */
  serverFor(buf: Uint8Array, start: number, end: number): number
  /**
   * Forwards the request at `[start, end)` of `stream` verbatim to `server`.
   * `hook` may replace its reply (null: pass the server's bytes through).
   * The server connection is the one of the key last given to `serverFor`.
   */
  forward(
    server: number,
    stream: InputStream,
    start: number,
    end: number,
    flags: number,
    hook: ReplyHook | null,
  ): void
  /** Forwards a request the protocol built (an inline command re-encoded, say). */
  forwardBytes(server: number, bytes: Buffer, flags: number, hook: ReplyHook | null): void
  /**
   * Starts a request split over several servers. Call `fragment` for each part,
   * then `endSplit`. The client's reply is whatever `hook.finish` pushes.
   */
  beginSplit(hook: SplitHook): void
  /**
   * One fragment for `server`: its request as a buffer, or as pieces the core
   * takes at once (a source may be reused for the next fragment).
   * `key[keyStart..keyEnd)` is the fragment's FIRST key:
   * with server_connections > 1 the fragment goes on the server connection a
   * single-key request for that key takes, so a client's `SET k1` then
   * `MGET k1 k2` reach the server in that order for k1 (nutcracker does not
   * promise this). Later keys of the fragment may share no connection with
   * earlier single-key requests for them; see docs/failures.md.
   */
  fragment(
    server: number,
    request: Buffer | PieceSource,
    key: Uint8Array,
    keyStart: number,
    keyEnd: number,
  ): void
  endSplit(): void
  /** A reply made by the proxy itself, delivered in request order. */
  reply(bytes: Buffer): void
  /**
   * The session refused a request over the pool's `max_request_size`; the core
   * logs it and counts it (walnut-only counter request_too_large). Call it before
   * the error reply or close. Optional, so test doubles need not implement it.
   */
  requestTooLarge?(): void
  /**
   * Delivers `bytes` (if not null) after every earlier reply, then closes the
   * connection. `clean` says whether it counts as `client_eof` (QUIT) rather
   * than `client_err` (a protocol error).
   */
  close(bytes: Buffer | null, clean: boolean): void
  /** The logger's debug switch, so sessions can skip building messages. */
  readonly log: ProtoLog
}

/** Logging as a protocol session may use it (src/log/logger.ts's Logger fits). */
export interface ProtoLog {
  enabled(level: number): boolean
  log(level: number, module: string, message: string | (() => string)): void
}

/** Parses one client's requests. */
export interface ClientSession {
  /** Handles a chunk from the client: calls ClientApi methods for each complete request. */
  feed(chunk: Buffer): void
  /** Bytes held for a request not yet complete (for limits and stats). */
  readonly pending: number
}

/** What a server session reports to its server connection. Implemented by the core. */
export interface ServerApi {
  /** One complete reply, for the oldest outstanding request. */
  reply(frame: ReplyFrame, flags: number): void
  /** The server sent something that is not a reply: fail the connection with this reason. */
  fail(reason: string): void
}

/** Frames one server connection's replies. */
export interface ServerSession {
  feed(chunk: Buffer): void
}

/** A request the core sends first on every new server connection; its reply is swallowed. */
export interface HandshakeStep {
  readonly bytes: Buffer
  /**
   * Returns a line to log when the reply is a refusal, else null. `where`
   * names the connection (`<pool> | <server>`); without it the pool's name.
   * May be called detached from the step (`const c = step.check; c(frame)`).
   */
  check(frame: ReplyFrame, where?: string): string | null
}

/** Per-pool protocol object: a table of entry points, like nutcracker's proto table. */
export interface Protocol {
  readonly name: 'redis' | 'memcache'
  newClientSession(api: ClientApi): ClientSession
  newServerSession(api: ServerApi): ServerSession
  /** Steps for a new server connection (redis AUTH, then SELECT; none for memcache). */
  handshake(unixSocket: boolean): readonly HandshakeStep[]
  /** The reply for a request that failed for `reason` (`-ERR <r>\r\n`, `SERVER_ERROR <r>\r\n`). */
  errorReply(reason: string): Buffer
}

/** Builds the protocol object of a pool. */
export type ProtocolFactory = (pool: PoolConfig) => Protocol
