/**
 * walnut under hostile input (fast-check soup, bounded in time): on a redis
 * pool and a memcache pool with real backends, several "bad" clients send
 * random and mutated protocol bytes in random chunks, then either half-close
 * and read everything walnut answers, or vanish mid-request; meanwhile a
 * "good" client per pool runs the checked workload of chaos-kit.ts.
 *
 * Expected: walnut stays up and never logs an internal error; every bad
 * client's connection ends (no hang) with a well-formed sequence of replies,
 * a protocol error only as the last one; the good clients see no failure at
 * all and every reply is theirs, in order.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import fc from 'fast-check'
import { cut } from '../fuzz/drivers.js'
import {
  cuts,
  memcacheRequestBytes,
  mutate,
  mutations,
  redisRequestBytes,
} from '../fuzz/generators.js'
import { b } from '../helpers/memcache.js'
import { freePort } from '../helpers/ports.js'
import { cmd, keysOn, type Locator, locator } from '../helpers/redis.js'
import {
  connect,
  mcReplyEnd,
  type ProxyProc,
  respReplyEnd,
  type ServerProc,
  showBytes,
  startMemcached,
  startRedis,
  startWalnut,
} from '../helpers/servers.js'
import { counter, Load, memcacheDialect, redisDialect, stats } from './chaos-kit.js'

const FUZZ_MS = Number(process.env.WALNUT_FUZZ_MS ?? 8000)
const BAD_CLIENTS = 3

let redisPort = 0
let mcPort = 0
let walnut: ProxyProc
let yaml = ''
const procs: ServerProc[] = []

before(async () => {
  procs.push(
    ...(await Promise.all([startRedis(), startRedis(), startMemcached(), startMemcached()])),
  )
  ;[redisPort, mcPort] = [await freePort(), await freePort()]
  const [r1, r2, m1, m2] = procs as [ServerProc, ServerProc, ServerProc, ServerProc]
  yaml = [
    'r:',
    `  listen: 127.0.0.1:${redisPort}`,
    '  redis: true',
    '  timeout: 3000',
    '  max_request_size: 65536',
    '  servers:',
    `   - 127.0.0.1:${r1.port}:1`,
    `   - 127.0.0.1:${r2.port}:1`,
    'm:',
    `  listen: 127.0.0.1:${mcPort}`,
    '  timeout: 3000',
    '  max_request_size: 65536',
    '  servers:',
    `   - 127.0.0.1:${m1.port}:1`,
    `   - 127.0.0.1:${m2.port}:1`,
    '',
  ].join('\n')
  walnut = await startWalnut(yaml)
})

after(async () => {
  await walnut?.stop()
  for (const p of procs) await p.stop()
})

const redis = redisDialect([])
const memcache = memcacheDialect([])

/** Splits `bytes` into whole replies with `end`; throws on a malformed or unfinished one. */
function replies(bytes: Buffer, end: (b: Buffer) => number): Buffer[] {
  const out: Buffer[] = []
  let rest = bytes
  while (rest.length > 0) {
    const n = end(rest)
    if (n < 0) throw new Error(`an unfinished reply at the end: ${showBytes(rest)}`)
    out.push(rest.subarray(0, n))
    rest = rest.subarray(n)
  }
  return out
}

interface BadStats {
  sessions: number
  replies: number
  closedByWalnut: number
  vanished: number
}

/** One bad client: `input` in `chunks`, then half-close and read all, or vanish. */
async function badSession(
  port: number,
  chunks: readonly Buffer[],
  vanish: boolean,
  end: (b: Buffer) => number,
  fatal: (reply: string) => boolean,
  st: BadStats,
): Promise<void> {
  const c = await connect(port)
  try {
    for (const chunk of chunks) {
      if (c.ended) break
      await c.send(chunk).catch(() => {})
      if (chunk.length % 3 === 0) await sleep(1)
    }
    if (vanish) {
      st.vanished++
      return
    }
    c.end()
    let got: Buffer
    try {
      got = await c.readUntilClose(8000)
    } catch (e) {
      throw new Error(`walnut did not close after the client's FIN: ${String(e)}`)
    }
    const rs = replies(got, end)
    st.replies += rs.length
    rs.forEach((r, i) => {
      if (fatal(r.toString('latin1')) && i !== rs.length - 1) {
        throw new Error(`replies after a protocol error: ${showBytes(got)}`)
      }
    })
    st.closedByWalnut++
  } finally {
    st.sessions++
    await c.close()
  }
}

