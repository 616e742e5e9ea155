/**
 * Backend addresses that change and config reloads, on the proxy core with the
 * toy line protocol (test/helpers/toy-protocol.ts): fake backends on loopback
 * (two of them on 127.0.0.2 and 127.0.0.3 with the same port stand for a node
 * that moves), a scripted NameResolver for the names, and applyConfig /
 * Reloader driven directly. Exact reply bytes, exact counters, and the client
 * sockets checked to stay open. The real processes (dnsmasq, memcached, the
 * CLI and its signals) are in test/integration/dns-names and reload-live.
 */

import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { connect, createServer, type Server as NetServer, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Config, PoolConfig, ServerConfig } from '../../src/config/types.js'
import { ProxyServer } from '../../src/core/proxy.js'
import { applyConfig, planReload, Reloader, reloadCounters } from '../../src/core/reload.js'
import type { Answer, NameResolver } from '../../src/core/resolver.js'
import { compareNutcrackerNames, Placement } from '../../src/hash/placement.js'
import { proxyMetrics } from '../../src/stats/prometheus.js'
import { FakeBackend } from '../helpers/fake-backend.js'
import { inNutcrackerOrder, testPoolConfig } from '../helpers/pool-config.js'
import { freePort } from '../helpers/ports.js'
import { ToyProtocol, toyFactory } from '../helpers/toy-protocol.js'
import { Client, TestLog, until } from './harness.js'

// ---- configs ------------------------------------------------------------------------------

function srv(name: string, host: string, port: number, weight = 1): ServerConfig {
  return {
    text: `${host}:${port}:${weight} ${name}`,
    index: 0,
    name,
    weight,
    address: { kind: 'tcp', host, port },
  }
}

function pool(
  name: string,
  port: number,
  servers: readonly ServerConfig[],
  over: Partial<PoolConfig> = {},
): PoolConfig {
  return testPoolConfig(port, { name, servers: inNutcrackerOrder(servers), ...over })
}

function config(...pools: PoolConfig[]): Config {
  return {
    path: 'reload-test.yml',
    pools: [...pools].sort((a, b) => compareNutcrackerNames(a.name, b.name)),
  }
}

function fake(b: FakeBackend): ServerConfig {
  return srv(b.name, '127.0.0.1', b.port)
}

/** The name of the server that owns `key` in `cfg` with every server live. */
function owner(cfg: PoolConfig, key: string): string {
  const k = Buffer.from(key, 'latin1')
  return cfg.servers[new Placement(cfg).serverFor(k, 0, k.length)]!.name
}

/** `count` keys `<prefix><n>` owned by `name` in `cfg`. */
function keysOf(cfg: PoolConfig, name: string, count: number, prefix = 'k'): string[] {
  const out: string[] = []
  for (let n = 0; out.length < count && n < 100_000; n++) {
    if (owner(cfg, `${prefix}${n}`) === name) out.push(`${prefix}${n}`)
  }
  assert.equal(out.length, count, `not enough keys for ${name}`)
  return out
}

/** A scripted resolver (the unit tests of resolver.ts use a real one nowhere either). */
class Names implements NameResolver {
  readonly description = 'test'
  readonly map = new Map<string, string>()
  async resolve(host: string): Promise<Answer> {
    const a = this.map.get(host)
    if (a === undefined) throw Object.assign(new Error('ENOTFOUND'), { code: 'ENOTFOUND' })
    return { addresses: [a], ttl: 0 }
  }
}

/**
 * A line backend on any loopback address: `L\n` → `<name>:L\n`; with `hold`,
 * replies wait until it is cleared. Counts connections opened and closed.
 */
class LineBackend {
  accepted = 0
  closed = 0
  readonly lines: string[] = []
  private held: [Socket, string][] = []
  private holding = false
  private readonly sockets = new Set<Socket>()
  private constructor(
    readonly name: string,
    private readonly server: NetServer,
  ) {}

