/**
 * walnut proxying redis, end to end: three real redis-servers behind the built CLI (plus two
 * password-protected ones for `redis_auth` / `redis_db`, and one reached over a unix socket).
 * Every command class of spec §2 with exact reply bytes, split commands over all servers, hash
 * tags, EVAL routing, R1-R6 and R13, AUTH (spec §6), R10, and the awkward data: the empty
 * key, binary keys and values, 16 MiB values, nested replies and a 200 000-element LRANGE.
 * Where a key lands is checked by asking each backend directly, against the placement
 * computed from the same config.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { freePort } from '../helpers/ports.js'
import {
  type Arg,
  arr,
  assertBytes,
  assertLanded,
  bulk,
  bulkArray,
  bulks,
  cmd,
  commandCalls,
  int,
  keysOn,
  type Locator,
  line,
  locator,
  NIL,
  OK,
  poolYaml,
  Resp,
  randomBytes,
} from '../helpers/redis.js'
import {
  connect,
  type ProxyProc,
  runWalnut,
  type ServerProc,
  startRedis,
  startWalnut,
} from '../helpers/servers.js'

const PASSWORD = 'secret'
const NOAUTH = line('-NOAUTH Authentication required')
const INVALID_PASSWORD = line('-ERR invalid password')

let plain: ServerProc[] = []
let locked: ServerProc[] = []
/** A redis-server also listening on a unix socket (in `sockDir`), behind pool `unixdb`. */
let socketed: ServerProc
let sockDir: string
let walnut: ProxyProc
/** Placement of each pool (index in its `servers:` list). */
let main: Locator
let authed: Locator
/** Straight to the backends: plain ones, and the locked ones in db 0 and in db 3. */
let direct: Resp[] = []
let lockedDb0: Resp[] = []
let lockedDb3: Resp[] = []
let ports: { main: number; auth: number; authdb: number; unixdb: number }
const opened: Resp[] = []

async function open(port = ports.main): Promise<Resp> {
  const r = await Resp.open(port)
  opened.push(r)
  return r
}

before(async () => {
  sockDir = mkdtempSync(join(tmpdir(), 'walnut-sock-'))
  const socket = join(sockDir, 'redis.sock')
  ;[plain, locked, socketed] = await Promise.all([
    Promise.all([startRedis(), startRedis(), startRedis()]),
    Promise.all([1, 2].map(() => startRedis({ args: ['--requirepass', PASSWORD] }))),
    startRedis({ args: ['--unixsocket', socket, '--unixsocketperm', '700'] }),
  ])
  ports = {
    main: await freePort(),
    auth: await freePort(),
    authdb: await freePort(),
    unixdb: await freePort(),
  }
  const yaml =
    poolYaml({ name: 'main', port: ports.main, servers: plain.map((s) => s.port), hashTag: '{}' }) +
    poolYaml({
      name: 'auth',
      port: ports.auth,
      servers: locked.map((s) => s.port),
      redisAuth: PASSWORD,
    }) +
    poolYaml({
      name: 'authdb',
      port: ports.authdb,
      servers: locked.map((s) => s.port),
      redisAuth: PASSWORD,
      redisDb: 3,
    }) +
    poolYaml({ name: 'unixdb', port: ports.unixdb, servers: [`${socket}:1`], redisDb: 2 })
  ;[walnut, main, authed] = await Promise.all([
    startWalnut(yaml),
    locator(yaml, 'main'),
    locator(yaml, 'auth'),
  ])
  direct = await Promise.all(plain.map((s) => Resp.open(s.port)))
  lockedDb0 = await Promise.all(locked.map((s) => Resp.open(s.port, PASSWORD)))
  lockedDb3 = await Promise.all(locked.map((s) => Resp.open(s.port, PASSWORD, 3)))
})

after(async () => {
  for (const r of [...opened, ...direct, ...lockedDb0, ...lockedDb3]) await r.close()
  await walnut?.stop()
  await Promise.all([...plain, ...locked, socketed].map((s) => s?.stop()))
  if (sockDir !== undefined) rmSync(sockDir, { recursive: true, force: true })
})

/** Runs each [request, reply] in turn on one connection, asserting the exact reply bytes. */
async function script(c: Resp, steps: readonly [Arg[], Buffer | string][]): Promise<void> {
  for (const [req, want] of steps) await c.expect(req, want)
}

