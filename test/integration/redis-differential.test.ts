/**
 * walnut against the real nutcracker 0.5.0, side by side on the same three redis-servers with
 * the same pools (ketama/fnv1a_64, modula/crc32a, and a hash_tag pool; only the listen ports
 * differ). The same success-path requests (every supported command class, split commands,
 * EVAL, binary and empty keys) go to each proxy in turn on freshly flushed servers, and the
 * reply bytes must be identical, as must what the servers hold afterwards. Then a few thousand
 * keys are written through each proxy in turn, and every key must sit on the same backend for
 * both (read from the backends directly), which is also where walnut's placement code says.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { freePort } from '../helpers/ports.js'
import {
  type Arg,
  assertBytes,
  backendKeys,
  flushAll,
  keysOn,
  type Locator,
  locator,
  type PoolSpec,
  poolYaml,
  Resp,
  randomBytes,
} from '../helpers/redis.js'
import {
  type ProxyProc,
  type ServerProc,
  showBytes,
  startNutcracker,
  startRedis,
  startWalnut,
} from '../helpers/servers.js'

const POOLS = [
  { name: 'ket', hash: 'fnv1a_64', distribution: 'ketama' },
  { name: 'mod', hash: 'crc32a', distribution: 'modula' },
  { name: 'tag', hash: 'murmur', distribution: 'ketama', hashTag: '{}' },
] as const

let backends: ServerProc[] = []
let direct: Resp[] = []
let nutcracker: ProxyProc
let walnut: ProxyProc
const where = new Map<string, Locator>()
/** DUMP payload of the string `dumped` (from a backend, for RESTORE). */
let dumped: Buffer

function yaml(ports: readonly number[]): string {
  return POOLS.map((p, i) =>
    poolYaml({
      ...(p as Omit<PoolSpec, 'port' | 'servers'>),
      port: ports[i]!,
      servers: backends.map((b) => b.port),
    }),
  ).join('')
}

before(async () => {
  backends = await Promise.all([1, 2, 3].map(() => startRedis()))
  const nutPorts = await Promise.all(POOLS.map(() => freePort()))
  const walnutPorts = await Promise.all(POOLS.map(() => freePort()))
  ;[nutcracker, walnut] = await Promise.all([
    startNutcracker(yaml(nutPorts)),
    startWalnut(yaml(walnutPorts)),
  ])
  for (const p of POOLS) where.set(p.name, await locator(yaml(walnutPorts), p.name))
  direct = await Promise.all(backends.map((b) => Resp.open(b.port)))
  await direct[0]!.call('SET', 'dumped', 'restored value')
  const d = await direct[0]!.call('DUMP', 'dumped')
  dumped = d.subarray(d.indexOf('\r\n') + 2, d.length - 2)
  await flushAll(direct)
})

after(async () => {
  for (const d of direct) await d.close()
  await Promise.all([nutcracker?.stop(), walnut?.stop()])
  await Promise.all(backends.map((b) => b.stop()))
})

/**
 * The success-path requests (every reply is a value, or a backend's own error, which both
 * proxies pass through). Nothing random, no remaining TTL (a loaded machine could
 * tick a second between the two runs).
 */
