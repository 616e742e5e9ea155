/**
 * walnut proxying real memcached (3 instances, one with `-I 2m`) through the built CLI: every
 * supported command with its exact reply bytes, `cas` with real cas uniques, noreply, the
 * deviations M1-M7 (../shared/spec/deviations.md), multi-gets of 1..1000 keys with values in
 * request order (M5), binary values up to 1 MB (1.5 MB on the `-I 2m` server), 250/251-byte
 * keys, and every key on the backend that walnut's own placement (`walnut locate`) names.
 * M6/M7 use a second pool whose servers are a real memcached, a port nothing listens on, and a
 * fake memcached that answers error lines.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import {
  b,
  CLOSE,
  Direct,
  exchange,
  expectBytes,
  expectSilence,
  FakeMemcached,
  getReply,
  HANG,
  keysPerServer,
  locate,
  parseItems,
  poolsYaml,
  prng,
  randInt,
  serverLine,
  storage,
  valueItem,
} from '../helpers/memcache.js'
import { freePort } from '../helpers/ports.js'
import {
  type Client,
  connect,
  type ProxyProc,
  type ServerProc,
  startMemcached,
  startWalnut,
} from '../helpers/servers.js'

const FORMAT = 'CLIENT_ERROR bad command line format\r\n'
const TOO_LARGE = 'SERVER_ERROR object too large for cache\r\n'

let mcs: ServerProc[] = []
let fake: FakeMemcached
let walnut: ProxyProc
let mainPort = 0
let faultyPort = 0
/** A port nothing listens on (a server of the `faulty` pool). */
let deadPort = 0
let direct: Direct
/** Keys per server of the `main` pool (8 each), and of the `faulty` pool. */
let mainKeys: string[][]
let faultyKeys: string[][]
let fakeErrorKeys: string[][]
let fakeClientErrorKeys: string[][]
let fakeHangKeys: string[][]
let fakeCloseKeys: string[][]

/** A fresh client connection to the `main` pool. */
async function client(port = mainPort): Promise<Client> {
  return connect(port)
}

before(async () => {
  mcs = await Promise.all([
    startMemcached(),
    startMemcached(),
    startMemcached({ args: ['-I', '2m'] }),
  ])
  fake = await FakeMemcached.start((line) => {
    if (line.includes('err:hang')) return HANG
    if (line.includes('err:close')) return CLOSE
    if (line.includes('err:error')) return 'ERROR'
    if (line.includes('err:client')) return 'CLIENT_ERROR nope'
    return 'SERVER_ERROR boom'
  })
  deadPort = await freePort()
  mainPort = await freePort()
  faultyPort = await freePort()
  const yaml = poolsYaml([
    {
      name: 'main',
      listen: `127.0.0.1:${mainPort}`,
      servers: mcs.map((s) => serverLine(s)),
      extra: { timeout: 3000 },
    },
    {
      name: 'faulty',
      listen: `127.0.0.1:${faultyPort}`,
      servers: [serverLine(mcs[0]!), `127.0.0.1:${deadPort}:1`, serverLine(fake)],
      extra: { timeout: 400 },
    },
  ])
  walnut = await startWalnut(yaml)
  direct = await Direct.open(mcs)
  mainKeys = await keysPerServer(walnut.configPath, 'key:', 3, 8, 'main')
  faultyKeys = await keysPerServer(walnut.configPath, 'f:', 3, 3, 'faulty')
  fakeErrorKeys = await keysPerServer(walnut.configPath, 'err:error:', 3, 1, 'faulty')
  fakeClientErrorKeys = await keysPerServer(walnut.configPath, 'err:client:', 3, 1, 'faulty')
  fakeHangKeys = await keysPerServer(walnut.configPath, 'err:hang:', 3, 1, 'faulty')
  fakeCloseKeys = await keysPerServer(walnut.configPath, 'err:close:', 3, 1, 'faulty')
})

after(async () => {
  await direct?.close()
  await fake?.close()
  await walnut?.stop()
  await Promise.all(mcs.map((m) => m.stop()))
})

/** A key of the main pool on server `s` (the n-th one). */
const keyOn = (s: number, n = 0): string => mainKeys[s]![n]!

