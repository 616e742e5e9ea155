/**
 * Mainstream redis clients through walnut with their default settings (R7): ioredis 5 and 6,
 * node-redis 4, node-redis 6 (RESP2 asked for explicitly; its RESP3 default is tested with
 * RESP3 support), redis-cli (commands, -n, --pipe, commands on stdin) and redis-benchmark.
 * Each client connects (its handshake: INFO, CLIENT SETINFO, HELLO ...), then does single-key
 * and split commands and pipelines over three real redis-servers; the data is then read from
 * the backends directly, on the server walnut's placement names. ioredis 6 opens with HELLO 3:
 * it works whether walnut answers it with RESP3 or with -NOPROTO (then ioredis falls back).
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { after, before, describe, test } from 'node:test'
import { Redis as IORedis6 } from 'ioredis'
import { Redis as IORedis5 } from 'ioredis5'
import { createClient as createClient6 } from 'redis'
import { commandOptions, createClient as createClient4 } from 'redis4'
import { freePort } from '../helpers/ports.js'
import {
  assertBytes,
  bulk,
  cmd,
  keysOn,
  type Locator,
  locator,
  poolYaml,
  Resp,
  randomBytes,
} from '../helpers/redis.js'
import {
  findBinary,
  type ProxyProc,
  type ServerProc,
  startRedis,
  startWalnut,
} from '../helpers/servers.js'

const PASSWORD = 'pw'

let backends: ServerProc[] = []
let locked: ServerProc
let walnut: ProxyProc
let where: Locator
let direct: Resp[] = []
let port: number
let authPort: number

before(async () => {
  ;[backends, locked] = await Promise.all([
    Promise.all([1, 2, 3].map(() => startRedis())),
    startRedis({ args: ['--requirepass', PASSWORD] }),
  ])
  port = await freePort()
  authPort = await freePort()
  const yaml =
    poolYaml({ name: 'main', port, servers: backends.map((b) => b.port) }) +
    poolYaml({ name: 'auth', port: authPort, servers: [locked.port], redisAuth: PASSWORD })
  ;[walnut, where] = await Promise.all([startWalnut(yaml), locator(yaml, 'main')])
  direct = await Promise.all(backends.map((b) => Resp.open(b.port)))
})

after(async () => {
  for (const d of direct) await d.close()
  await walnut?.stop()
  await Promise.all([...backends, locked].map((b) => b?.stop()))
})

/** Three keys on each server, interleaved, prefixed by the client under test. */
function spread(prefix: string): string[] {
  const per = [0, 1, 2].map((s) => keysOn(where, s, 3, `${prefix}:`))
  return [0, 1, 2].flatMap((i) => per.map((p) => p[i]!))
}

/** Each key holds `value(key)` on the server the placement names (GET straight on it). */
async function assertStored(keys: readonly string[], value: (k: string) => string | Buffer) {
  for (const k of keys) assertBytes(await direct[where(k)]!.call('GET', k), bulk(value(k)), k)
}

const val = (k: string) => `value of ${k}`

/**
 * ioredis 5 and 6 under one type: the API used here is the same in both, and TypeScript
 * cannot call `new` on a union of the two classes.
 */
type IORedis = IORedis5
const IOREDIS: [string, (port: number, options?: { password?: string }) => IORedis][] = [
  ['ioredis 5', (p, o) => new IORedis5(p, '127.0.0.1', o ?? {})],
  ['ioredis 6', (p, o) => new IORedis6(p, '127.0.0.1', o ?? {}) as unknown as IORedis],
]

