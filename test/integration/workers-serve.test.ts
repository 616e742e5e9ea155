/**
 * `--workers 2` through the built CLI on real redis and memcached (two of each): both
 * workers take clients (which one holds a connection is read from /proc); keys written
 * through one worker land where `walnut locate` says and are read back through the
 * other; each backend sees one connection per worker; the stats port and /metrics
 * report the sum over the workers (exact request counts); a stopped worker is left
 * out of the sum after the timeout; kill -9 of a worker: it is restarted with the
 * back-off, its clients reconnect and work, the other worker's clients never notice;
 * SIGUSR1 reloads every worker from the primary's copy of the file (a restarted worker
 * gets that copy, not the file edited since); SIGHUP and SIGTTIN reach the workers;
 * SIGTERM drains requests in flight in both workers and exits 0.
 *
 * The tests share one walnut and run in order.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  b,
  Direct,
  getReply,
  keysPerServer,
  locate,
  poolsYaml,
  serverLine,
  storage,
  valueItem,
} from '../helpers/memcache.js'
import { freePort } from '../helpers/ports.js'
import { assertLanded, bulk, keysOn, locator, OK, poolYaml, Resp } from '../helpers/redis.js'
import {
  type Client,
  connect,
  type ProxyProc,
  type ServerProc,
  scrapeMetrics,
  startMemcached,
  startRedis,
  startWalnut,
} from '../helpers/servers.js'
import {
  alive,
  gone,
  ppid,
  read,
  readyWorkers,
  STAMP,
  serverSum,
  serversOf,
  socketOwner,
  statsDoc,
  waitLines,
  waitOwner,
} from './workers-kit.js'

const dir = mkdtempSync(join(tmpdir(), 'walnut-workers-'))
const log = join(dir, 'walnut.log')
const pidFile = join(dir, 'walnut.pid')

let redis: ServerProc[] = []
let mcs: ServerProc[] = []
let w: ProxyProc
let rdPort = 0
let mcPort = 0
let metricsPort = 0
let yaml = ''
let pids = new Map<number, number>()

after(async () => {
  await w?.stop()
  await Promise.all([...redis, ...mcs].map((s) => s.stop()))
  rmSync(dir, { recursive: true, force: true })
})

before(async () => {
  ;[redis, mcs] = await Promise.all([
    Promise.all([startRedis(), startRedis()]),
    Promise.all([startMemcached(), startMemcached()]),
  ])
  rdPort = await freePort()
  mcPort = await freePort()
  metricsPort = await freePort()
  yaml =
    poolYaml({ name: 'rd', port: rdPort, servers: redis.map((r) => r.port) }) +
    poolsYaml([
      { name: 'mc', listen: `127.0.0.1:${mcPort}`, servers: mcs.map((m) => serverLine(m)) },
    ])
  // biome-ignore format: flag pairs
  w = await startWalnut(yaml, {
    args: [
      '--workers', '2', '-o', log, '-p', pidFile,
      '--stats-metrics-port', String(metricsPort), '--stats-metrics-addr', '127.0.0.1',
    ],
  })
  pids = await readyWorkers(log, 2)
})

function workerList(): number[] {
  return [...pids.values()]
}

/** Opens clients until every worker holds at least `each`; returns them by worker pid. */
async function spread<T>(
  port: number,
  open: () => Promise<T>,
  socketOf: (t: T) => Client,
  each: number,
): Promise<Map<number, T[]>> {
  const by = new Map<number, T[]>(workerList().map((p) => [p, []]))
  for (let i = 0; i < 80; i++) {
    if ([...by.values()].every((l) => l.length >= each)) return by
    const t = await open()
    const pid = await waitOwner(socketOf(t).socket, port, workerList())
    by.get(pid)!.push(t)
  }
  assert.fail(`80 connections did not reach every worker ${each} times: ${[...by].join(' ')}`)
}

const rdClients = new Map<number, Resp[]>()
const mcClients = new Map<number, Client[]>()
/** Keys written in the second test (value `v-<key>`), by the writing worker's pid. */
const rkeys = new Map<number, string[]>()
const mkeys = new Map<number, string[]>()