describe('every command, exact replies', () => {
  test('storage commands and get', async () => {
    const c = await client()
    const k = keyOn(0, 0)
    const k2 = keyOn(1, 0)
    await exchange(c, storage('set', k, 'abc', 5), 'STORED\r\n')
    await exchange(c, `get ${k}\r\n`, getReply([valueItem(k, 'abc', 5)]))
    await exchange(c, storage('add', k, 'zzz'), 'NOT_STORED\r\n')
    await exchange(c, storage('add', k2, 'new', 7), 'STORED\r\n')
    await exchange(c, `get ${k2}\r\n`, getReply([valueItem(k2, 'new', 7)]))
    await exchange(c, storage('replace', keyOn(2, 0), 'x'), 'NOT_STORED\r\n')
    await exchange(c, storage('replace', k2, 'rep', 9), 'STORED\r\n')
    await exchange(c, storage('append', k, 'def'), 'STORED\r\n')
    await exchange(c, storage('prepend', k, '123'), 'STORED\r\n')
    await exchange(c, storage('append', keyOn(2, 1), 'x'), 'NOT_STORED\r\n')
    await exchange(c, storage('prepend', keyOn(2, 1), 'x'), 'NOT_STORED\r\n')
    // append/prepend keep the flags
    await exchange(c, `get ${k}\r\n`, getReply([valueItem(k, '123abcdef', 5)]))
    await exchange(c, `get ${k2}\r\n`, getReply([valueItem(k2, 'rep', 9)]))
    await exchange(c, `get ${keyOn(2, 0)}\r\n`, 'END\r\n')
    // an empty value, flags at 2^32-1
    await exchange(c, storage('set', keyOn(2, 0), '', 4294967295), 'STORED\r\n')
    await exchange(c, `get ${keyOn(2, 0)}\r\n`, getReply([valueItem(keyOn(2, 0), '', 4294967295)]))
    // the backend holds what walnut stored, on the located server
    expectBytes(
      await direct.call(0, `get ${k}\r\n`),
      getReply([valueItem(k, '123abcdef', 5)]),
      'direct get on server 0',
    )
    await c.close()
  })

  test('gets and cas with real cas uniques', async () => {
    const c = await client()
    const k = keyOn(1, 1)
    await exchange(c, storage('set', k, 'one', 3), 'STORED\r\n')
    await c.send(`gets ${k}\r\n`)
    const items = parseItems(await c.readMcReply())
    assert.equal(items.length, 1)
    const cas = items[0]!.cas
    assert.ok(cas !== undefined && /^[0-9]+$/.test(cas), `cas unique ${String(cas)}`)
    // the same unique the backend reports directly
    expectBytes(
      await direct.call(1, `gets ${k}\r\n`),
      getReply([valueItem(k, 'one', 3, cas)]),
      'direct gets',
    )
    const wrong = (BigInt(cas) + 1000n).toString()
    await exchange(c, storage('cas', k, 'two', 4, wrong), 'EXISTS\r\n')
    await exchange(c, storage('cas', k, 'two', 4, cas), 'STORED\r\n')
    // the unique changed: the old one no longer matches
    await exchange(c, storage('cas', k, 'three', 4, cas), 'EXISTS\r\n')
    await exchange(c, storage('cas', keyOn(1, 2), 'x', 0, cas), 'NOT_FOUND\r\n')
    await c.send(`gets ${k}\r\n`)
    const after = parseItems(await c.readMcReply())
    assert.equal(after.length, 1)
    assert.notEqual(after[0]!.cas, cas)
    expectBytes(
      Buffer.concat([b(`VALUE ${k} 4 3 ${after[0]!.cas}\r\n`), after[0]!.data, b('\r\n')]),
      valueItem(k, 'two', 4, after[0]!.cas),
      'gets after cas',
    )
    await c.close()
  })

  test('incr, decr, touch, delete', async () => {
    const c = await client()
    const n = keyOn(2, 2)
    const t = keyOn(0, 1)
    await exchange(c, storage('set', n, '10'), 'STORED\r\n')
    await exchange(c, `incr ${n} 5\r\n`, '15\r\n')
    await exchange(c, `decr ${n} 100\r\n`, '0\r\n')
    // memcached rewrites a shorter number in place, padded with spaces
    await exchange(c, `get ${n}\r\n`, getReply([valueItem(n, '0 ')]))
    await exchange(c, storage('set', n, '18446744073709551615'), 'STORED\r\n')
    await exchange(c, `incr ${n} 1\r\n`, '0\r\n')
    await exchange(c, `incr ${n} 18446744073709551615\r\n`, '18446744073709551615\r\n')
    await exchange(c, `incr ${keyOn(2, 3)} 1\r\n`, 'NOT_FOUND\r\n')
    await exchange(c, `decr ${keyOn(2, 3)} 1\r\n`, 'NOT_FOUND\r\n')
    await exchange(c, storage('set', t, 'text'), 'STORED\r\n')
    await exchange(
      c,
      `incr ${t} 1\r\n`,
      'CLIENT_ERROR cannot increment or decrement non-numeric value\r\n',
    )
    // a negative delta is forwarded; memcached answers it
    await exchange(c, `incr ${n} -1\r\n`, 'CLIENT_ERROR invalid numeric delta argument\r\n')
    await exchange(c, `touch ${t} 100\r\n`, 'TOUCHED\r\n')
    await exchange(c, `touch ${keyOn(0, 2)} 100\r\n`, 'NOT_FOUND\r\n')
    await exchange(c, `delete ${t}\r\n`, 'DELETED\r\n')
    await exchange(c, `delete ${t}\r\n`, 'NOT_FOUND\r\n')
    await exchange(c, `get ${t}\r\n`, 'END\r\n')
    await c.close()
  })

  test('version goes to the server of the key `placeholder`', async () => {
    const [s] = await locate(walnut.configPath, [b('placeholder')], 'main')
    const want = await direct.call(s!, 'version\r\n')
    assert.match(want.toString('latin1'), /^VERSION 1\.[0-9.]+\r\n$/)
    const c = await client()
    await exchange(c, 'version\r\n', want)
    await exchange(c, 'version  \r\n', want, 'version with trailing spaces')
    await c.close()
  })

  test('quit: earlier replies, then close; nothing after quit is run', async () => {
    const c = await client()
    const k = keyOn(1, 3)
    await c.send(
      Buffer.concat([storage('set', k, 'q'), b(`get ${k}\r\nquit\r\n`), storage('set', k, 'X')]),
    )
    expectBytes(
      await c.readUntilClose(),
      b(`STORED\r\n${getReply([valueItem(k, 'q')]).toString('latin1')}`),
      'replies before quit',
    )
    expectBytes(await direct.call(1, `get ${k}\r\n`), getReply([valueItem(k, 'q')]), 'after quit')
  })

  test('half-close: replies to requests sent before FIN are delivered', async () => {
    const c = await client()
    const k = keyOn(0, 3)
    await c.send(Buffer.concat([storage('set', k, 'hc'), b(`get ${k}\r\n`)]))
    c.end()
    expectBytes(
      await c.readUntilClose(),
      b(`STORED\r\n${getReply([valueItem(k, 'hc')]).toString('latin1')}`),
      'half-closed client',
    )
  })

  test('pipelined set/get/delete in one packet; `get k noreply` asks for two keys', async () => {
    const c = await client()
    const k = keyOn(2, 4)
    await exchange(c, storage('set', 'noreply', 'NR'), 'STORED\r\n')
    await exchange(
      c,
      Buffer.concat([storage('set', k, 'p'), b(`get ${k}\r\ndelete ${k}\r\nget ${k} noreply\r\n`)]),
      `STORED\r\n${getReply([valueItem(k, 'p')]).toString('latin1')}DELETED\r\n` +
        getReply([valueItem('noreply', 'NR')]).toString('latin1'),
    )
    await c.close()
  })
})

