/**
 * The proxy: one listener and one Pool per configured pool, in nutcracker's
 * pool order. Listeners are bound in that order; a bind failure stops the
 * start-up with nutcracker's message.
 */

import { chmodSync, unlinkSync } from 'node:fs'
import { createServer, type Server as NetServer, type Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Config, ListenAddress, PoolConfig } from '../config/types.js'
import { ProxyError } from '../errors.js'
import type { ProtocolFactory, ProtoLog } from '../proto/types.js'
import { ClientConn } from './client-conn.js'
import { connections } from './counters.js'
import { reasonOf } from './errno.js'
import type { Msg } from './msg.js'
import { Pool } from './pool.js'
import { AddressBook, type NameResolver, SystemResolver, settled } from './resolver.js'
import { acceptDirect } from './socket-read.js'
import { type Timed, TimeoutWheel } from './timeouts.js'
import { createListener, prepareTls, tlsErrorText } from './tls.js'

export interface ProxyOptions {
  readonly log: ProtoLog
  /** Picks each pool's protocol (the core knows no protocol itself). */
  readonly protocolFor: ProtocolFactory
  /** Looks backend names up (src/core/resolver.ts); default: the system's resolver. */
  readonly resolver?: NameResolver
  /** Time requests for the latency histograms (Pool.latency, Server.latency). Default off. */
  readonly latency?: boolean
}

/** How often a drain checks whether the clients are gone. */
const DRAIN_POLL_MS = 10

export class ProxyServer {
  /** The pools of the current config, in nutcracker's order (a reload changes the list in place). */
  readonly pools: Pool[]
  private readonly listeners: NetServer[] = []
  private readonly clients = new Set<ClientConn>()
  readonly wheel: TimeoutWheel
  private readonly log: ProtoLog
  /** Keeps backend names' addresses current (src/core/resolver.ts). */
  readonly book: AddressBook
  /** For a reload (src/core/reload.ts): each pool's listeners, their addresses, its clients. */
  private readonly poolListeners = new Map<Pool, NetServer[]>()
  readonly listenText = new Map<NetServer, string>()
  readonly clientsOf = new Map<Pool, Set<ClientConn>>()
  /** Pools a reload removed, while their clients drain. */
  readonly draining = new Set<Pool>()
  /** First lookups of the backend names, awaited before listening. */
  private firstAnswers: Promise<void>[] = []

  /** Builds the pools; nothing listens or connects until `listen`. */
  constructor(
    public config: Config,
    readonly options: ProxyOptions,
  ) {
    this.book = new AddressBook(options.resolver ?? new SystemResolver(), options.log)
    this.log = options.log
    this.wheel = new TimeoutWheel((t: Timed) => {
      // nutcracker: a timed-out request fails its whole server connection.
      ;(t as Msg).conn?.timedOut('Connection timed out')
    })
    this.pools = config.pools.map(
      (p) => new Pool(p, options.protocolFor(p), options.log, this.wheel),
    )
    for (const p of this.pools) p.timing = options.latency === true
  }

  /** Builds the pools, binds every listener (in pool order) and starts accepting clients. */
  static async start(config: Config, options: ProxyOptions): Promise<ProxyServer> {
    const proxy = new ProxyServer(config, options)
    await proxy.listen()
    return proxy
  }

  /** Binds every pool's listener in pool order; on a failure, closes what was bound. */
  async listen(): Promise<void> {
    for (const pool of this.pools) this.firstAnswers.push(...this.track(pool))
    await settled(this.firstAnswers)
    try {
      for (const pool of this.pools) await this.listenPool(pool)
    } catch (err) {
      await this.close()
      throw err
    }
    for (const pool of this.pools) if (pool.config.preconnect) pool.preconnect()
  }

  /** A pool built as the constructor builds them (a reload adds pools with it). */
  newPool(cfg: PoolConfig): Pool {
    const pool = new Pool(cfg, this.options.protocolFor(cfg), this.log, this.wheel)
    pool.timing = this.options.latency === true
    return pool
  }

  /** Starts resolving the pool's named servers; the promises settle with their first answers. */
  track(pool: Pool): Promise<void>[] {
    return pool.servers.map((s) => this.book.track(s, pool.config.dnsRefreshInterval))
  }

  /** Binds the pool's `listen:` and, with `listen_tls`, its TLS listener (src/core/tls.ts). */
  async listenPool(pool: Pool): Promise<void> {
    const cfg = pool.config
    prepareTls(cfg)
    const plain = createServer({ allowHalfOpen: true }, (socket) => this.accept(pool, socket))
    await this.bind(pool, plain, cfg.listen, '')
    acceptDirect(plain, (socket) => this.accept(pool, socket))
    if (cfg.listenTls !== undefined) {
      const secure = createListener(cfg, (socket) => this.accept(pool, socket))
      secure.on('tlsClientError', (err, socket) => {
        const from = socket.remoteAddress ?? 'unix'
        this.log.log(6, 'proxy', () => `tls client ${from} on p ${cfg.name}: ${tlsErrorText(err)}`)
      })
      await this.bind(pool, secure, cfg.listenTls, ' (tls)')
    }
  }