describe('commands answered by walnut', () => {
  test('PING, ECHO, SELECT 0, CLIENT SETNAME/GETNAME/ID, AUTH without redis_auth (R6, R7)', async () => {
    const c = await open()
    await script(c, [
      [['PING'], '+PONG\r\n'],
      [['ping', 'hello world'], '$11\r\nhello world\r\n'],
      [['ECHO', 'a\r\nb\0'], '$5\r\na\r\nb\0\r\n'],
      [['ECHO', ''], '$0\r\n\r\n'],
      [['SELECT', '0'], OK],
      [['SELECT', '1'], '-ERR DB index is out of range\r\n'],
      [['SELECT', 'x'], '-ERR value is not an integer or out of range\r\n'],
      [['CLIENT', 'GETNAME'], NIL],
      [['CLIENT', 'SETNAME', 'walnut-test'], OK],
      [['client', 'getname'], '$11\r\nwalnut-test\r\n'],
      [
        ['CLIENT', 'SETNAME', 'has space'],
        line('-ERR Client names cannot contain spaces, newlines or special characters.'),
      ],
      [['CLIENT', 'SETINFO', 'lib-name', 'x'], OK],
      [['AUTH', 'x'], '-ERR Client sent AUTH, but no password is set\r\n'],
    ])
    const id = (await c.call('CLIENT', 'ID')).toString('latin1')
    assert.match(id, /^:[1-9][0-9]*\r\n$/)
    assertBytes(await c.call('CLIENT', 'ID'), id, 'CLIENT ID is stable')
    // A second connection has its own name and a larger id.
    const d = await open()
    await d.expect(['CLIENT', 'GETNAME'], NIL)
    const id2 = (await d.call('CLIENT', 'ID')).toString('latin1')
    assert.ok(Number(id2.slice(1, -2)) > Number(id.slice(1, -2)), `${id2} after ${id}`)
  })

  test('INFO describes the proxy: exact sections, walnut pid, framed length', async () => {
    const c = await open()
    await c.expect(['INFO', 'persistence'], bulk('# Persistence\r\nloading:0\r\n'))
    await c.expect(['INFO', 'keyspace'], bulk('# Keyspace\r\n'))
    await c.expect(
      ['INFO', 'replication'],
      bulk('# Replication\r\nrole:master\r\nconnected_slaves:0\r\n'),
    )
    const all = (await c.call('INFO')).toString('latin1')
    const m = /^\$(\d+)\r\n/.exec(all)
    assert.ok(m !== null, all.slice(0, 40))
    const body = all.slice(m[0].length, -2)
    assert.equal(Buffer.byteLength(body, 'latin1'), Number(m[1]))
    assert.match(
      body,
      new RegExp(
        '^# Server\\r\\nredis_version:7\\.0\\.0\\r\\nwalnut_version:[0-9.]+\\r\\n' +
          `redis_mode:standalone\\r\\nprocess_id:${walnut.pid}\\r\\n` +
          'uptime_in_seconds:\\d+\\r\\nuptime_in_days:0\\r\\n\\r\\n' +
          '# Persistence\\r\\nloading:0\\r\\n\\r\\n' +
          '# Replication\\r\\nrole:master\\r\\nconnected_slaves:0\\r\\n\\r\\n# Keyspace\\r\\n$',
      ),
    )
  })

  test('QUIT: +OK after every earlier reply, then close; later requests are not run (R5)', async () => {
    const c = await open()
    await c.expect(['SET', 'quit:a', 'before'], OK)
    await c.client.send(
      Buffer.concat([cmd('GET', 'quit:a'), cmd('QUIT'), cmd('SET', 'quit:a', 'after')]),
    )
    assertBytes(await c.client.readUntilClose(10_000), '$6\r\nbefore\r\n+OK\r\n', 'GET, QUIT, SET')
    assertBytes(await direct[main('quit:a')]!.call('GET', 'quit:a'), bulk('before'), 'not set')
  })

  test('inline commands as redis-server splits them; empty lines ignored (R4)', async () => {
    const c = await open()
    const replies = await c.raw(
      "PING\r\n\r\nSET inl:k \"a b\\x00\\n\"\r\n  \r\nGET inl:k\nmget inl:k inl:none\r\nEcho 'it\\'s'\r\n",
      5,
    )
    assertBytes(
      Buffer.concat(replies),
      "+PONG\r\n+OK\r\n$5\r\na b\0\n\r\n*2\r\n$5\r\na b\0\n\r\n$-1\r\n$4\r\nit's\r\n",
      'inline',
    )
    await assertLanded(['inl:k'], main, direct)
  })
})