describe('noreply', () => {
  test('nothing comes back; the effect shows in a following get', async () => {
    const c = await client()
    const k = keyOn(0, 4)
    const n = keyOn(1, 4)
    const get = (key: string) => b(`get ${key}\r\n`)
    const steps: [Buffer, Buffer][] = [
      [storage('set', k, 'a', 1, 'noreply'), getReply([valueItem(k, 'a', 1)])],
      // a failing add with noreply is silent too
      [storage('add', k, 'b', 2, 'noreply'), getReply([valueItem(k, 'a', 1)])],
      [storage('replace', k, 'c', 3, 'noreply'), getReply([valueItem(k, 'c', 3)])],
      [storage('append', k, 'd', 0, 'noreply'), getReply([valueItem(k, 'cd', 3)])],
      [storage('prepend', k, 'e', 0, 'noreply'), getReply([valueItem(k, 'ecd', 3)])],
      [storage('set', n, '41', 0, 'noreply  '), getReply([valueItem(n, '41')])],
      [b(`incr ${n} 2 noreply\r\n`), getReply([valueItem(n, '43')])],
      [b(`decr ${n} 1 noreply\r\n`), getReply([valueItem(n, '42')])],
      [b(`touch ${n} 1000 noreply\r\n`), getReply([valueItem(n, '42')])],
      [b(`incr ${keyOn(1, 5)} 1 noreply\r\n`), b('END\r\n')],
      [b(`delete ${n} noreply\r\n`), b('END\r\n')],
    ]
    for (const [req, want] of steps) {
      const key = req.toString('latin1').split(' ')[1]!
      // one packet: if the noreply request answered anything, it would come first
      await exchange(c, Buffer.concat([req, get(key)]), want, req.toString('latin1').trim())
    }
    // cas noreply with the real unique
    await c.send(`gets ${k}\r\n`)
    const cas = parseItems(await c.readMcReply())[0]!.cas!
    await exchange(
      c,
      Buffer.concat([storage('cas', k, 'f', 6, `${cas} noreply`), get(k)]),
      getReply([valueItem(k, 'f', 6)]),
      'cas noreply',
    )
    await expectSilence(c, 100, 'after the noreply requests')
    await c.close()
  })

  test('a rejected noreply request gets no reply either', async () => {
    const c = await client()
    const k = keyOn(2, 5)
    await exchange(
      c,
      Buffer.concat([storage('set', k, 'x', 0, 'noreply', 'abc'), b(`get ${k}\r\n`)]),
      'END\r\n',
      'set with a bad exptime and noreply',
    )
    await expectSilence(c, 100, 'rejected noreply')
    await c.close()
  })
})

