/**
 * RESP3 through walnut (deviation R7) against the real redis-server 7.0.15.
 *
 * Differential: every case runs on freshly flushed servers, once through walnut by a client
 * that sent `HELLO 3` (walnut talks RESP2 to its backends and converts), once straight to the
 * backend by a client that sent `HELLO 3`; the reply bytes must be equal. The reference is the
 * very redis-server walnut forwards to (pool `one` has only it), as the order of a big hash, of
 * COMMAND's and COMMAND DOCS's entries depends on each process's random hash seed. Split
 * commands run through pool `two` (both backends); their replies do not depend on placement.
 * The cases cover every command of src/proto/redis/resp3.ts's RESP3_SHAPES (checked below),
 * each argument form that changes the shape, and a sample of commands whose replies do not
 * change.
 *
 * Then walnut's own replies in RESP3 (HELLO, CLIENT GETNAME, INFO), HELLO 2 back to RESP2,
 * AUTH with a user name as redis 7 answers it, and the clients that speak RESP3 by default:
 * node-redis 6 and ioredis 6 must return the same JS values through walnut as from redis.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { Redis as IORedis } from 'ioredis'
import { createClient } from 'redis'
import { RESP3_SHAPES } from '../../src/proto/redis/resp3.js'
import { freePort } from '../helpers/ports.js'
import {
  type Client,
  connect,
  type ProxyProc,
  type ServerProc,
  showBytes,
  startRedis,
  startWalnut,
} from '../helpers/servers.js'

type Args = readonly string[]

function encode(args: Args): Buffer {
  let s = `*${args.length}\r\n`
  for (const a of args) s += `$${Buffer.byteLength(a)}\r\n${a}\r\n`
  return Buffer.from(s)
}

/** Sends every command in one write, then reads one reply each (exact bytes). */
async function pipeline(c: Client, cmds: readonly Args[]): Promise<Buffer[]> {
  if (cmds.length === 0) return []
  await c.send(Buffer.concat(cmds.map(encode)))
  return c.readReplies(cmds.length, 5000)
}

async function call(c: Client, ...args: string[]): Promise<Buffer> {
  return (await pipeline(c, [args]))[0]!
}

const show = (b: Buffer) => showBytes(b)

/** Where two replies part, with some context. */
function difference(got: Buffer, want: Buffer): string {
  let i = 0
  while (i < got.length && i < want.length && got[i] === want[i]) i++
  const from = Math.max(0, i - 80)
  return (
    `  first difference at byte ${i} of ${want.length}\n` +
    `  walnut ${show(got.subarray(from, i + 80))}\n  redis  ${show(want.subarray(from, i + 80))}`
  )
}

let backends: ServerProc[] = []
/** The backend of pools `one` and `locked`, first of pool `two`: every case's reference. */
let reference: ServerProc
let walnut: ProxyProc
/** Pool `one` (the reference only), pool `two` (both backends), pool `locked` (redis_auth). */
let port: number
let port2: number
let authPort: number
/** Straight to the backends (RESP2), for flushing and script loading. */
let admin: Client[] = []

function pool(name: string, listen: number, servers: readonly ServerProc[], extra = ''): string {
  const list = servers.map((b) => `   - 127.0.0.1:${b.port}:1`).join('\n')
  return (
    `${name}:\n  listen: 127.0.0.1:${listen}\n  redis: true\n  hash: fnv1a_64\n` +
    `  distribution: ketama\n  hash_tag: "{}"\n${extra}  servers:\n${list}\n`
  )
}

before(async () => {
  backends = await Promise.all([1, 2].map(() => startRedis()))
  reference = backends[0]!
  ;[port, port2, authPort] = await Promise.all([freePort(), freePort(), freePort()])
  walnut = await startWalnut(
    pool('one', port, [reference]) +
      pool('two', port2, backends) +
      pool('locked', authPort, [reference], '  redis_auth: s3cret\n'),
  )
  admin = await Promise.all(backends.map((s) => connect(s.port)))
})