function requests(pool: string): Arg[][] {
  // One key on each server (names alone may all land on one: it depends on the ports).
  const spread = [0, 1, 2].map((s) => keysOn(where.get(pool)!, s, 1, 'd:on')[0]!)
  const set = "return redis.call('set', KEYS[1], ARGV[1])"
  const r: Arg[][] = [
    ['PING'],
    ['COMMAND'],
    ['LOLWUT'],
    // strings
    ['SET', 'd:s', 'hello'],
    ['GET', 'd:s'],
    ['get', 'd:none'],
    ['APPEND', 'd:s', ' world'],
    ['STRLEN', 'd:s'],
    ['GETRANGE', 'd:s', '0', '4'],
    ['SETRANGE', 'd:s', '6', 'W'],
    ['SETNX', 'd:s', 'x'],
    ['SETNX', 'd:nx', 'x'],
    ['GETSET', 'd:g', 'v'],
    ['GETDEL', 'd:g'],
    ['SETEX', 'd:e', '100', 'v'],
    ['PERSIST', 'd:e'],
    ['PSETEX', 'd:pe', '100000', 'v'],
    ['EXPIRE', 'd:s', '500'],
    ['TTL', 'd:nx'],
    ['TTL', 'd:none'],
    ['PERSIST', 'd:s'],
    ['EXPIREAT', 'd:s', '4102444800'],
    ['PEXPIREAT', 'd:s', '4102444800000'],
    ['PEXPIRE', 'd:s', '900000'],
    ['PERSIST', 'd:s'],
    ['PTTL', 'd:s'],
    ['GETEX', 'd:s'],
    ['INCR', 'd:n'],
    ['INCRBY', 'd:n', '10'],
    ['DECR', 'd:n'],
    ['DECRBY', 'd:n', '3'],
    ['INCRBYFLOAT', 'd:n', '1.5'],
    ['INCR', 'd:s'],
    ['TYPE', 'd:s'],
    ['SETBIT', 'd:b', '3', '1'],
    ['GETBIT', 'd:b', '3'],
    ['BITCOUNT', 'd:b'],
    ['BITPOS', 'd:b', '1'],
    ['BITFIELD', 'd:bf', 'INCRBY', 'u8', '0', '5'],
    ['DUMP', 'd:s'],
    ['RESTORE', 'd:r', '0', dumped],
    ['GET', 'd:r'],
    ['COPY', 'd:s', 'd:copy'],
    ['SET', 'd:big', randomBytes(100_000, 7)],
    ['GET', 'd:big'],
    ['SET', '', 'the empty key'],
    ['GET', ''],
    ['SET', Buffer.from('d:\0\r\n\xff', 'latin1'), Buffer.from('\r\n\0')],
    ['GET', Buffer.from('d:\0\r\n\xff', 'latin1')],
    ['EXISTS', 'd:s'],
    ['EXISTS', 'd:none'],
    // split commands
    ['MSET', ...Array.from({ length: 12 }, (_, i) => [`d:m${i}`, `v${i}`]).flat()],
    ['MGET', ...Array.from({ length: 12 }, (_, i) => `d:m${i}`), 'd:none', 'd:m0'],
    ['DEL', 'd:m0', 'd:m1', 'd:m2', 'd:none', 'd:m0'],
    ['UNLINK', 'd:m3', 'd:m4', 'd:none'],
    ['TOUCH', 'd:m5', 'd:m6', 'd:m7', 'd:none'],
    ['MGET', ...Array.from({ length: 12 }, (_, i) => `d:m${i}`)],
    ['MGET', 'd:m9'],
    ['DEL', 'd:m9'],
    ['MSET', 'd:m9', 'again'],
    ['UNLINK', 'd:m9'],
    ['TOUCH', 'd:m10'],
    ['MSET', 'd:h', 'not a hash yet', 'd:m11', 'x'],
    ['DEL', 'd:h'],
    // hashes
    ['HSET', 'd:h', 'a', '1', 'b', '2'],
    ['HGET', 'd:h', 'a'],
    ['HMSET', 'd:h', 'c', '3'],
    ['HMGET', 'd:h', 'a', 'zz', 'c'],
    ['HINCRBY', 'd:h', 'a', '5'],
    ['HINCRBYFLOAT', 'd:h', 'f', '1.5'],
    ['HSETNX', 'd:h', 'a', '9'],
    ['HEXISTS', 'd:h', 'b'],
    ['HDEL', 'd:h', 'b'],
    ['HLEN', 'd:h'],
    ['HSTRLEN', 'd:h', 'a'],
    ['HKEYS', 'd:h'],
    ['HVALS', 'd:h'],
    ['HGETALL', 'd:h'],
    ['HSCAN', 'd:h', '0'],
    ['GET', 'd:h'],
    // lists
    ['RPUSH', 'd:l', 'a', 'b', 'c', 'd'],
    ['LPUSH', 'd:l', 'z'],
    ['LPUSHX', 'd:l', 'y'],
    ['RPUSHX', 'd:l', 'e'],
    ['RPUSHX', 'd:nolist', 'e'],
    ['LRANGE', 'd:l', '0', '-1'],
    ['LINDEX', 'd:l', '2'],
    ['LINSERT', 'd:l', 'AFTER', 'b', 'bb'],
    ['LSET', 'd:l', '0', 'Y'],
    ['LREM', 'd:l', '0', 'bb'],
    ['LPOS', 'd:l', 'c'],
    ['LLEN', 'd:l'],
    ['LPOP', 'd:l'],
    ['RPOP', 'd:l'],
    ['LPOP', 'd:l', '2'],
    ['RPOPLPUSH', 'd:l', 'd:l'],
    ['LMOVE', 'd:l', 'd:l', 'LEFT', 'RIGHT'],
    ['LTRIM', 'd:l', '0', '1'],
    ['LRANGE', 'd:l', '0', '-1'],
    ['SORT', 'd:l', 'ALPHA'],
    // sets
    ['SADD', 'd:set', 'a', 'b', 'c', '1'],
    ['SADD', 'd:one', 'only'],
    ['SCARD', 'd:set'],
    ['SISMEMBER', 'd:set', 'b'],
    ['SMISMEMBER', 'd:set', 'b', 'q'],
    ['SMEMBERS', 'd:set'],
    ['SREM', 'd:set', '1'],
    ['SRANDMEMBER', 'd:one'],
    ['SPOP', 'd:one'],
    ['SUNION', 'd:set', 'd:set'],
    ['SINTER', 'd:set', 'd:set'],
    ['SDIFF', 'd:set', 'd:set'],
    ['SUNIONSTORE', 'd:su', 'd:su'],
    ['SINTERSTORE', 'd:si', 'd:si'],
    ['SDIFFSTORE', 'd:sd', 'd:sd'],
    ['SMOVE', 'd:set', 'd:set', 'a'],
    ['SSCAN', 'd:set', '0'],
    ['SORT', 'd:set', 'ALPHA'],
    // sorted sets
    ['ZADD', 'd:z', '1', 'a', '2', 'b', '3', 'c', '4', 'd'],
    ['ZADD', 'd:zl', '0', 'a', '0', 'b', '0', 'c'],
    ['ZSCORE', 'd:z', 'b'],
    ['ZMSCORE', 'd:z', 'a', 'q'],
    ['ZINCRBY', 'd:z', '0.5', 'a'],
    ['ZRANK', 'd:z', 'c'],
    ['ZREVRANK', 'd:z', 'c'],
    ['ZRANGE', 'd:z', '0', '-1', 'WITHSCORES'],
    ['ZREVRANGE', 'd:z', '0', '1'],
    ['ZRANGEBYSCORE', 'd:z', '1', '3'],
    ['ZREVRANGEBYSCORE', 'd:z', '3', '1', 'WITHSCORES'],
    ['ZRANGEBYLEX', 'd:zl', '-', '+'],
    ['ZREVRANGEBYLEX', 'd:zl', '+', '[b'],
    ['ZLEXCOUNT', 'd:zl', '-', '+'],
    ['ZCOUNT', 'd:z', '-inf', '+inf'],
    ['ZCARD', 'd:z'],
    ['ZRANGESTORE', 'd:zs', 'd:zs', '0', '-1'],
    ['ZINTERSTORE', 'd:zi', '1', 'd:zi'],
    ['ZUNIONSTORE', 'd:zu', '1', 'd:zu'],
    ['ZDIFFSTORE', 'd:zd', '1', 'd:zd'],
    ['ZSCAN', 'd:z', '0'],
    ['ZREM', 'd:z', 'd'],
    ['ZREMRANGEBYRANK', 'd:z', '0', '0'],
    ['ZREMRANGEBYSCORE', 'd:z', '3', '3'],
    ['ZREMRANGEBYLEX', 'd:zl', '[a', '[a'],
    ['ZPOPMIN', 'd:zl'],
    ['ZPOPMAX', 'd:zl'],
    ['ZRANGE', 'd:z', '0', '-1', 'WITHSCORES'],
    // hyperloglog, geo
    ['PFADD', 'd:hll', 'a', 'b', 'c'],
    ['PFCOUNT', 'd:hll'],
    ['PFMERGE', 'd:hll', 'd:hll'],
    ['GEOADD', 'd:geo', '13.361389', '38.115556', 'Palermo', '15.087269', '37.502669', 'Catania'],
    ['GEODIST', 'd:geo', 'Palermo', 'Catania', 'km'],
    ['GEOHASH', 'd:geo', 'Palermo', 'Catania'],
    ['GEOPOS', 'd:geo', 'Palermo', 'nowhere'],
    ['GEORADIUS', 'd:geo', '15', '37', '200', 'km', 'WITHDIST', 'ASC'],
    ['GEORADIUSBYMEMBER', 'd:geo', 'Palermo', '200', 'km', 'ASC'],
    ['GEOSEARCH', 'd:geo', 'FROMLONLAT', '15', '37', 'BYRADIUS', '200', 'km', 'ASC', 'WITHCOORD'],
    ['GEOSEARCHSTORE', 'd:geo', 'd:geo', 'FROMMEMBER', 'Palermo', 'BYBOX', '400', '400', 'km'],
    // scripts
    ['EVAL', set, '1', 'd:ev', 'by script'],
    ['EVALSHA', '4d3c4b1e6b0b8f9a1a2f36f0e4e1d2a9c0a1b2c3', '1', 'd:ev'],
    ['EVAL', "return {1,{2,{3,'x',{}}},'y',redis.call('get',KEYS[1])}", '1', 'd:ev'],
    ['EVAL', "return redis.error_reply('MYERR custom')", '1', 'd:ev'],
    ['EVAL', set, '2', 'd:ev'],
    // hash tags (only the tag pool co-locates these; the others route each key on its own)
    ['MSET', '{u1}:a', '1', '{u1}:b', '2', 'x{u1}', '3', '{u2}:a', '4'],
    ['MGET', '{u1}:a', '{u1}:b', 'x{u1}', '{u2}:a', '{u1}:none'],
    ['DEL', '{u1}:a', '{u2}:a', '{u3}:none'],
    ...spread.map((k) => ['SET', k, k]),
    ['MGET', ...spread],
    ['PING'],
  ]
  return r
}