describe('deviations M1-M4 (exact bytes, connection kept where memcached keeps it)', () => {
  test('M1: unknown and unsupported commands get ERROR; earlier replies are kept', async () => {
    const c = await client()
    const k = keyOn(0, 5)
    const unknown = [
      'stats',
      'stats items',
      'flush_all',
      'flush_all 0',
      'verbosity 1',
      'shutdown',
      'GET k',
      'Get k',
      'gat 100 k',
      'gats 100 k',
      'mg k v',
      'mn',
      'foo',
      '',
    ]
    await exchange(
      c,
      Buffer.concat([
        storage('set', k, 'm1'),
        b(unknown.map((u) => `${u}\r\n`).join('')),
        b(`get ${k}\r\n`),
      ]),
      `STORED\r\n${'ERROR\r\n'.repeat(unknown.length)}${getReply([valueItem(k, 'm1')]).toString('latin1')}`,
    )
    // flush_all was not forwarded: the item is still on its server
    expectBytes(
      await direct.call(0, `get ${k}\r\n`),
      getReply([valueItem(k, 'm1')]),
      'after flush_all',
    )
    await c.close()
  })

  test('M2: malformed lines get CLIENT_ERROR; the connection stays usable', async () => {
    const c = await client()
    const k = keyOn(1, 6)
    const long = 'L'.repeat(251)
    const cases: [string | Buffer, string][] = [
      [`get ${long}\r\n`, FORMAT],
      [`gets ${k} ${long}\r\n`, FORMAT],
      [storage('set', long, 'x'), FORMAT],
      [storage('set', k, 'x', 0, '', 'abc'), FORMAT],
      [`set ${k} a 0 1\r\nx\r\n`, FORMAT],
      [storage('set', k, 'x', 0, 'junk'), FORMAT],
      [storage('set', k, 'x', 0, 'norepl'), FORMAT],
      [storage('cas', k, 'x'), FORMAT],
      [`get\r\n`, FORMAT],
      [`get \r\n`, FORMAT],
      [`incr ${k} abc\r\n`, 'CLIENT_ERROR invalid numeric delta argument\r\n'],
      [`decr ${k} 1-2\r\n`, 'CLIENT_ERROR invalid numeric delta argument\r\n'],
      [`touch ${k} abc\r\n`, 'CLIENT_ERROR invalid exptime argument\r\n'],
      [
        `delete ${k} 0\r\n`,
        'CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n',
      ],
      [`version x\r\n`, FORMAT],
    ]
    for (const [req, want] of cases) {
      await exchange(c, req, want, JSON.stringify(String(req).slice(0, 40)))
    }
    // all in one packet too, then a valid request
    await exchange(
      c,
      Buffer.concat([...cases.map(([r]) => (typeof r === 'string' ? b(r) : r)), b(`get ${k}\r\n`)]),
      `${cases.map(([, w]) => w).join('')}END\r\n`,
      'M2 pipeline',
    )
    // none of the rejected storage commands reached a server
    expectBytes(await direct.call(1, `get ${k}\r\n`), b('END\r\n'), 'nothing stored')
    await c.close()
  })

  test('M2: a storage command whose bytes field is unreadable loses the framing: error, close', async () => {
    const c = await client()
    const k = keyOn(0, 6)
    await c.send(`get ${k}\r\nset ${k} 0 0 abc\r\nx\r\nget ${k}\r\n`)
    expectBytes(await c.readUntilClose(), b(`END\r\n${FORMAT}`), 'unreadable bytes')
  })

  test('M3: a bad data chunk: earlier replies, then CLIENT_ERROR bad data chunk, then close', async () => {
    const c = await client()
    const k = keyOn(2, 6)
    const k2 = keyOn(2, 7)
    await c.send(
      Buffer.concat([
        storage('set', k, 'ok'),
        b(`get ${k}\r\n`),
        b(`set ${k2} 0 0 1\r\nxy\r\n`),
        b(`get ${k}\r\n`),
      ]),
    )
    expectBytes(
      await c.readUntilClose(),
      b(
        `STORED\r\n${getReply([valueItem(k, 'ok')]).toString('latin1')}CLIENT_ERROR bad data chunk\r\n`,
      ),
      'bad data chunk',
    )
    expectBytes(await direct.call(2, `get ${k2}\r\n`), b('END\r\n'), 'bad chunk not stored')
  })

  test('M3: a data block too short (no CRLF where it should end)', async () => {
    const c = await client()
    await c.send(`set ${keyOn(0, 7)} 0 0 5\r\nab\r\nxyz\r\n`)
    expectBytes(await c.readUntilClose(), b('CLIENT_ERROR bad data chunk\r\n'), 'short block')
  })

  test('M4: a negative exptime is forwarded (memcached stores it already expired)', async () => {
    const c = await client()
    const k = keyOn(1, 7)
    await exchange(c, storage('set', k, 'old'), 'STORED\r\n')
    await exchange(c, storage('set', k, 'neg', 0, '', -1), 'STORED\r\n')
    await exchange(c, `get ${k}\r\n`, 'END\r\n')
    await exchange(c, storage('set', k, 'again'), 'STORED\r\n')
    await exchange(c, `touch ${k} -1\r\n`, 'TOUCHED\r\n')
    await exchange(c, `get ${k}\r\n`, 'END\r\n')
    await c.close()
  })
})

