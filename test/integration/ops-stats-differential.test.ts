/**
 * The stats document of walnut against the real nutcracker 0.5.0's after the same
 * traffic: both proxies in front of the same two memcached and two redis-servers
 * (one memcache pool, one redis pool; only listen and stats ports differ), the same
 * requests sent through each in turn on freshly flushed backends, then both
 * documents fetched and compared member by member: the same members in the same
 * order and nesting, the same types, and the same values, except for the table of
 * expected differences below (live clock values, and `fragments`, which nutcracker
 * never counts, deviation P6).
 *
 * nutcracker publishes pool and server counters with a lag (stats.md §7), so it
 * runs with `-i 100` and its document is polled until it stops changing.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { b, Direct, poolsYaml, serverLine } from '../helpers/memcache.js'
import { freePort } from '../helpers/ports.js'
import { cmd, keysOn, type Locator, locator, poolYaml } from '../helpers/redis.js'
import {
  connect,
  type ServerProc,
  startMemcached,
  startNutcracker,
  startRedis,
  startWalnut,
} from '../helpers/servers.js'

let mcs: ServerProc[] = []
let rds: ServerProc[] = []

before(async () => {
  mcs = await Promise.all([startMemcached(), startMemcached()])
  rds = await Promise.all([startRedis(), startRedis()])
})
after(async () => {
  await Promise.all([...mcs, ...rds].map((p) => p.stop()))
})

function yaml(mcPort: number, rdPort: number): string {
  return (
    poolsYaml([
      {
        name: 'mc',
        listen: `127.0.0.1:${mcPort}`,
        servers: mcs.map((m) => serverLine(m)),
        extra: { timeout: 3000 },
      },
    ]) +
    poolYaml({
      name: 'rd',
      port: rdPort,
      servers: rds.map((r) => r.port),
      extra: { timeout: 3000 },
    })
  )
}

/** Empties every backend (directly, not through a proxy). */
async function flushBackends(): Promise<void> {
  const d = await Direct.open(mcs)
  await d.flushAll()
  await d.close()
  for (const r of rds) {
    const c = await connect(r.port)
    await c.send(cmd('FLUSHALL'))
    assert.equal((await c.readReply()).toString('latin1'), '+OK\r\n')
    await c.close()
  }
}

/** Keys for the traffic: some on each backend of each pool. */
interface Keys {
  mc: string[]
  rd: string[]
}

/** Fragments walnut creates for the traffic below (each multi-key request touches both servers). */
const EXPECTED_FRAGMENTS = { mc: 2 + 2, rd: 2 + 2 + 2 }

/** The same requests, through the proxy whose pools listen on mcPort / rdPort. */
async function traffic(mcPort: number, rdPort: number, keys: Keys): Promise<void> {
  const [m0, m1, m2, m3] = keys.mc as [string, string, string, string]
  const big = 'x'.repeat(3000)
  // memcache: storage, hits, misses, two multi-gets over both servers, arithmetic, delete,
  // append, noreply, quit (client_eof)
  const mc = await connect(mcPort)
  const exchanges: [string, boolean][] = [
    [`set ${m0} 1 0 5\r\nhello\r\n`, true],
    [`set ${m1} 2 0 ${big.length}\r\n${big}\r\n`, true],
    [`add ${m2} 0 0 2\r\n42\r\n`, true],
    [`set ${m3} 0 0 1 noreply\r\nz\r\n`, false],
    [`get ${m0}\r\n`, true],
    [`get ${m1}\r\n`, true],
    ['get no-such-key\r\n', true],
    [`get ${m0} ${m1}\r\n`, true],
    [`get ${m2} ${m3} ${m0} absent\r\n`, true],
    [`incr ${m2} 8\r\n`, true],
    [`append ${m0} 0 0 3\r\nabc\r\n`, true],
    [`delete ${m1}\r\n`, true],
    [`delete ${m1}\r\n`, true],
    [`touch ${m0} 100\r\n`, true],
  ]
  for (const [req, reply] of exchanges) {
    await mc.send(req)
    if (reply) await mc.readMcReply(5000)
  }
  await mc.send('quit\r\n')
  await mc.readUntilClose(5000)
  // a data block of the wrong length: both proxies close the client (client_err; walnut
  // first says CLIENT_ERROR, M3). Unknown commands would not do: walnut answers them (M1).
  const bad = await connect(mcPort)
  await bad.send(`set ${m0} 0 0 2\r\nabcd\r\n`)
  await bad.readUntilClose(5000)

  // redis: strings, a split MSET / MGET / DEL over both servers, counters, then EOF
  const [r0, r1, r2, r3] = keys.rd as [string, string, string, string]
  const rd = await connect(rdPort)
  const requests = [
    cmd('SET', r0, 'v0'),
    cmd('GET', r0),
    cmd('GET', 'no-such-key'),
    cmd('MSET', r1, 'one', r2, 'two'),
    cmd('MGET', r0, r1, r2, r3),
    cmd('INCR', r3),
    cmd('INCRBY', r3, 41),
    cmd('APPEND', r0, 'tail'),
    cmd('STRLEN', r0),
    cmd('DEL', r1, r2),
    cmd('EXISTS', r0),
  ]
  for (const r of requests) {
    await rd.send(r)
    await rd.readReply(5000)
  }
  await rd.close()
}