for (const [name, open] of IOREDIS) {
  const tag = name.replace(' ', '')
  describe(`${name}, default options`, () => {
    test('get/set/mget/mset/del/exists, hashes, buffers, eval, errors', async () => {
      const r = open(port)
      const errors: Error[] = []
      r.on('error', (e: Error) => errors.push(e))
      try {
        assert.equal(await r.ping(), 'PONG')
        const keys = spread(tag)
        assert.equal(await r.set(keys[0]!, 'one'), 'OK')
        assert.equal(await r.get(keys[0]!), 'one')
        assert.equal(await r.mset(Object.fromEntries(keys.map((k) => [k, val(k)]))), 'OK')
        assert.deepEqual(await r.mget(keys[3]!, `${tag}:none`, ...keys), [
          val(keys[3]!),
          null,
          ...keys.map(val),
        ])
        assert.equal(await r.exists(...keys, `${tag}:none`), keys.length)
        await assertStored(keys, val)
        assert.equal(await r.del(keys[0]!, keys[1]!, keys[2]!, `${tag}:none`), 3)
        assert.deepEqual(await r.mget(keys.slice(0, 4)), [null, null, null, val(keys[3]!)])
        assert.equal(await r.incrby(`${tag}:n`, 5), 5)
        assert.equal(await r.hset(`${tag}:h`, { a: '1', b: '2' }), 2)
        assert.deepEqual(await r.hgetall(`${tag}:h`), { a: '1', b: '2' })
        assert.deepEqual(await r.lrange(`${tag}:none`, 0, -1), [])
        const bin = randomBytes(70_000, 5)
        assert.equal(await r.set(`${tag}:bin`, bin), 'OK')
        assert.ok(bin.equals((await r.getBuffer(`${tag}:bin`))!), 'binary value')
        assert.equal(
          await r.eval("return redis.call('set', KEYS[1], ARGV[1])", 1, `${tag}:ev`, 'e'),
          'OK',
        )
        assert.equal(await r.get(`${tag}:ev`), 'e')
        await assert.rejects(r.call('KEYS', '*'), /unsupported command 'KEYS'/)
        assert.equal(await r.get(keys[4]!), val(keys[4]!), 'usable after an error reply')
        const info = await r.info('server')
        assert.match(info, /\r\nredis_version:7\.0\.0\r\n/)
        assert.deepEqual(errors, [])
        assert.equal(await r.quit(), 'OK')
      } finally {
        r.disconnect()
      }
    })

    test('pipelines (explicit and automatic) of 2000 commands over all servers', async () => {
      const r = open(port)
      try {
        // 500 keys, every third on each server (names alone may not spread: fnv1a_64 quirk).
        const per = [0, 1, 2].map((s) => keysOn(where, s, 167, `${tag}:p${s}:`))
        const keys = Array.from({ length: 500 }, (_, i) => per[i % 3]![Math.floor(i / 3)]!)
        const p = r.pipeline()
        for (const k of keys) p.set(k, val(k))
        for (const k of keys) p.get(k)
        for (let i = 0; i < keys.length; i += 5) p.mget(keys.slice(i, i + 5))
        for (const k of keys) p.incr(`${k}:n`)
        for (let i = 0; i < keys.length; i += 2) p.del(keys[i]!, `${keys[i]!}:n`)
        const res = await p.exec()
        assert.ok(res !== null)
        const want: [null, unknown][] = [
          ...keys.map(() => [null, 'OK'] as [null, unknown]),
          ...keys.map((k) => [null, val(k)] as [null, unknown]),
          ...Array.from(
            { length: 100 },
            (_, i) => [null, keys.slice(i * 5, i * 5 + 5).map(val)] as [null, unknown],
          ),
          ...keys.map(() => [null, 1] as [null, unknown]),
          ...Array.from({ length: 250 }, () => [null, 2] as [null, unknown]),
        ]
        assert.deepEqual(res, want)
        // Commands issued in one tick leave as one write (ioredis's pipelining of its queue).
        const got = await Promise.all(keys.map((k) => r.get(k)))
        assert.deepEqual(
          got,
          keys.map((k, i) => (i % 2 === 0 ? null : val(k))),
        )
        const odd = keys.filter((_, i) => i % 2 === 1)
        await assertStored(odd, val)
        assert.ok(new Set(odd.map(where)).size === 3, 'keys on every server')
      } finally {
        r.disconnect()
      }
    })

    test('password option against a pool with redis_auth', async () => {
      const r = open(authPort, { password: PASSWORD })
      const errors: Error[] = []
      r.on('error', (e: Error) => errors.push(e))
      try {
        assert.equal(await r.set(`${tag}:auth`, 'a'), 'OK')
        assert.equal(await r.get(`${tag}:auth`), 'a')
        assert.deepEqual(errors, [])
      } finally {
        r.disconnect()
      }
      const d = await Resp.open(locked.port, PASSWORD)
      assertBytes(await d.call('GET', `${tag}:auth`), bulk('a'), 'on the locked server')
      await d.close()
    })
  })
}

