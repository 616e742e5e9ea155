/**
 * Failures on real memcached behind walnut (docs/failures.md):
 *
 * 1. Ejection exactly as nutcracker: the pools of ../shared/vectors/dist
 *    ketama_ejected and modula_ejected (their server names, real memcached
 *    behind them, nothing behind the server the vectors had dead). Real
 *    failures eject it, counted per connection (three pipelined requests
 *    refused together are one failure); while it is out, every vector key
 *    is stored through walnut and found on the very backend the vectors name;
 *    after server_retry_timeout it returns and its keys go to it again.
 * 2. Chaos under concurrent pipelined load, as chaos-redis.test.ts: SIGSTOP
 *    past the timeout, SIGKILL and restart, connections cut mid-reply and
 *    refused; every reply once, in order, its own (the VALUE line names the
 *    key); acknowledged writes to the servers that kept their data are there;
 *    walnut's RSS comes back near its level before the chaos.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { b, Direct } from '../helpers/memcache.js'
import { freePort } from '../helpers/ports.js'
import { locator } from '../helpers/redis.js'
import {
  connect,
  type ProxyProc,
  type ServerProc,
  startMemcached,
  startWalnut,
} from '../helpers/servers.js'
import { vectorsDir } from '../helpers/shared.js'
import {
  Cutter,
  counter,
  drained,
  MiB,
  memcacheDialect,
  rssSettles,
  runChaos,
  stats,
} from './chaos-kit.js'

const procs: { stop(): Promise<void> }[] = []
let mcs: ServerProc[] = []

before(async () => {
  mcs = await Promise.all([1, 2, 3, 4, 5].map(() => startMemcached()))
  procs.push(...mcs)
})

after(async () => {
  for (const p of procs.reverse()) await p.stop()
})

// ---------------------------------------------------------------------------------------------
// 1. Ejection against the vectors

interface Vector {
  /** `servers:` entries as written (`host:port:weight`). */
  readonly servers: string[]
  readonly dead: number
  readonly hash: string
  readonly distribution: string
  /** Key (latin1) → server index as written. */
  readonly rows: [string, number][]
}

function readVector(name: string): Vector {
  const dir = join(vectorsDir(), 'dist')
  const yml = readFileSync(join(dir, `${name}.yml`), 'utf8')
  const dead = /^# server\(s\) at index (\d+) have no backend/m.exec(yml)
  assert.ok(dead, `${name}.yml names no dead server`)
  const servers = [...yml.matchAll(/^ +- (\S+)$/gm)].map((m) => m[1]!)
  const rows = readFileSync(join(dir, `${name}.tsv`), 'utf8')
    .trimEnd()
    .split('\n')
    .slice(1)
    .map((line): [string, number] => {
      const [hex, index] = line.split('\t')
      return [Buffer.from(hex!, 'hex').toString('latin1'), Number(index)]
    })
  return {
    servers,
    dead: Number(dead[1]),
    hash: /^ +hash: (\S+)$/m.exec(yml)![1]!,
    distribution: /^ +distribution: (\S+)$/m.exec(yml)![1]!,
    rows,
  }
}

const RETRY_MS = 2500