describe('M6/M7: multi-get fragments that fail (pool: memcached, dead port, fake)', () => {
  // faultyKeys[0]: real memcached; [1]: nothing listens; [2]: fake answering SERVER_ERROR boom
  test('single-key requests: the failure or the server error line, connection kept', async () => {
    const c = await client(faultyPort)
    const live = faultyKeys[0]![0]!
    await exchange(c, storage('set', live, 'L'), 'STORED\r\n')
    await exchange(c, `get ${faultyKeys[1]![0]}\r\n`, 'SERVER_ERROR Connection refused\r\n')
    // M7, single key: the backend's own line passes through unchanged
    await exchange(c, `get ${faultyKeys[2]![0]}\r\n`, 'SERVER_ERROR boom\r\n')
    await exchange(c, `get ${fakeErrorKeys[2]![0]}\r\n`, 'ERROR\r\n')
    await exchange(c, `get ${fakeClientErrorKeys[2]![0]}\r\n`, 'CLIENT_ERROR nope\r\n')
    // noreply to a dead server: nothing comes back, not even the failure
    await exchange(
      c,
      Buffer.concat([storage('set', faultyKeys[1]![0]!, 'x', 0, 'noreply'), b(`get ${live}\r\n`)]),
      getReply([valueItem(live, 'L')]),
      'noreply to a dead server',
    )
    await exchange(c, `get ${live}\r\n`, getReply([valueItem(live, 'L')]))
    await c.close()
  })

  test('M6: a fragment on a dead server: one SERVER_ERROR, connection kept', async () => {
    const c = await client(faultyPort)
    const live = faultyKeys[0]![1]!
    await exchange(c, storage('set', live, 'M6'), 'STORED\r\n')
    const req = `get ${live} ${faultyKeys[1]![0]} ${live}\r\n`
    await exchange(c, req, 'SERVER_ERROR Connection refused\r\n', 'M6 multi-get')
    // pipelined after the failed one, answered in order
    await exchange(
      c,
      `${req}get ${live}\r\n`,
      `SERVER_ERROR Connection refused\r\n${getReply([valueItem(live, 'M6')]).toString('latin1')}`,
      'M6 then get',
    )
    await exchange(
      c,
      `gets ${faultyKeys[1]![1]} ${faultyKeys[1]![2]}\r\n`,
      'SERVER_ERROR Connection refused\r\n',
    )
    // the fake closes its connection with the fragment outstanding (EOF: no errno)
    await exchange(c, `get ${live} ${fakeCloseKeys[2]![0]}\r\n`, 'SERVER_ERROR unknown\r\n')
    // the fake never answers: `timeout: 400` fails the fragment
    const t0 = Date.now()
    await exchange(
      c,
      `get ${fakeHangKeys[2]![0]} ${live}\r\nget ${live}\r\n`,
      `SERVER_ERROR Connection timed out\r\n${getReply([valueItem(live, 'M6')]).toString('latin1')}`,
    )
    const waited = Date.now() - t0
    assert.ok(waited >= 390 && waited < 2500, `timed out after ${waited} ms`)
    await expectSilence(c, 50, 'M6')
    await c.close()
  })

  test('M7: a fragment answered with an error line: one SERVER_ERROR, connection kept', async () => {
    const c = await client(faultyPort)
    const live = faultyKeys[0]![2]!
    await exchange(c, storage('set', live, 'M7'), 'STORED\r\n')
    await exchange(c, `get ${live} ${faultyKeys[2]![1]}\r\n`, 'SERVER_ERROR boom\r\n')
    await exchange(c, `get ${fakeErrorKeys[2]![0]} ${live}\r\n`, 'SERVER_ERROR ERROR\r\n')
    await exchange(
      c,
      `gets ${live} ${fakeClientErrorKeys[2]![0]}\r\n`,
      'SERVER_ERROR CLIENT_ERROR nope\r\n',
    )
    // the dead server and the fake both fail: the lower server index wins, in nutcracker's
    // internal order (names sorted shorter first, then bytewise), whatever order they fail in
    const deadName = `127.0.0.1:${deadPort}`
    const fakeName = `127.0.0.1:${fake.port}`
    const deadFirst =
      deadName.length < fakeName.length ||
      (deadName.length === fakeName.length && deadName < fakeName)
    await exchange(
      c,
      `get ${faultyKeys[2]![2]} ${faultyKeys[1]![2]} ${live}\r\n`,
      deadFirst ? 'SERVER_ERROR Connection refused\r\n' : 'SERVER_ERROR boom\r\n',
    )
    await exchange(c, `get ${live}\r\n`, getReply([valueItem(live, 'M7')]))
    // the fake saw the nutcracker-shaped sub-request: keys in order, trailing space
    assert.ok(
      fake.lines.includes(`get ${faultyKeys[2]![1]} `),
      `fake saw ${JSON.stringify(fake.lines)}`,
    )
    await c.close()
  })
})

