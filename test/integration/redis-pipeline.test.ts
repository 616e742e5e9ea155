/**
 * Pipelining through walnut with real redis-servers (spec §4): many clients at once, each with
 * a long pipeline of mixed single-key and split commands over all servers, every reply checked
 * byte for byte in request order against a model of what redis answers. The same workloads are
 * then sent in random chunk sizes and one byte at a time, so request framing across reads is
 * exercised with real servers answering at their own pace; one server is stalled meanwhile,
 * so replies from the others must wait their turn. Afterwards each backend is read directly:
 * every key holds its model value on the server the placement names.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { setImmediate as tick } from 'node:timers/promises'
import { freePort } from '../helpers/ports.js'
import {
  assertBytes,
  bulk,
  bulkArray,
  cmd,
  flushAll,
  int,
  type Locator,
  locator,
  NIL,
  OK,
  poolYaml,
  prng,
  Resp,
} from '../helpers/redis.js'
import {
  type Client,
  connect,
  type ProxyProc,
  respReplyEnd,
  type ServerProc,
  startRedis,
  startWalnut,
} from '../helpers/servers.js'

let backends: ServerProc[] = []
let walnut: ProxyProc
let where: Locator
let direct: Resp[] = []

before(async () => {
  backends = await Promise.all(
    [1, 2, 3].map(() => startRedis({ args: ['--enable-debug-command', 'yes'] })),
  )
  const port = await freePort()
  const yaml = poolYaml({ name: 'pipe', port, servers: backends.map((b) => b.port) })
  ;[walnut, where] = await Promise.all([startWalnut(yaml), locator(yaml, 'pipe')])
  direct = await Promise.all(backends.map((b) => Resp.open(b.port)))
})

after(async () => {
  for (const d of direct) await d.close()
  await walnut?.stop()
  await Promise.all(backends.map((b) => b.stop()))
})

/** A client's requests, the exact reply bytes redis gives them, and the keys' final values. */
interface Workload {
  requests: Buffer
  replies: Buffer
  count: number
  /** Every key touched, with its final value (null: deleted or never set). */
  final: Map<string, string | null>
}

/**
 * `n` requests for client `id`, keys prefixed `<prefix><id>:` so clients never share a key:
 * SET/GET/INCR/MGET/DEL/EXISTS/PING at random (seeded), values derived from the client, the
 * key and the step. A map stands in for redis to give each exact reply.
 */
function workload(prefix: string, id: number, n: number): Workload {
  const rnd = prng(id * 7919 + n)
  const pick = (k: number) => Math.floor(rnd() * k)
  const model = new Map<string, string | null>()
  const key = () => `k${pick(40)}:${prefix}${id}`
  const counter = () => `c${pick(5)}:${prefix}${id}`
  const value = (k: string, step: number) => `${k}=${id}/${step}:${'x'.repeat(step % 61)}`
  const reqs: Buffer[] = []
  const reps: Buffer[] = []
  const get = (k: string) => {
    const v = model.get(k)
    return v === undefined || v === null ? NIL : bulk(v)
  }
  for (let step = 0; step < n; step++) {
    const r = rnd()
    if (r < 0.3) {
      const k = key()
      const v = value(k, step)
      reqs.push(cmd('SET', k, v))
      reps.push(OK)
      model.set(k, v)
    } else if (r < 0.5) {
      const k = key()
      reqs.push(cmd('GET', k))
      reps.push(get(k))
      if (!model.has(k)) model.set(k, null)
    } else if (r < 0.65) {
      const k = counter()
      const next = Number(model.get(k) ?? 0) + 1
      reqs.push(cmd('INCR', k))
      reps.push(int(next))
      model.set(k, String(next))
    } else if (r < 0.82) {
      const keys = Array.from({ length: 2 + pick(6) }, () => (rnd() < 0.2 ? counter() : key()))
      reqs.push(cmd('MGET', ...keys))
      reps.push(bulkArray(keys.map((k) => model.get(k) ?? null)))
    } else if (r < 0.9) {
      const keys = [key(), key(), key()]
      const live = new Set(keys.filter((k) => (model.get(k) ?? null) !== null))
      reqs.push(cmd('DEL', ...keys))
      reps.push(int(live.size))
      for (const k of keys) model.set(k, null)
    } else if (r < 0.97) {
      const keys = [key(), counter(), key(), key()]
      reqs.push(cmd('EXISTS', ...keys))
      reps.push(int(keys.filter((k) => (model.get(k) ?? null) !== null).length))
    } else {
      reqs.push(cmd('PING'))
      reps.push(Buffer.from('+PONG\r\n'))
    }
  }
  return { requests: Buffer.concat(reqs), replies: Buffer.concat(reps), count: n, final: model }
}

