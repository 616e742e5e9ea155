/**
 * The seed's production shape: 6 memcached servers all on port 11211, at 127.0.0.2 .. 127.0.0.7
 * (all of 127/8 is loopback on Linux, no set-up needed), ketama + fnv1a_64, servers written
 * `127.0.0.N:11211:1`, walnut on 127.0.0.1:<free port>. 2000 keys set through walnut must each
 * sit on the backend that the rule of ../shared/vectors/README.md names (port 11211: the
 * server's point name is the bare host). The rule is written out here, independently of
 * src/hash, and first checked against every row of nutcracker's own seed_11211 vectors. Then
 * the real nutcracker, on the same config, overwrites the same keys: each must still be on
 * exactly one backend, the same one.
 *
 * Port 11211 cannot come from the kernel, so runs of this file take a lock file in the temp
 * dir to stay out of each other's way.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  b,
  Direct,
  exchange,
  expectBytes,
  getReply,
  poolsYaml,
  storage,
  valueItem,
} from '../helpers/memcache.js'
import { freePort } from '../helpers/ports.js'
import {
  connect,
  type NutcrackerProc,
  type ProxyProc,
  type ServerProc,
  startMemcached,
  startNutcracker,
  startWalnut,
} from '../helpers/servers.js'
import { vectorsDir } from '../helpers/shared.js'

const HOSTS = ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5', '127.0.0.6', '127.0.0.7']
const PORT = 11211
const LOCK = join(tmpdir(), 'walnut-memcache-seed-11211.lock')

let unlock: (() => void) | undefined
let mcs: ServerProc[] = []
let walnut: ProxyProc
let nutcracker: NutcrackerProc
let direct: Direct

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Takes the 11211 lock (waits up to 60 s for another run; steals a dead holder's lock). */
async function lock(): Promise<() => void> {
  const deadline = Date.now() + 60_000
  for (;;) {
    try {
      writeFileSync(LOCK, String(process.pid), { flag: 'wx' })
      return () => rmSync(LOCK, { force: true })
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
    }
    let holder = 0
    try {
      holder = Number(readFileSync(LOCK, 'utf8'))
    } catch {}
    if (holder > 0 && !alive(holder)) {
      rmSync(LOCK, { force: true })
      continue
    }
    if (Date.now() > deadline) throw new Error(`${LOCK} held by pid ${holder} for 60 s`)
    await sleep(200)
  }
}

// ---------------------------------------------------------------------------------------------
// The placement rule of ../shared/vectors/README.md, written out for this test only

/** nutcracker's fnv1a_64: 32-bit FNV-1a with the low halves of the 64-bit constants, bytes sign-extended. */
function fnv1a64(key: Buffer): number {
  let h = 0x84222325
  for (const c of key) {
    h ^= c >= 0x80 ? c | 0xffffff00 : c
    h = Math.imul(h, 0x1b3) >>> 0
  }
  return h >>> 0
}

/** Sorted ketama continuum as [point, server index] for equally weighted `names`. */
function continuum(names: readonly string[]): [number, number][] {
  const n = Math.fround(names.length)
  const pct = Math.fround(Math.fround(1) / Math.fround(names.length))
  const v = Math.fround(Math.fround(Math.fround(pct * 160) / 4) * n)
  const points = 4 * Math.floor(v)
  const out: [number, number][] = []
  names.forEach((name, s) => {
    for (let i = 0; i < points / 4; i++) {
      const d = createHash('md5').update(`${name}-${i}`).digest()
      for (let q = 0; q < 4; q++) out.push([d.readUInt32LE(q * 4), s])
    }
  })
  return out.sort((x, y) => x[0] - y[0])
}

/** The server a key goes to: the first point >= its hash, wrapping to the first. */
function place(points: readonly [number, number][], key: Buffer): number {
  const h = fnv1a64(key)
  let lo = 0
  let hi = points.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (points[mid]![0] < h) lo = mid + 1
    else hi = mid
  }
  return points[lo === points.length ? 0 : lo]![1]
}

// port 11211: the point name is the bare host
const POINTS = continuum(HOSTS)

/** nutcracker's own placement of the seed pool: [key, YAML server index]. */
function vectorRows(): [Buffer, number][] {
  const text = readFileSync(join(vectorsDir(), 'dist', 'seed_11211.tsv'), 'utf8')
  const rows = text.trimEnd().split('\n').slice(1)
  return rows.map((r) => {
    const [hex, index] = r.split('\t')
    return [Buffer.from(hex!, 'hex'), Number(index)]
  })
}