describe('commands forwarded by walnut', () => {
  test('COMMAND and LOLWUT go to the server of the key `placeholder`', async () => {
    const home = main('placeholder')
    for (const d of direct) await d.expect(['CONFIG', 'RESETSTAT'], OK)
    const c = await open()
    c.timeoutMs = 10_000
    const viaWalnut = await c.call('COMMAND')
    const lolwut = (await c.call('LOLWUT')).toString('latin1')
    assert.match(lolwut, /^\$\d+\r\n[\s\S]*Redis ver\. 7\.[\s\S]*\r\n$/)
    for (let i = 0; i < direct.length; i++) {
      const calls = await commandCalls(direct[i]!)
      const want = i === home ? 1 : undefined
      assert.equal(calls.get('command'), want, `server ${i}: COMMAND calls`)
      assert.equal(calls.get('lolwut'), want, `server ${i}: LOLWUT calls`)
    }
    // Passed through unfiltered: the same bytes as the server's own reply.
    assertBytes(viaWalnut, await direct[home]!.call('COMMAND'), 'COMMAND')
  })

  test('single-key commands of every arity class, each on its key`s server', async () => {
    const c = await open()
    await script(c, [
      // narg >= 2
      [['SET', 'sk:str', 'hello'], OK],
      [['SET', 'sk:x'], "-ERR wrong number of arguments for 'set' command\r\n"],
      // narg 2
      [['GET', 'sk:str'], bulk('hello')],
      [['get', 'sk:none'], NIL],
      // narg 3
      [['APPEND', 'sk:str', ' world'], int(11)],
      [['STRLEN', 'sk:str'], int(11)],
      // narg 4
      [['GETRANGE', 'sk:str', '0', '4'], bulk('hello')],
      [['SETRANGE', 'sk:str', '6', 'WORLD'], int(11)],
      [['GET', 'sk:str'], bulk('hello WORLD')],
      [['TYPE', 'sk:str'], '+string\r\n'],
      [['SETNX', 'sk:str', 'x'], int(0)],
      [['EXPIRE', 'sk:str', '1000'], int(1)],
      // PERSIST answers 1 only for a key with a TTL (clock-free, unlike TTL's count).
      [['PERSIST', 'sk:str'], int(1)],
      [['TTL', 'sk:str'], int(-1)],
      [['GETEX', 'sk:str', 'PERSIST'], bulk('hello WORLD')],
      [['EXISTS', 'sk:str'], int(1)],
      [['INCR', 'sk:n'], int(1)],
      [['INCRBY', 'sk:n', '41'], int(42)],
      [['DECR', 'sk:n'], int(41)],
      [['DECRBY', 'sk:n', '1'], int(40)],
      [['INCRBYFLOAT', 'sk:n', '0.5'], bulk('40.5')],
      [['INCR', 'sk:str'], '-ERR value is not an integer or out of range\r\n'],
      [['GETSET', 'sk:gs', 'a'], NIL],
      [['GETDEL', 'sk:gs'], bulk('a')],
      [['SETEX', 'sk:ex', '100', 'v'], OK],
      [['PERSIST', 'sk:ex'], int(1)],
      [['PSETEX', 'sk:pex', '100000', 'v'], OK],
      [['SETBIT', 'sk:bits', '7', '1'], int(0)],
      [['GETBIT', 'sk:bits', '7'], int(1)],
      [['BITPOS', 'sk:bits', '1'], int(7)],
      [['BITCOUNT', 'sk:bits'], int(1)],
      // hashes
      [['HSET', 'sk:h', 'f1', 'v1', 'f2', 'v2'], int(2)],
      [['HGET', 'sk:h', 'f1'], bulk('v1')],
      [['HINCRBY', 'sk:h', 'n', '5'], int(5)],
      [['HSETNX', 'sk:h', 'f1', 'z'], int(0)],
      [['HLEN', 'sk:h'], int(3)],
      [['HGETALL', 'sk:h'], bulks('f1', 'v1', 'f2', 'v2', 'n', '5')],
      [['HMGET', 'sk:h', 'f1', 'nope'], bulks('v1', null)],
      [['HEXISTS', 'sk:h', 'f2'], int(1)],
      [['HDEL', 'sk:h', 'f2'], int(1)],
      [['HSTRLEN', 'sk:h', 'f1'], int(2)],
      [['HKEYS', 'sk:h'], bulks('f1', 'n')],
      [['HVALS', 'sk:h'], bulks('v1', '5')],
      [['TYPE', 'sk:h'], '+hash\r\n'],
      [['GET', 'sk:h'], '-WRONGTYPE Operation against a key holding the wrong kind of value\r\n'],
      // lists (one hash tag, so the two-key commands find both keys)
      [['RPUSH', '{sk}:l', 'a', 'b', 'c'], int(3)],
      [['LPUSH', '{sk}:l', 'z'], int(4)],
      [['LRANGE', '{sk}:l', '0', '-1'], bulks('z', 'a', 'b', 'c')],
      // narg 5
      [['LINSERT', '{sk}:l', 'BEFORE', 'b', 'x'], int(5)],
      [['LINDEX', '{sk}:l', '2'], bulk('x')],
      [['LSET', '{sk}:l', '0', 'y'], OK],
      [['LREM', '{sk}:l', '1', 'x'], int(1)],
      [['LTRIM', '{sk}:l', '0', '2'], OK],
      [['LLEN', '{sk}:l'], int(3)],
      [['LPOP', '{sk}:l'], bulk('y')],
      [['RPOP', '{sk}:l'], bulk('b')],
      [['LPOS', '{sk}:l', 'a'], int(0)],
      [['LMOVE', '{sk}:l', '{sk}:l2', 'LEFT', 'RIGHT'], bulk('a')],
      [['RPOPLPUSH', '{sk}:l2', '{sk}:l'], bulk('a')],
      [['EXISTS', '{sk}:l2'], int(0)],
      [['COPY', '{sk}:l', '{sk}:l3'], int(1)],
      [['LRANGE', '{sk}:l3', '0', '-1'], bulks('a')],
      // sets
      [['SADD', 'sk:s', 'c', 'a', 'b'], int(3)],
      [['SCARD', 'sk:s'], int(3)],
      [['SISMEMBER', 'sk:s', 'a'], int(1)],
      [['SMISMEMBER', 'sk:s', 'a', 'zz'], arr(int(1), int(0))],
      [['SORT', 'sk:s', 'ALPHA'], bulks('a', 'b', 'c')],
      [['SREM', 'sk:s', 'c'], int(1)],
      [['SORT', 'sk:s', 'ALPHA', 'DESC'], bulks('b', 'a')],
      // sorted sets
      [['ZADD', 'sk:z', '1', 'a', '2', 'b', '3', 'c'], int(3)],
      [['ZSCORE', 'sk:z', 'b'], bulk('2')],
      [['ZRANGE', 'sk:z', '0', '-1', 'WITHSCORES'], bulks('a', '1', 'b', '2', 'c', '3')],
      [['ZINCRBY', 'sk:z', '10', 'a'], bulk('11')],
      [['ZRANK', 'sk:z', 'c'], int(1)],
      [['ZREVRANK', 'sk:z', 'c'], int(1)],
      [['ZCOUNT', 'sk:z', '0', '5'], int(2)],
      [['ZREVRANGE', 'sk:z', '0', '0'], bulks('a')],
      [['ZREMRANGEBYSCORE', 'sk:z', '0', '2'], int(1)],
      [['ZCARD', 'sk:z'], int(2)],
      [['ZRANGEBYSCORE', 'sk:z', '-inf', '+inf'], bulks('c', 'a')],
      // hyperloglog, geo
      [['PFADD', 'sk:hll', 'a', 'b', 'c'], int(1)],
      [['PFCOUNT', 'sk:hll'], int(3)],
      [['GEOADD', 'sk:geo', '13.361389', '38.115556', 'Palermo'], int(1)],
      [['GEOHASH', 'sk:geo', 'Palermo'], bulks('sqc8b49rny0')],
    ])
    // DUMP on one key's server, RESTORE on another key's (wherever they live).
    const dump = await c.call('DUMP', 'sk:str')
    const payload = dump.subarray(dump.indexOf('\r\n') + 2, dump.length - 2)
    await c.expect(['RESTORE', 'sk:restored', '0', payload], OK)
    await c.expect(['GET', 'sk:restored'], bulk('hello WORLD'))
    const keys = [
      'sk:str',
      'sk:n',
      'sk:ex',
      'sk:pex',
      'sk:bits',
      'sk:h',
      '{sk}:l',
      '{sk}:l3',
      'sk:s',
      'sk:z',
      'sk:hll',
      'sk:geo',
      'sk:restored',
    ]
    // Where the names above land depends on the servers' ports; these keys cover each server.
    for (let s = 0; s < 3; s++) {
      const k = keysOn(main, s, 1, `sk:on${s}:`)[0]!
      await script(c, [
        [['SET', k, `on ${s}`], OK],
        [['APPEND', k, '!'], int(5)],
        [['GET', k], bulk(`on ${s}!`)],
        [['HSET', `${k}:h`, 'f', 'v'], int(1)],
      ])
      keys.push(k)
    }
    await assertLanded(keys, main, direct)
  })

  test('EVAL and EVALSHA go to the server of the first key; nested replies pass through', async () => {
    const [k0] = keysOn(main, 0, 1, 'ev:a')
    const [k1] = keysOn(main, 1, 1, 'ev:b')
    const set = "return redis.call('set', KEYS[1], ARGV[1])"
    const sha = createHash('sha1').update(set).digest('hex')
    const c = await open()
    await script(c, [
      [['EVAL', set, '1', k0!, 'v0'], OK],
      // The second key is not checked: the script writes it on the first key's server.
      [['EVAL', "redis.call('set', KEYS[2], ARGV[1]) return 7", '2', k0!, k1!, 'x'], int(7)],
      [['EVALSHA', sha, '1', k0!, 'v1'], OK],
      // Server 1 never saw the script.
      [['EVALSHA', sha, '1', k1!, 'v2'], '-NOSCRIPT No matching script. Please use EVAL.\r\n'],
      [
        ['eval', "return {1,{2,{3,'x'}},'y',{}}", '1', k1!],
        '*4\r\n:1\r\n*2\r\n:2\r\n*2\r\n:3\r\n$1\r\nx\r\n$1\r\ny\r\n*0\r\n',
      ],
      [
        ['EVAL', set, '0'],
        '-ERR EVAL with numkeys 0 is not supported by walnut: no key to route by\r\n',
      ],
      [['EVAL', set, '2', k0!], "-ERR Number of keys can't be greater than number of args\r\n"],
    ])
    assertBytes(await direct[0]!.call('GET', k0!), bulk('v1'), 'k0 on server 0')
    assertBytes(await direct[0]!.call('GET', k1!), bulk('x'), 'k1 written on server 0')
    assertBytes(await direct[1]!.call('GET', k1!), NIL, 'k1 not on its own server')
    // 500 levels of nesting, then a 200 000-element reply follow in the same pipeline.
    const deep = "local t = {'bottom'} for i = 1, 499 do t = {t} end return t"
    const want = Buffer.concat([Buffer.from('*1\r\n'.repeat(500)), bulk('bottom')])
    const [got] = await c.pipeline([['EVAL', deep, '1', k0!]])
    assertBytes(got!, want, 'nested 500 deep')
  })

  test('ZUNION, ZINTER, ZDIFF go to the server of their first key, not of numkeys (R13)', async () => {
    // A tag whose server differs from the one the numkeys string "2" hashes to.
    const tag = keysOn(main, (main('2') + 1) % 3, 1, 'zt')[0]!
    const a = `{${tag}}a`
    const b = `{${tag}}b`
    const c = await open()
    await script(c, [
      [['ZADD', a, '1', 'x', '2', 'y'], int(2)],
      [['ZADD', b, '10', 'y', '20', 'z'], int(2)],
      [['ZUNION', '2', a, b, 'WITHSCORES'], bulks('x', '1', 'y', '12', 'z', '20')],
      [['ZINTER', '2', a, b], bulks('y')],
      [['ZDIFF', '2', a, b], bulks('x')],
      [['ZUNIONSTORE', `{${tag}}u`, '2', a, b], int(3)],
    ])
    await assertLanded([a, b, `{${tag}}u`], main, direct)
  })
})

