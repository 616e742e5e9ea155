/**
 * One backend server of a pool: its connections (at most
 * `server_connections`, opened on demand), its failure count and ejection
 * state, and its counters.
 *
 * A failure is one failed or closed connection, not one request (nutcracker:
 * three pipelined requests refused together count once). Any reply resets the
 * count. With `auto_eject_hosts`, `server_failure_limit` consecutive failures
 * take the server out of the pool's distribution for `server_retry_timeout` ms.
 */

import { isIP } from 'node:net'
import type { ServerConfig } from '../config/types.js'
import { F_FAILURE, type ReplyFrame } from '../proto/types.js'
import { LatencyHistogram } from '../stats/latency.js'
import { ServerCounters } from './counters.js'
import { REASON_HOST_DOWN } from './errno.js'
import type { Msg } from './msg.js'
import type { Pool } from './pool.js'
import { END_EOF, END_LOCAL, END_TIMEOUT, ServerConn } from './server-conn.js'

export class Server {
  readonly counters = new ServerCounters()
  /**
   * Host to connect to: the IP as written, the address the name resolved to
   * (src/core/resolver.ts), or the name itself with `dns_refresh_interval: 0`.
   */
  host: string
  /** The name has no address now: requests fail at once with `Host is down`. */
  hostDown: boolean
  /** The address in use (IP, or the unix socket path); null while unresolved or looked up per connect. */
  address: string | null
  /** When `address` last changed (ms since the epoch); for a written IP, when the server was created. */
  addressChangedAt: number
  private readonly conns: (ServerConn | null)[]
  /** Connections retired by an address change or a reload: they finish their requests, then close. */
  private readonly retired = new Set<ServerConn>()
  /** Consecutive connection failures. */
  failures = 0
  /** When ejected: the time (ms, Date.now()) it may return; 0 when live. */
  retryAt = 0
  /**
   * False after a connection to it failed (refused, reset, timed out), true again
   * once a connection is established: the `up` metric. True before any contact.
   */
  reachable = true
  /** Latency of requests sent to it, from request read to reply queued (when timing). */
  readonly latency = new LatencyHistogram()

  constructor(
    readonly pool: Pool,
    /** Replaced by a reload that keeps the server (a new weight, say). */
    public config: ServerConfig,
    /** Position in the pool's internal (sorted) order; renumbered by a reload. */
    public index: number,
  ) {
    const a = config.address
    this.host = a.kind === 'tcp' ? a.host : ''
    // A name has no address until the pool's AddressBook resolves it.
    const named = a.kind === 'tcp' && isIP(a.host) === 0
    this.hostDown = named
    this.address = named ? null : a.kind === 'tcp' ? a.host : a.path
    this.addressChangedAt = named ? 0 : Date.now()
    this.conns = new Array<ServerConn | null>(pool.config.serverConnections).fill(null)
  }

  /**
   * Sends `msg`. With several connections per server the connection is picked
   * by the key's hash, so one client's requests for one key stay in order.
   */
  send(msg: Msg, hash: number): void {
    const n = this.conns.length
    const slot = n === 1 ? 0 : mix(hash) % n
    let conn = this.conns[slot]!
    if (conn === null || conn.dead) {
      if (this.hostDown) {
        this.down(msg)
        return
      }
      conn = new ServerConn(this)
      this.conns[slot] = conn
    }
    msg.server = this
    conn.enqueue(msg)
  }

  /**
   * The name does not resolve: `msg` fails at once. nutcracker: one failed
   * connect per request, counted in server_err (requests stays 0).
   */
  private down(msg: Msg): void {
    msg.server = this
    this.counters.server_err++
    this.reachable = false
    this.pool.failMsg(msg, REASON_HOST_DOWN)
    this.failure()
  }

  /**
   * The name's address changed (src/core/resolver.ts): `host` is what new
   * connections use, null when the name does not resolve. Connections to the
   * old address are retired: they take no new requests, finish what they
   * have, then close (not a failure).
   */
  setAddress(address: string | null, host: string | null, why: string): void {
    const down = host === null
    if (address === this.address && down === this.hostDown && (down || host === this.host)) return
    const old = this.address
    const moved = !this.hostDown && (down || host !== this.host)
    if (host !== null) this.host = host
    this.hostDown = down
    this.address = address
    this.addressChangedAt = Date.now()
    if (old !== address) {
      this.pool.log.log(
        5,
        'dns',
        () => `${this.label}: address ${old ?? 'none'} -> ${address ?? 'none'} (${why})`,
      )
    }
    if (moved) this.retireAll()
  }

  /** The host name to look up (src/core/resolver.ts); null for an IP as written or a unix socket. */
  get hostName(): string | null {
    const a = this.config.address
    return a.kind === 'tcp' && isIP(a.host) === 0 ? a.host : null
  }

