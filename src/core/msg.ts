/**
 * A request in flight and, once it comes, its reply.
 *
 * A message sits in up to three lists at once, each through its own links:
 *  - its client's request-order queue (`cnext`), so replies leave in order;
 *  - its server connection's outstanding queue (`snext`), so the next reply
 *    from that server is matched with the oldest request sent to it;
 *  - its pool's timeout list (`tprev`/`tnext`), while a reply is awaited.
 * A request split over servers is a parent message in the client queue with
 * one fragment message per server in the server queues.
 */

import type { PieceSink } from '../proto/stream.js'
import type { ReplyFrame, ReplyHook, SplitHook } from '../proto/types.js'
import { ByteList } from './bytes.js'
import type { ClientConn } from './client-conn.js'
import type { Server } from './server.js'
import type { ServerConn } from './server-conn.js'
import type { Timed, TimeoutList } from './timeouts.js'

/** What happens to the client after this message's reply is written. */
export const CLOSE_NONE = 0
export const CLOSE_CLEAN = 1
export const CLOSE_ERROR = 2

export class Msg implements Timed {
  /** The client that sent it; null for a handshake step, or once the client has gone. */
  client: ClientConn | null
  /** Next message in the client's request order. */
  cnext: Msg | null = null
  /** Request bytes to send to the server. */
  readonly req = new ByteList()
  /** F_* request flags from src/proto/types.ts. */
  flags = 0
  /** Replaces the server's reply bytes (null: pass them through). */
  hook: ReplyHook | null = null

  /** True once `rep` holds the whole reply (or the message needs none). */
  done = false
  /**
   * Reply bytes held for the client, made on first use: most replies complete
   * while their message is next in line and go straight to the socket queue.
   */
  private repList: ByteList | null = null
  /** CLOSE_*: close the client after writing this reply. */
  close = CLOSE_NONE

  /** The server it was sent to, and the connection it is outstanding on. */
  server: Server | null = null
  conn: ServerConn | null = null
  /** Next message outstanding on the same server connection. */
  snext: Msg | null = null

  /** For a split request: the hook that merges, and the fragments still out. */
  split: SplitHook | null = null
  pending = 0
  /** For a split request: a fragment failed (its one error reply is counted once). */
  failed = false
  /** For a fragment: its parent and its index among the parent's fragments. */
  parent: Msg | null = null
  fragIndex = 0

  /** Handshake step check, for messages the core sends itself. */
  handshake: ((frame: ReplyFrame, where?: string) => string | null) | null = null

  // Timed
  deadline = 0
  tlist: TimeoutList | null = null
  tprev: Timed | null = null
  tnext: Timed | null = null

  /** When the request was received (ms, performance.now()), for latency. */
  t0 = 0

  constructor(client: ClientConn | null) {
    this.client = client
  }

  /** The held reply bytes (created on first use). */
  get rep(): ByteList {
    if (this.repList === null) this.repList = new ByteList()
    return this.repList
  }

  /** Bytes of the held reply (0 when none is held). */
  get repLength(): number {
    return this.repList === null ? 0 : this.repList.length
  }

  /** Hands the held reply, if any, to `sink`. */
  pushRep(sink: PieceSink): void {
    if (this.repList !== null) this.repList.pushTo(sink)
  }
}