describe('split commands', () => {
  test('MSET, MGET, EXISTS, TOUCH, DEL, UNLINK with keys on every server', async () => {
    const per = [0, 1, 2].map((s) => keysOn(main, s, 3, `mk:${s}:`))
    // Interleaved, so every server's keys are spread through the request.
    const keys = [0, 1, 2].flatMap((i) => per.map((p) => p[i]!))
    const value = (k: string) => `value of ${k}`
    const c = await open()
    await c.expect(['MSET', ...keys.flatMap((k) => [k, value(k)])], OK)
    await assertLanded(keys, main, direct)
    for (const k of keys) assertBytes(await direct[main(k)]!.call('GET', k), bulk(value(k)), k)

    // One sub-request per server: each backend counts exactly one mget.
    for (const d of direct) await d.expect(['CONFIG', 'RESETSTAT'], OK)
    const asked = [keys[4]!, 'mk:none', ...keys, keys[0]!]
    await c.expect(
      ['MGET', ...asked],
      bulks(...asked.map((k) => (k === 'mk:none' ? null : value(k)))),
    )
    for (const d of direct) assert.equal((await commandCalls(d)).get('mget'), 1)

    await c.expect(['EXISTS', ...keys, 'mk:none', keys[0]!], int(keys.length + 1))
    await c.expect(['TOUCH', keys[0]!, keys[1]!, keys[2]!, 'mk:none'], int(3))
    await c.expect(['DEL', keys[0]!, keys[1]!, 'mk:none', keys[0]!], int(2))
    await c.expect(['UNLINK', keys[2]!, keys[3]!, keys[2]!], int(2))
    await c.expect(['EXISTS', ...keys.slice(0, 4)], int(0))
    await c.expect(['MGET', keys[0]!, keys[8]!], bulks(null, value(keys[8]!)))
    // One key: forwarded verbatim.
    await c.expect(['MGET', keys[8]!], bulks(value(keys[8]!)))
    await c.expect(['MSET', 'mk:one', '1'], OK)
    await c.expect(['DEL', 'mk:one'], int(1))
    await c.expect(['exists', keys[8]!], int(1))
    await assertLanded(keys.slice(4), main, direct)

    // walnut locate, the CLI, agrees with the placement used above.
    const located = await runWalnut(['locate', '-c', walnut.configPath, '--pool', 'main', ...keys])
    assert.equal(located.code, 0, located.stderr.toString())
    const want = keys.map((k) => `${k}\t${main(k)}\t127.0.0.1:${plain[main(k)]!.port}:1\n`)
    assert.equal(located.stdout.toString(), want.join(''))
  })

  test('3000 keys in one MSET / MGET / DEL', async () => {
    const keys = Array.from({ length: 3000 }, (_, i) => `bulk:${i}`)
    const c = await open()
    await c.expect(['MSET', ...keys.flatMap((k, i) => [k, `v${i}`])], OK)
    await c.expect(['MGET', ...keys], bulks(...keys.map((_, i) => `v${i}`)))
    const counts = await Promise.all(direct.map((d) => d.call('DBSIZE')))
    const onEach = [0, 1, 2].map((s) => keys.filter((k) => main(k) === s).length)
    assert.ok(
      onEach.every((n) => n > 0),
      `spread: ${onEach}`,
    )
    await c.expect(['DEL', ...keys], int(3000))
    // Every backend held its share (plus keys from other tests, gone now: DBSIZE dropped by it).
    const after = await Promise.all(direct.map((d) => d.call('DBSIZE')))
    for (let s = 0; s < 3; s++) {
      const drop =
        Number(counts[s]!.toString().slice(1, -2)) - Number(after[s]!.toString().slice(1, -2))
      assert.equal(drop, onEach[s], `server ${s}`)
    }
  })

  test('hash tags: {user} keys share a server, whatever surrounds the tag', async () => {
    for (let s = 0; s < 3; s++) {
      const user = keysOn(main, s, 1, 'user')[0]!
      const keys = [`{${user}}:name`, `{${user}}:mail`, `x{${user}}y`, `{${user}}`, `{${user}}}`]
      const c = await open()
      await c.expect(['MSET', ...keys.flatMap((k) => [k, k])], OK)
      for (const k of keys) assert.equal(main(k), s, k)
      await assertLanded(keys, main, direct, 'tagged key')
      await c.expect(['SADD', `{${user}}:a`, '1', '2'], int(2))
      await c.expect(['SADD', `{${user}}:b`, '2', '3'], int(2))
      await c.expect(['SINTERSTORE', `{${user}}:c`, `{${user}}:a`, `{${user}}:b`], int(1))
      await c.expect(['SMEMBERS', `{${user}}:c`], bulks('2'))
    }
  })
})