describe('multi-get (M5: values in request order)', () => {
  const N = 1000
  const present: string[] = []
  const values = new Map<string, { data: Buffer; flags: number }>()

  before(async () => {
    const c = await client()
    const rnd = prng(4242)
    const reqs: Buffer[] = []
    for (let i = 0; i < N; i++) {
      const key = `mg:${i}`
      const len = randInt(rnd, 0, 40)
      const data = Buffer.alloc(len)
      for (let j = 0; j < len; j++) data[j] = randInt(rnd, 0, 255)
      const flags = i % 7
      present.push(key)
      values.set(key, { data, flags })
      reqs.push(storage('set', key, data, flags))
    }
    await exchange(c, Buffer.concat(reqs), 'STORED\r\n'.repeat(N), 'multi-get preload', 10_000)
    await c.close()
  })

  /** `size` keys: present ones, missing ones and duplicates, in a seeded random mix. */
  function pick(size: number, seed: number): string[] {
    const rnd = prng(seed)
    const out: string[] = []
    for (let i = 0; i < size; i++) {
      const r = rnd()
      if (i > 0 && r < 0.1) out.push(out[randInt(rnd, 0, i - 1)]!)
      else if (r < 0.3) out.push(`mg:miss:${randInt(rnd, 0, 10_000)}`)
      else out.push(present[randInt(rnd, 0, N - 1)]!)
    }
    return out
  }

  for (const size of [1, 2, 10, 100, 1000]) {
    test(`${size} keys: get and gets`, async () => {
      let keys = size === 1 ? ['mg:7'] : size === 2 ? ['mg:miss:1', 'mg:8'] : pick(size, size)
      if (size >= 10) {
        // the first seed whose mix spans every server
        let where = await locate(walnut.configPath, keys.map(b), 'main')
        for (let seed = size + 1; new Set(where).size < 3 && seed < size + 50; seed++) {
          keys = pick(size, seed)
          where = await locate(walnut.configPath, keys.map(b), 'main')
        }
        assert.equal(new Set(where).size, 3, 'the keys span all servers')
        assert.ok(
          keys.some((k) => !values.has(k)),
          'some keys miss',
        )
        assert.ok(new Set(keys).size < keys.length, 'some keys repeat')
      }
      const c = await client()
      const items = keys.flatMap((k) => {
        const v = values.get(k)
        return v === undefined ? [] : [valueItem(k, v.data, v.flags)]
      })
      await exchange(c, `get ${keys.join(' ')}\r\n`, getReply(items), `get of ${size} keys`, 10_000)
      // gets: the cas uniques the servers report directly
      const holders = await direct.holders([...new Set(keys)])
      const cas = new Map<string, string>()
      for (const [i, k] of [...new Set(keys)].entries()) {
        const s = holders[i]!
        if (s < 0) continue
        cas.set(k, parseItems(await direct.call(s, `gets ${k}\r\n`))[0]!.cas!)
      }
      const casItems = keys.flatMap((k) => {
        const v = values.get(k)
        return v === undefined ? [] : [valueItem(k, v.data, v.flags, cas.get(k))]
      })
      await exchange(
        c,
        `gets ${keys.join(' ')}\r\n`,
        getReply(casItems),
        `gets of ${size} keys`,
        10_000,
      )
      await c.close()
    })
  }

  test('all keys missing: END', async () => {
    const c = await client()
    const keys = Array.from({ length: 30 }, (_, i) => `mg:none:${i}`)
    await exchange(c, `get ${keys.join(' ')}\r\n`, 'END\r\n')
    await exchange(c, `get  ${keys.join('   ')}  \r\n`, 'END\r\n', 'extra spaces')
    await c.close()
  })
})