async function badClients(
  port: number,
  soup: fc.Arbitrary<Buffer>,
  end: (b: Buffer) => number,
  fatal: (reply: string) => boolean,
  until: number,
  seed: number,
): Promise<BadStats> {
  const st: BadStats = { sessions: 0, replies: 0, closedByWalnut: 0, vanished: 0 }
  const arb = fc.tuple(soup, mutations, cuts, fc.integer({ min: 0, max: 9 }))
  // Generated in small batches: a big fc.sample would block the event loop for seconds.
  let batch: [Buffer, [number, number, number][], number[], number][] = []
  let batches = 0
  let next = 0
  const take = () => {
    if (next === batch.length) {
      batch = fc.sample(arb, { seed: seed + 7919 * batches++, numRuns: 50 })
      next = 0
    }
    return { input: batch[next++]!, label: `${batches - 1}.${next - 1}` }
  }
  await Promise.all(
    Array.from({ length: BAD_CLIENTS }, async () => {
      while (Date.now() < until) {
        const {
          input: [raw, muts, at, mode],
          label,
        } = take()
        const input = mutate(raw, muts)
        try {
          await badSession(port, cut(input, at), mode === 0, end, fatal, st)
        } catch (e) {
          throw new Error(`${String(e)}\n  input (seed ${seed}, #${label}): ${showBytes(input)}`)
        }
      }
    }),
  )
  return st
}

test('hostile clients on both pools: walnut stays up, answers them cleanly, good clients unaffected', async () => {
  const where = await locator(yaml, 'r')
  const whereM = await locator(yaml, 'm')
  const goodKeys = (w: Locator, p: string) => [
    [...keysOn(w, 0, 8, `${p}g0-`), ...keysOn(w, 1, 8, `${p}g0-`)],
    [...keysOn(w, 0, 8, `${p}g1-`), ...keysOn(w, 1, 8, `${p}g1-`)],
  ]
  const common = {
    lossy: new Set<number>(),
    untouched: new Set([0, 1]),
    sizeOf: (k: string) => (k.endsWith('3') ? 5000 : 30),
    replyTimeoutMs: 5000,
  }
  const goodR = new Load({
    ...common,
    port: redisPort,
    dialect: redis,
    keys: goodKeys(where, 'r'),
    serverOf: (k) => where(k),
    seed: 11,
  }).start()
  const goodM = new Load({
    ...common,
    port: mcPort,
    dialect: memcache,
    keys: goodKeys(whereM, 'm'),
    serverOf: (k) => whereM(k),
    seed: 12,
  }).start()
  // A failure prints its seed; WALNUT_FUZZ_SEED replays it.
  const seed = Number(process.env.WALNUT_FUZZ_SEED ?? Date.now() % 100_000)
  const until = Date.now() + FUZZ_MS
  // The good clients are stopped whatever happens; a bad client's failure is reported first.
  const badRuns = await Promise.allSettled([
    badClients(
      redisPort,
      redisRequestBytes,
      (x) => respReplyEnd(x, 0),
      (r) => r.startsWith('-ERR Protocol error'),
      until,
      seed,
    ),
    badClients(
      mcPort,
      memcacheRequestBytes,
      (x) => mcReplyEnd(x, 0),
      (r) =>
        r === 'CLIENT_ERROR bad data chunk\r\n' ||
        r === 'CLIENT_ERROR line too long\r\n' ||
        r === 'CLIENT_ERROR binary protocol is not supported\r\n',
      until,
      seed + 1,
    ),
  ])
  const goodRuns = await Promise.allSettled([goodR.stop(), goodM.stop()])
  for (const r of [...badRuns, ...goodRuns]) if (r.status === 'rejected') throw r.reason
  const [rs, ms] = badRuns.map((r) => (r as PromiseFulfilledResult<BadStats>).value) as [
    BadStats,
    BadStats,
  ]
  const [gr, gm] = [goodR.report, goodM.report]
  console.log(
    `# fuzz-walnut (seed ${seed}): redis ${rs.sessions} bad sessions, ${rs.replies} replies; memcache ${ms.sessions} bad sessions, ${ms.replies} replies; good ${gr.requests} + ${gm.requests} requests`,
  )
  assert.ok(rs.sessions >= 50 && ms.sessions >= 50, 'too few bad sessions')
  assert.ok(gr.requests > 500 && gm.requests > 500, 'too few good requests')
  assert.equal(walnut.exitInfo, undefined, 'walnut exited')
  const log = walnut.output()
  assert.ok(!log.includes('internal error'), log)
  // Still serving, and the bad clients were counted.
  const doc = await stats(walnut.statsPort)
  assert.ok(counter(doc, 'r', 'client_eof') + counter(doc, 'r', 'client_err') >= rs.sessions)
  assert.ok(counter(doc, 'm', 'client_eof') + counter(doc, 'm', 'client_err') >= ms.sessions)
})

test('max_request_size from the config file: redis closes with `request too large`, memcache answers and goes on', async () => {
  const r = await connect(redisPort)
  const big = 'v'.repeat(40_000)
  await r.send(Buffer.concat([cmd('PING'), cmd('MSET', 'k1', big, 'k2', big)]))
  assert.equal(
    (await r.readUntilClose(5000)).toString('latin1'),
    '+PONG\r\n-ERR Protocol error: request too large\r\n',
  )
  await r.close()
  const m = await connect(mcPort)
  await m.send(b(`set limit-k 0 0 70000\r\n${'v'.repeat(70_000)}\r\nget limit-k\r\n`))
  assert.equal(
    (await m.readMcReply()).toString('latin1'),
    'SERVER_ERROR object too large for cache\r\n',
  )
  assert.equal((await m.readMcReply()).toString('latin1'), 'END\r\n')
  await m.close()
})
