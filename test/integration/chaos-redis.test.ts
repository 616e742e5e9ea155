/**
 * Chaos on real redis-servers under concurrent pipelined load (docs/failures.md):
 * server A is stopped (SIGSTOP) past the timeout, later killed (SIGKILL) and
 * restarted on its port; server C sits behind a TCP cutter that breaks
 * walnut's connections mid-reply and then refuses connections; server B is
 * left alone. Throughout, every request gets exactly one reply, in order,
 * that belongs to it (chaos-kit.ts); no request to B fails; acknowledged
 * writes to B and C are on those servers afterwards; walnut's RSS comes back
 * near its level before the chaos.
 */
import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import { freePort } from '../helpers/ports.js'
import { keysOn, locator, poolYaml, Resp } from '../helpers/redis.js'
import { type ProxyProc, type ServerProc, startRedis, startWalnut } from '../helpers/servers.js'
import {
  Cutter,
  counter,
  drained,
  Load,
  MiB,
  redisDialect,
  rssOf,
  rssSettles,
  stats,
} from './chaos-kit.js'

const TIMEOUT_MS = 300
const ERRORS = [
  '-ERR Connection refused',
  '-ERR Connection timed out',
  '-ERR unknown',
  '-ERR Connection reset by peer',
  '-ERR Broken pipe',
]

const redis = redisDialect(ERRORS)

const procs: { stop(): Promise<void> }[] = []
after(async () => {
  for (const p of procs.reverse()) await p.stop()
})

test('redis: SIGSTOP, SIGKILL and restart, cut mid-reply, refused: every reply once, in order, its own', async () => {
  const [a, b, c] = await Promise.all([startRedis(), startRedis(), startRedis()])
  let serverA: ServerProc = a
  procs.push(b, c)
  const cutter = await Cutter.start(c.port)
  procs.push({ stop: () => cutter.close() })
  const port = await freePort()
  const yaml = poolYaml({
    name: 'chaos',
    port,
    servers: [a.port, b.port, cutter.port],
    extra: { timeout: TIMEOUT_MS },
  })
  const walnut: ProxyProc = await startWalnut(yaml)
  procs.push(walnut)
  const where = await locator(yaml, 'chaos')
  // 6 clients, each with 6 keys on each server; a quarter of the keys have 20 KB values.
  const keys = Array.from({ length: 6 }, (_, i) => [
    ...keysOn(where, 0, 6, `c${i}a`),
    ...keysOn(where, 1, 6, `c${i}b`),
    ...keysOn(where, 2, 6, `c${i}c`),
  ])
  const load = new Load({
    port,
    dialect: redis,
    keys,
    serverOf: (k) => where(k),
    lossy: new Set([0]),
    untouched: new Set([1]),
    sizeOf: (k) => (k.endsWith('0') || k.endsWith('5') ? 20_000 : 40),
    replyTimeoutMs: 5000,
    seed: 1,
  }).start()
  try {
    // Warm up until the heap has grown to its working size, then take the baseline.
    await load.run(2500)
    const baseline = rssOf(walnut.pid)

    // A stops answering for longer than the timeout, then resumes.
    serverA.kill('SIGSTOP')
    await load.run(900)
    serverA.kill('SIGCONT')
    await load.run(400)

    // C's connections break in the middle of a reply, three times.
    for (let i = 0; i < 3; i++) {
      cutter.cutMidReply()
      await load.run(300)
    }
    // C refuses connections, then accepts them again.
    await cutter.refuse()
    await load.run(500)
    await cutter.accept()
    await load.run(400)

    // A dies, stays dead (refused), and comes back on its port, empty.
    serverA.kill('SIGKILL')
    await serverA.exited
    await load.run(500)
    serverA = await startRedis({ port: a.port })
    procs.push(serverA)
    await load.run(1200)
    const peak = rssOf(walnut.pid)

    const report = await load.stop()
    assert.ok(report.requests > 2000, `only ${report.requests} requests`)
    const errs = Object.fromEntries(report.errors)
    assert.ok((report.errorsByServer.get(0) ?? 0) > 0, `no failure on A: ${JSON.stringify(errs)}`)
    assert.ok((report.errorsByServer.get(2) ?? 0) > 0, `no failure on C: ${JSON.stringify(errs)}`)
    assert.ok(errs['-ERR Connection timed out']! > 0, JSON.stringify(errs))
    assert.ok(errs['-ERR Connection refused']! > 0, JSON.stringify(errs))
    assert.ok(cutter.cuts >= 3, `${cutter.cuts} cuts`)

    // Acknowledged writes to B and C are on those servers.
    for (const [s, proc] of [
      [1, b],
      [2, c],
    ] as const) {
      const direct = await Resp.open(proc.port)
      try {
        for (const k of keys.flat().filter((k) => where(k) === s)) {
          const r = (await direct.call('GET', k)).toString('latin1')
          const got = r === '$-1\r\n' ? null : r.slice(r.indexOf('\r\n') + 2, -2)
          assert.ok(load.expected(k).includes(got), `${k} on server ${s}: ${got?.slice(0, 40)}`)
        }
      } finally {
        await direct.close()
      }
    }

    // walnut is alive, counted what happened, and gives its memory back.
    assert.equal(walnut.exitInfo, undefined)
    // Nothing is retained: no client left, nothing queued or awaited on any server.
    await drained(walnut.statsPort, 'chaos')
    const doc = await stats(walnut.statsPort)
    assert.ok(counter(doc, 'chaos', 'server_timedout', `127.0.0.1:${a.port}`) >= 1)
    assert.ok(counter(doc, 'chaos', 'server_eof', `127.0.0.1:${cutter.port}`) >= 1)
    assert.equal(counter(doc, 'chaos', 'client_err'), 0)
    const settled = await rssSettles(walnut.pid, (r) => r <= baseline + 32 * MiB, 5000)
    console.log(
      `# chaos-redis: ${report.requests} requests, errors ${JSON.stringify(errs)}; RSS baseline ${(baseline / MiB).toFixed(1)} MiB, peak ${(peak / MiB).toFixed(1)}, after ${(settled / MiB).toFixed(1)}`,
    )
    assert.ok(
      settled <= baseline + 32 * MiB,
      `RSS ${settled} after the load, baseline ${baseline} (peak ${peak})`,
    )
  } finally {
    await load.stop().catch(() => {})
  }
})