describe('values and keys', () => {
  /** `len` bytes cycling through all 256 byte values, CR LF pairs included. */
  function binary(len: number, seed: number): Buffer {
    const out = Buffer.alloc(len)
    const rnd = prng(seed)
    for (let i = 0; i < len; i++) out[i] = i < 256 ? i : randInt(rnd, 0, 255)
    // make sure CRLF and `\r\nEND\r\n` appear inside
    if (len >= 300) b('\r\nEND\r\n\r\n').copy(out, 260)
    return out
  }

  test('binary values from 0 bytes to 1 MB round-trip intact, on the located server', async () => {
    const c = await client()
    const sizes = [0, 1, 2, 256, 300, 8191, 65_537, 500_000, 1_000_000, 1_048_000]
    for (const [i, size] of sizes.entries()) {
      const s = i % 3
      const k = keyOn(s, 6)
      const data = binary(size, size)
      await exchange(c, storage('set', k, data, i), 'STORED\r\n', `set ${size} bytes`, 10_000)
      await exchange(
        c,
        `get ${k}\r\n`,
        getReply([valueItem(k, data, i)]),
        `get ${size} bytes`,
        10_000,
      )
      expectBytes(
        await direct.call(s, `get ${k}\r\n`),
        getReply([valueItem(k, data, i)]),
        `${size} bytes on server ${s}`,
      )
    }
    await c.close()
  })

  test('over the item size: memcached refuses, walnut relays it, the connection stays usable', async () => {
    const c = await client()
    const k = keyOn(0, 7)
    const big = binary(1_048_576, 1)
    await exchange(
      c,
      Buffer.concat([storage('set', k, big), b(`get ${k}\r\n`)]),
      `${TOO_LARGE}END\r\n`,
      '1 MiB',
      10_000,
    )
    await exchange(c, storage('set', k, 'small'), 'STORED\r\n')
    await c.close()
  })

  test('1.5 MB values on the server started with -I 2m', async () => {
    const c = await client()
    const data = binary(1_572_864, 15)
    const k = keyOn(2, 7)
    await exchange(c, storage('set', k, data, 1), 'STORED\r\n', 'set 1.5 MB', 10_000)
    await exchange(
      c,
      `get ${k} ${k}\r\n`,
      getReply([valueItem(k, data, 1), valueItem(k, data, 1)]),
      'get 1.5 MB twice',
      10_000,
    )
    expectBytes(
      await direct.call(2, `get ${k}\r\n`),
      getReply([valueItem(k, data, 1)]),
      '1.5 MB direct',
    )
    // the same size on a default server is refused
    await exchange(c, storage('set', keyOn(1, 7), data), TOO_LARGE, '1.5 MB on server 1', 10_000)
    await c.close()
  })

  test('250-byte keys work, 251-byte keys are rejected (M2)', async () => {
    const c = await client()
    const k250 = `k250:${'x'.repeat(245)}`
    const k251 = `${k250}y`
    assert.equal(k250.length, 250)
    const [s] = await locate(walnut.configPath, [b(k250)], 'main')
    await exchange(c, storage('set', k250, 'v250'), 'STORED\r\n')
    await exchange(c, `get ${k250}\r\n`, getReply([valueItem(k250, 'v250')]))
    await exchange(
      c,
      `get ${k250} ${k250}\r\n`,
      getReply([valueItem(k250, 'v250'), valueItem(k250, 'v250')]),
    )
    expectBytes(
      await direct.call(s!, `get ${k250}\r\n`),
      getReply([valueItem(k250, 'v250')]),
      'direct',
    )
    await exchange(c, storage('set', k251, 'v251'), FORMAT)
    await exchange(c, `get ${k251}\r\n`, FORMAT)
    await exchange(c, `get ${k250} ${k251}\r\n`, FORMAT)
    await exchange(c, `delete ${k251}\r\n`, FORMAT)
    await exchange(c, `incr ${k251} 1\r\n`, FORMAT)
    await exchange(c, `get ${k250}\r\n`, getReply([valueItem(k250, 'v250')]))
    await c.close()
  })

  test('each key lands on the backend walnut locate names (read directly)', async () => {
    const keys = [
      ...Array.from({ length: 300 }, (_, i) => `place:${i * 7919}`),
      'user:1234:profile',
      'ключ',
      '日本語のキー',
      'a\tb',
      'ctl\x01\x02',
      '{tag}x',
    ]
    const bytes = keys.map((k) => Buffer.from(k, 'utf8'))
    const where = await locate(walnut.configPath, bytes, 'main')
    const c = await client()
    await exchange(
      c,
      Buffer.concat(bytes.map((k, i) => storage('set', k, `v${i}`))),
      'STORED\r\n'.repeat(keys.length),
      'set all',
    )
    for (let i = 0; i < keys.length; i++) {
      const got = await direct.everywhere(bytes[i]!)
      for (let s = 0; s < mcs.length; s++) {
        const want = s === where[i] ? getReply([valueItem(bytes[i]!, `v${i}`)]) : b('END\r\n')
        expectBytes(got[s]!, want, `key ${JSON.stringify(keys[i])} on server ${s}`)
      }
    }
    assert.equal(new Set(where).size, 3)
    await c.close()
  })
})

test('walnut is still running', () => {
  assert.equal(walnut.exitInfo, undefined, walnut.output())
})