  /** True while any connection, current or retired, is still open. */
  get hasConnections(): boolean {
    return this.retired.size > 0 || this.conns.some((c) => c !== null)
  }

  /** Retires every connection (address change, redis_auth change, removal from the pool). */
  retireAll(): void {
    for (let i = 0; i < this.conns.length; i++) this.retire(i)
  }

  /** Sets the number of connection slots (`server_connections` changed); extra ones retire. */
  resize(n: number): void {
    const conns = this.conns
    for (let i = n; i < conns.length; i++) this.retire(i)
    const old = conns.length
    conns.length = n
    for (let i = old; i < n; i++) conns[i] = null
  }

  private retire(slot: number): void {
    const conn = this.conns[slot]
    if (conn === null || conn === undefined) return
    this.conns[slot] = null
    if (conn.dead) return
    this.retired.add(conn)
    conn.retire()
  }

  /** Opens the first connection now (`preconnect`). */
  preconnect(): void {
    if (this.conns[0] === null) this.conns[0] = new ServerConn(this)
  }

  /** A reply for `msg` arrived on one of this server's connections. */
  delivered(msg: Msg, frame: ReplyFrame, flags: number): void {
    if (msg.handshake !== null) {
      // nutcracker: a swallowed reply (AUTH, SELECT) neither resets nor adds to the failure count.
      const problem = msg.handshake(frame, this.label)
      if (problem !== null) this.pool.log.log(3, 'server', problem)
      return
    }
    // nutcracker (server_ok): any reply forwarded resets the failure count.
    if ((flags & F_FAILURE) !== 0) this.failure()
    else this.failures = 0
    if (msg.parent !== null) {
      this.pool.fragmentReply(msg, frame)
      return
    }
    const client = msg.client
    if (client === null) return // the client has gone; the reply is dropped
    const sink = client.sinkFor(msg)
    if (msg.hook !== null) msg.hook.reply(frame, sink)
    else frame.stream.pieces(frame.start, frame.end, sink)
    client.complete(msg)
  }

  /** `msg` failed at connection level for `reason`. */
  failed(msg: Msg, reason: string): void {
    if (msg.handshake !== null) return
    this.pool.failMsg(msg, reason)
  }

  /** One of this server's connections ended. */
  connEnded(conn: ServerConn, why: number): void {
    const slot = this.conns.indexOf(conn)
    if (slot >= 0) this.conns[slot] = null
    else this.retired.delete(conn)
    // A server removed by a reload is forgotten once its last connection has finished.
    if (
      this.pool.leaving.has(this) &&
      this.retired.size === 0 &&
      this.conns.every((c) => c === null)
    ) {
      this.pool.leaving.delete(this)
    }
    if (why === END_LOCAL) return
    const c = this.counters
    if (why === END_EOF) c.server_eof++
    else if (why === END_TIMEOUT) c.server_timedout++
    else c.server_err++
    // A server that closed a connection cleanly (an idle timeout, say) is still reachable.
    if (why !== END_EOF) this.reachable = false
    // A retired connection's address is no longer this server's: no ejection for it.
    if (slot < 0) return
    this.failure()
  }

  /**
   * Counts one failure; ejects the server when the limit is reached. Exactly
   * nutcracker's server_failure: nothing is counted without auto_eject_hosts;
   * `count < limit` keeps the server (so a limit of 0 acts as 1); an ejection
   * resets the count, and is counted even when the server is already out.
   */
  private failure(): void {
    const cfg = this.pool.config
    if (!cfg.autoEjectHosts) return
    this.failures++
    if (this.failures < cfg.serverFailureLimit) return
    this.failures = 0
    this.pool.eject(this)
  }

  /** Closes every connection (shutdown); their requests fail with `reason`. */
  close(reason: string): void {
    for (const conn of this.conns) conn?.fail(reason, END_LOCAL)
    for (const conn of this.retired) conn.fail(reason, END_LOCAL)
  }

  /** True while a connection has requests to write or replies to wait for. */
  get busy(): boolean {
    for (const conn of this.conns) if (conn !== null && !conn.dead && conn.busy) return true
    for (const conn of this.retired) if (conn.busy) return true
    return false
  }

  /** `pool | server` for logs. */
  get label(): string {
    return `${this.pool.config.name} | ${this.config.name}`
  }
}

/**
 * Spreads a key hash over all its bits before it picks a connection. The raw
 * hash modulo a small count does not spread: with fnv1a_64 (the default), keys
 * that differ only in their last byte differ by a multiple of 0x1b3 = 3*5*29,
 * so `key0`..`key9` all take the same one of 3 or 5 connections.
 */
function mix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x45d9f3b)
  return (h ^ (h >>> 16)) >>> 0
}
