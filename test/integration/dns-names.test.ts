/**
 * Backend names that move, end to end with real parts (docs/dns-and-reload.md):
 * dnsmasq on a loopback port serving a hosts file the test rewrites (then
 * SIGHUPs it), walnut pointed at it with `--dns-server`, memcached and redis
 * as backends; two memcached on 127.0.0.2 and 127.0.0.3 with the same port
 * stand for a node whose address changes.
 *
 *  - under continuous load from several clients (every reply checked), the
 *    name moves from .2 to .3: its keys' traffic reaches the new backend
 *    within the refresh bound (measured), no request fails, no reply is wrong,
 *    and the old backend gets nothing more;
 *  - a name that does not resolve at start: walnut starts, the pool's other
 *    server works, that server's keys get `SERVER_ERROR Host is down` (redis:
 *    `-ERR Host is down`), and once the name is in DNS they work, no restart;
 *  - without --dns-server the system resolver is used: `localhost` comes from
 *    /etc/hosts.
 */

import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { Resolver } from 'node:dns/promises'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir, userInfo } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { b, Direct, keysPerServer, storage } from '../helpers/memcache.js'
import { freePort } from '../helpers/ports.js'
import { cmd } from '../helpers/redis.js'
import {
  type Client,
  connect,
  findBinary,
  type ServerProc,
  scrapeMetrics,
  startMemcached,
  startRedis,
  startWalnut,
  statsDocument,
} from '../helpers/servers.js'

/** The test domain: dnsmasq answers it from the hosts file only (NXDOMAIN for the rest). */
const DOMAIN = 'walnut.test'
/** walnut's refresh bound in these tests; dnsmasq's records have TTL 1 s, so ~1 s is expected. */
const REFRESH_MS = 2000

/** dnsmasq serving `hosts` (a hosts-file text) on 127.0.0.1:port. */
class Dnsmasq {
  private constructor(
    readonly port: number,
    private readonly dir: string,
    private readonly child: ChildProcess,
    private readonly out: () => string,
  ) {}

  static async start(hosts: string): Promise<Dnsmasq> {
    const dir = mkdtempSync(join(tmpdir(), 'walnut-dnsmasq-'))
    writeFileSync(join(dir, 'hosts'), hosts)
    const port = await freePort()
    // biome-ignore format: one flag per line
    const args = [
      '--no-daemon',                    // foreground; logs to stderr
      '--conf-file=/dev/null',          // no system config
      `--port=${port}`,
      '--listen-address=127.0.0.1',
      '--bind-interfaces',
      '--no-resolv',                    // no upstream servers
      '--no-hosts',                     // not /etc/hosts
      `--addn-hosts=${join(dir, 'hosts')}`,
      `--local=/${DOMAIN}/`,            // names of the domain not in the file: NXDOMAIN
      '--local-ttl=1',                  // records carry TTL 1 s
      '--cache-size=0',
      '--pid-file=',                    // none
      `--user=${userInfo().username}`,  // stay this user (the hosts file is in our temp dir)
    ]
    const child = spawn(findBinary('dnsmasq'), args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let text = ''
    child.stdout?.on('data', (c: Buffer) => {
      text += c.toString()
    })
    child.stderr?.on('data', (c: Buffer) => {
      text += c.toString()
    })
    const d = new Dnsmasq(port, dir, child, () => text)
    live.add(d)
    // Ready once it answers a query (NXDOMAIN for a name it does not have).
    const r = new Resolver({ timeout: 200, tries: 1 })
    r.setServers([`127.0.0.1:${port}`])
    const deadline = Date.now() + 10_000
    for (;;) {
      const code = await r.resolve4(`probe.${DOMAIN}`).then(
        () => 'answer',
        (e: { code?: string }) => e.code ?? 'error',
      )
      if (code === 'ENOTFOUND' || code === 'answer') return d
      if (child.exitCode !== null || Date.now() > deadline) {
        await d.stop()
        throw new Error(`dnsmasq did not start (${code}):\n${text}`)
      }
      await sleep(50)
    }
  }

  /** Rewrites the hosts file and makes dnsmasq read it again. */
  setHosts(hosts: string): void {
    writeFileSync(join(this.dir, 'hosts'), hosts)
    this.child.kill('SIGHUP')
  }

  /** What `name` resolves to now (A records), straight from dnsmasq. */
  async lookup(name: string): Promise<string[]> {
    const r = new Resolver({ timeout: 500, tries: 2 })
    r.setServers([`127.0.0.1:${this.port}`])
    return r.resolve4(name).catch(() => [])
  }

  get output(): string {
    return this.out()
  }

  async stop(): Promise<void> {
    live.delete(this)
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM')
      await new Promise((resolve) => this.child.once('exit', resolve))
    }
    rmSync(this.dir, { recursive: true, force: true })
  }