test('primary and workers: the pid file holds the primary, the workers are its children', () => {
  assert.equal(readFileSync(pidFile, 'latin1'), String(w.pid))
  assert.equal(pids.size, 2)
  for (const [slot, pid] of pids) {
    assert.ok(slot === 1 || slot === 2)
    assert.notEqual(pid, w.pid)
    assert.equal(ppid(pid), w.pid, `worker ${slot} is a child of the primary`)
  }
  const text = read(log)
  assert.match(text, new RegExp(`^${STAMP} cli starting 2 workers \\(scheduling: none\\)$`, 'm'))
  for (const [slot, pid] of pids) {
    assert.match(text, new RegExp(`^${STAMP} cli worker ${slot} started on pid ${pid}$`, 'm'))
    assert.match(
      text,
      new RegExp(`^${STAMP} proxy/w${slot} p rd listening on 127\\.0\\.0\\.1:${rdPort}$`, 'm'),
    )
  }
})

test("both workers serve; a key written through one worker is read through the other; placement is locate's", async () => {
  const rd = await spread(
    rdPort,
    () => Resp.open(rdPort),
    (r) => r.client,
    3,
  )
  const mc = await spread(
    mcPort,
    () => connect(mcPort),
    (c) => c,
    3,
  )
  for (const [pid, l] of rd) rdClients.set(pid, l)
  for (const [pid, l] of mc) mcClients.set(pid, l)
  const [p1, p2] = workerList() as [number, number]

  // redis: 40 keys through each worker (20 on each backend: ketama may put every key of
  // a naive list on one server), read back through the other one.
  const keysVia = rkeys
  const where = await locator(yaml, 'rd')
  for (const pid of [p1, p2]) {
    const keys = [0, 1].flatMap((s) => keysOn(where, s, 20, `rk:${pid}:`))
    keysVia.set(pid, keys)
    const replies = await rd.get(pid)![0]!.pipeline(keys.map((k) => ['SET', k, `v-${k}`]))
    for (const r of replies) assert.deepEqual(r, OK)
  }
  for (const [writer, reader] of [
    [p1, p2],
    [p2, p1],
  ] as const) {
    const keys = keysVia.get(writer)!
    const replies = await rd.get(reader)![1]!.pipeline(keys.map((k) => ['GET', k]))
    for (const [i, k] of keys.entries()) {
      assert.deepEqual(replies[i], bulk(`v-${k}`), `GET ${k} via ${reader}`)
    }
  }
  const direct = await Promise.all(redis.map((r) => Resp.open(r.port)))
  const allKeys = [...keysVia.values()].flat()
  await assertLanded(allKeys, where, direct)
  // One connection per worker on each backend (server_connections: 1). A connection is
  // matched to its process by the port it comes from (others may connect to a port reused).
  for (const [i, d] of direct.entries()) {
    const list = (await d.call('CLIENT', 'LIST')).toString('latin1')
    const owners = [...list.matchAll(/ addr=127\.0\.0\.1:(\d+) /g)]
      .map((m) => socketOwner(Number(m[1]), redis[i]!.port, workerList()))
      .filter((pid) => pid > 0)
      .sort()
    assert.deepEqual(owners, [p1, p2].sort(), `redis ${i}: one connection per worker:\n${list}`)
  }
  await Promise.all(direct.map((d) => d.close()))

  // memcache: the same through the other pool.
  for (const pid of [p1, p2]) {
    const keys = (await keysPerServer(w.configPath, `mk:${pid}:`, 2, 15, 'mc')).flat()
    mkeys.set(pid, keys)
    const c = mc.get(pid)![0]!
    await c.send(Buffer.concat(keys.map((k) => storage('set', k, `v-${k}`))))
    const got = await c.read(keys.length * 8)
    assert.equal(got.toString('latin1'), 'STORED\r\n'.repeat(keys.length))
  }
  for (const [writer, reader] of [
    [p1, p2],
    [p2, p1],
  ] as const) {
    const keys = mkeys.get(writer)!
    const c = mc.get(reader)![1]!
    await c.send(`get ${keys.join(' ')}\r\n`)
    const want = getReply(keys.map((k) => valueItem(k, `v-${k}`)))
    assert.deepEqual(await c.read(want.length), want)
  }
  const mall = [...mkeys.values()].flat()
  const d = await Direct.open(mcs)
  assert.deepEqual(await d.holders(mall), await locate(w.configPath, mall.map(b), 'mc'))
  await d.close()
})