  static async start(name: string, host: string, port: number): Promise<LineBackend> {
    let b: LineBackend | null = null
    const server = createServer((s) => b!.onConnection(s))
    b = new LineBackend(name, server)
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen({ host, port }, () => resolve())
    })
    return b
  }

  set hold(on: boolean) {
    this.holding = on
    if (on) return
    for (const [s, text] of this.held) if (!s.destroyed) s.write(text)
    this.held = []
  }

  private onConnection(s: Socket): void {
    this.accepted++
    this.sockets.add(s)
    s.on('error', () => {})
    s.on('close', () => {
      this.closed++
      this.sockets.delete(s)
    })
    let partial = ''
    s.on('data', (chunk: Buffer) => {
      const parts = (partial + chunk.toString('latin1')).split('\n')
      partial = parts.pop()!
      for (const line of parts) {
        this.lines.push(line)
        const text = `${this.name}:${line}\n`
        if (this.holding) this.held.push([s, text])
        else s.write(text)
      }
    })
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }
}

/** Starts a proxy; everything is closed after the test. */
async function start(
  t: { after: (fn: () => Promise<void>) => void },
  cfg: Config,
  resolver?: NameResolver,
) {
  const log = new TestLog()
  const proto = new ToyProtocol()
  const proxy = await ProxyServer.start(cfg, {
    log,
    protocolFor: toyFactory(proto),
    ...(resolver !== undefined ? { resolver } : {}),
  })
  const clients: Client[] = []
  t.after(async () => {
    for (const c of clients) c.socket.destroy()
    await proxy.close()
  })
  const open = async (port: number) => {
    const c = await Client.open(port)
    clients.push(c)
    return c
  }
  return { proxy, log, open }
}

async function backends(
  t: { after: (fn: () => Promise<void>) => void },
  ...names: string[]
): Promise<FakeBackend[]> {
  const out: FakeBackend[] = []
  for (const n of names) out.push(await FakeBackend.start(n))
  t.after(async () => {
    for (const b of out) await b.close()
  })
  return out
}

/** Sends `get <key>` for each key and checks each reply names the expected server. */
async function checkOwners(c: Client, cfg: PoolConfig, keys: readonly string[]): Promise<void> {
  c.send(keys.map((k) => `get ${k}\n`).join(''))
  const got = (await c.lines(keys.length)).split('\n').slice(0, -1)
  assert.deepEqual(
    got,
    keys.map((k) => `${owner(cfg, k)}:get ${k}`),
  )
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port })
    s.once('connect', () => {
      s.destroy()
      resolve(false)
    })
    s.once('error', () => resolve(true))
  })
}

const KEYS = Array.from({ length: 40 }, (_, i) => `key${i}`)

// ---- planReload ---------------------------------------------------------------------------

describe('planReload', () => {
  const a = pool('alpha', 1001, [srv('s1', '127.0.0.1', 2001), srv('s2', '127.0.0.1', 2002)])
  const b = pool('beta', 1002, [srv('s3', '127.0.0.1', 2003)])

  test('deep-equal pools are unchanged, even when they or their servers moved in the file', () => {
    const moved = pool(
      'alpha',
      1001,
      [srv('s2', '127.0.0.1', 2002), srv('s1', '127.0.0.1', 2001)],
      {
        index: 3,
      },
    )
    assert.deepEqual(planReload([a, b], [b, moved]), {
      unchanged: ['beta', 'alpha'],
      updated: [],
      relisten: [],
      added: [],
      removed: [],
    })
  })

  test('settings, servers and weights update in place; listen and backlog re-bind', () => {
    const hash = { ...a, hash: 'murmur' as const }
    const weight = pool('beta', 1002, [srv('s3', '127.0.0.1', 2003, 2)])
    assert.deepEqual(planReload([a, b], [hash, weight]), {
      unchanged: [],
      updated: ['alpha', 'beta'],
      relisten: [],
      added: [],
      removed: [],
    })
    const listen = pool('alpha', 1009, a.servers)
    const backlog = { ...b, backlog: 7 }
    assert.deepEqual(planReload([a, b], [listen, backlog]), {
      unchanged: [],
      updated: ['alpha', 'beta'],
      relisten: ['alpha', 'beta'],
      added: [],
      removed: [],
    })
  })

  test('new and missing names are added and removed; a flipped redis flag is both', () => {
    const c = pool('gamma', 1003, [srv('s4', '127.0.0.1', 2004)])
    const redis = { ...b, redis: true }
    assert.deepEqual(planReload([a, b], [redis, c]), {
      unchanged: [],
      updated: [],
      relisten: [],
      added: ['beta', 'gamma'],
      removed: ['alpha', 'beta'],
    })
  })
})