  private bind(pool: Pool, server: NetServer, l: ListenAddress, tag: string): Promise<void> {
    const cfg = pool.config
    this.listeners.push(server)
    this.listenText.set(server, l.text)
    const mine = this.poolListeners.get(pool)
    if (mine === undefined) this.poolListeners.set(pool, [server])
    else mine.push(server)
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(bindError(cfg, l, err))
      server.once('error', onError)
      const listening = () => {
        server.off('error', onError)
        server.on('error', (err) =>
          this.log.log(3, 'proxy', `accept on ${l.text} failed: ${reasonOf(err)}`),
        )
        connections.total_connections++
        connections.curr_connections++
        if (l.kind === 'unix' && l.mode !== undefined) chmodSync(l.path, l.mode)
        this.log.log(5, 'proxy', `p ${cfg.name} listening on ${l.text}${tag}`)
        resolve()
      }
      if (l.kind === 'unix') {
        // nutcracker unlinks a stale socket file before binding.
        try {
          unlinkSync(l.path)
        } catch {
          // absent: nothing to remove
        }
        server.listen({ path: l.path, backlog: cfg.backlog }, listening)
      } else {
        server.listen({ host: l.address, port: l.port, backlog: cfg.backlog }, listening)
      }
    })
  }

  private accept(pool: Pool, socket: Socket): void {
    const limit = pool.config.clientConnections
    if (limit > 0 && pool.counters.client_connections >= limit) {
      // Deviation P8: the limit is enforced; the refused client counts as client_err.
      pool.counters.client_err++
      socket.on('error', () => {})
      socket.destroy()
      return
    }
    let mine = this.clientsOf.get(pool)
    if (mine === undefined) {
      mine = new Set()
      this.clientsOf.set(pool, mine)
    }
    const of = mine
    const client = new ClientConn(socket, pool, (c) => {
      this.clients.delete(c)
      of.delete(c)
    })
    this.clients.add(client)
    of.add(client)
  }

  /** Reload: the pool's listeners, now taken from it (it has none until bound again or given back). */
  takeListeners(pool: Pool): NetServer[] {
    const mine = this.poolListeners.get(pool) ?? []
    this.poolListeners.delete(pool)
    return mine
  }

  /** Reload: makes `servers` the pool's listeners again. */
  giveListeners(pool: Pool, servers: NetServer[]): void {
    this.poolListeners.set(pool, servers)
  }

  /** Reload: closes listeners; they accept no more clients, and their clients stay. */
  unlisten(servers: readonly NetServer[]): void {
    for (const s of servers) {
      const i = this.listeners.indexOf(s)
      if (i >= 0) this.listeners.splice(i, 1)
      this.listenText.delete(s)
      if (!s.listening) continue
      connections.curr_connections--
      s.close()
    }
  }

  /** Client connections open now. */
  get clientCount(): number {
    return this.clients.size
  }

  /** Stops accepting clients: listeners close at once (a unix socket file is removed). */
  stopAccepting(): void {
    for (const s of this.listeners) {
      if (!s.listening) continue
      connections.curr_connections--
      s.close()
    }
  }

  /**
   * Graceful stop (SIGINT, SIGTERM): stop accepting, let every client finish the
   * requests already read and close (ClientConn.drain), and wait until the
   * clients are gone and the servers have been sent everything queued (noreply
   * requests too) — at most `timeoutMs`. Then close whatever is left. Resolves
   * with the number of clients still open at the bound (0: a clean drain).
   */
  async drain(timeoutMs: number): Promise<number> {
    this.stopAccepting()
    for (const c of this.clients) c.drain()
    const deadline = Date.now() + timeoutMs
    while (!this.idle() && Date.now() < deadline) await sleep(DRAIN_POLL_MS)
    const cut = this.clients.size
    await this.close()
    return cut
  }

  /** No client connection left and no server connection with work queued or out. */
  private idle(): boolean {
    if (this.clients.size > 0) return false
    for (const p of this.pools) if (p.busy) return false
    return true
  }

  /** Stops listening, closes every client and server connection. */
  async close(): Promise<void> {
    this.wheel.stop()
    this.book.stop()
    for (const p of this.draining) p.close('Connection closed by proxy')
    this.draining.clear()
    // A listener's close completes only once its clients are gone: destroy them before waiting.
    const closed = Promise.all(
      this.listeners.map(
        (s) =>
          new Promise<void>((resolve) => {
            if (!s.listening) return resolve()
            connections.curr_connections--
            s.close(() => resolve())
          }),
      ),
    )
    for (const c of this.clients) c.destroy()
    for (const p of this.pools) p.close('Connection closed by proxy')
    await closed
  }
}

function bindError(cfg: PoolConfig, l: ListenAddress, err: Error): ProxyError {
  return new ProxyError(
    'NC_ERR_LISTEN',
    `bind on p ${cfg.name} to addr '${l.text}' failed: ${reasonOf(err)}`,
    { cause: err },
  )
}