test("the stats port answers the sum over the workers, in nutcracker's shape", async () => {
  const before = (await statsDoc(w.statsPort)).doc
  // 150 GETs spread over every rd client (both workers).
  const all = [...rdClients.values()].flat()
  let sent = 0
  for (const [i, r] of all.entries()) {
    const n = 10 + i * 5
    const replies = await r.pipeline(Array.from({ length: n }, (_, j) => ['GET', `rk:x:${j}`]))
    assert.equal(replies.length, n)
    sent += n
  }
  const { text, doc } = await statsDoc(w.statsPort)
  assert.match(
    text,
    /^\{"service":"nutcracker", "source":"[^"]*", "version":"0\.5\.0", "uptime":\d+, /,
  )
  assert.ok(text.endsWith('}}\n'))
  assert.deepEqual(Object.keys(doc), [
    'service',
    'source',
    'version',
    'uptime',
    'timestamp',
    'total_connections',
    'curr_connections',
    'mc',
    'rd',
  ])
  assert.equal(
    serverSum(doc, 'rd', 'requests') - serverSum(before, 'rd', 'requests'),
    sent,
    'requests: what the clients sent, over both workers',
  )
  assert.equal(serverSum(doc, 'rd', 'responses') - serverSum(before, 'rd', 'responses'), sent)
  const rd = doc.rd as Record<string, number>
  const mc = doc.mc as Record<string, number>
  assert.equal(rd.client_connections, all.length)
  assert.equal(mc.client_connections, [...mcClients.values()].flat().length)
  for (const [name, s] of serversOf(doc, 'rd')) {
    assert.equal(s.server_connections, 2, `${name}: one connection per worker`)
  }
  // Each worker: its 2 listeners, its clients, its server connections.
  const serverConns =
    serverSum(doc, 'rd', 'server_connections') + serverSum(doc, 'mc', 'server_connections')
  assert.equal(
    doc.curr_connections,
    2 * 2 + rd.client_connections! + mc.client_connections! + serverConns,
  )
})