after(async () => {
  for (const c of admin) await c.close()
  await walnut?.stop()
  await Promise.all(backends.map((s) => s?.stop()))
})

async function flushAll(): Promise<void> {
  for (const c of admin) assert.equal((await call(c, 'FLUSHALL')).toString(), '+OK\r\n')
}

/** Opens a connection and switches it to RESP3; returns it with HELLO's reply. */
async function resp3(p: number): Promise<[Client, Buffer]> {
  const c = await connect(p)
  return [c, await call(c, 'HELLO', '3')]
}

// ---------------------------------------------------------------------------------------------
// The differential cases. Keys carry the hash tag `{k}`, so every key of a case lives on one
// backend (multi-key commands work); MGET/DEL cases use untagged keys spread over both.

/** State most cases start from. Collections that random commands read have one member. */
const FIXTURE: Args[] = [
  ['SET', '{k}s', '1'],
  ['HSET', '{k}h', 'a', '1'],
  ['HSET', '{k}h2', 'a', '1', 'b', '2'],
  ['SADD', '{k}st', 'x', 'y'],
  ['SADD', '{k}st2', 'y'],
  ['SADD', '{k}one', 'x'],
  ['ZADD', '{k}z', '1', 'a', '2.5', 'b'],
  ['ZADD', '{k}z1', '1.5', 'a'],
  ['ZADD', '{k}zinf', '+inf', 'i', '-inf', 'j', '0.1', 'k'],
  ['RPUSH', '{k}l', 'a', 'b', 'c'],
  ['GEOADD', '{k}g', '13.361389', '38.115556', 'Palermo', '15.087269', '37.502669', 'Catania'],
  ['MSET', 'a', '1', 'c', '3', 'e', '5', 'g', '7'],
  ['ZADD', 'withscores', '1', 'm'],
]

const BIG = 'x'.repeat(2000)

/** The EVALSHA case's script, loaded straight into every server (SCRIPT is not proxied). */
const SCRIPT = "return {false, 'sha'}"
const SHA = createHash('sha1').update(SCRIPT).digest('hex')

