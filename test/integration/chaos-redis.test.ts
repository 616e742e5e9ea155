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
import { locator, poolYaml, Resp } from '../helpers/redis.js'
import { type ProxyProc, startRedis, startWalnut } from '../helpers/servers.js'
import {
  Cutter,
  counter,
  drained,
  MiB,
  redisDialect,
  rssSettles,
  runChaos,
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
  const { keys, load, report, baseline, peak } = await runChaos({
    port,
    walnutPid: walnut.pid,
    dialect: redis,
    where,
    prefix: 'c',
    seed: 1,
    serverA: a,
    cutter,
    restartA: async () => {
      procs.push(await startRedis({ port: a.port }))
    },
  })
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
})
