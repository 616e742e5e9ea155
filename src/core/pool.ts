/**
 * A server pool: its servers, the distribution that places keys on them, and
 * the request paths every client of the pool shares — dispatch to a server,
 * failure replies, fragments of split requests, ejection and return.
 */

import type { PoolConfig } from '../config/types.js'
import { Placement } from '../hash/placement.js'
import { LOG_DEBUG, LOG_INFO } from '../log/logger.js'
import { F_NOREPLY, type Protocol, type ProtoLog, type ReplyFrame } from '../proto/types.js'
import { LatencyHistogram } from '../stats/latency.js'
import { PoolCounters } from './counters.js'
import { REASON_REFUSED } from './errno.js'
import type { Msg } from './msg.js'
import { Server } from './server.js'
import type { TimeoutList, TimeoutWheel } from './timeouts.js'

export class Pool {
  readonly counters = new PoolCounters()
  // config, protocol, servers, placement, timeouts: replaced together by reconfigure (a reload).
  servers: Server[]
  placement: Placement
  /** Timeout list of this pool's requests, or null when `timeout:` is 0 (wait forever). */
  timeouts: TimeoutList | null
  /** Hash of the key last placed by serverFor: picks the server connection of a forward. */
  lastHash = 0
  /** Earliest time (ms) an ejected server may return; Infinity when none is ejected. */
  private nextRetry = Number.POSITIVE_INFINITY
  /** Cached failure replies by reason. */
  private readonly errorReplies = new Map<string, Buffer>()
  /** Skip hashing when there is nothing to choose. */
  private trivial: boolean
  /** Servers a reload removed: their retired connections are closed with the pool's. */
  readonly leaving = new Set<Server>()
  /** Requests are timed (Msg.t0 set) for the latency histograms; off unless asked for. */
  timing = false
  /** Latency of this pool's requests, from request read to reply queued (when timing). */
  readonly latency = new LatencyHistogram()

  constructor(
    public config: PoolConfig,
    public protocol: Protocol,
    readonly log: ProtoLog,
    wheel: TimeoutWheel,
  ) {
    this.servers = config.servers.map((s, i) => new Server(this, s, i))
    this.placement = new Placement(config)
    this.timeouts = config.timeout > 0 ? wheel.list(config.timeout) : null
    this.trivial = config.servers.length === 1 && config.serverConnections === 1
  }

  /** Index of the server that owns key[start..end), or -1 when none is live. */
  serverFor(key: Uint8Array, start: number, end: number): number {
    if (this.nextRetry !== Number.POSITIVE_INFINITY && Date.now() >= this.nextRetry) this.readmit()
    const p = this.placement
    if (p.liveCount === 0) return -1
    if (this.trivial) return 0
    const h = p.hashOf(key, start, end)
    this.lastHash = h
    if (p.serverCount === 1) return 0
    return p.distribution.dispatch(h)
  }

  /** Sends `msg` to server `index` (from serverFor), or fails it when there is none. */
  send(index: number, msg: Msg): void {
    const server = index >= 0 ? this.servers[index] : undefined
    if (server === undefined) {
      // nutcracker: every server ejected → `Connection refused`, no connect attempt.
      this.failMsg(msg, REASON_REFUSED)
      return
    }
    server.send(msg, this.lastHash)
  }

  /**
   * Sends a fragment to server `index` on the connection of its first key
   * `key[ks..ke)`: the one a single-key request for that key takes, so one
   * client's requests for that key stay in order (docs/failures.md). The key is
   * hashed only when there is a connection to choose.
   */
  sendFragment(index: number, msg: Msg, key: Uint8Array, ks: number, ke: number): void {
    const server = index >= 0 ? this.servers[index] : undefined
    if (server === undefined) {
      this.failMsg(msg, REASON_REFUSED)
      return
    }
    const h = this.config.serverConnections > 1 ? this.placement.hashOf(key, ks, ke) : 0
    server.send(msg, h)
  }

  /** The protocol's failure reply for `reason` (cached). */
  errorReply(reason: string): Buffer {
    let b = this.errorReplies.get(reason)
    if (b === undefined) {
      b = this.protocol.errorReply(reason)
      this.errorReplies.set(reason, b)
    }
    return b
  }

  /** A request (or fragment) failed: answer its client with nutcracker's error reply. */
  failMsg(msg: Msg, reason: string): void {
    if (this.log.enabled(LOG_DEBUG)) {
      const where = msg.server === null ? 'no server' : msg.server.label
      this.log.log(LOG_DEBUG, 'pool', `request to ${where} failed: ${reason}`)
    }
    const parent = msg.parent
    if (parent !== null) {
      if (msg.t0 > 0) this.observeFragment(msg)
      // nutcracker: however many fragments fail, the client gets one error reply: one forward_error.
      if (!parent.failed && parent.client !== null) {
        parent.failed = true
        this.counters.forward_error++
      }
      parent.split!.fragmentError(msg.fragIndex, reason)
      this.splitPartDone(parent)
      return
    }
    const client = msg.client
    if (client === null || msg.done) return
    if ((msg.flags & F_NOREPLY) === 0) {
      this.counters.forward_error++
      const bytes = this.errorReply(reason)
      client.sinkFor(msg).piece(bytes, 0, bytes.length)
    }
    // noreply: nothing is sent back, also on failure.
    client.complete(msg)
  }