// ---- addresses ----------------------------------------------------------------------------

describe('a backend name whose address changes', () => {
  test('in-flight requests finish on the old address, new ones go to the new; no failure counted', async (t) => {
    const port = await freePort('127.0.0.2')
    const oldB = await LineBackend.start('old', '127.0.0.2', port)
    const newB = await LineBackend.start('new', '127.0.0.3', port)
    t.after(async () => {
      await oldB.close()
      await newB.close()
    })
    const names = new Names()
    names.map.set('node.test', '127.0.0.2')
    const lport = await freePort()
    // 1000 ms: the shortest refresh (records here have TTL 0).
    const cfg = pool('alpha', lport, [srv('node', 'node.test', port)], { dnsRefreshInterval: 1000 })
    const { proxy, log, open } = await start(t, config(cfg), names)
    const server = proxy.pools[0]!.servers[0]!
    assert.equal(server.address, '127.0.0.2')
    assert.ok(server.addressChangedAt > 0)

    const c1 = await open(lport)
    const c2 = await open(lport)
    c1.send('get a\n')
    assert.equal(await c1.lines(1), 'old:get a\n')
    oldB.hold = true
    c1.send('get b\n')
    await until(() => oldB.lines.length === 2, 'get b at the old backend')

    const before = server.addressChangedAt
    names.map.set('node.test', '127.0.0.3')
    await until(() => server.address === '127.0.0.3', 'the new address', 3000)
    assert.ok(server.addressChangedAt > before)
    // The old connection is retired, not closed: its request is still out.
    assert.equal(oldB.closed, 0)
    c2.send('get c\n')
    assert.equal(await c2.lines(1), 'new:get c\n')
    oldB.hold = false
    assert.equal(await c1.lines(1), 'old:get b\n')
    await until(() => oldB.closed === 1, 'the old connection to close')
    c1.send('get d\n')
    assert.equal(await c1.lines(1), 'new:get d\n')
    assert.equal(newB.accepted, 1)
    const k = server.counters
    assert.deepEqual(
      [k.server_err, k.server_eof, k.server_timedout, k.requests, k.responses],
      [0, 0, 0, 4, 4],
    )
    assert.equal(server.failures, 0)
    // The Prometheus exposition shows the address in use and when it changed.
    const text = proxyMetrics(proxy.pools, { version: 't', startedAt: 0, latency: false })()
    assert.ok(
      text.includes(
        'walnut_server_address_info{pool="alpha",server="node",address="127.0.0.3"} 1\n',
      ),
    )
    assert.ok(
      text.includes(
        `walnut_server_address_changed_timestamp_seconds{pool="alpha",server="node"} ${server.addressChangedAt / 1000}\n`,
      ),
    )
    assert.ok(
      log.lines.includes("dns alpha | node: address 127.0.0.2 -> 127.0.0.3 ('node.test' resolved)"),
    )
    assert.ok(!c1.closed && !c2.closed)
  })

  test('a name that does not resolve: `Host is down` at once, server_err, ejection; others work', async (t) => {
    const [b2] = await backends(t, 's2')
    const names = new Names()
    const lport = await freePort()
    const cfg = pool('alpha', lport, [srv('dn', 'nowhere.test', 1), fake(b2!)], {
      autoEjectHosts: true,
      serverFailureLimit: 2,
      serverRetryTimeout: 60_000,
    })
    const { proxy, open } = await start(t, config(cfg), names)
    const dn = proxy.pools[0]!.servers.find((s) => s.config.name === 'dn')!
    assert.equal(dn.address, null)
    assert.equal(dn.hostDown, true)
    const [kd] = keysOf(cfg, 'dn', 1)
    const [ks] = keysOf(cfg, 's2', 1)
    const text = proxyMetrics(proxy.pools, { version: 't', startedAt: 0, latency: false })()
    assert.ok(!text.includes('server="dn",address='), 'no address for an unresolved name')
    assert.ok(
      text.includes(
        'walnut_server_address_changed_timestamp_seconds{pool="alpha",server="dn"} 0\n',
      ),
    )
    assert.ok(
      text.includes(`walnut_server_address_info{pool="alpha",server="s2",address="127.0.0.1"} 1\n`),
    )
    const c = await open(lport)
    c.send(`get ${kd}\nget ${ks}\n`)
    assert.equal(await c.lines(2), `ERR Host is down\ns2:get ${ks}\n`)
    assert.deepEqual([dn.counters.server_err, dn.counters.requests], [1, 0])
    assert.equal(proxy.pools[0]!.counters.forward_error, 1)
    assert.equal(proxy.pools[0]!.counters.server_ejects, 0)
    c.send(`get ${kd}\n`)
    assert.equal(await c.lines(1), 'ERR Host is down\n')
    // The second failure reaches server_failure_limit: ejected, its keys go to s2.
    assert.equal(proxy.pools[0]!.counters.server_ejects, 1)
    c.send(`get ${kd}\n`)
    assert.equal(await c.lines(1), `s2:get ${kd}\n`)
  })
})

