/**
 * Test rig for the core: a ProxyServer with one pool speaking the toy protocol
 * (test/helpers/toy-protocol.ts) in front of fake backends
 * (test/helpers/fake-backend.ts), and raw-socket clients that read exact bytes.
 * Everything a rig starts is stopped by `close()`, which the tests register
 * with `t.after`.
 */

import assert from 'node:assert/strict'
import { connect, type Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Config, PoolConfig } from '../../src/config/types.js'
import type { Pool } from '../../src/core/pool.js'
import { ProxyServer } from '../../src/core/proxy.js'
import type { Server } from '../../src/core/server.js'
import { Placement } from '../../src/hash/placement.js'
import type { ProtoLog } from '../../src/proto/types.js'
import { FakeBackend } from '../helpers/fake-backend.js'
import { inNutcrackerOrder, testPoolConfig } from '../helpers/pool-config.js'
import { freePort } from '../helpers/ports.js'
import { ToyProtocol, toyFactory } from '../helpers/toy-protocol.js'

/** Default time a client read or a condition may take. */
export const WAIT_MS = 3000

/** Log lines at level <= 5 are kept (for failure messages); nothing is printed. */
export class TestLog implements ProtoLog {
  readonly lines: string[] = []
  enabled(level: number): boolean {
    return level <= 5
  }
  log(level: number, module: string, message: string | (() => string)): void {
    if (level > 5) return
    this.lines.push(`${module} ${typeof message === 'string' ? message : message()}`)
  }
}

/** A pool config with nutcracker's defaults, listening on 127.0.0.1:`port`. */
export function poolConfig(
  port: number,
  backends: readonly FakeBackend[],
  overrides: Partial<PoolConfig> = {},
): PoolConfig {
  const servers = inNutcrackerOrder(
    backends.map((b) => ({
      text: `127.0.0.1:${b.port}:1 ${b.name}`,
      name: b.name,
      weight: 1,
      address: { kind: 'tcp', host: '127.0.0.1', port: b.port },
    })),
  )
  return testPoolConfig(port, { name: 'toy', servers, ...overrides })
}

export interface RigOptions {
  /** Backend names (each a FakeBackend); default `['s1', 's2']`. */
  readonly names?: readonly string[]
  readonly pool?: Partial<PoolConfig>
  readonly handshake?: boolean
}

export class Rig {
  readonly clients: Client[] = []
  /** Raw sockets a test opened itself; destroyed by close(). */
  readonly sockets: Socket[] = []
  private constructor(
    readonly proxy: ProxyServer,
    readonly port: number,
    readonly backends: FakeBackend[],
    readonly proto: ToyProtocol,
    readonly log: TestLog,
    readonly placement: Placement,
  ) {}

  static async start(options: RigOptions = {}): Promise<Rig> {
    const names = options.names ?? ['s1', 's2']
    const backends: FakeBackend[] = []
    for (const n of names) backends.push(await FakeBackend.start(n))
    const port = await freePort()
    const pool = poolConfig(port, backends, options.pool)
    const config: Config = { path: 'core-test.yml', pools: [pool] }
    const proto = new ToyProtocol({ handshake: options.handshake ?? false })
    const log = new TestLog()
    const proxy = await ProxyServer.start(config, { log, protocolFor: toyFactory(proto) })
    return new Rig(proxy, port, backends, proto, log, new Placement(pool))
  }

  get pool(): Pool {
    return this.proxy.pools[0]!
  }

  /** The pool's server object named `name`. */
  server(name: string): Server {
    const s = this.pool.servers.find((x) => x.config.name === name)
    assert.ok(s, `no server ${name}`)
    return s
  }

  backend(name: string): FakeBackend {
    const b = this.backends.find((x) => x.name === name)
    assert.ok(b, `no backend ${name}`)
    return b
  }

  /** The name of the server that owns `key` with every server live. */
  ownerOf(key: string): string {
    const kb = Buffer.from(key, 'latin1')
    return this.pool.config.servers[this.placement.serverFor(kb, 0, kb.length)]!.name
  }

  /** The first keys `<prefix><n>` owned by `name`. */
  keysOf(name: string, count: number, prefix = 'k'): string[] {
    const out: string[] = []
    for (let n = 0; out.length < count && n < 100000; n++) {
      if (this.ownerOf(`${prefix}${n}`) === name) out.push(`${prefix}${n}`)
    }
    assert.equal(out.length, count, `not enough keys for ${name}`)
    return out
  }

  async connect(): Promise<Client> {
    const c = await Client.open(this.port)
    this.clients.push(c)
    return c
  }

  async close(): Promise<void> {
    for (const c of this.clients) c.socket.destroy()
    for (const s of this.sockets) s.destroy()
    await this.proxy.close()
    for (const b of this.backends) await b.close()
  }
}

/** A raw client: writes strings, reads exact bytes. */
export class Client {
  private buf = ''
  ended = false
  closed = false
  error: Error | null = null
  private waiter: (() => void) | null = null

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buf += chunk.toString('latin1')
      this.wake()
    })
    socket.on('end', () => {
      this.ended = true
      this.wake()
    })
    socket.on('error', (err) => {
      this.error = err
    })
    socket.on('close', () => {
      this.closed = true
      this.wake()
    })
  }

  static open(port: number): Promise<Client> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port, allowHalfOpen: true })
      s.once('error', reject)
      s.once('connect', () => {
        s.off('error', reject)
        resolve(new Client(s))
      })
    })
  }

  send(text: string): void {
    this.socket.write(Buffer.from(text, 'latin1'))
  }

  /** Everything received and not yet read. */
  get pending(): string {
    return this.buf
  }

  private wake(): void {
    const w = this.waiter
    this.waiter = null
    w?.()
  }

  /** Waits until `cond()` or the connection closes; false on timeout or close without cond. */
  private async wait(cond: () => boolean, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms
    while (!cond()) {
      if (this.closed || (this.ended && this.socket.readableEnded)) return cond()
      const left = deadline - Date.now()
      if (left <= 0) return false
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left)
        this.waiter = () => {
          clearTimeout(t)
          resolve()
        }
      })
    }
    return true
  }

  /** Reads exactly `n` lines (each with its `\n`), as one string. */
  async lines(n: number, ms = WAIT_MS): Promise<string> {
    let at = 0
    const has = () => {
      at = 0
      for (let i = 0; i < n; i++) {
        const nl = this.buf.indexOf('\n', at)
        if (nl < 0) return false
        at = nl + 1
      }
      return true
    }
    const ok = await this.wait(has, ms)
    assert.ok(ok, `expected ${n} lines, got ${JSON.stringify(this.buf.slice(0, 500))}`)
    const out = this.buf.slice(0, at)
    this.buf = this.buf.slice(at)
    return out
  }

  /** Waits for the proxy's FIN (or close); returns every byte received before it. */
  async end(ms = WAIT_MS): Promise<string> {
    const ok = await this.wait(() => this.ended || this.closed, ms)
    assert.ok(ok, `expected the proxy to close; received ${JSON.stringify(this.buf.slice(0, 500))}`)
    const out = this.buf
    this.buf = ''
    return out
  }

  /** True if nothing arrives (and the connection stays open) for `ms`. */
  async quiet(ms: number): Promise<boolean> {
    await sleep(ms)
    return this.buf.length === 0 && !this.ended && !this.closed
  }
}

/** Polls `cond` every few ms; fails with `what` after `ms`. */
export async function until(cond: () => boolean, what: string, ms = WAIT_MS): Promise<void> {
  const deadline = Date.now() + ms
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`)
    await sleep(5)
  }
}
