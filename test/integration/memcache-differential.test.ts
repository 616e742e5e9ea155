/**
 * Differential test: walnut against the real nutcracker 0.5.0, on the same 3 memcached and the
 * same pool config (only `listen:` differs). One seeded sequence of a few hundred success-path
 * requests (every command; `cas` with the uniques the run's own `gets` returned; noreply;
 * multi-gets) runs through nutcracker on fresh backends, then, after the backends are restarted
 * on the same ports (so cas uniques start over), through walnut. Every reply must be the same
 * bytes, except multi-gets where keys miss: there nutcracker may move items out of request
 * order (spec §4, deviation M5), so those are compared as sets of items. Then every key must
 * be on the same backend after both runs.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import {
  b,
  Direct,
  expectBytes,
  parseItems,
  poolsYaml,
  prng,
  randInt,
  serverLine,
  storage,
} from '../helpers/memcache.js'
import { freePort } from '../helpers/ports.js'
import {
  connect,
  type ServerProc,
  showBytes,
  startMemcached,
  startNutcracker,
  startWalnut,
} from '../helpers/servers.js'

// a tail after the number: fnv1a_64 barely spreads keys that differ only in their last bytes
const KEYS = Array.from({ length: 40 }, (_, i) => `d:${i}:differential`)
const STEPS = 450

let mcs: ServerProc[] = []
let ports: number[] = []

before(async () => {
  mcs = await Promise.all([startMemcached(), startMemcached(), startMemcached()])
  ports = mcs.map((m) => m.port)
})

after(async () => {
  await Promise.all(mcs.map((m) => m.stop()))
})

/** Fresh memcached processes on the same ports (cas uniques and contents start over). */
async function restartBackends(): Promise<void> {
  await Promise.all(mcs.map((m) => m.stop()))
  mcs = await Promise.all(ports.map((port) => startMemcached({ port })))
}

interface Step {
  req: Buffer
  /** No reply expected. */
  noreply: boolean
  /** Number of keys of a get/gets (0 for other commands). */
  keys: number
}

/**
 * The next request. Deterministic given `rnd` and `cas` (the uniques this run's own gets
 * replies returned), so both runs send the same bytes as long as their replies agree.
 */
function nextStep(i: number, rnd: () => number, cas: Map<string, string>): Step {
  const key = () => KEYS[randInt(rnd, 0, KEYS.length - 1)]!
  const plain = (s: string): Step => ({ req: b(s), noreply: false, keys: 0 })
  const value = () =>
    rnd() < 0.35 ? String(randInt(rnd, 0, 99_999)) : `v${i}:${'x'.repeat(randInt(rnd, 0, 50))}`
  const nr = rnd() < 0.12
  const tail = nr ? 'noreply' : ''
  // the first steps store every key, so most gets hit
  if (i < KEYS.length) return { req: storage('set', KEYS[i]!, value(), i), noreply: false, keys: 0 }
  const r = rnd()
  if (r < 0.14)
    return { req: storage('set', key(), value(), randInt(rnd, 0, 9), tail), noreply: nr, keys: 0 }
  if (r < 0.18) return { req: storage('add', key(), value(), 1, tail), noreply: nr, keys: 0 }
  if (r < 0.22) return { req: storage('replace', key(), value(), 2, tail), noreply: nr, keys: 0 }
  if (r < 0.26) return { req: storage('append', key(), `+${i}`, 0, tail), noreply: nr, keys: 0 }
  if (r < 0.3) return { req: storage('prepend', key(), `${i}-`, 0, tail), noreply: nr, keys: 0 }
  if (r < 0.38) {
    // sorted: multi-get items can come in another order from nutcracker (M5)
    const known = [...cas.keys()].sort()
    if (known.length === 0) return plain('version\r\n')
    const k = known[randInt(rnd, 0, known.length - 1)]!
    const unique = rnd() < 0.75 ? cas.get(k)! : String(BigInt(cas.get(k)!) + 7n)
    return {
      req: storage('cas', k, `cas${i}`, 3, `${unique}${nr ? ' noreply' : ''}`),
      noreply: nr,
      keys: 0,
    }
  }
  if (r < 0.43)
    return { req: b(`delete ${key()}${nr ? ' noreply' : ''}\r\n`), noreply: nr, keys: 0 }
  if (r < 0.49)
    return {
      req: b(`incr ${key()} ${randInt(rnd, 0, 500)}${nr ? ' noreply' : ''}\r\n`),
      noreply: nr,
      keys: 0,
    }
  if (r < 0.53)
    return {
      req: b(`decr ${key()} ${randInt(rnd, 0, 500)}${nr ? ' noreply' : ''}\r\n`),
      noreply: nr,
      keys: 0,
    }
  if (r < 0.56)
    return {
      req: b(`touch ${key()} ${randInt(rnd, 100, 1000)}${nr ? ' noreply' : ''}\r\n`),
      noreply: nr,
      keys: 0,
    }
  if (r < 0.58) return plain('version\r\n')
  const verb = rnd() < 0.4 ? 'gets' : 'get'
  if (r < 0.72) return { req: b(`${verb} ${key()}\r\n`), noreply: false, keys: 1 }
  const n = rnd() < 0.1 ? randInt(rnd, 40, 120) : randInt(rnd, 2, 12)
  const keys = Array.from({ length: n }, key)
  return { req: b(`${verb} ${keys.join(' ')}\r\n`), noreply: false, keys: n }
}

interface Run {
  requests: Buffer[]
  /** One per request; empty for noreply requests. */
  replies: Buffer[]
  /** Bytes after `quit`, up to the close. */
  tail: Buffer
}