async function ejectionCase(name: string): Promise<void> {
  const v = readVector(name)
  const deadPort = await freePort()
  const port = await freePort()
  // Backends in `servers:` order: the live ones on our memcached, the dead one on a closed port.
  const backend: (ServerProc | null)[] = []
  let next = 0
  const lines = v.servers.map((entry, i) => {
    const [host, origPort, weight] = entry.split(':')
    if (i === v.dead) {
      backend.push(null)
      return `127.0.0.1:${deadPort}:${weight} ${host}:${origPort}`
    }
    const mc = mcs[next++]!
    backend.push(mc)
    // Named as the vector's server, so the continuum is the one nutcracker built.
    return `127.0.0.1:${mc.port}:${weight} ${host}:${origPort}`
  })
  const yaml = [
    'pool:',
    `  listen: 127.0.0.1:${port}`,
    `  hash: ${v.hash}`,
    `  distribution: ${v.distribution}`,
    '  auto_eject_hosts: true',
    '  server_failure_limit: 2',
    `  server_retry_timeout: ${RETRY_MS}`,
    '  timeout: 5000',
    '  servers:',
    ...lines.map((l) => `   - ${l}`),
    '',
  ].join('\n')
  const walnut = await startWalnut(yaml)
  const direct = await Direct.open(mcs)
  try {
    await direct.flushAll()
    const fullRing = await locator(yaml, 'pool')
    const deadKey = v.rows.find(([k]) => fullRing(k) === v.dead)![0]
    const c = await connect(port)
    const get = `get ${deadKey}\r\n`
    const refused = 'SERVER_ERROR Connection refused\r\n'
    // Three pipelined requests, refused on one connection attempt: one failure.
    await c.send(b(get.repeat(3)))
    for (let i = 0; i < 3; i++) assert.equal((await c.readMcReply()).toString('latin1'), refused)
    assert.equal(counter(await stats(walnut.statsPort), 'pool', 'server_ejects'), 0)
    // The second failure ejects it.
    await c.send(b(get))
    assert.equal((await c.readMcReply()).toString('latin1'), refused)
    const ejectedAt = Date.now()
    const doc = await stats(walnut.statsPort)
    assert.equal(counter(doc, 'pool', 'server_ejects'), 1)
    const deadName = v.servers[v.dead]!.split(':').slice(0, 2).join(':')
    assert.equal(counter(doc, 'pool', 'server_err', deadName), 2)

    // While it is out: every vector key is stored, on the backend the vector names.
    const sets = v.rows.map(([k]) => `set ${k} 0 0 ${k.length}\r\n${k}\r\n`).join('')
    await c.send(b(sets))
    for (const [k] of v.rows) {
      assert.equal((await c.readMcReply(5000)).toString('latin1'), 'STORED\r\n', `set ${k}`)
    }
    assert.ok(
      Date.now() - ejectedAt < RETRY_MS,
      `the sets took too long (${Date.now() - ejectedAt} ms) to be inside the ejection`,
    )
    const keys = v.rows.map(([k]) => k)
    const holders = await direct.holders(keys)
    let wrong = 0
    for (const [i, [k, want]] of v.rows.entries()) {
      const got = holders[i]!
      const gotIndex = backend.findIndex((p) => p !== null && p === mcs[got])
      if (gotIndex !== want) {
        wrong++
        if (wrong <= 5)
          console.log(
            `# ${name}: ${Buffer.from(k, 'latin1').toString('hex')} on ${gotIndex}, vector ${want}`,
          )
      }
    }
    assert.equal(wrong, 0, `${wrong} of ${v.rows.length} keys not where ${name} puts them`)

    // Back after the retry time: a backend now listens there, and its keys go to it.
    const revived = await startMemcached({ port: deadPort })
    try {
      await sleep(RETRY_MS - (Date.now() - ejectedAt) + 50)
      await c.send(b(`set ${deadKey} 0 0 4\r\nback\r\nget ${deadKey}\r\n`))
      assert.equal((await c.readMcReply()).toString('latin1'), 'STORED\r\n')
      assert.equal(
        (await c.readMcReply()).toString('latin1'),
        `VALUE ${deadKey} 0 4\r\nback\r\nEND\r\n`,
      )
      const there = await Direct.open([revived])
      assert.equal(
        (await there.call(0, `get ${deadKey}\r\n`)).toString('latin1'),
        `VALUE ${deadKey} 0 4\r\nback\r\nEND\r\n`,
      )
      await there.close()
      assert.equal(counter(await stats(walnut.statsPort), 'pool', 'server_ejects'), 1)
    } finally {
      await revived.stop()
    }
    await c.close()
  } finally {
    await direct.close()
    await walnut.stop()
  }
}

describe('ejection routes keys as nutcracker did (vectors/dist)', () => {
  test('ketama_ejected', () => ejectionCase('ketama_ejected'))
  test('modula_ejected', () => ejectionCase('modula_ejected'))
})