before(async () => {
  unlock = await lock()
  // memcached on 127.0.0.N:11211 each; fails loudly if an address or the port is unusable
  mcs = await Promise.all(HOSTS.map((host) => startMemcached({ host, port: PORT })))
  const servers = HOSTS.map((h) => `${h}:${PORT}:1`)
  const walnutPort = await freePort()
  walnut = await startWalnut(
    poolsYaml([
      {
        name: 'seed',
        listen: `127.0.0.1:${walnutPort}`,
        servers,
        extra: { auto_eject_hosts: false, timeout: 5000 },
      },
    ]),
  )
  const nutPort = await freePort()
  nutcracker = await startNutcracker(
    poolsYaml([
      {
        name: 'seed',
        listen: `127.0.0.1:${nutPort}`,
        servers,
        extra: { auto_eject_hosts: false, timeout: 5000 },
      },
    ]),
  )
  direct = await Direct.open(mcs)
})

after(async () => {
  await direct?.close()
  await walnut?.stop()
  await nutcracker?.stop()
  await Promise.all(mcs.map((m) => m.stop()))
  unlock?.()
})

test("the rule written out here reproduces nutcracker's seed_11211 vectors", () => {
  const rows = vectorRows()
  assert.ok(rows.length >= 900, `only ${rows.length} vector rows`)
  const wrong = rows.filter(([key, index]) => place(POINTS, key) !== index)
  assert.deepEqual(
    wrong.map(([k]) => k.toString('hex')),
    [],
    'rows the rule places elsewhere',
  )
  // naming the servers host:port instead breaks it: the rule is not vacuous
  const withPort = continuum(HOSTS.map((h) => `${h}:${PORT}`))
  assert.ok(rows.filter(([key, index]) => place(withPort, key) !== index).length > rows.length / 3)
})

/** The vectors' keys, then generated ones (ASCII, UTF-8, high bytes) up to 2000. */
function seedKeys(): Buffer[] {
  const keys = vectorRows().map(([k]) => k)
  for (let i = 0; keys.length < 2000; i++) {
    if (i % 3 === 0) keys.push(b(`seed:user:${i}:profile`))
    else if (i % 3 === 1) keys.push(Buffer.from(`seed:ключ:${i}`, 'utf8'))
    else keys.push(Buffer.concat([b(`seed:${i}:`), Buffer.from([0x80 + (i % 128), 0xff, 0xc3])]))
  }
  return keys
}

test('2000 keys set through walnut sit on the backends the rule names; nutcracker agrees', async () => {
  const keys = seedKeys()
  const want = keys.map((k) => place(POINTS, k))
  assert.equal(new Set(want).size, 6, 'the keys cover all 6 servers')
  const names = keys.map((k) => k.toString('latin1'))

  const w = await connect(walnut.port)
  await exchange(
    w,
    Buffer.concat(keys.map((k, i) => storage('set', k, `walnut:${i}`, 1))),
    'STORED\r\n'.repeat(keys.length),
    'sets through walnut',
    20_000,
  )
  const held = await direct.holders(names)
  const misplaced = names.filter((_, i) => held[i] !== want[i])
  assert.deepEqual(
    misplaced.slice(0, 10).map((k) => Buffer.from(k, 'latin1').toString('hex')),
    [],
    `${misplaced.length} of ${keys.length} keys not on the rule's server`,
  )

  // nutcracker on the same config overwrites the same keys: still one copy each, same server
  const n = await connect(nutcracker.port)
  await exchange(
    n,
    Buffer.concat(keys.map((k, i) => storage('set', k, `nutcracker:${i}`, 2))),
    'STORED\r\n'.repeat(keys.length),
    'sets through nutcracker',
    20_000,
  )
  const again = await direct.holders(names)
  assert.deepEqual(again, held, 'nutcracker placed the keys on the same servers')
  for (const i of [0, 1, 923, 924, 1500, 1999]) {
    expectBytes(
      await direct.call(want[i]!, Buffer.concat([b('get '), keys[i]!, b('\r\n')])),
      getReply([valueItem(keys[i]!, `nutcracker:${i}`, 2)]),
      `key ${i} overwritten in place`,
    )
  }
  // and walnut reads what nutcracker wrote, through a multi-get over all servers
  const some = keys.filter((_, i) => i % 97 === 0)
  await exchange(
    w,
    Buffer.concat([b('get'), ...some.flatMap((k) => [b(' '), k]), b('\r\n')]),
    getReply(some.map((k) => valueItem(k, `nutcracker:${keys.indexOf(k)}`, 2))),
    'walnut multi-get of nutcracker-written keys',
  )
  await w.close()
  await n.close()
})