// ---- reloads ------------------------------------------------------------------------------

describe('applyConfig', () => {
  test('add and remove servers: kept servers keep their connection; the in-flight request on the removed one is answered', async (t) => {
    const [s1, s2, s3] = await backends(t, 's1', 's2', 's3')
    const lport = await freePort()
    const v1 = pool('alpha', lport, [fake(s1!), fake(s2!)])
    const { proxy, log, open } = await start(t, config(v1))
    const c = await open(lport)
    const c2 = await open(lport)
    await checkOwners(c, v1, KEYS)
    const p = proxy.pools[0]!
    const kept = p.servers.find((s) => s.config.name === 's1')!
    const sent = kept.counters.requests
    assert.equal(s1!.accepted, 1)

    s2!.hang = true
    const [k2] = keysOf(v1, 's2', 1)
    c2.send(`get ${k2}\n`)
    await until(() => s2!.lines.length > 0 && s2!.lines.at(-1) === `get ${k2}`, 'the request at s2')

    const v2 = pool('alpha', lport, [fake(s1!), fake(s3!)])
    const r = await applyConfig(proxy, config(v2), { log })
    assert.deepEqual(r.problems, [])
    assert.deepEqual(r.plan.updated, ['alpha'])
    assert.equal(proxy.pools[0], p)
    assert.deepEqual(
      p.servers.map((s) => [s.config.name, s.index]),
      [
        ['s1', 0],
        ['s3', 1],
      ],
    )
    assert.equal(p.servers[0], kept)
    await checkOwners(c, v2, KEYS)
    // s1's connection was kept; its counters go on.
    assert.equal(s1!.accepted, 1)
    assert.ok(kept.counters.requests > sent)
    assert.equal(s2!.open, 1)
    assert.deepEqual(
      [...p.leaving].map((s) => s.config.name),
      ['s2'],
    )
    s2!.hang = false
    assert.equal(await c2.lines(1), `s2:get ${k2}\n`)
    await until(() => s2!.open === 0, 'the removed server connection to close')
    // Forgotten once its last connection finished (no leak across reloads).
    await until(() => p.leaving.size === 0, 'the removed server to be forgotten')
    assert.ok(!c.closed && !c2.closed)
    assert.ok(log.lines.includes('reload p alpha: server s2 removed'))
    assert.ok(log.lines.includes('reload p alpha: server s3 added'))
  })

  test('a new hash, then weights: placement follows the new config, the client stays', async (t) => {
    const [s1, s2, s3] = await backends(t, 's1', 's2', 's3')
    const lport = await freePort()
    const v1 = pool('alpha', lport, [fake(s1!), fake(s2!), fake(s3!)])
    const { proxy, log, open } = await start(t, config(v1))
    const c = await open(lport)
    await checkOwners(c, v1, KEYS)
    const v2 = { ...v1, hash: 'murmur' as const }
    assert.ok(KEYS.some((k) => owner(v1, k) !== owner(v2, k)))
    await applyConfig(proxy, config(v2), { log })
    await checkOwners(c, v2, KEYS)
    const v3 = pool('alpha', lport, [fake(s1!), srv('s2', '127.0.0.1', s2!.port, 5), fake(s3!)], {
      hash: 'murmur',
    })
    await applyConfig(proxy, config(v3), { log })
    await checkOwners(c, v3, KEYS)
    assert.equal(proxy.pools[0]!.servers[1]!.config.weight, 5)
    for (const b of [s1, s2, s3]) assert.equal(b!.accepted, 1)
    assert.ok(!c.closed)
  })

  test('ejection state survives a reload that keeps the server', async (t) => {
    const [s1, s2, s3] = await backends(t, 's1', 's2', 's3')
    const lport = await freePort()
    const v1 = pool('alpha', lport, [fake(s1!), fake(s2!)], {
      autoEjectHosts: true,
      serverFailureLimit: 1,
      serverRetryTimeout: 60_000,
    })
    const { proxy, log, open } = await start(t, config(v1))
    const c = await open(lport)
    const [k1] = keysOf(v1, 's1', 1)
    c.send(`fail ${k1}\n`)
    assert.equal(await c.lines(1), '-FAIL s1\n')
    const p = proxy.pools[0]!
    assert.equal(p.placement.isLive(0), false)
    const v2 = pool('alpha', lport, [fake(s1!), fake(s2!), fake(s3!)], {
      autoEjectHosts: true,
      serverFailureLimit: 1,
      serverRetryTimeout: 60_000,
    })
    await applyConfig(proxy, config(v2), { log })
    assert.deepEqual(
      p.servers.map((s) => p.placement.isLive(s.index)),
      [false, true, true],
    )
    // With s1 out, its keys go elsewhere: never to s1.
    c.send(KEYS.map((k) => `get ${k}\n`).join(''))
    const got = await c.lines(KEYS.length)
    assert.ok(!got.includes('s1:'), got)
  })

  test('listen changes: the new address accepts, the old refuses, connected clients stay', async (t) => {
    const [s1] = await backends(t, 's1')
    const [p1, p2] = [await freePort(), await freePort()]
    const v1 = pool('alpha', p1, [fake(s1!)])
    const { proxy, log, open } = await start(t, config(v1))
    const c = await open(p1)
    c.send('get a\n')
    assert.equal(await c.lines(1), 's1:get a\n')
    const r = await applyConfig(proxy, config(pool('alpha', p2, [fake(s1!)])), { log })
    assert.deepEqual([r.plan.relisten, r.problems], [['alpha'], []])
    assert.equal(await refused(p1), true)
    const d = await open(p2)
    d.send('get b\n')
    assert.equal(await d.lines(1), 's1:get b\n')
    c.send('get c\n')
    assert.equal(await c.lines(1), 's1:get c\n')
    assert.equal(proxy.pools[0]!.counters.client_connections, 2)
  })

  test('a listen address already taken: the pool keeps its old listener; the problem is reported', async (t) => {
    const [s1] = await backends(t, 's1')
    const p1 = await freePort()
    const blocker = createServer()
    await new Promise<void>((resolve) => blocker.listen({ host: '127.0.0.1', port: 0 }, resolve))
    t.after(() => new Promise<void>((resolve) => blocker.close(() => resolve())))
    const taken = (blocker.address() as { port: number }).port
    const { proxy, log, open } = await start(t, config(pool('alpha', p1, [fake(s1!)])))
    const r = await applyConfig(proxy, config(pool('alpha', taken, [fake(s1!)])), { log })
    assert.equal(r.problems.length, 1)
    assert.match(
      r.problems[0]!,
      /^pool 'alpha' keeps its old listener: bind on p alpha to addr '127\.0\.0\.1:\d+' failed: Address already in use$/,
    )
    const c = await open(p1)
    c.send('get a\n')
    assert.equal(await c.lines(1), 's1:get a\n')
  })

  test('add a pool, then remove it: its client gets the reply in flight, then is closed', async (t) => {
    const [s1, s2] = await backends(t, 's1', 's2')
    const [pa, pb] = [await freePort(), await freePort()]
    const alpha = pool('alpha', pa, [fake(s1!)])
    const { proxy, log, open } = await start(t, config(alpha))
    const beta = pool('beta', pb, [fake(s2!)])
    const r = await applyConfig(proxy, config(alpha, beta), { log })
    assert.deepEqual([r.plan.unchanged, r.plan.added], [['alpha'], ['beta']])
    assert.deepEqual(
      proxy.pools.map((p) => p.config.name),
      ['beta', 'alpha'],
    )
    const ca = await open(pa)
    const cb = await open(pb)
    cb.send('get x\n')
    assert.equal(await cb.lines(1), 's2:get x\n')
    s2!.hang = true
    cb.send('get y\n')
    await until(() => s2!.lines.at(-1) === 'get y', 'get y at s2')
    const r2 = await applyConfig(proxy, config(alpha), { log, drainMs: 5000 })
    assert.deepEqual(r2.plan.removed, ['beta'])
    assert.deepEqual(
      proxy.pools.map((p) => p.config.name),
      ['alpha'],
    )
    assert.equal(await refused(pb), true)
    assert.equal(cb.closed || cb.ended, false)
    s2!.hang = false
    assert.equal(await cb.end(), 's2:get y\n')
    await until(() => s2!.open === 0, "beta's server connection to close")
    ca.send('get z\n')
    assert.equal(await ca.lines(1), 's1:get z\n')
    await until(
      () => log.lines.some((l) => l.startsWith('reload p beta removed: 1 clients drained')),
      'the drain log line',
    )
  })

  test('a renamed pool keeps the listen address: it moves to the new pool', async (t) => {
    const [s1] = await backends(t, 's1')
    const pa = await freePort()
    const { proxy, log, open } = await start(t, config(pool('alpha', pa, [fake(s1!)])))
    const old = await open(pa)
    const r = await applyConfig(proxy, config(pool('gamma', pa, [fake(s1!)])), { log })
    assert.deepEqual([r.plan.added, r.plan.removed, r.problems], [['gamma'], ['alpha'], []])
    const c = await open(pa)
    c.send('get a\n')
    assert.equal(await c.lines(1), 's1:get a\n')
    assert.equal(proxy.pools[0]!.config.name, 'gamma')
    assert.equal(proxy.pools[0]!.counters.client_connections, 1)
    // The old pool's idle client is drained: closed cleanly.
    assert.equal(await old.end(), '')
  })
})