/** Sends the requests to a proxy pool in one write; the replies in order. */
async function run(port: number, reqs: readonly Arg[][]): Promise<Buffer[]> {
  const c = await Resp.open(port)
  try {
    return await c.pipeline(reqs, 20_000)
  } finally {
    await c.close()
  }
}

/** What the backends hold: per backend, every key with its DUMP, in key order. */
async function snapshot(): Promise<string[]> {
  const out: string[] = []
  for (const d of direct) {
    const keys = await backendKeys(d)
    const dumps = keys.length === 0 ? [] : await d.pipeline(keys.map((k) => ['DUMP', k]))
    out.push(
      keys
        .map((k, i) => `${showBytes(Buffer.from(k, 'latin1'))}=${dumps[i]!.toString('latin1')}`)
        .join('\n'),
    )
  }
  return out
}

describe('walnut and nutcracker side by side', () => {
  test('the same requests get the same reply bytes, and leave the same data, in every pool', async () => {
    for (let p = 0; p < POOLS.length; p++) {
      const name = POOLS[p]!.name
      const reqs = requests(name)
      await flushAll(direct)
      const fromNut = await run(nutcracker.ports[p]!, reqs)
      const afterNut = await snapshot()
      await flushAll(direct)
      const fromWalnut = await run(walnut.ports[p]!, reqs)
      const afterWalnut = await snapshot()
      let errors = 0
      for (let i = 0; i < reqs.length; i++) {
        const what = `pool ${name}, request ${i} (${reqs[i]!.slice(0, 3).map(String).join(' ')})`
        assertBytes(fromWalnut[i]!, fromNut[i]!, what)
        if (fromNut[i]![0] === 0x2d) errors++
      }
      // The five backend errors in the list (not an integer, WRONGTYPE, NOSCRIPT, a script's
      // own error, numkeys above the keys given) and no more: a proxy-made error would mean
      // the requests left the success path.
      assert.equal(errors, 5, `pool ${name}: error replies`)
      assert.deepEqual(afterWalnut, afterNut, `pool ${name}: backend contents`)
      assert.ok(
        afterNut.every((s) => s.length > 0),
        `pool ${name}: data on every backend`,
      )
    }
  })

  test('every key lands on the same backend through both proxies, as walnut`s placement says', async () => {
    const keys = (pool: string) =>
      Array.from({ length: 3000 }, (_, i) =>
        i % 3 === 0
          ? `${pool}:{t${i % 97}}:${i}`
          : i % 3 === 1
            ? `${pool}:key:${i}`
            : `${pool}${i}`,
      )
    /** Writes the keys through a proxy (half MSET in batches, half SET) and reads them back. */
    async function landing(port: number, ks: readonly string[]): Promise<Map<string, number>> {
      const c = await Resp.open(port)
      const reqs: Arg[][] = []
      for (let i = 0; i < ks.length / 2; i += 100) {
        reqs.push(['MSET', ...ks.slice(i, Math.min(i + 100, ks.length / 2)).flatMap((k) => [k, k])])
      }
      for (const k of ks.slice(ks.length / 2)) reqs.push(['SET', k, k])
      const replies = await c.pipeline(reqs, 20_000)
      await c.close()
      for (const r of replies) assertBytes(r, '+OK\r\n', 'write')
      const on = new Map<string, number>()
      for (let s = 0; s < direct.length; s++) {
        for (const k of await backendKeys(direct[s]!)) {
          assert.ok(!on.has(k), `${k} on two backends`)
          on.set(k, s)
        }
      }
      assert.equal(on.size, ks.length, 'every key written once')
      return on
    }
    for (let p = 0; p < POOLS.length; p++) {
      const name = POOLS[p]!.name
      const ks = keys(name)
      await flushAll(direct)
      const viaWalnut = await landing(walnut.ports[p]!, ks)
      await flushAll(direct)
      const viaNut = await landing(nutcracker.ports[p]!, ks)
      const locate = where.get(name)!
      let differ = 0
      for (const k of ks) {
        if (viaWalnut.get(k) !== viaNut.get(k)) differ++
        assert.equal(viaNut.get(k), locate(k), `pool ${name}: ${k} (nutcracker vs placement)`)
      }
      assert.equal(differ, 0, `pool ${name}: keys on a different backend`)
      const counts = [0, 1, 2].map((s) => ks.filter((k) => viaNut.get(k) === s).length)
      assert.ok(
        counts.every((n) => n > 0),
        `pool ${name}: keys on every backend: ${counts}`,
      )
    }
  })
})