describe('errors walnut answers itself (R1-R3)', () => {
  test('unknown and unsupported commands: an error, the connection stays usable (R1)', async () => {
    const c = await open()
    const replies = await c.pipeline([
      ['FOO', 'a', 'b'],
      ['KEYS', '*'],
      ['move', 'k', '1'],
      ['MULTI'],
      ['CLIENT', 'LIST'],
      ['SCRIPT', 'LOAD', 'return 1'],
      ['GET', 'r1:none'],
      ['PING'],
    ])
    assertBytes(
      Buffer.concat(replies),
      "-ERR unknown command 'FOO', with args beginning with: 'a' 'b' \r\n" +
        "-ERR unsupported command 'KEYS': not available through walnut\r\n" +
        "-ERR unsupported command 'move': not available through walnut\r\n" +
        "-ERR unsupported command 'MULTI': not available through walnut\r\n" +
        "-ERR unsupported command 'CLIENT LIST': not available through walnut\r\n" +
        "-ERR unsupported command 'SCRIPT': not available through walnut\r\n" +
        '$-1\r\n+PONG\r\n',
      'R1',
    )
  })

  test('wrong number of arguments: redis`s error, the connection stays usable (R2)', async () => {
    const c = await open()
    const replies = await c.pipeline([
      ['GET'],
      ['GET', 'a', 'b'],
      ['MSET', 'a'],
      ['MSET', 'a', '1', 'b'],
      ['LRANGE', 'a', '0'],
      ['LINSERT', 'a', 'BEFORE', 'b'],
      ['PING', 'a', 'b'],
      ['EVAL', 'return 1'],
      ['ZUNION', '1'],
      ['CLIENT', 'SETNAME'],
      ['PING'],
    ])
    const wrong = (n: string) => `-ERR wrong number of arguments for '${n}' command\r\n`
    assertBytes(
      Buffer.concat(replies),
      ['get', 'get', 'mset', 'mset', 'lrange', 'linsert', 'ping', 'eval', 'zunion']
        .map(wrong)
        .join('') +
        wrong('client|setname') +
        '+PONG\r\n',
      'R2',
    )
  })

  test('EXPIRE family with redis 7 options (NX|XX|GT|LT) is forwarded; a 5th argument is refused', async () => {
    const c = await open()
    const replies = await c.pipeline([
      ['SET', 'xp:k', 'v'],
      ['EXPIRE', 'xp:k', '100', 'NX'],
      ['EXPIRE', 'xp:k', '50', 'GT'],
      ['PEXPIRE', 'xp:k', '200000', 'XX'],
      ['EXPIRE', 'xp:k', '1', 'NX', 'x'],
    ])
    assertBytes(
      Buffer.concat(replies),
      "+OK\r\n:1\r\n:0\r\n:1\r\n-ERR wrong number of arguments for 'expire' command\r\n",
      'EXPIRE options',
    )
  })

  for (const [name, bytes, error] of [
    ['bad bulk length', '*2\r\n$3\r\nGET\r\n$x\r\n', 'invalid bulk length'],
    ['bad multibulk length', '*1x\r\n', 'invalid multibulk length'],
    ['not a bulk', '*2\r\n$3\r\nGET\r\n:1\r\n', "expected '$', got ':'"],
    ['no CRLF after data', '*1\r\n$4\r\nPINGxx\r\n', 'expected CRLF after bulk data'],
    ['unbalanced quotes', 'GET "a\r\n', 'unbalanced quotes in request'],
  ] as const) {
    test(`framing error (${name}): earlier replies first, then the error, then close (R3)`, async () => {
      const big = randomBytes(1 << 20, 3)
      const c = await open()
      await c.expect(['SET', 'r3:big', big], OK)
      // The earlier replies come from the servers (one is 1 MiB); the error must wait for them.
      await c.client.send(
        Buffer.concat([
          cmd('GET', 'r3:big'),
          cmd('PING'),
          cmd('GET', 'r3:none'),
          Buffer.from(bytes),
        ]),
      )
      assertBytes(
        await c.client.readUntilClose(10_000),
        Buffer.concat([bulk(big), line('+PONG'), NIL, line(`-ERR Protocol error: ${error}`)]),
        name,
      )
    })
  }
})