describe('connections across a reload', () => {
  test('fewer server_connections, then a new redis_db: surplus and then all connections retire; requests go on', async (t) => {
    const [s1] = await backends(t, 's1')
    const lport = await freePort()
    const v1 = pool('alpha', lport, [fake(s1!)], { serverConnections: 3 })
    const { proxy, log, open } = await start(t, config(v1))
    const c = await open(lport)
    c.send(KEYS.map((k) => `get ${k}\n`).join(''))
    await c.lines(KEYS.length)
    assert.equal(s1!.accepted, 3)
    await applyConfig(proxy, config({ ...v1, serverConnections: 1 }), { log })
    // Two of the three were retired; idle, they close at once.
    await until(() => s1!.open === 1, 'two connections to close')
    c.send('get a\n')
    assert.equal(await c.lines(1), 's1:get a\n')
    await applyConfig(proxy, config({ ...v1, serverConnections: 1, redisDb: 2 }), { log })
    await until(() => s1!.open === 0, 'the last old connection to close')
    c.send('get b\n')
    assert.equal(await c.lines(1), 's1:get b\n')
    assert.equal(s1!.accepted, 4)
    const k = proxy.pools[0]!.servers[0]!.counters
    assert.deepEqual([k.server_err, k.server_eof, k.server_connections], [0, 0, 1])
    assert.ok(!c.closed)
  })

  test('dns_refresh_interval 0: no background lookups, each connection looks the name up (localhost)', async (t) => {
    const [s1] = await backends(t, 's1')
    const names = new Names()
    const lport = await freePort()
    const cfg = pool('alpha', lport, [srv('s1', 'localhost', s1!.port)], { dnsRefreshInterval: 0 })
    const { proxy, open } = await start(t, config(cfg), names)
    const server = proxy.pools[0]!.servers[0]!
    assert.deepEqual([server.host, server.address, server.hostDown], ['localhost', null, false])
    assert.equal(proxy.book.size, 0)
    const c = await open(lport)
    c.send('get a\n')
    assert.equal(await c.lines(1), 's1:get a\n')
  })
})