describe('node-redis 4, default options', () => {
  test('get/set/mGet/mSet/del/exists, buffers, Promise.all pipelining, errors', async () => {
    const c = createClient4({ socket: { host: '127.0.0.1', port } })
    const errors: Error[] = []
    c.on('error', (e: Error) => errors.push(e))
    await c.connect()
    try {
      const keys = spread('nr4')
      assert.equal(await c.ping(), 'PONG')
      assert.equal(await c.set(keys[0]!, 'one'), 'OK')
      assert.equal(await c.get(keys[0]!), 'one')
      assert.equal(await c.mSet(keys.map((k) => [k, val(k)] as [string, string])), 'OK')
      assert.deepEqual(await c.mGet([...keys, 'nr4:none']), [...keys.map(val), null])
      assert.equal(await c.exists([...keys, keys[0]!]), keys.length + 1)
      await assertStored(keys, val)
      assert.equal(await c.del([keys[0]!, keys[1]!, 'nr4:none']), 2)
      assert.equal(await c.hSet('nr4:h', { a: '1', b: '2' }), 2)
      assert.deepEqual({ ...(await c.hGetAll('nr4:h')) }, { a: '1', b: '2' })
      const bin = randomBytes(50_000, 4)
      assert.equal(await c.set('nr4:bin', bin), 'OK')
      const back = await c.get(commandOptions({ returnBuffers: true }), 'nr4:bin')
      assert.ok(bin.equals(back!), 'binary value')
      // Commands sent in one tick are pipelined in one write.
      const many = Array.from({ length: 1000 }, (_, i) => `nr4:p${i}`)
      const sets = await Promise.all(many.map((k) => c.set(k, val(k))))
      assert.ok(sets.every((s) => s === 'OK'))
      const gets = await Promise.all([
        ...many.map((k) => c.get(k)),
        c.mGet(many.slice(0, 50)),
        c.incr('nr4:n'),
      ])
      assert.deepEqual(gets, [...many.map(val), many.slice(0, 50).map(val), 1])
      await assertStored(many, val)
      await assert.rejects(c.sendCommand(['KEYS', '*']), /unsupported command 'KEYS'/)
      assert.equal(await c.get(keys[2]!), val(keys[2]!))
      assert.deepEqual(errors, [])
    } finally {
      await c.quit()
    }
  })
})

describe('node-redis 6, RESP2', () => {
  test('HELLO 2 handshake, get/set/mGet/mSet/del/exists, Promise.all pipelining', async () => {
    const c = createClient6({ RESP: 2, socket: { host: '127.0.0.1', port } })
    const errors: Error[] = []
    c.on('error', (e: Error) => errors.push(e))
    await c.connect()
    try {
      const keys = spread('nr6')
      assert.equal(await c.ping(), 'PONG')
      assert.equal(await c.set(keys[0]!, 'one'), 'OK')
      assert.equal(await c.get(keys[0]!), 'one')
      assert.equal(await c.mSet(keys.map((k) => [k, val(k)] as [string, string])), 'OK')
      assert.deepEqual(await c.mGet([...keys, 'nr6:none']), [...keys.map(val), null])
      assert.equal(await c.exists([...keys, 'nr6:none']), keys.length)
      await assertStored(keys, val)
      assert.equal(await c.del([keys[0]!, keys[1]!, 'nr6:none']), 2)
      assert.equal(await c.hSet('nr6:h', { a: '1', b: '2' }), 2)
      assert.deepEqual({ ...(await c.hGetAll('nr6:h')) }, { a: '1', b: '2' })
      const many = Array.from({ length: 1000 }, (_, i) => `nr6:p${i}`)
      const sets = await Promise.all(many.map((k) => c.set(k, val(k))))
      assert.ok(sets.every((s) => s === 'OK'))
      const gets = await Promise.all([...many.map((k) => c.get(k)), c.mGet(many.slice(0, 50))])
      assert.deepEqual(gets, [...many.map(val), many.slice(0, 50).map(val)])
      await assertStored(many, val)
      await assert.rejects(c.sendCommand(['KEYS', '*']), /unsupported command 'KEYS'/)
      assert.equal(await c.get(keys[2]!), val(keys[2]!))
      assert.deepEqual(errors, [])
    } finally {
      c.destroy()
    }
  })

  test('password option (HELLO 2 AUTH) against a pool with redis_auth', async () => {
    const c = createClient6({
      RESP: 2,
      password: PASSWORD,
      socket: { host: '127.0.0.1', port: authPort },
    })
    await c.connect()
    try {
      assert.equal(await c.set('nr6:auth', 'b'), 'OK')
      assert.equal(await c.get('nr6:auth'), 'b')
    } finally {
      c.destroy()
    }
  })
})

// ---------------------------------------------------------------------------------------------
// Command-line tools