describe('AUTH and redis_db (spec §6, R10)', () => {
  test('before AUTH every command gets -NOAUTH; wrong passwords; pipeline order', async () => {
    const c = await open(ports.auth)
    await script(c, [
      [['GET', 'au:k'], NOAUTH],
      [['PING'], NOAUTH],
      [['MGET', 'au:a', 'au:b'], NOAUTH],
      [['COMMAND'], NOAUTH],
      [['AUTH', 'wrong'], INVALID_PASSWORD],
      [['AUTH', ''], INVALID_PASSWORD],
      [['AUTH', 'SECRET'], INVALID_PASSWORD],
      [['AUTH', PASSWORD], OK],
      [['SET', 'au:k', '1'], OK],
      [['AUTH', 'wrong'], INVALID_PASSWORD],
      [['GET', 'au:k'], NOAUTH],
      [
        ['AUTH', 'default', 'nope'],
        '-WRONGPASS invalid username-password pair or user is disabled.\r\n',
      ],
      [['AUTH', 'default', PASSWORD], OK],
      [['GET', 'au:k'], bulk('1')],
    ])
    const d = await open(ports.auth)
    const replies = await d.pipeline([
      ['GET', 'au:k'],
      ['AUTH', PASSWORD],
      ['GET', 'au:k'],
      ['PING'],
    ])
    assertBytes(
      Buffer.concat(replies),
      Buffer.concat([NOAUTH, OK, bulk('1'), line('+PONG')]),
      'pipeline',
    )
    const q = await open(ports.auth)
    await q.client.send(Buffer.concat([cmd('QUIT'), cmd('PING')]))
    assertBytes(await q.client.readUntilClose(10_000), OK, 'QUIT before AUTH')
  })

  test('walnut authenticates to password-protected servers; split commands too', async () => {
    const keys = [0, 1].flatMap((s) => keysOn(authed, s, 2, 'au:m'))
    const c = await open(ports.auth)
    await c.expect(['AUTH', PASSWORD], OK)
    await c.expect(['MSET', ...keys.flatMap((k) => [k, `v-${k}`])], OK)
    await c.expect(['MGET', ...keys], bulks(...keys.map((k) => `v-${k}`)))
    await assertLanded(keys, authed, lockedDb0)
    for (const k of keys) assertBytes(await lockedDb3[authed(k)]!.call('EXISTS', k), int(0), k)
  })

  test('redis_db with redis_auth: AUTH before SELECT, data lands in that db (R10)', async () => {
    const keys = [0, 1].flatMap((s) => keysOn(authed, s, 2, 'db:m'))
    const c = await open(ports.authdb)
    await c.expect(['AUTH', PASSWORD], OK)
    await c.expect(['SET', keys[0]!, 'single'], OK)
    await c.expect(['MSET', ...keys.slice(1).flatMap((k) => [k, `v-${k}`])], OK)
    await c.expect(['MGET', ...keys], bulks('single', ...keys.slice(1).map((k) => `v-${k}`)))
    await assertLanded(keys, authed, lockedDb3, 'key in db 3')
    for (const k of keys) {
      for (const d of lockedDb0) assertBytes(await d.call('EXISTS', k), int(0), `${k} not in db 0`)
    }
    assertBytes(await lockedDb3[authed(keys[0]!)]!.call('GET', keys[0]!), bulk('single'), 'db 3')
  })

  test('redis_db with a unix-socket server: SELECT is sent there too (R10)', async () => {
    const c = await open(ports.unixdb)
    await c.expect(['SET', 'ux:k', 'over the socket'], OK)
    await c.expect(['MSET', 'ux:a', '1', 'ux:b', '2'], OK)
    await c.expect(['MGET', 'ux:k', 'ux:a', 'ux:b'], bulks('over the socket', '1', '2'))
    const db2 = await Resp.open(socketed.port, undefined, 2)
    const db0 = await Resp.open(socketed.port)
    opened.push(db2, db0)
    await db2.expect(['GET', 'ux:k'], bulk('over the socket'))
    await db0.expect(['EXISTS', 'ux:k', 'ux:a', 'ux:b'], int(0))
  })
})