  /** A fragment's reply arrived. */
  fragmentReply(frag: Msg, frame: ReplyFrame): void {
    if (frag.t0 > 0) this.observeFragment(frag)
    const parent = frag.parent!
    parent.split!.fragmentReply(frag.fragIndex, frame)
    this.splitPartDone(parent)
  }

  /**
   * `msg`'s reply was queued to its client at `now` (performance.now()): one
   * observation for the pool and, unless it was split, for its server.
   */
  observe(msg: Msg, now: number): void {
    const ms = now - msg.t0
    this.latency.observe(ms)
    msg.server?.latency.observe(ms)
  }

  /** A fragment is answered (or failed): its server's latency, until the fragment's reply. */
  private observeFragment(frag: Msg): void {
    frag.server?.latency.observe(performance.now() - frag.t0)
  }

  /** True while any server connection has requests to write or replies to wait for. */
  get busy(): boolean {
    for (const s of this.servers) if (s.busy) return true
    return false
  }

  /** One part of a split request is in (a fragment, or the end of building it). */
  splitPartDone(parent: Msg): void {
    if (--parent.pending > 0) return
    const client = parent.client
    if (client === null) return
    parent.split!.finish(client.sinkFor(parent))
    client.complete(parent)
  }

  /**
   * Takes `server` out of the distribution for server_retry_timeout ms. As in
   * nutcracker, a server already out is ejected again (a connection of it that
   * fails later, say): counted again, and its retry time starts anew.
   */
  eject(server: Server): void {
    // A server a reload took out of the pool: its index is another server's now.
    if (this.servers[server.index] !== server) return
    const now = Date.now()
    server.retryAt = now + this.config.serverRetryTimeout
    server.counters.server_ejected_at = now * 1000
    this.counters.server_ejects++
    // A later retry time for a server already out leaves nextRetry early: readmit() recomputes it.
    if (server.retryAt < this.nextRetry) this.nextRetry = server.retryAt
    this.placement.setLive(server.index, false)
    this.log.log(
      LOG_INFO,
      'pool',
      () => `ejected ${server.label} for ${this.config.serverRetryTimeout} ms`,
    )
  }

  /** Puts back every ejected server whose retry time has come (lazily, on the next request). */
  private readmit(): void {
    const now = Date.now()
    let next = Number.POSITIVE_INFINITY
    for (const s of this.servers) {
      if (s.retryAt === 0) continue
      if (s.retryAt <= now) {
        // nutcracker: the failure count was reset at ejection and is not reset here, so
        // failures of the server's connections while it was out still count.
        s.retryAt = 0
        this.placement.setLive(s.index, true)
        this.log.log(LOG_INFO, 'pool', () => `re-added ${s.label}`)
      } else if (s.retryAt < next) {
        next = s.retryAt
      }
    }
    this.nextRetry = next
  }

  /**
   * A reload changed this pool's settings (src/core/reload.ts). `servers` are
   * in the new config's order: kept Server objects (their connections and
   * ejection state stay) and new ones. The placement is rebuilt with the kept
   * servers' live flags; requests from now on use the new settings.
   */
  reconfigure(
    config: PoolConfig,
    protocol: Protocol,
    servers: Server[],
    wheel: TimeoutWheel,
  ): void {
    if (config.timeout !== this.config.timeout) {
      this.timeouts = config.timeout > 0 ? wheel.list(config.timeout) : null
    }
    this.config = config
    this.protocol = protocol
    let next = Number.POSITIVE_INFINITY
    for (let i = 0; i < servers.length; i++) {
      const s = servers[i]!
      s.index = i
      s.config = config.servers[i]!
      s.resize(config.serverConnections)
      if (s.retryAt !== 0 && s.retryAt < next) next = s.retryAt
    }
    this.servers = servers
    this.placement = new Placement(
      config,
      servers.map((s) => s.retryAt === 0),
    )
    this.nextRetry = next
    this.trivial = config.servers.length === 1 && config.serverConnections === 1
  }

  /** Opens one connection per server (`preconnect`). */
  preconnect(): void {
    for (const s of this.servers) s.preconnect()
  }

  /** Closes every server connection; outstanding requests fail with `reason`. */
  close(reason: string): void {
    for (const s of this.servers) s.close(reason)
    for (const s of this.leaving) s.close(reason)
  }
}