describe('Reloader', () => {
  test('an invalid file keeps the running config, logs file:line:col and counts; a valid one applies', async (t) => {
    const [s1, s2] = await backends(t, 's1', 's2')
    const dir = mkdtempSync(join(tmpdir(), 'walnut-reload-'))
    t.after(() => rmSync(dir, { recursive: true, force: true }))
    const file = join(dir, 'walnut.yml')
    const lport = await freePort()
    const yaml = (servers: string[], extra = '') =>
      `alpha:\n  listen: 127.0.0.1:${lport}\n${extra}  servers:\n${servers.map((s) => `   - ${s}\n`).join('')}`
    const one = [`127.0.0.1:${s1!.port}:1 s1`]
    const two = [...one, `127.0.0.1:${s2!.port}:1 s2`]
    writeFileSync(file, yaml(one))
    const { proxy, log, open } = await start(t, config(pool('alpha', lport, [fake(s1!)])))
    const reloader = new Reloader(proxy, { path: file, log })
    t.after(() => reloader.close())
    const before = { ...reloadCounters }
    writeFileSync(file, yaml(two, '  hash: nope\n'))
    assert.equal(await reloader.reload('test'), false)
    assert.equal(reloadCounters.reload_failures, before.reload_failures + 1)
    assert.equal(reloadCounters.last_reload_ok, false)
    const line = log.lines.find((l) => l.startsWith('reload configuration'))
    assert.equal(
      line,
      `reload configuration '${file}' not reloaded, the running one stays: ${file}:3:9: pool 'alpha', key 'hash': directive "hash" is not a valid hash`,
    )
    assert.equal(proxy.pools[0]!.servers.length, 1)
    const c = await open(lport)
    c.send('get a\n')
    assert.equal(await c.lines(1), 's1:get a\n')

    writeFileSync(file, yaml(two))
    assert.equal(await reloader.reload('test'), true)
    assert.equal(reloadCounters.reloads, before.reloads + 1)
    assert.equal(proxy.pools[0]!.servers.length, 2)
    assert.ok(
      log.lines.includes(
        `reload configuration '${file}' reloaded: 1 pools (0 unchanged, 1 updated, 0 added, 0 removed)`,
      ),
    )
    assert.ok(!c.closed)
    const text = proxyMetrics(proxy.pools, { version: 't', startedAt: 0, latency: false })()
    assert.ok(text.includes(`walnut_config_reloads_total ${reloadCounters.reloads}\n`))
    assert.ok(
      text.includes(`walnut_config_reload_failures_total ${reloadCounters.reload_failures}\n`),
    )
    assert.ok(text.includes('walnut_config_last_reload_success 1\n'))
  })

  test('watch: a write to the file reloads (once per burst)', async (t) => {
    const [s1, s2] = await backends(t, 's1', 's2')
    const dir = mkdtempSync(join(tmpdir(), 'walnut-watch-'))
    t.after(() => rmSync(dir, { recursive: true, force: true }))
    const file = join(dir, 'walnut.yml')
    const lport = await freePort()
    const yaml = (n: number) =>
      `alpha:\n  listen: 127.0.0.1:${lport}\n  servers:\n   - 127.0.0.1:${s1!.port}:1 s1\n${n > 1 ? `   - 127.0.0.1:${s2!.port}:1 s2\n` : ''}`
    writeFileSync(file, yaml(1))
    const { proxy, log } = await start(t, config(pool('alpha', lport, [fake(s1!)])))
    const reloader = new Reloader(proxy, { path: file, log })
    t.after(() => reloader.close())
    reloader.watch(100)
    await sleep(50)
    // Three writes in a row: one reload.
    for (let i = 0; i < 3; i++) writeFileSync(file, yaml(2))
    await until(() => proxy.pools[0]!.servers.length === 2, 'the watched reload', 3000)
    await sleep(300)
    assert.equal(log.lines.filter((l) => l.includes('(file changed)')).length, 1)
  })
})