// ---------------------------------------------------------------------------------------------
// 2. Chaos under load

const TIMEOUT_MS = 300
const ERRORS = [
  'SERVER_ERROR Connection refused',
  'SERVER_ERROR Connection timed out',
  'SERVER_ERROR unknown',
  'SERVER_ERROR Connection reset by peer',
  'SERVER_ERROR Broken pipe',
]

const memcache = memcacheDialect(ERRORS)

describe('chaos', () => {
  test('memcached: SIGSTOP, SIGKILL and restart, cut mid-reply, refused: every reply once, in order, its own', async () => {
    const [a, bb, c] = mcs as [ServerProc, ServerProc, ServerProc]
    const direct = await Direct.open([a, bb, c])
    await direct.flushAll()
    await direct.close()
    const cutter = await Cutter.start(c.port)
    procs.push({ stop: () => cutter.close() })
    const port = await freePort()
    const yaml = [
      'chaos:',
      `  listen: 127.0.0.1:${port}`,
      `  timeout: ${TIMEOUT_MS}`,
      '  servers:',
      `   - 127.0.0.1:${a.port}:1`,
      `   - 127.0.0.1:${bb.port}:1`,
      `   - 127.0.0.1:${cutter.port}:1`,
      '',
    ].join('\n')
    const walnut: ProxyProc = await startWalnut(yaml)
    procs.push(walnut)
    const where = await locator(yaml, 'chaos')
    const { keys, load, report, baseline, peak } = await runChaos({
      port,
      walnutPid: walnut.pid,
      dialect: memcache,
      where,
      prefix: 'm',
      seed: 7,
      serverA: a,
      cutter,
      restartA: async () => {
        procs.push(await startMemcached({ port: a.port }))
      },
    })
    assert.ok(report.requests > 2000, `only ${report.requests} requests`)
    const errs = Object.fromEntries(report.errors)
    assert.ok((report.errorsByServer.get(0) ?? 0) > 0, `no failure on A: ${JSON.stringify(errs)}`)
    assert.ok((report.errorsByServer.get(2) ?? 0) > 0, `no failure on C: ${JSON.stringify(errs)}`)
    assert.ok(errs['SERVER_ERROR Connection timed out']! > 0, JSON.stringify(errs))
    assert.ok(errs['SERVER_ERROR Connection refused']! > 0, JSON.stringify(errs))
    assert.ok(cutter.cuts >= 3, `${cutter.cuts} cuts`)

    const check = await Direct.open([bb, c])
    try {
      for (const [i, s] of [1, 2].entries()) {
        for (const k of keys.flat().filter((k) => where(k) === s)) {
          const r = (await check.call(i, `get ${k}\r\n`)).toString('latin1')
          const m = /^VALUE \S+ 0 (\d+)\r\n/.exec(r)
          const got = m === null ? null : r.slice(m[0].length, m[0].length + Number(m[1]))
          assert.ok(load.expected(k).includes(got), `${k} on server ${s}: ${got?.slice(0, 40)}`)
        }
      }
    } finally {
      await check.close()
    }

    assert.equal(walnut.exitInfo, undefined)
    // Nothing is retained: no client left, nothing queued or awaited on any server.
    await drained(walnut.statsPort, 'chaos')
    const doc = await stats(walnut.statsPort)
    assert.ok(counter(doc, 'chaos', 'server_timedout', `127.0.0.1:${a.port}`) >= 1)
    assert.equal(counter(doc, 'chaos', 'client_err'), 0)
    const settled = await rssSettles(walnut.pid, (r) => r <= baseline + 32 * MiB, 5000)
    console.log(
      `# chaos-memcache: ${report.requests} requests, errors ${JSON.stringify(errs)}; RSS baseline ${(baseline / MiB).toFixed(1)} MiB, peak ${(peak / MiB).toFixed(1)}, after ${(settled / MiB).toFixed(1)}`,
    )
    assert.ok(
      settled <= baseline + 32 * MiB,
      `RSS ${settled} after the load, baseline ${baseline} (peak ${peak})`,
    )
  })
})