  killSync(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL')
  }
}

const live = new Set<Dnsmasq>()
after(async () => {
  for (const d of [...live]) await d.stop()
})
process.on('exit', () => {
  for (const d of live) d.killSync()
})

function serverStats(doc: Record<string, unknown>, pool: string, server: string) {
  const p = doc[pool] as Record<string, unknown>
  return p[server] as Record<string, number>
}

/** memcached's `stats` counter `name`. */
async function mcStat(d: Direct, server: number, name: string): Promise<number> {
  const text = (await d.call(server, 'stats\r\n')).toString('latin1')
  const m = new RegExp(`\r\nSTAT ${name} (\\d+)\r\n`).exec(`\r\n${text}`)
  assert.ok(m, `no ${name} in stats`)
  return Number(m[1])
}

/** One reply read with a deadline, as text. */
async function mcRoundTrip(c: Client, req: Buffer): Promise<string> {
  await c.send(req)
  return (await c.readMcReply(5000)).toString('latin1')
}

describe('backend names in DNS (dnsmasq)', () => {
  test('a name moves from 127.0.0.2 to 127.0.0.3 under load: traffic follows within the refresh bound, nothing fails', async (t) => {
    const port = await freePort('127.0.0.2')
    const oldMc = await startMemcached({ host: '127.0.0.2', port })
    const newMc = await startMemcached({ host: '127.0.0.3', port })
    const steady = await startMemcached()
    const dns = await Dnsmasq.start(`127.0.0.2 cache1.${DOMAIN}\n`)
    t.after(() => dns.stop())
    assert.deepEqual(await dns.lookup(`cache1.${DOMAIN}`), ['127.0.0.2'])
    const listen = await freePort()
    const yaml =
      `alpha:\n  listen: 127.0.0.1:${listen}\n  dns_refresh_interval: ${REFRESH_MS}\n  servers:\n` +
      `   - cache1.${DOMAIN}:${port}:1 moving\n   - 127.0.0.1:${steady.port}:1 steady\n`
    const mport = await freePort()
    const w = await startWalnut(yaml, {
      args: [
        '--dns-server',
        `127.0.0.1:${dns.port}`,
        '--stats-metrics-port',
        String(mport),
        '--stats-metrics-addr',
        '127.0.0.1',
      ],
    })
    await w.waitForOutput(`alpha | moving: address none -> 127.0.0.2 ('cache1.${DOMAIN}' resolved)`)
    const direct = await Direct.open([oldMc, newMc, steady] as ServerProc[])
    t.after(() => direct.close())

    // Keys per client: 6 on the moving server (YAML index 0), 6 on the steady one.
    const CLIENTS = 4
    const per = await keysPerServer(w.configPath, 'dk', 2, 6 * CLIENTS)
    const clients: Client[] = []
    for (let i = 0; i < CLIENTS; i++) clients.push(await connect(listen))

    interface Tally {
      ops: number
      errors: string[]
      wrong: string[]
      misses: string[]
    }
    const tally: Tally = { ops: 0, errors: [], wrong: [], misses: [] }
    let running = true
    const loop = async (ci: number) => {
      const c = clients[ci]!
      const mine = [...per[0]!.slice(ci * 6, ci * 6 + 6), ...per[1]!.slice(ci * 6, ci * 6 + 6)]
      for (let seq = 0; running; seq++) {
        const key = mine[seq % mine.length]!
        const moving = mine.indexOf(key) < 6
        const value = `${ci}-${seq}-${'x'.repeat(seq % 40)}`
        const stored = await mcRoundTrip(c, storage('set', key, value))
        if (stored !== 'STORED\r\n') tally.errors.push(`${key} set: ${JSON.stringify(stored)}`)
        const got = await mcRoundTrip(c, b(`get ${key}\r\n`))
        const want = `VALUE ${key} 0 ${value.length}\r\n${value}\r\nEND\r\n`
        if (got === 'END\r\n' && moving) tally.misses.push(key)
        else if (got.startsWith('SERVER_ERROR') || got.startsWith('ERROR')) {
          tally.errors.push(`${key} get: ${JSON.stringify(got)}`)
        } else if (got !== want) tally.wrong.push(`${key}: ${JSON.stringify(got)} != ${want}`)
        tally.ops += 2
      }
    }
    const loops = clients.map((_, i) => loop(i))
    await sleep(800)
    const setsBefore = await mcStat(direct, 1, 'cmd_set')
    assert.equal(setsBefore, 0, 'nothing reaches 127.0.0.3 before the move')
    assert.ok((await mcStat(direct, 0, 'cmd_set')) > 0, 'the load reaches 127.0.0.2')
    const opsBefore = tally.ops

    const moveAt = Date.now()
    dns.setHosts(`127.0.0.3 cache1.${DOMAIN}\n`)
    let arrivedAt = 0
    while (Date.now() - moveAt < REFRESH_MS + 3000) {
      if ((await mcStat(direct, 1, 'cmd_set')) > 0) {
        arrivedAt = Date.now()
        break
      }
      await sleep(20)
    }
    const moveMs = arrivedAt - moveAt
    t.diagnostic(`traffic reached the new address ${moveMs} ms after the DNS change`)
    assert.ok(arrivedAt > 0, 'traffic never reached 127.0.0.3')
    assert.ok(moveMs <= REFRESH_MS + 500, `moved after ${moveMs} ms (bound ${REFRESH_MS} ms)`)

    // Everything goes to the new address now: the old one gets no more sets.
    await sleep(300)
    const oldSets = await mcStat(direct, 0, 'cmd_set')
    await sleep(500)
    assert.equal(await mcStat(direct, 0, 'cmd_set'), oldSets, '127.0.0.2 still gets requests')
    running = false
    await Promise.all(loops)

    t.diagnostic(`${tally.ops} requests, ${tally.misses.length} misses on moving keys at the move`)
    assert.ok(
      tally.ops - opsBefore > 200,
      `too little load during the move: ${tally.ops - opsBefore}`,
    )
    assert.deepEqual(tally.errors, [])
    assert.deepEqual(tally.wrong, [])
    // A key set on the old node and read on the new one misses (the data does not move),
    // at most once per moving key.
    assert.ok(tally.misses.length <= 6 * CLIENTS, `misses: ${tally.misses.join(' ')}`)
    for (const c of clients) assert.equal(c.ended, false, 'a client connection was closed')

    const doc = await statsDocument(w.statsPort)
    const moving = serverStats(doc, 'alpha', 'moving')
    assert.deepEqual(
      [moving.server_err, moving.server_eof, moving.server_timedout, moving.server_connections],
      [0, 0, 0, 1],
    )
    assert.equal((doc.alpha as Record<string, number>).forward_error, 0)
    assert.match(
      w.output(),
      new RegExp(
        `dns alpha \\| moving: address 127\\.0\\.0\\.2 -> 127\\.0\\.0\\.3 \\('cache1\\.${DOMAIN.replace('.', '\\.')}' resolved\\)`,
      ),
    )
    // The address in use, for Prometheus.
    const metrics = await scrapeMetrics(mport)
    assert.match(
      metrics,
      /^walnut_server_address_info\{pool="alpha",server="moving",address="127\.0\.0\.3"\} 1$/m,
    )
    assert.ok(!metrics.includes('address="127.0.0.2"'))
    const changed =
      /^walnut_server_address_changed_timestamp_seconds\{pool="alpha",server="moving"\} ([0-9.]+)$/m.exec(
        metrics,
      )
    assert.ok(changed !== null)
    const at = Number(changed[1]) * 1000
    assert.ok(at >= moveAt && at <= arrivedAt, `changed at ${at}, moved ${moveAt}..${arrivedAt}`)
    for (const c of clients) await c.close()
  })

  test('a name missing at start: walnut starts, `Host is down` for its keys, then it appears and works without restart', async (t) => {
    const late = await startMemcached()
    const steady = await startMemcached()
    const redis = await startRedis()
    const dns = await Dnsmasq.start(`127.0.0.9 other.${DOMAIN}\n`)
    t.after(() => dns.stop())
    const [lm, lr] = [await freePort(), await freePort()]
    const yaml =
      `mc:\n  listen: 127.0.0.1:${lm}\n  dns_refresh_interval: ${REFRESH_MS}\n  servers:\n` +
      `   - late.${DOMAIN}:${late.port}:1 late\n   - 127.0.0.1:${steady.port}:1 steady\n` +
      `rd:\n  listen: 127.0.0.1:${lr}\n  redis: true\n  dns_refresh_interval: ${REFRESH_MS}\n  servers:\n` +
      `   - late-redis.${DOMAIN}:${redis.port}:1 lr\n`
    const w = await startWalnut(yaml, { args: ['--dns-server', `127.0.0.1:${dns.port}`] })
    assert.match(
      w.output(),
      new RegExp(
        `dns mc \\| late: 'late\\.${DOMAIN.replace('.', '\\.')}' does not resolve \\(ENOTFOUND\\)`,
      ),
    )
    const [onLate, onSteady] = await keysPerServer(w.configPath, 'lk', 2, 3, 'mc')
    const mc = await connect(lm)
    const rd = await connect(lr)
    for (const k of onSteady!)
      assert.equal(await mcRoundTrip(mc, storage('set', k, 'v')), 'STORED\r\n')
    for (const k of onLate!) {
      assert.equal(await mcRoundTrip(mc, storage('set', k, 'v')), 'SERVER_ERROR Host is down\r\n')
    }
    await rd.send(cmd('SET', 'a', '1'))
    assert.equal((await rd.readReply()).toString('latin1'), '-ERR Host is down\r\n')
    const doc = await statsDocument(w.statsPort)
    const s = serverStats(doc, 'mc', 'late')
    // nutcracker: each failed connect is a server_err; nothing was sent to the server.
    assert.deepEqual([s.server_err, s.requests, s.server_connections], [3, 0, 0])
    assert.equal((doc.mc as Record<string, number>).forward_error, 3)
    assert.equal(serverStats(doc, 'rd', 'lr').server_err, 1)

    const addedAt = Date.now()
    dns.setHosts(`127.0.0.1 late.${DOMAIN}\n127.0.0.1 late-redis.${DOMAIN}\n`)
    let reply = ''
    while (Date.now() - addedAt < REFRESH_MS + 3000) {
      reply = await mcRoundTrip(mc, storage('set', onLate![0]!, 'v'))
      if (reply === 'STORED\r\n') break
      assert.equal(reply, 'SERVER_ERROR Host is down\r\n')
      await sleep(25)
    }
    const ms = Date.now() - addedAt
    t.diagnostic(`the name worked ${ms} ms after it was added to DNS`)
    assert.equal(reply, 'STORED\r\n')
    // Lookups back off from 1 s up to the refresh interval (plus the query, on a busy machine).
    assert.ok(ms <= REFRESH_MS + 1000, `took ${ms} ms`)
    const direct = await Direct.open([late])
    t.after(() => direct.close())
    assert.equal(
      (await direct.call(0, `get ${onLate![0]}\r\n`)).toString('latin1'),
      `VALUE ${onLate![0]} 0 1\r\nv\r\nEND\r\n`,
    )
    const until = Date.now() + REFRESH_MS + 3000
    let r = ''
    while (Date.now() < until) {
      await rd.send(cmd('SET', 'a', '1'))
      r = (await rd.readReply()).toString('latin1')
      if (r === '+OK\r\n') break
      await sleep(25)
    }
    assert.equal(r, '+OK\r\n')
    assert.equal(mc.ended || rd.ended, false)
    await mc.close()
    await rd.close()
  })

  test('without --dns-server: the system resolver, so a name from /etc/hosts works (localhost)', async () => {
    const m = await startMemcached()
    const listen = await freePort()
    const yaml = `alpha:\n  listen: 127.0.0.1:${listen}\n  servers:\n   - localhost:${m.port}:1 local\n`
    const w = await startWalnut(yaml)
    assert.match(
      w.output(),
      /dns alpha \| local: address none -> 127\.0\.0\.1 \('localhost' resolved\)/,
    )
    const c = await connect(listen)
    assert.equal(await mcRoundTrip(c, storage('set', 'k', 'hello')), 'STORED\r\n')
    assert.equal(await mcRoundTrip(c, b('get k\r\n')), 'VALUE k 0 5\r\nhello\r\nEND\r\n')
    await c.close()
  })
})