type Doc = Record<string, unknown>

async function fetchDoc(statsPort: number): Promise<{ text: string; doc: Doc }> {
  const c = await connect(statsPort)
  const text = (await c.readUntilClose(5000)).toString('utf8')
  return { text, doc: JSON.parse(text) as Doc }
}

/** The document without the live clock members, for stability checks. */
function steady(doc: Doc): string {
  const { uptime: _u, timestamp: _t, ...rest } = doc
  return JSON.stringify(rest)
}

/**
 * Polls until every client of every pool has been counted out and the document no longer
 * changes (three equal fetches 300 ms apart: nutcracker may lag by up to two -i intervals).
 */
async function settledDoc(statsPort: number): Promise<{ text: string; doc: Doc }> {
  const deadline = Date.now() + 15_000
  let last = ''
  let same = 0
  for (;;) {
    const got = await fetchDoc(statsPort)
    const pools = ['mc', 'rd'].map((p) => got.doc[p] as Record<string, unknown>)
    const idle = pools.every((p) => p.client_connections === 0)
    const s = steady(got.doc)
    same = idle && s === last ? same + 1 : 0
    last = s
    if (same >= 2) return got
    if (Date.now() > deadline) assert.fail(`stats never settled: ${got.text}`)
    await sleep(300)
  }
}

type Check = (path: string, nut: unknown, wal: unknown) => void

/**
 * Members whose values may differ, and how; everything else must be equal. Keys are a member
 * name (any pool or server) or a full path.
 *   uptime, timestamp   live clock values (both proxies report them at fetch time)
 *   fragments           P6: nutcracker 0.5.0 never increments it; walnut counts fragments
 *   <rd server of the MSET's first key>.request_bytes
 *                       nutcracker counts an MSET fragment more bytes than it sends (here the
 *                       first value's bulk, `$3\r\none\r\n`, 9 bytes); the bytes on the wire are
 *                       identical, walnut counts what it sends
 */
function expectedDifferences(msetServer: string): Readonly<Record<string, Check>> {
  return {
    uptime: (path, nut, wal) => {
      assert.equal(typeof nut, 'number', path)
      assert.equal(typeof wal, 'number', path)
    },
    timestamp: (path, nut, wal) => {
      assert.ok(Math.abs((nut as number) - (wal as number)) < 120, `${path}: ${nut} vs ${wal}`)
    },
    fragments: (path, nut, wal) => {
      assert.equal(nut, 0, `${path}: nutcracker never counts fragments`)
      const pool = path.split('.')[0] as 'mc' | 'rd'
      assert.equal(wal, EXPECTED_FRAGMENTS[pool], `${path}: walnut counts each fragment`)
    },
    [`rd.${msetServer}.request_bytes`]: (path, nut, wal) => {
      assert.equal(nut, (wal as number) + 9, `${path}: nutcracker's MSET over-count`)
    },
  }
}