function sample(text: string, name: string, labels = ''): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `))
  assert.ok(line !== undefined, `${name}${labels} in the exposition`)
  return Number(line.slice(line.lastIndexOf(' ') + 1))
}

test('/metrics sums the workers the same way; histograms add bucket by bucket', async () => {
  const text = await scrapeMetrics(metricsPort)
  const { doc } = await statsDoc(w.statsPort)
  assert.equal(sample(text, 'walnut_workers'), 2)
  assert.equal(sample(text, 'walnut_worker_restarts_total'), 0)
  let responses = 0
  for (const [name, s] of serversOf(doc, 'rd')) {
    const labels = `{pool="rd",server="${name}"}`
    assert.equal(sample(text, 'walnut_server_requests_total', labels), s.requests)
    assert.equal(sample(text, 'walnut_server_connections', labels), 2)
    assert.equal(sample(text, 'walnut_server_request_duration_seconds_count', labels), s.responses)
    responses += s.responses!
  }
  assert.equal(sample(text, 'walnut_pool_request_duration_seconds_count', '{pool="rd"}'), responses)
  assert.equal(
    sample(text, 'walnut_pool_request_duration_seconds_bucket', '{pool="rd",le="+Inf"}'),
    responses,
  )
})

test('a worker that does not answer in time is left out of the sum (and logged)', async () => {
  const [p1, p2] = workerList() as [number, number]
  const slot2 = [...pids].find(([, p]) => p === p2)![0]
  process.kill(p2, 'SIGSTOP')
  try {
    const t0 = Date.now()
    const { doc } = await statsDoc(w.statsPort)
    const ms = Date.now() - t0
    assert.ok(ms >= 900 && ms < 4000, `answered after the 1000 ms timeout (${ms} ms)`)
    const rd = doc.rd as Record<string, number>
    assert.equal(rd.client_connections, rdClients.get(p1)!.length, "worker 1's clients only")
    for (const [name, s] of serversOf(doc, 'rd')) assert.equal(s.server_connections, 1, name)
    await waitLines(
      log,
      new RegExp(
        `^${STAMP} cli worker ${slot2} \\(pid ${p2}\\) did not answer the stats request within 1000 ms: left out$`,
      ),
    )
  } finally {
    process.kill(p2, 'SIGCONT')
  }
})

test("kill -9 of a worker: restarted with a back-off; its clients reconnect; the other worker's clients never notice", async () => {
  const [p1, p2] = workerList() as [number, number]
  const slot1 = [...pids].find(([, p]) => p === p1)![0]
  const victims = rdClients.get(p1)!
  const survivors = rdClients.get(p2)!
  process.kill(p1, 'SIGKILL')
  for (const r of victims) await r.client.closed
  await waitLines(
    log,
    new RegExp(
      `^${STAMP} cli worker ${slot1} \\(pid ${p1}\\) exited with signal SIGKILL; restarting in 100 ms$`,
    ),
  )
  let now = await readyWorkers(log, 3)
  const p1b = now.get(slot1)!
  assert.notEqual(p1b, p1)
  assert.equal(ppid(p1b), w.pid)
  // A second quick crash waits twice as long.
  process.kill(p1b, 'SIGKILL')
  await waitLines(
    log,
    new RegExp(
      `^${STAMP} cli worker ${slot1} \\(pid ${p1b}\\) exited with signal SIGKILL; restarting in 200 ms$`,
    ),
  )
  now = await readyWorkers(log, 4)
  const p1c = now.get(slot1)!
  pids = now
  assert.ok(alive(p1c) && !alive(p1) && !alive(p1b))

  // The other worker's clients kept their connections.
  for (const r of survivors) {
    const k = rkeys.get(p2)![0]!
    assert.deepEqual(await r.call('GET', k), bulk(`v-${k}`))
  }
  // Reconnected clients work; one lands on the new worker and reads keys written before.
  const fresh = await spread(
    rdPort,
    () => Resp.open(rdPort),
    (r) => r.client,
    1,
  )
  const viaNew = fresh.get(p1c)![0]!
  for (const keys of rkeys.values()) {
    assert.deepEqual(await viaNew.call('GET', keys[7]!), bulk(`v-${keys[7]}`))
  }
  rdClients.clear()
  for (const [pid, l] of fresh) rdClients.set(pid, [...l, ...(pid === p2 ? survivors : [])])
  assert.equal(sample(await scrapeMetrics(metricsPort), 'walnut_worker_restarts_total'), 2)
})

test('SIGUSR1: every worker reloads the file the primary read; a bad file reaches none', async () => {
  const betaPort = await freePort()
  const withBeta =
    yaml +
    poolsYaml([
      { name: 'beta', listen: `127.0.0.1:${betaPort}`, servers: mcs.map((m) => serverLine(m)) },
    ])
  writeFileSync(w.configPath, withBeta)
  w.kill('SIGUSR1')
  await waitLines(log, new RegExp(`^${STAMP} reload configuration '.*' reloaded in 2 workers$`))
  for (const slot of [1, 2]) {
    await waitLines(
      log,
      new RegExp(
        `^${STAMP} reload/w${slot} configuration '.*' reloaded: 3 pools \\(2 unchanged, 0 updated, 1 added, 0 removed\\)$`,
      ),
    )
  }
  // beta is served by both workers.
  const beta = await spread(
    betaPort,
    () => connect(betaPort),
    (c) => c,
    1,
  )
  const k = [...mkeys.values()][0]![3]!
  for (const [, [c]] of beta) {
    await c!.send(`get ${k}\r\n`)
    const want = getReply([valueItem(k, `v-${k}`)])
    assert.deepEqual(await c!.read(want.length), want)
  }
  assert.ok('beta' in (await statsDoc(w.statsPort)).doc)

  // A bad file: the primary refuses it; no worker reloads.
  const lines = read(log).split('\n').length
  writeFileSync(w.configPath, `${withBeta}  hash: nope\n`)
  w.kill('SIGUSR1')
  await waitLines(
    log,
    new RegExp(`^${STAMP} reload configuration '.*' not reloaded, the running one stays: .*`),
  )
  await sleep(200)
  const added = read(log)
    .split('\n')
    .slice(lines - 1)
  assert.ok(!added.some((l) => /reload\/w\d/.test(l)), `no worker line:\n${added.join('\n')}`)

  // Edited without a reload: a restarted worker still runs the primary's copy (with beta).
  writeFileSync(w.configPath, yaml)
  const [slot, victim] = [...pids][0]!
  process.kill(victim, 'SIGKILL')
  const now = await readyWorkers(log, 5)
  pids = now
  const fresh = now.get(slot)!
  const found = await spread(
    betaPort,
    () => connect(betaPort),
    (c) => c,
    1,
  )
  const c = found.get(fresh)![0]!
  await c.send('version\r\n')
  assert.match((await c.readMcReply()).toString('latin1'), /^VERSION /)
  for (const l of [...beta.values(), ...found.values()].flat()) await l.close()
  assert.equal(sample(await scrapeMetrics(metricsPort), 'walnut_config_reloads_total'), 1)
  assert.equal(sample(await scrapeMetrics(metricsPort), 'walnut_config_reload_failures_total'), 1)
})

test("SIGHUP reopens every log; SIGTTIN/SIGTTOU change every worker's level", async () => {
  const rotated = `${log}.1`
  renameSync(log, rotated)
  w.kill('SIGHUP')
  await waitLines(
    rotated,
    new RegExp(`^${STAMP} signal signal 1 \\(SIGHUP\\) received, reopening log file$`),
  )
  w.kill('SIGTTIN')
  await waitLines(log, new RegExp(`^${STAMP} signal up log level to 6$`))
  await sleep(100)
  // Level-6 lines from both workers, in the new file.
  const seen = new Set<number>()
  for (let i = 0; i < 40 && seen.size < 2; i++) {
    const c = await connect(rdPort)
    await c.send('PING\r\n')
    await c.readReply()
    await c.close()
    await sleep(20)
    for (const m of read(log).matchAll(
      new RegExp(`^${STAMP} client/w(\\d) accepted client 127\\.0\\.0\\.1:\\d+ on pool rd$`, 'gm'),
    )) {
      seen.add(Number(m[1]))
    }
  }
  assert.deepEqual([...seen].sort(), [1, 2], 'both workers log at level 6 into the reopened file')
  assert.ok(!read(rotated).includes('accepted client'), 'nothing at level 6 before SIGTTIN')
  w.kill('SIGTTOU')
  await waitLines(log, new RegExp(`^${STAMP} signal down log level to 5$`))
  await sleep(100)
  const before = read(log).split('accepted client').length
  const c = await connect(rdPort)
  await c.send('PING\r\n')
  await c.readReply()
  await c.close()
  await sleep(100)
  assert.equal(read(log).split('accepted client').length, before, 'back at 5 in every worker')
})

test('SIGTERM: both workers answer what is in flight, then everything exits 0', async () => {
  const by = await spread(
    rdPort,
    () => Resp.open(rdPort),
    (r) => r.client,
    2,
  )
  const clients = [...by.values()].flat()
  const keys = [...rkeys.values()].flat()
  for (const r of redis) r.kill('SIGSTOP')
  try {
    for (const [i, r] of clients.entries()) await r.client.send(`GET ${keys[i]}\r\n`)
    await sleep(200)
    w.kill('SIGTERM')
    await sleep(300)
  } finally {
    for (const r of redis) r.kill('SIGCONT')
  }
  for (const [i, r] of clients.entries()) {
    assert.deepEqual(await r.client.readReply(), bulk(`v-${keys[i]}`), `in flight on client ${i}`)
    await r.client.closed
  }
  const exit = await w.exited
  assert.deepEqual(exit, { code: 0, signal: null })
  for (const pid of workerList()) await gone(pid, 2000)
  assert.match(read(log), new RegExp(`^${STAMP} cli workers stopped in \\d+ ms$`, 'm'))
  assert.match(read(log), new RegExp(`^${STAMP} cli done, exiting$`, 'm'))
  assert.throws(() => readFileSync(pidFile), /ENOENT/)
})
