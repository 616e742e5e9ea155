/**
 * Pipelining through walnut on 3 real memcached: 50 concurrent clients each send 1000+ mixed
 * requests (set, get, incr, delete, multi-get) in one pipeline, cut into random chunks on the
 * wire, and every reply is checked in order, byte for byte, against a model of the client's
 * own keyspace (values derived from the key and the client id; multi-get items in request
 * order, M5). A last client sends its pipeline one byte per write. Afterwards every key is
 * read directly from the backend walnut's placement names.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import {
  b,
  Direct,
  expectBytes,
  expectSilence,
  getReply,
  locate,
  poolsYaml,
  prng,
  randInt,
  randomChunks,
  serverLine,
  storage,
  valueItem,
  writeChunks,
} from '../helpers/memcache.js'
import { freePort } from '../helpers/ports.js'
import {
  connect,
  type ProxyProc,
  type ServerProc,
  startMemcached,
  startWalnut,
} from '../helpers/servers.js'

const CLIENTS = 50
const KEYS_PER_CLIENT = 40
const NON_NUMERIC = 'CLIENT_ERROR cannot increment or decrement non-numeric value\r\n'

let mcs: ServerProc[] = []
let walnut: ProxyProc
let direct: Direct

before(async () => {
  mcs = await Promise.all([startMemcached(), startMemcached(), startMemcached()])
  const port = await freePort()
  walnut = await startWalnut(
    poolsYaml([
      {
        name: 'pipe',
        listen: `127.0.0.1:${port}`,
        servers: mcs.map((s) => serverLine(s)),
        extra: { timeout: 10000 },
      },
    ]),
  )
  direct = await Direct.open(mcs)
})

after(async () => {
  await direct?.close()
  await walnut?.stop()
  await Promise.all(mcs.map((m) => m.stop()))
})

interface Entry {
  data: Buffer
  flags: number
}

/** A client's pipeline, the exact bytes it must get back, and its keys' final state. */
interface Script {
  requests: Buffer
  replies: Buffer
  count: number
  final: Map<string, Entry>
}

/**
 * `count` requests over the keys `p:<id>:<n>`, with the replies memcached gives for them.
 * Values: numbers (so incr works) or `<key>|<id>|<seq>` with a binary tail holding CR LF.
 */
function script(id: number, count: number, seed: number): Script {
  const rnd = prng(seed)
  const model = new Map<string, Entry>()
  // a tail after the numbers: fnv1a_64 barely spreads keys that differ only in their last bytes
  const keyOf = (n: number) => `p:${id}:${n}:pipelined`
  const reqs: Buffer[] = []
  const reps: Buffer[] = []
  for (let seq = 0; seq < count; seq++) {
    const key = keyOf(randInt(rnd, 0, KEYS_PER_CLIENT - 1))
    const r = rnd()
    if (r < 0.3) {
      let data: Buffer
      if (rnd() < 0.4) data = b(String(randInt(rnd, 0, 1_000_000)))
      else {
        const tail = Buffer.alloc(randInt(rnd, 0, rnd() < 0.05 ? 3000 : 60))
        for (let i = 0; i < tail.length; i++) tail[i] = randInt(rnd, 0, 255)
        data = Buffer.concat([b(`${key}|${id}|${seq}\r\n`), tail])
      }
      const flags = randInt(rnd, 0, 65535)
      reqs.push(storage('set', key, data, flags))
      reps.push(b('STORED\r\n'))
      model.set(key, { data, flags })
    } else if (r < 0.55) {
      reqs.push(b(`get ${key}\r\n`))
      const e = model.get(key)
      reps.push(getReply(e === undefined ? [] : [valueItem(key, e.data, e.flags)]))
    } else if (r < 0.7) {
      const delta = randInt(rnd, 0, 1000)
      reqs.push(b(`incr ${key} ${delta}\r\n`))
      const e = model.get(key)
      if (e === undefined) reps.push(b('NOT_FOUND\r\n'))
      else if (!/^[0-9]+$/.test(e.data.toString('latin1'))) reps.push(b(NON_NUMERIC))
      else {
        // values stay far below 2^64 and an incr never shortens them: no padding, no wrap
        const next = String(Number(e.data.toString('latin1')) + delta)
        reps.push(b(`${next}\r\n`))
        model.set(key, { data: b(next), flags: e.flags })
      }
    } else if (r < 0.8) {
      reqs.push(b(`delete ${key}\r\n`))
      reps.push(b(model.delete(key) ? 'DELETED\r\n' : 'NOT_FOUND\r\n'))
    } else {
      const n = randInt(rnd, 2, 20)
      const keys = Array.from({ length: n }, () => keyOf(randInt(rnd, 0, KEYS_PER_CLIENT - 1)))
      reqs.push(b(`get ${keys.join(' ')}\r\n`))
      reps.push(
        getReply(
          keys.flatMap((k) => {
            const e = model.get(k)
            return e === undefined ? [] : [valueItem(k, e.data, e.flags)]
          }),
        ),
      )
    }
  }
  return { requests: Buffer.concat(reqs), replies: Buffer.concat(reps), count, final: model }
}