/**
 * Compares two documents member by member (order, nesting, types, values); returns every
 * unexpected difference, so one run shows them all. `seen` collects the expected ones met.
 */
function compare(
  path: string,
  nut: Doc,
  wal: Doc,
  expected: Readonly<Record<string, Check>>,
  seen: Set<string>,
): string[] {
  const out: string[] = []
  const nk = Object.keys(nut).join(' ')
  const wk = Object.keys(wal).join(' ')
  if (nk !== wk) return [`${path || 'top'}: members nutcracker [${nk}], walnut [${wk}]`]
  for (const key of Object.keys(nut)) {
    const p = path === '' ? key : `${path}.${key}`
    const n = nut[key]
    const w = wal[key]
    const check = expected[p] ?? expected[key]
    if (typeof w !== typeof n) {
      out.push(`${p}: type nutcracker ${typeof n}, walnut ${typeof w}`)
    } else if (typeof n === 'object' && n !== null) {
      out.push(...compare(p, n as Doc, w as Doc, expected, seen))
    } else if (check !== undefined) {
      check(p, n, w)
      seen.add(expected[p] !== undefined ? p : key)
    } else if (w !== n) {
      out.push(`${p}: nutcracker ${String(n)}, walnut ${String(w)}`)
    }
  }
  return out
}

test('after the same traffic, the stats documents agree member by member', async () => {
  const mcLocate: Locator = await locator(yaml(1, 2).replace(/redis: true/, 'redis: false'), 'mc')
  const rdLocate: Locator = await locator(yaml(1, 2), 'rd')
  // Two keys on each backend, alternating, so every multi-key request touches both servers.
  const pick = (where: Locator, prefix: string) => {
    const [a0, a1] = keysOn(where, 0, 2, prefix) as [string, string]
    const [b0, b1] = keysOn(where, 1, 2, prefix) as [string, string]
    return [a0, b0, a1, b1]
  }
  const keys = { mc: pick(mcLocate, 'mk:'), rd: pick(rdLocate, 'rk:') }

  const nut = await startNutcracker(yaml(await freePort(), await freePort()), {
    args: ['-i', '100'],
  })
  const wal = await startWalnut(yaml(await freePort(), await freePort()))
  const [nutMc, nutRd] = nut.ports as [number, number]
  const [walMc, walRd] = wal.ports as [number, number]

  await flushBackends()
  await traffic(nutMc, nutRd, keys)
  const n = await settledDoc(nut.statsPort)
  await flushBackends()
  await traffic(walMc, walRd, keys)
  const w = await settledDoc(wal.statsPort)

  const msetServer = `127.0.0.1:${rds[rdLocate(keys.rd[1] as string)]?.port}`
  const expected = expectedDifferences(msetServer)
  const seen = new Set<string>()
  const diffs = compare('', n.doc, w.doc, expected, seen)
  assert.deepEqual(diffs, [], `unexpected differences:\n${n.text}${w.text}`)
  assert.deepEqual([...seen].sort(), Object.keys(expected).sort(), 'every expected difference met')

  // The traffic did what it should (so equal values are not equal zeros).
  const mc = w.doc.mc as Record<string, Record<string, number>>
  const rd = w.doc.rd as Record<string, Record<string, number>>
  // client_eof counts the start-up helper's readiness probe too.
  assert.deepEqual([mc.client_eof, mc.client_err, rd.client_eof, mc.forward_error], [
    2, 1, 2, 0,
  ] as unknown[])
  for (const pool of [mc, rd]) {
    const servers = Object.values(pool).filter((v) => typeof v === 'object')
    assert.equal(servers.length, 2)
    for (const s of servers) {
      assert.ok(s.requests! > 2 && s.responses! > 2, JSON.stringify(s))
      assert.ok(s.request_bytes! > 0 && s.response_bytes! > 0, JSON.stringify(s))
    }
  }
  // Both documents are one line of JSON ending in one newline.
  for (const text of [n.text, w.text]) {
    assert.ok(text.endsWith('}\n') && text.indexOf('\n') === text.length - 1)
  }
  assert.ok(b(w.text).length > 0)
  await Promise.all([nut.stop(), wal.stop()])
})