/** Reads the workload's replies and compares them; a mismatch names the first wrong reply. */
async function checkReplies(c: Client, w: Workload, label: string): Promise<void> {
  const got = await c.read(w.replies.length, 30_000)
  if (got.equals(w.replies)) return
  let a = 0
  let b = 0
  for (let i = 0; i < w.count; i++) {
    const ea = respReplyEnd(got, a)
    const eb = respReplyEnd(w.replies, b)
    if (ea < 0 || !got.subarray(a, ea).equals(w.replies.subarray(b, eb))) {
      assertBytes(
        got.subarray(a, ea < 0 ? got.length : ea),
        w.replies.subarray(b, eb),
        `${label} reply ${i}`,
      )
    }
    a = ea
    b = eb
  }
  assert.fail(`${label}: replies differ but each reply matched`)
}

/** Every key of the workloads holds its final value on the server the placement names. */
async function checkBackends(workloads: readonly Workload[]): Promise<void> {
  const perServer = direct.map(() => [] as [string, string | null][])
  for (const w of workloads) for (const [k, v] of w.final) perServer[where(k)]!.push([k, v])
  assert.ok(
    perServer.every((list) => list.length > 0),
    `keys on every server: ${perServer.map((l) => l.length)}`,
  )
  await Promise.all(
    perServer.map(async (list, s) => {
      const got = await direct[s]!.pipeline(list.map(([k]) => ['GET', k]))
      for (let i = 0; i < list.length; i++) {
        const [k, v] = list[i]!
        assertBytes(got[i]!, v === null ? NIL : bulk(v), `server ${s}: ${k}`)
      }
    }),
  )
}

/** Stalls backend `s` for `ms` (DEBUG SLEEP straight on it), so its replies come last. */
function stall(s: number, ms: number): Promise<Buffer> {
  return direct[s]!.call('DEBUG', 'SLEEP', String(ms / 1000))
}

async function sendInChunks(c: Client, bytes: Buffer, seed: number, max: number): Promise<void> {
  const rnd = prng(seed)
  for (let at = 0; at < bytes.length; ) {
    const n = 1 + Math.floor(rnd() * max)
    await c.send(bytes.subarray(at, at + n))
    at += n
    await tick()
  }
}

describe('pipelines through walnut', () => {
  const CLIENTS = 50
  const REQUESTS = 1200

  test(`${CLIENTS} clients, ${REQUESTS} pipelined requests each, one write per client`, async () => {
    await flushAll(direct)
    const workloads = Array.from({ length: CLIENTS }, (_, id) => workload('w', id, REQUESTS))
    const clients = await Promise.all(workloads.map(() => connect(walnut.port)))
    const stalled = stall(1, 300)
    await Promise.all(
      clients.map(async (c, id) => {
        await c.send(workloads[id]!.requests)
        await checkReplies(c, workloads[id]!, `client ${id}`)
      }),
    )
    assertBytes(await stalled, OK, 'DEBUG SLEEP')
    await Promise.all(clients.map((c) => c.close()))
    await checkBackends(workloads)
  })

  test(`${CLIENTS} clients, the same workloads split into random chunks on the wire`, async () => {
    await flushAll(direct)
    const workloads = Array.from({ length: CLIENTS }, (_, id) => workload('r', id, REQUESTS))
    const clients = await Promise.all(workloads.map(() => connect(walnut.port)))
    const stalled = stall(0, 200)
    await Promise.all(
      clients.map(async (c, id) => {
        const w = workloads[id]!
        await Promise.all([
          sendInChunks(c, w.requests, id, 400),
          checkReplies(c, w, `client ${id}`),
        ])
      }),
    )
    assertBytes(await stalled, OK, 'DEBUG SLEEP')
    await Promise.all(clients.map((c) => c.close()))
    await checkBackends(workloads)
  })

  test('one client sending byte by byte, alongside a pipelining one', async () => {
    await flushAll(direct)
    const slow = workload('b', 0, 300)
    const fast = workload('b', 1, REQUESTS)
    const [s, f] = await Promise.all([connect(walnut.port), connect(walnut.port)])
    await Promise.all([
      sendInChunks(s, slow.requests, 1, 1),
      checkReplies(s, slow, 'byte by byte'),
      (async () => {
        await f.send(fast.requests)
        await checkReplies(f, fast, 'pipelined')
      })(),
    ])
    await Promise.all([s.close(), f.close()])
    await checkBackends([slow, fast])
  })
})