describe('data', () => {
  test('the empty key, and binary keys and values (NUL, CRLF, every byte)', async () => {
    const every = Buffer.from(Array.from({ length: 256 }, (_, i) => i))
    const keys: Buffer[] = [
      Buffer.alloc(0),
      Buffer.from('\0'),
      Buffer.from('k\r\ney\0'),
      Buffer.from('*1\r\n$4\r\nPING\r\n'),
      every,
      Buffer.from([0xff, 0xfe, 0x0d]),
    ]
    const value = (i: number) => Buffer.concat([every, Buffer.from(`\r\n${i}\0`)])
    const c = await open()
    for (let i = 0; i < keys.length; i++) await c.expect(['SET', keys[i]!, value(i)], OK)
    for (let i = 0; i < keys.length; i++) await c.expect(['GET', keys[i]!], bulk(value(i)))
    await assertLanded(keys, main, direct, 'binary key')
    // The empty key hashes to 0; here and in MGET/MSET it is routed like any key.
    assertBytes(await direct[main('')]!.call('GET', ''), bulk(value(0)), 'empty key')
    await c.expect(['MGET', ...keys], bulks(...keys.map((_, i) => value(i))))
    await c.expect(['MSET', ...keys.flatMap((k, i) => [k, Buffer.from(`m${i}`)])], OK)
    await c.expect(['MGET', ...keys], bulks(...keys.map((_, i) => `m${i}`)))
    await c.expect(['SET', 'bin:empty', ''], OK)
    await c.expect(['GET', 'bin:empty'], '$0\r\n\r\n')
    await c.expect(['DEL', ...keys], int(keys.length))
  })

  test('16 MiB value byte-identical; MSET/MGET of two 5 MiB values on two servers', async () => {
    const big = randomBytes(16 << 20, 16)
    const c = await open()
    c.timeoutMs = 30_000
    // SET, GET and PING pipelined: the reply after the big one must not be lost.
    await c.client.send(
      Buffer.concat([cmd('SET', 'big:16', big), cmd('GET', 'big:16'), cmd('PING')]),
    )
    const want = Buffer.concat([OK, bulk(big), line('+PONG')])
    assertBytes(await c.client.read(want.length, 30_000), want, '16 MiB')
    assertBytes(await direct[main('big:16')]!.call('STRLEN', 'big:16'), int(16 << 20), 'stored')
    await c.expect(['DEL', 'big:16'], int(1))

    const [k0] = keysOn(main, 0, 1, 'big:a')
    const [k2] = keysOn(main, 2, 1, 'big:b')
    const v0 = randomBytes(5 << 20, 50)
    const v2 = randomBytes(5 << 20, 52)
    await c.expect(['MSET', k0!, v0, k2!, v2], OK)
    await c.client.send(cmd('MGET', k2!, 'big:none', k0!))
    const merged = bulks(v2, null, v0)
    assertBytes(await c.client.read(merged.length, 30_000), merged, 'MGET 2x5 MiB')
    assertBytes(await direct[0]!.call('STRLEN', k0!), int(5 << 20), 'k0 on server 0')
    assertBytes(await direct[2]!.call('STRLEN', k2!), int(5 << 20), 'k2 on server 2')
    await c.expect(['DEL', k0!, k2!], int(2))
  })

  test('LRANGE of 200 000 elements', async () => {
    const n = 200_000
    const items = Array.from({ length: n }, (_, i) => `e${i}`)
    const c = await open()
    for (let i = 0; i < n; i += 50_000) {
      await c.expect(['RPUSH', 'big:list', ...items.slice(i, i + 50_000)], int(i + 50_000))
    }
    const want = bulkArray(items)
    await c.client.send(cmd('LRANGE', 'big:list', '0', '-1'))
    assertBytes(await c.client.read(want.length, 30_000), want, 'LRANGE')
    await c.expect(['LLEN', 'big:list'], int(n))
    await assertLanded(['big:list'], main, direct)
    await c.expect(['DEL', 'big:list'], int(1))
  })
})

test('walnut still answers after all of the above', async () => {
  const c = await connect(ports.main)
  await c.send(cmd('PING'))
  assertBytes(await c.readReply(10_000), '+PONG\r\n', 'PING')
  await c.close()
})