interface ToolResult {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs a redis tool to completion with `input` on stdin; killed after `timeoutMs`. */
function tool(
  name: string,
  args: readonly string[],
  input: string | Buffer = '',
  timeoutMs = 30_000,
): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(findBinary(name), args, { stdio: ['pipe', 'pipe', 'pipe'] })
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout.on('data', (c: Buffer) => out.push(c))
    child.stderr.on('data', (c: Buffer) => err.push(c))
    child.stdin.on('error', () => {})
    child.stdin.end(input)
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`${name} ${args.join(' ')}: no exit within ${timeoutMs} ms`))
    }, timeoutMs)
    child.once('error', reject)
    child.once('close', (code) => {
      clearTimeout(timer)
      resolve({
        code,
        stdout: Buffer.concat(out).toString('latin1'),
        stderr: Buffer.concat(err).toString('latin1'),
      })
    })
  })
}

const cli = (args: readonly string[], input?: string | Buffer) =>
  tool('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], input)

describe('redis-cli', () => {
  test('commands as arguments, -n 0, and -n 1 refused', async () => {
    assert.deepEqual(await cli(['SET', 'cli:k', 'a b']), { code: 0, stdout: 'OK\n', stderr: '' })
    assert.deepEqual(await cli(['-n', '0', 'GET', 'cli:k']), {
      code: 0,
      stdout: 'a b\n',
      stderr: '',
    })
    assert.deepEqual(await cli(['MGET', 'cli:k', 'cli:none', 'cli:k']), {
      code: 0,
      stdout: 'a b\n\na b\n',
      stderr: '',
    })
    assert.deepEqual(await cli(['PING']), { code: 0, stdout: 'PONG\n', stderr: '' })
    const one = await cli(['-n', '1', 'PING'])
    assert.equal(one.stderr, 'SELECT 1 failed: ERR DB index is out of range\n')
    assertBytes(await direct[where('cli:k')]!.call('GET', 'cli:k'), bulk('a b'), 'cli:k')
  })

  test('commands typed on stdin, quoted as in the interactive shell', async () => {
    const r = await cli(
      [],
      'SET cli:in "x y\\nz"\nGET cli:in\nincr cli:cnt\n  INCR cli:cnt\nmget cli:in cli:cnt\n',
    )
    assert.deepEqual(r, { code: 0, stdout: 'OK\nx y\nz\n1\n2\nx y\nz\n2\n', stderr: '' })
    assertBytes(await direct[where('cli:in')]!.call('GET', 'cli:in'), bulk('x y\nz'), 'cli:in')
  })

  test('--pipe mass insertion of 10 000 keys', async () => {
    const keys = Array.from({ length: 10_000 }, (_, i) => `pipe:${i}`)
    const input = Buffer.concat(keys.map((k) => cmd('SET', k, `v${k}`)))
    const r = await cli(['--pipe'], input)
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /\nerrors: 0, replies: 10000\n$/)
    const counts = [0, 1, 2].map(() => [] as string[])
    for (const k of keys) counts[where(k)]!.push(k)
    for (let s = 0; s < 3; s++) {
      assert.ok(counts[s]!.length > 0, `keys on server ${s}`)
      const got = await direct[s]!.pipeline(counts[s]!.map((k) => ['GET', k]))
      got.forEach((g, i) => {
        assertBytes(g, bulk(`v${counts[s]![i]!}`), counts[s]![i]!)
      })
    }
  })
})

describe('redis-benchmark', () => {
  for (const pipeline of ['1', '16']) {
    test(`-t get,set -n 20000 -c 20 -P ${pipeline}`, async () => {
      const r = await tool('redis-benchmark', [
        ...['-h', '127.0.0.1', '-p', String(port)],
        ...['-t', 'get,set', '-n', '20000', '-c', '20', '-P', pipeline, '-q'],
      ])
      assert.equal(r.code, 0, r.stderr)
      const text = r.stdout.replace(/\r/g, '\n')
      for (const name of ['SET', 'GET']) {
        const m = new RegExp(`(?:^|\\n)\\s*${name}: ([0-9.]+) requests per second`).exec(text)
        assert.ok(m !== null, `${name} result in ${JSON.stringify(text.slice(-300))}`)
        assert.ok(Number(m[1]) > 0, `${name}: ${m[1]} rps`)
      }
      // SET wrote redis-benchmark's one key, on the server the placement names.
      const key = 'key:__rand_int__'
      assertBytes(await direct[where(key)]!.call('STRLEN', key), ':3\r\n', key)
      for (let s = 0; s < 3; s++) {
        if (s !== where(key)) assertBytes(await direct[s]!.call('EXISTS', key), ':0\r\n', `${s}`)
      }
    })
  }
})