/** [setup (null: FIXTURE), command, through pool `two` (split commands)]. */
const CASES: [Args[] | null, Args, 'two'?][] = [
  // strings, nulls
  [null, ['GET', '{k}s']],
  [null, ['GET', '{k}none']],
  [null, ['GETDEL', '{k}none']],
  [null, ['GETDEL', '{k}s']],
  [null, ['GETEX', '{k}none']],
  [null, ['GETSET', '{k}none', '1']],
  [null, ['SET', '{k}s', '2']],
  [null, ['SET', '{k}s', '2', 'NX']],
  [null, ['SET', '{k}s', '2', 'GET']],
  [null, ['SET', '{k}none', '2', 'XX', 'GET']],
  [null, ['MGET', '{k}none']],
  [null, ['MGET', '{k}s']],
  [null, ['MGET', '{k}s', '{k}none', '{k}s']],
  [null, ['MGET', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'], 'two'],
  [null, ['MGET', 'b', 'd', 'f', 'h'], 'two'],
  [
    [
      ['SET', 'big1', BIG],
      ['SET', 'big2', BIG],
    ],
    ['MGET', 'big1', 'nope', 'big2', 'nope2'],
    'two',
  ],
  [null, ['DUMP', '{k}none']],
  [
    null,
    [
      'BITFIELD',
      '{k}s',
      'INCRBY',
      'u2',
      '100',
      '1',
      'OVERFLOW',
      'FAIL',
      'INCRBY',
      'u2',
      '102',
      '8',
    ],
  ],
  // hashes
  [null, ['HGET', '{k}h', 'q']],
  [null, ['HGET', '{k}h', 'a']],
  [null, ['HMGET', '{k}h', 'a', 'q']],
  [null, ['HGETALL', '{k}h2']],
  [null, ['HGETALL', '{k}none']],
  [null, ['HGETALL', '{k}s']],
  [[['HSET', '{k}hb', 'f1', BIG, 'f2', BIG]], ['HGETALL', '{k}hb']],
  [null, ['HRANDFIELD', '{k}h']],
  [null, ['HRANDFIELD', '{k}none']],
  [null, ['HRANDFIELD', '{k}h', '1']],
  [null, ['HRANDFIELD', '{k}h', '1', 'WITHVALUES']],
  [null, ['HRANDFIELD', '{k}h', '-2', 'withvalues']],
  [null, ['HRANDFIELD', '{k}none', '1', 'WITHVALUES']],
  // lists
  [null, ['LINDEX', '{k}l', '9']],
  [null, ['LINDEX', '{k}l', '0']],
  [null, ['LPOP', '{k}none']],
  [null, ['LPOP', '{k}none', '2']],
  [null, ['LPOP', '{k}l', '2']],
  [null, ['RPOP', '{k}none']],
  [null, ['RPOP', '{k}l']],
  [null, ['LPOS', '{k}l', 'q']],
  [null, ['LPOS', '{k}l', 'b']],
  [null, ['LPOS', '{k}l', 'q', 'COUNT', '0']],
  [null, ['LMOVE', '{k}none', '{k}l', 'LEFT', 'LEFT']],
  [null, ['LMOVE', '{k}l', '{k}l2', 'LEFT', 'RIGHT']],
  [null, ['RPOPLPUSH', '{k}none', '{k}l']],
  [null, ['SORT', '{k}l', 'BY', 'nosort', 'GET', '{k}nokey*']],
  [null, ['SORT', '{k}l', 'ALPHA', 'LIMIT', '0', '1']],
  // sets
  [null, ['SMEMBERS', '{k}one']],
  [null, ['SMEMBERS', '{k}none']],
  [null, ['SMEMBERS', '{k}s']],
  [null, ['SINTER', '{k}st', '{k}st2']],
  [null, ['SINTER', '{k}st', '{k}none']],
  [null, ['SUNION', '{k}one', '{k}st2']],
  [null, ['SDIFF', '{k}st', '{k}st2']],
  [[['SADD', '{k}sb', BIG]], ['SMEMBERS', '{k}sb']],
  [null, ['SPOP', '{k}one']],
  [null, ['SPOP', '{k}none']],
  [null, ['SPOP', '{k}one', '1']],
  [null, ['SPOP', '{k}none', '2']],
  [null, ['SRANDMEMBER', '{k}one']],
  [null, ['SRANDMEMBER', '{k}none']],
  [null, ['SRANDMEMBER', '{k}one', '3']],
  [null, ['SRANDMEMBER', '{k}one', '-2']],
  // sorted sets
  [null, ['ZSCORE', '{k}z', 'b']],
  [null, ['ZSCORE', '{k}z', 'q']],
  [null, ['ZSCORE', '{k}zinf', 'i']],
  [null, ['ZSCORE', '{k}zinf', 'j']],
  [null, ['ZINCRBY', '{k}z', '1', 'a']],
  [null, ['ZINCRBY', '{k}zinf', '0.2', 'k']],
  [null, ['ZMSCORE', '{k}z', 'a', 'q', 'b']],
  [null, ['ZMSCORE', '{k}none', 'a']],
  [null, ['ZADD', '{k}z', 'INCR', '1', 'a']],
  [null, ['ZADD', '{k}z', 'NX', 'INCR', '1', 'a']],
  [null, ['ZADD', '{k}z', 'xx', 'ch', 'incr', '1e3', 'a']],
  [null, ['ZADD', '{k}z', '3', 'c']],
  [null, ['ZADD', '{k}z', '3', 'incr']],
  [null, ['ZRANGE', '{k}z', '0', '-1', 'WITHSCORES']],
  [null, ['ZRANGE', '{k}z', '0', '-1']],
  [null, ['ZRANGE', '{k}zinf', '0', '-1', 'withscores']],
  [null, ['ZRANGE', '{k}z', '+inf', '(0', 'BYSCORE', 'REV', 'LIMIT', '0', '5', 'WITHSCORES']],
  [null, ['ZRANGE', '{k}none', '0', '-1', 'WITHSCORES']],
  [null, ['ZRANGE', '{k}z', '-', '+', 'BYLEX', 'WITHSCORES']],
  [null, ['ZREVRANGE', '{k}z', '0', '-1', 'WITHSCORES']],
  [null, ['ZRANGEBYSCORE', '{k}z', '-inf', '+inf', 'WITHSCORES', 'LIMIT', '0', '1']],
  [null, ['ZRANGEBYSCORE', '{k}z', '-inf', '+inf']],
  [null, ['ZREVRANGEBYSCORE', '{k}z', '+inf', '-inf', 'WITHSCORES']],
  [null, ['ZRANGEBYLEX', '{k}z', '-', '+']],
  [[['ZADD', '{k}zb', '1', BIG, '2', `${BIG}y`]], ['ZRANGE', '{k}zb', '0', '-1', 'WITHSCORES']],
  [null, ['ZPOPMIN', '{k}z']],
  [null, ['ZPOPMIN', '{k}z', '1']],
  [null, ['ZPOPMAX', '{k}z', '5']],
  [null, ['ZPOPMIN', '{k}none']],
  [null, ['ZPOPMAX', '{k}none', '2']],
  [null, ['ZRANDMEMBER', '{k}z1']],
  [null, ['ZRANDMEMBER', '{k}none']],
  [null, ['ZRANDMEMBER', '{k}z1', '1', 'WITHSCORES']],
  [null, ['ZRANDMEMBER', '{k}z1', '-2', 'WITHSCORES']],
  [null, ['ZRANDMEMBER', '{k}z1', '2']],
  [null, ['ZUNION', '2', '{k}z', '{k}none', 'WITHSCORES']],
  [null, ['ZUNION', '1', '{k}z', 'WEIGHTS', '2', 'AGGREGATE', 'MAX', 'WITHSCORES']],
  [null, ['ZUNION', '1', 'withscores']],
  [null, ['ZINTER', '2', '{k}z', '{k}z1', 'WITHSCORES']],
  [null, ['ZDIFF', '1', '{k}z', 'WITHSCORES']],
  [null, ['ZDIFF', '1', '{k}z']],
  [null, ['ZRANK', '{k}z', 'q']],
  [null, ['ZRANK', '{k}z', 'b']],
  [null, ['ZREVRANK', '{k}z', 'q']],
  [null, ['ZSCAN', '{k}z', '0']],
  // geo
  [null, ['GEODIST', '{k}g', 'Palermo', 'Catania']],
  [null, ['GEODIST', '{k}g', 'Palermo', 'Nowhere']],
  [null, ['GEOPOS', '{k}g', 'Palermo', 'Nowhere']],
  [null, ['GEOHASH', '{k}g', 'Palermo', 'Nowhere']],
  [
    null,
    ['GEORADIUS', '{k}g', '15', '37', '200', 'km', 'WITHDIST', 'WITHCOORD', 'WITHHASH', 'ASC'],
  ],
  [null, ['GEORADIUS', '{k}g', '15', '37', '200', 'km', 'ASC']],
  [null, ['GEORADIUSBYMEMBER', '{k}g', 'Palermo', '200', 'km', 'WITHCOORD', 'ASC']],
  [
    null,
    [
      'GEOSEARCH',
      '{k}g',
      'FROMLONLAT',
      '15',
      '37',
      'BYRADIUS',
      '200',
      'km',
      'WITHDIST',
      'WITHCOORD',
      'ASC',
    ],
  ],
  [
    null,
    ['GEOSEARCH', '{k}g', 'FROMMEMBER', 'Palermo', 'BYBOX', '400', '400', 'km', 'WITHDIST', 'ASC'],
  ],
  [null, ['GEOSEARCHSTORE', '{k}g2', '{k}g', 'FROMLONLAT', '15', '37', 'BYRADIUS', '200', 'km']],
  // scripts (only nulls can be converted: see docs/redis.md)
  [null, ['EVAL', 'return false', '1', '{k}s']],
  [null, ['EVAL', "return {1, false, 'a', {false, {}}}", '1', '{k}s']],
  [null, ['EVAL', "return redis.call('hgetall', KEYS[1])", '1', '{k}h2']],
  [null, ['EVALSHA', SHA, '1', '{k}s']],
  // keyless: COMMAND (all forms) and LOLWUT
  [[], ['COMMAND']],
  [[], ['COMMAND', 'INFO', 'get', 'client', 'nosuch', 'georadius', 'xadd']],
  [[], ['COMMAND', 'INFO']],
  [[], ['COMMAND', 'DOCS']],
  [[], ['COMMAND', 'DOCS', 'get', 'nosuch', 'set']],
  [[], ['COMMAND', 'COUNT']],
  [[], ['COMMAND', 'LIST', 'FILTERBY', 'PATTERN', 'z*']],
  [[], ['COMMAND', 'GETKEYS', 'set', 'a', 'b']],
  [[], ['COMMAND', 'GETKEYSANDFLAGS', 'lmove', 'a', 'b', 'left', 'right']],
  [[], ['LOLWUT', 'VERSION', '5', '10', '1', '1']],
  // unchanged in RESP3 (no hook): a sample
  [null, ['INCR', '{k}s']],
  [null, ['INCRBYFLOAT', '{k}s', '1.5']],
  [null, ['HINCRBYFLOAT', '{k}h', 'a', '0.5']],
  [null, ['DEL', '{k}s', '{k}h', '{k}none']],
  [null, ['DEL', 'a', 'b', 'c', 'd', 'e'], 'two'],
  [null, ['EXISTS', 'a', 'c', 'x'], 'two'],
  [null, ['MSET', 'a', '1', 'b', '2', 'c', '3'], 'two'],
  [null, ['TYPE', '{k}z']],
  [null, ['TTL', '{k}s']],
  [null, ['HKEYS', '{k}h2']],
  [null, ['HVALS', '{k}h2']],
  [null, ['HSCAN', '{k}h2', '0']],
  [null, ['SSCAN', '{k}one', '0']],
  [null, ['SMISMEMBER', '{k}st', 'x', 'q']],
  [null, ['LRANGE', '{k}l', '0', '-1']],
  [null, ['ZCARD', '{k}z']],
  [null, ['GETRANGE', '{k}s', '0', '-1']],
  [null, ['PFCOUNT', '{k}none']],
  [null, ['SET', '{k}s']],
  [null, ['ZADD', '{k}z', 'INCR', '1', 'a', '2', 'b']],
  [null, ['PING']],
  [null, ['PING', 'hi']],
  [null, ['ECHO', 'hi']],
]

describe('RESP3 differential: walnut (HELLO 3) against redis-server 7.0.15 (HELLO 3)', () => {
  test('every command of RESP3_SHAPES is exercised', () => {
    const used = new Set(CASES.map(([, c]) => c[0]!.toLowerCase()))
    for (const name of Object.keys(RESP3_SHAPES)) assert.ok(used.has(name), `no case for ${name}`)
  })

  test(`${CASES.length} cases: the same reply bytes`, async () => {
    const [viaOne] = await resp3(port)
    const [viaTwo] = await resp3(port2)
    const [direct] = await resp3(reference.port)
    /** Flushes the backends and loads the EVALSHA case's script into each. */
    const reset = async () => {
      await flushAll()
      for (const c of admin) {
        const sha = (await call(c, 'SCRIPT', 'LOAD', SCRIPT)).toString('latin1')
        assert.equal(sha, `$40\r\n${SHA}\r\n`)
      }
    }
    try {
      const failures: string[] = []
      for (const [setup, command, two] of CASES) {
        const steps = setup ?? FIXTURE
        await reset()
        const a = await pipeline(two === 'two' ? viaTwo : viaOne, [...steps, command])
        await reset()
        const b = await pipeline(direct, [...steps, command])
        const what = command.join(' ')
        for (let i = 0; i < steps.length; i++) {
          assert.ok(!a[i]!.toString('latin1').startsWith('-'), `setup ${steps[i]}: ${show(a[i]!)}`)
        }
        const got = a[steps.length]!
        const want = b[steps.length]!
        if (!got.equals(want)) failures.push(`${what}:\n${difference(got, want)}`)
      }
      assert.deepEqual(failures, [])
    } finally {
      for (const c of [viaOne, viaTwo, direct]) await c.close()
    }
  })
})

describe("walnut's own replies in RESP3", () => {
  /** HELLO's map with the id and version blanked (they differ between walnut and redis). */
  const blank = (b: Buffer) =>
    b
      .toString('latin1')
      .replace(/\$7\r\nversion\r\n\$\d+\r\n[\d.]+\r\n/, 'VERSION')
      .replace(/\$2\r\nid\r\n:\d+\r\n/, 'ID')

  test('HELLO 3 / HELLO / HELLO 2: the map redis sends, then back to RESP2', async () => {
    const [w, wHello] = await resp3(port)
    const [r, rHello] = await resp3(reference.port)
    try {
      assert.match(wHello.toString('latin1'), /^%7\r\n\$6\r\nserver\r\n\$5\r\nredis\r\n/)
      assert.ok(wHello.includes('$7\r\nversion\r\n$5\r\n7.0.0\r\n'))
      assert.equal(blank(wHello), blank(rHello))
      const cmds: Args[] = [
        ['HELLO'],
        ['CLIENT', 'GETNAME'],
        ['GET', '{k}none'],
        ['HELLO', '3', 'SETNAME', 'conn1'],
        ['CLIENT', 'GETNAME'],
        ['HELLO', '2'],
        ['CLIENT', 'GETNAME'],
        ['GET', '{k}none'],
        ['HGETALL', '{k}none'],
        ['HELLO', '3', 'SETNAME', 'late', 'FOO'],
        ['CLIENT', 'GETNAME'],
        ['GET', '{k}none'],
        ['HELLO', '4'],
        ['HELLO', 'x'],
      ]
      const a = await pipeline(w, cmds)
      const b = await pipeline(r, cmds)
      for (let i = 0; i < cmds.length; i++) {
        assert.equal(blank(a[i]!), blank(b[i]!), cmds[i]!.join(' '))
      }
      assert.equal(a[1]!.toString(), '_\r\n')
      assert.match(a[5]!.toString('latin1'), /^\*14\r\n/)
      assert.equal(a[7]!.toString(), '$-1\r\n')
    } finally {
      await w.close()
      await r.close()
    }
  })

  test('INFO is a verbatim string in RESP3, a bulk string in RESP2', async () => {
    const [w] = await resp3(port)
    try {
      const info = (await call(w, 'INFO', 'persistence')).toString('latin1')
      const text = '# Persistence\r\nloading:0\r\n'
      assert.equal(info, `=${text.length + 4}\r\ntxt:${text}\r\n`)
      await call(w, 'HELLO', '2')
      assert.equal(
        (await call(w, 'INFO', 'persistence')).toString(),
        `$${text.length}\r\n${text}\r\n`,
      )
    } finally {
      await w.close()
    }
  })

  test('AUTH and HELLO AUTH with a user name, as redis 7 without requirepass', async () => {
    const cmds: Args[] = [
      ['AUTH', 'default', 'x'],
      ['AUTH', 'other', 'x'],
      ['HELLO', '3', 'AUTH', 'other', 'x'],
      ['HELLO', '3', 'AUTH', 'default', 'x', 'SETNAME', 'n'],
      ['CLIENT', 'GETNAME'],
      ['GET', '{k}none'],
    ]
    const w = await connect(port)
    const r = await connect(reference.port)
    try {
      const a = await pipeline(w, cmds)
      const b = await pipeline(r, cmds)
      for (let i = 0; i < cmds.length; i++) {
        assert.equal(blank(a[i]!), blank(b[i]!), cmds[i]!.join(' '))
      }
      assert.equal(a[0]!.toString(), '+OK\r\n')
      assert.equal(
        a[1]!.toString(),
        '-WRONGPASS invalid username-password pair or user is disabled.\r\n',
      )
      // nutcracker's text for the one-argument form (redis 7 has its own).
      assert.equal(
        (await call(w, 'AUTH', 'x')).toString(),
        '-ERR Client sent AUTH, but no password is set\r\n',
      )
    } finally {
      await w.close()
      await r.close()
    }
  })

  test('redis_auth: AUTH / HELLO AUTH default <pass> accepted, another user WRONGPASS', async () => {
    const w = await connect(authPort)
    try {
      const wrong = '-WRONGPASS invalid username-password pair or user is disabled.\r\n'
      const got = await pipeline(w, [
        ['HELLO', '3', 'AUTH', 'admin', 's3cret'],
        ['HELLO', '3', 'AUTH', 'default', 'nope'],
        ['GET', '{k}none'],
        ['HELLO', '3', 'AUTH', 'default', 's3cret'],
        ['GET', '{k}none'],
        ['AUTH', 'other', 's3cret'],
        ['AUTH', 'default', 's3cret'],
        ['GET', '{k}none'],
      ])
      assert.deepEqual(
        got.map((b) => b.toString('latin1').replace(/:\d+\r\n\$4\r\nmode/, ':ID\r\n$4\r\nmode')),
        [
          wrong,
          wrong,
          '-NOAUTH Authentication required\r\n',
          '%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$5\r\n7.0.0\r\n$5\r\nproto\r\n:3\r\n' +
            '$2\r\nid\r\n:ID\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n' +
            '$7\r\nmodules\r\n*0\r\n',
          '_\r\n',
          wrong,
          '+OK\r\n',
          '_\r\n',
        ],
      )
    } finally {
      await w.close()
    }
  })
})

// ---------------------------------------------------------------------------------------------
// Clients that speak RESP3 by default, through walnut and straight to redis.

/** The same operations, for the same JS values whichever server answers. */
async function nodeRedisRun(p: number): Promise<unknown[]> {
  const c = createClient({ socket: { host: '127.0.0.1', port: p } })
  c.on('error', () => {})
  await c.connect()
  try {
    // The protocol the connection speaks, from HELLO (a map, in RESP3, is an object).
    const hello = (await c.sendCommand(['HELLO'])) as Record<string, unknown>
    const out: unknown[] = [hello.proto]
    out.push(await c.set('{k}s', 'v1'))
    out.push(await c.get('{k}s'))
    out.push(await c.get('{k}none'))
    out.push(await c.mSet({ a: '1', c: '3' }))
    out.push(await c.mGet(['a', 'b', 'c', '{k}s']))
    out.push(await c.hSet('{k}h', { f1: 'x', f2: 'y' }))
    out.push(await c.hGetAll('{k}h'))
    out.push(await c.hGetAll('{k}none'))
    out.push(await c.sAdd('{k}st', ['m']))
    out.push(await c.sMembers('{k}st'))
    out.push(
      await c.zAdd('{k}z', [
        { score: 1.5, value: 'a' },
        { score: 2, value: 'b' },
      ]),
    )
    out.push(await c.zRangeWithScores('{k}z', 0, -1))
    out.push(await c.zScore('{k}z', 'a'))
    out.push(await c.zScore('{k}z', 'q'))
    out.push(await c.zIncrBy('{k}z', 0.25, 'a'))
    out.push(await c.zPopMin('{k}z'))
    out.push(await c.hGet('{k}h', 'nope'))
    // auto-pipelined: several commands in one write
    out.push(
      await Promise.all([c.get('a'), c.get('b'), c.incr('{k}n'), c.incr('{k}n'), c.exists('a')]),
    )
    out.push(await c.multi().get('a').hGetAll('{k}h').sMembers('{k}st').get('b').execAsPipeline())
    out.push(await c.del(['a', 'c', '{k}s']))
    return out
  } finally {
    c.destroy()
  }
}

async function ioredisRun(p: number): Promise<unknown[]> {
  const c = new IORedis(p, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 1 })
  c.on('error', () => {})
  await c.connect()
  try {
    // The protocol the connection speaks, from HELLO (ioredis flattens the map).
    const hello = (await c.call('HELLO')) as unknown[]
    const out: unknown[] = [hello[hello.indexOf('proto') + 1]]
    out.push(await c.set('{k}s', 'v1'))
    out.push(await c.get('{k}s'))
    out.push(await c.get('{k}none'))
    out.push(await c.mset('a', '1', 'c', '3'))
    out.push(await c.mget('a', 'b', 'c', '{k}s'))
    out.push(await c.hset('{k}h', 'f1', 'x', 'f2', 'y'))
    out.push(await c.hgetall('{k}h'))
    out.push(await c.hgetall('{k}none'))
    out.push(await c.sadd('{k}st', 'm'))
    out.push(await c.smembers('{k}st'))
    out.push(await c.zadd('{k}z', '1.5', 'a', '2', 'b'))
    out.push(await c.zrange('{k}z', '0', '-1', 'WITHSCORES'))
    out.push(await c.zscore('{k}z', 'a'))
    out.push(await c.zscore('{k}z', 'q'))
    out.push(await c.zincrby('{k}z', 0.25, 'a'))
    out.push(await c.zpopmin('{k}z'))
    out.push(await c.hget('{k}h', 'nope'))
    out.push(
      await c
        .pipeline()
        .get('a')
        .get('b')
        .hgetall('{k}h')
        .smembers('{k}st')
        .zrange('{k}z', '0', '-1', 'WITHSCORES')
        .mget('a', 'c')
        .exec(),
    )
    out.push(await c.del('a', 'c', '{k}s'))
    return out
  } finally {
    c.disconnect()
  }
}

describe('clients with default options (RESP3): the same values through walnut as from redis', () => {
  for (const [name, run] of [
    ['node-redis 6', nodeRedisRun],
    ['ioredis 6', ioredisRun],
  ] as const) {
    test(name, async () => {
      await flushAll()
      const viaWalnut = await run(port2)
      await flushAll()
      const direct = await run(reference.port)
      assert.deepEqual(viaWalnut, direct)
      assert.equal(viaWalnut[0], 3, 'the client speaks RESP3')
      assert.equal(viaWalnut[3], null)
    })
  }

  test('node-redis 6 connects with HELLO 3 (walnut answers it): CLIENT ID over RESP3', async () => {
    const c = createClient({ socket: { host: '127.0.0.1', port } })
    c.on('error', () => {})
    await c.connect()
    try {
      assert.equal(typeof (await c.clientId()), 'number')
      assert.equal(await c.clientGetName(), null)
      // RESP3: HELLO's map arrives as an object (RESP2: a flat array).
      const hello = (await c.sendCommand(['HELLO'])) as Record<string, unknown>
      assert.equal(hello.proto, 3)
      assert.equal(hello.version, '7.0.0')
    } finally {
      c.destroy()
    }
  })
})