async function runSequence(port: number): Promise<Run> {
  const c = await connect(port)
  const rnd = prng(31337)
  const cas = new Map<string, string>()
  const out: Run = { requests: [], replies: [], tail: Buffer.alloc(0) }
  for (let i = 0; i < STEPS; i++) {
    const step = nextStep(i, rnd, cas)
    out.requests.push(step.req)
    await c.send(step.req)
    if (step.noreply) {
      out.replies.push(Buffer.alloc(0))
      continue
    }
    const reply = await c.readMcReply(5000)
    out.replies.push(reply)
    if (step.req.toString('latin1').startsWith('gets ')) {
      for (const item of parseItems(reply)) cas.set(item.key, item.cas!)
    }
  }
  // every key stored again (so each has a backend to compare), a big all-hit multi-get, quit
  const sets = Buffer.concat(KEYS.map((k, i) => storage('set', k, `final:${i}`, i)))
  await c.send(sets)
  out.requests.push(sets)
  out.replies.push(await c.read(KEYS.length * 8, 5000))
  await c.send(`get ${KEYS.join(' ')} ${KEYS.join(' ')}\r\nquit\r\n`)
  out.requests.push(b(`get ${KEYS.join(' ')} ${KEYS.join(' ')}\r\n`))
  out.replies.push(await c.readMcReply(5000))
  out.tail = await c.readUntilClose(5000)
  return out
}

/** Item bytes of a get reply, sorted (for multi-gets where keys miss). */
function itemSet(reply: Buffer): string[] {
  return parseItems(reply)
    .map((it) => `${it.key} ${it.flags} ${it.cas ?? ''} ${it.data.toString('latin1')}`)
    .sort()
}

/** For each key of KEYS, the backend holding it, read directly. */
async function holders(): Promise<number[]> {
  const d = await Direct.open(mcs)
  try {
    return await d.holders(KEYS)
  } finally {
    await d.close()
  }
}

test('the same requests get the same replies from nutcracker and walnut, keys on the same backends', async () => {
  const yaml = (listen: number) =>
    poolsYaml([
      {
        name: 'diff',
        listen: `127.0.0.1:${listen}`,
        servers: mcs.map((m) => serverLine(m)),
        extra: { timeout: 3000, auto_eject_hosts: false },
      },
    ])

  const nut = await startNutcracker(yaml(await freePort()))
  const fromNut = await runSequence(nut.port)
  const nutHolders = await holders()
  await nut.stop()

  await restartBackends()
  const walnut = await startWalnut(yaml(await freePort()))
  const fromWalnut = await runSequence(walnut.port)
  const walnutHolders = await holders()
  await walnut.stop()

  let exact = 0
  let hitOnlyMulti = 0
  let asSets = 0
  const kinds = new Set<string>()
  for (let i = 0; i < fromNut.requests.length; i++) {
    const req = fromNut.requests[i]!
    expectBytes(fromWalnut.requests[i]!, req, `request ${i} (the runs diverged before it)`)
    const name = req.toString('latin1', 0, req.indexOf(0x20) < 0 ? 7 : req.indexOf(0x20))
    kinds.add(name.replace(/\r\n$/, ''))
    const nutReply = fromNut.replies[i]!
    const walnutReply = fromWalnut.replies[i]!
    const what = `step ${i}: ${showBytes(req.subarray(0, 80))}`
    const nkeys =
      name === 'get' || name === 'gets' ? req.toString('latin1').trim().split(/ +/).length - 1 : 0
    if (nkeys >= 2 && parseItems(nutReply).length < nkeys) {
      // some keys missed: nutcracker may reorder (M5); same items, walnut's in request order
      assert.deepEqual(itemSet(walnutReply), itemSet(nutReply), what)
      // walnut's items follow the request order: each matches the next requested key that hit
      const want = req.toString('latin1').trim().split(/ +/).slice(1)
      let at = 0
      for (const it of parseItems(walnutReply)) {
        while (at < want.length && want[at] !== it.key) at++
        assert.ok(at < want.length, `${what}: item ${it.key} out of request order`)
        at++
      }
      asSets++
    } else {
      expectBytes(walnutReply, nutReply, what)
      exact++
      if (nkeys >= 2) hitOnlyMulti++
    }
  }
  expectBytes(fromWalnut.tail, fromNut.tail, 'after quit')
  assert.equal(fromNut.tail.length, 0)
  for (const cmd of [
    'get',
    'gets',
    'set',
    'add',
    'replace',
    'append',
    'prepend',
    'cas',
    'delete',
    'incr',
    'decr',
    'touch',
    'version',
  ]) {
    assert.ok(kinds.has(cmd), `the sequence has no ${cmd}: ${[...kinds].join(' ')}`)
  }
  assert.ok(hitOnlyMulti >= 20, `only ${hitOnlyMulti} all-hit multi-gets`)
  assert.ok(asSets >= 5, `only ${asSets} multi-gets with misses`)
  assert.ok(exact >= 300, `only ${exact} replies compared byte for byte`)
  // noreply and every reply kind showed up
  const all = Buffer.concat(fromNut.replies).toString('latin1')
  for (const r of [
    'STORED',
    'NOT_STORED',
    'EXISTS',
    'NOT_FOUND',
    'DELETED',
    'TOUCHED',
    'VALUE',
    'VERSION',
  ]) {
    assert.ok(all.includes(`${r}`), `no ${r} reply in the sequence`)
  }
  assert.ok(
    fromNut.replies.some((r) => r.length === 0),
    'no noreply request in the sequence',
  )

  assert.deepEqual(walnutHolders, nutHolders, 'each key on the same backend')
  assert.ok(walnutHolders.every((h) => h >= 0))
  assert.equal(
    new Set(walnutHolders).size,
    3,
    `holders ${walnutHolders.join(',')} ports ${ports.join(',')}`,
  )
})