/** Checks every key of the scripts directly on the backend walnut's placement names. */
async function checkBackends(scripts: readonly Script[], ids: readonly number[]): Promise<void> {
  const keys: string[] = []
  const want: (Entry | undefined)[] = []
  scripts.forEach((s, i) => {
    for (let n = 0; n < KEYS_PER_CLIENT; n++) {
      const k = `p:${ids[i]}:${n}:pipelined`
      keys.push(k)
      want.push(s.final.get(k))
    }
  })
  const where = await locate(walnut.configPath, keys.map(b))
  for (let i = 0; i < keys.length; i += KEYS_PER_CLIENT) {
    const servers = new Set(where.slice(i, i + KEYS_PER_CLIENT))
    assert.equal(servers.size, 3, `the keys of ${keys[i]} span every server`)
  }
  const holders = await direct.holders(keys)
  for (let i = 0; i < keys.length; i++) {
    const e = want[i]
    assert.equal(holders[i], e === undefined ? -1 : where[i], `backend holding ${keys[i]}`)
    if (e === undefined) continue
    expectBytes(
      await direct.call(where[i]!, `get ${keys[i]}\r\n`),
      getReply([valueItem(keys[i]!, e.data, e.flags)]),
      `${keys[i]} on server ${where[i]}`,
    )
  }
}

test(`${CLIENTS} concurrent clients, 1000+ pipelined requests each, random chunk splits`, async () => {
  const seed = 20_260_101
  // chunk size caps: a few clients cut very finely, most coarser, some send all at once
  const caps = [8, 64, 512, 4096, 1 << 30]
  const scripts = Array.from({ length: CLIENTS }, (_, id) =>
    script(id, 1000 + ((id * 37) % 300), seed + id),
  )
  const ids = scripts.map((_, id) => id)
  const clients = await Promise.all(scripts.map(() => connect(walnut.port)))
  await Promise.all(
    clients.map(async (c, id) => {
      const s = scripts[id]!
      const rnd = prng(seed * 7 + id)
      const cap = id < 5 ? 16 : caps[id % caps.length]!
      const reading = c.read(s.replies.length, 60_000)
      await writeChunks(c, randomChunks(rnd, s.requests, cap))
      expectBytes(await reading, s.replies, `client ${id} (${s.count} requests, chunks <= ${cap})`)
    }),
  )
  await Promise.all(clients.map((c, id) => expectSilence(c, 20, `client ${id}`)))
  await Promise.all(clients.map((c) => c.close()))
  await checkBackends(scripts, ids)
})

test('a client sending its pipeline one byte per write', async () => {
  const id = 1000
  const s = script(id, 300, 99)
  const c = await connect(walnut.port)
  const reading = c.read(s.replies.length, 60_000)
  const bytes: Buffer[] = []
  for (let i = 0; i < s.requests.length; i++) bytes.push(s.requests.subarray(i, i + 1))
  await writeChunks(c, bytes)
  expectBytes(await reading, s.replies, `byte-by-byte client (${s.requests.length} bytes)`)
  await expectSilence(c, 20, 'byte-by-byte client')
  await c.close()
  await checkBackends([s], [id])
})

test('walnut is still running', () => {
  assert.equal(walnut.exitInfo, undefined, walnut.output())
})
