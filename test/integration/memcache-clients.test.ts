/**
 * Mainstream memcached clients through walnut (2 real memcached behind it): python3 pymemcache
 * (Debian python3-pymemcache, run as a child process), the npm `memcached` client, and
 * libmemcached-tools (Debian names memccp / memccat / memcslap; upstream memcp / memcat /
 * memcslap), all on the text protocol. What the clients report is checked exactly, and what
 * they stored is read back raw through walnut and straight from the backend walnut's
 * placement names. Clients' `stats`/`flush_all` calls are refused by design (M1) and not used.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import {
  b,
  Direct,
  exchange,
  expectBytes,
  getReply,
  locate,
  poolsYaml,
  prng,
  serverLine,
  valueItem,
} from '../helpers/memcache.js'
import { freePort } from '../helpers/ports.js'
import {
  connect,
  findBinary,
  type ProxyProc,
  type ServerProc,
  startMemcached,
  startWalnut,
  statsDocument,
} from '../helpers/servers.js'
import { REPO_ROOT } from '../helpers/shared.js'

let mcs: ServerProc[] = []
let walnut: ProxyProc
let direct: Direct
let dir: string

before(async () => {
  mcs = await Promise.all([startMemcached(), startMemcached()])
  const port = await freePort()
  walnut = await startWalnut(
    poolsYaml([
      {
        name: 'clients',
        listen: `127.0.0.1:${port}`,
        servers: mcs.map((s) => serverLine(s)),
        extra: { timeout: 5000 },
      },
    ]),
  )
  direct = await Direct.open(mcs)
  dir = mkdtempSync(join(tmpdir(), 'walnut-mc-clients-'))
})

after(async () => {
  await direct?.close()
  await walnut?.stop()
  await Promise.all(mcs.map((m) => m.stop()))
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
})

interface Ran {
  code: number
  stdout: Buffer
  stderr: string
}

/** Runs a program to completion (killed after `timeoutMs`). */
function run(cmd: string, args: readonly string[], timeoutMs = 20_000): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      { cwd: dir, timeout: timeoutMs, encoding: 'buffer', maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1
        resolve({ code, stdout, stderr: stderr.toString('utf8') })
      },
    )
  })
}

/** The first of `names` found on PATH or in the sbin dirs (Debian renames some tools). */
function tool(...names: string[]): string {
  for (const n of names) {
    try {
      return findBinary(n)
    } catch {}
  }
  throw new Error(
    `none of ${names.join(', ')} installed; scripts/test.sh installs libmemcached-tools`,
  )
}

/** The raw value of `key` through walnut and on the backend walnut places it on: must agree. */
async function storedBytes(key: string, flags: number, data: Buffer): Promise<void> {
  const [s] = await locate(walnut.configPath, [b(key)])
  const want = getReply([valueItem(key, data, flags)])
  const c = await connect(walnut.port)
  await exchange(c, `get ${key}\r\n`, want, `${key} through walnut`, 5000)
  await c.close()
  expectBytes(await direct.call(s!, `get ${key}\r\n`), want, `${key} on server ${s}`)
  const other = 1 - s!
  expectBytes(await direct.call(other, `get ${key}\r\n`), b('END\r\n'), `${key} not on ${other}`)
}

/** Sum of one counter of `stats` over the backends. */
async function backendStat(name: string): Promise<number> {
  let sum = 0
  for (let s = 0; s < mcs.length; s++) {
    const text = (await direct.call(s, 'stats\r\n')).toString('latin1')
    const m = new RegExp(`\r\nSTAT ${name} ([0-9]+)\r\n`).exec(text)
    assert.ok(m !== null, `no ${name} in stats of server ${s}`)
    sum += Number(m[1])
  }
  return sum
}

/** walnut's stats document for the pool. */
async function poolStats(): Promise<Record<string, unknown>> {
  return (await statsDocument(walnut.statsPort)).clients as Record<string, unknown>
}

describe('python3 pymemcache', () => {
  /** A python3 that can import pymemcache: Debian's /usr/bin/python3 first (pyenv shims lack it). */
  async function python(): Promise<string> {
    for (const p of ['/usr/bin/python3', 'python3']) {
      const r = await run(p, ['-c', 'import pymemcache'])
      if (r.code === 0) return p
    }
    throw new Error('no python3 with pymemcache; scripts/test.sh installs python3-pymemcache')
  }

  test('set/get/get_many/delete/incr/decr/gets/cas/add/replace/append/prepend/touch', async () => {
    const script = `
import json, sys
from pymemcache.client.base import Client
c = Client(('127.0.0.1', int(sys.argv[1])), connect_timeout=5, timeout=5)
r = []
blob = bytes(range(256)) + b'\\r\\nEND\\r\\n'
r.append(c.set('py:a', b'hello\\r\\nworld', noreply=False))
r.append(c.get('py:a').hex())
r.append(c.set('py:blob', blob, noreply=False))
r.append(c.get('py:blob') == blob)
r.append(c.set('py:quiet', b'q'))  # pymemcache's default: noreply
r.append(c.get('py:quiet').hex())
many = c.get_many(['py:a', 'py:missing', 'py:blob', 'py:a'])
r.append(sorted((k, v.hex()) for k, v in many.items()))
r.append(c.set('py:n', b'10', noreply=False))
r.append([c.incr('py:n', 5), c.decr('py:n', 3), c.incr('py:missing', 1)])
v, cas = c.gets('py:a')
r.append(v.hex())
r.append([c.cas('py:a', b'new', cas, noreply=False), c.cas('py:a', b'newer', cas, noreply=False)])
r.append(c.cas('py:nothere', b'x', b'1', noreply=False))
r.append([c.add('py:a', b'x', noreply=False), c.add('py:b', b'added', noreply=False)])
r.append([c.replace('py:c', b'x', noreply=False), c.replace('py:b', b'replaced', noreply=False)])
r.append([c.append('py:b', b'+', noreply=False), c.prepend('py:b', b'-', noreply=False)])
r.append([c.touch('py:b', 100, noreply=False), c.touch('py:none', 100, noreply=False)])
r.append([c.delete('py:a', noreply=False), c.delete('py:a', noreply=False), c.get('py:a')])
r.append(c.version().decode())
c.close()
print(json.dumps(r))
`
    const py = await python()
    writeFileSync(join(dir, 'client.py'), script)
    const r = await run(py, ['client.py', String(walnut.port)])
    assert.equal(r.code, 0, r.stderr)
    const hex = (s: string) => b(s).toString('hex')
    const blob = Buffer.concat([
      Buffer.from(Array.from({ length: 256 }, (_, i) => i)),
      b('\r\nEND\r\n'),
    ])
    const version = (await direct.call(0, 'version\r\n')).toString('latin1').slice(8, -2)
    assert.deepEqual(JSON.parse(r.stdout.toString('utf8')), [
      true,
      hex('hello\r\nworld'),
      true,
      true,
      true,
      hex('q'),
      [
        ['py:a', hex('hello\r\nworld')],
        ['py:blob', blob.toString('hex')],
      ],
      true,
      [15, 12, null],
      hex('hello\r\nworld'),
      [true, false],
      null,
      [false, true],
      [false, true],
      [true, true],
      [true, false],
      [true, false, null],
      version,
    ])
    await storedBytes('py:blob', 0, blob)
    await storedBytes('py:b', 0, b('-replaced+'))
    await storedBytes('py:n', 0, b('12'))
  })
})

describe('npm memcached', () => {
  interface MemcachedClient {
    set(
      key: string,
      value: unknown,
      lifetime: number,
      cb: (err: unknown, ok: boolean) => void,
    ): void
    get(key: string, cb: (err: unknown, value: unknown) => void): void
    getMulti(keys: string[], cb: (err: unknown, values: Record<string, unknown>) => void): void
    del(key: string, cb: (err: unknown, ok: boolean) => void): void
    end(): void
  }
  type MemcachedCtor = new (servers: string, options: Record<string, unknown>) => MemcachedClient
  const require = createRequire(join(REPO_ROOT, 'package.json'))

  const call = <T>(f: (cb: (err: unknown, v: T) => void) => void) =>
    new Promise<T>((resolve, reject) => f((err, v) => (err ? reject(err) : resolve(v))))

  test('set/get/getMulti/del, strings, JSON and a 200 kB value', async () => {
    const Memcached = require('memcached') as MemcachedCtor
    const m = new Memcached(`127.0.0.1:${walnut.port}`, { retries: 0, timeout: 5000 })
    try {
      const big = 'x'.repeat(200_000)
      const keys = Array.from({ length: 30 }, (_, i) => `npm:${i}:key`)
      assert.equal(await call<boolean>((cb) => m.set('npm:s', 'hello world', 100, cb)), true)
      assert.equal(await call<boolean>((cb) => m.set('npm:j', { a: [1, 'two'] }, 100, cb)), true)
      assert.equal(await call<boolean>((cb) => m.set('npm:big', big, 100, cb)), true)
      for (const [i, k] of keys.entries()) {
        assert.equal(await call<boolean>((cb) => m.set(k, `value ${i}`, 100, cb)), true)
      }
      assert.equal(await call((cb) => m.get('npm:s', cb)), 'hello world')
      assert.deepEqual(await call((cb) => m.get('npm:j', cb)), { a: [1, 'two'] })
      assert.equal(await call((cb) => m.get('npm:big', cb)), big)
      assert.equal(await call((cb) => m.get('npm:missing', cb)), undefined)
      const many = await call<Record<string, unknown>>((cb) =>
        m.getMulti([...keys, 'npm:s', 'npm:j', 'npm:missing'], cb),
      )
      const want: Record<string, unknown> = { 'npm:s': 'hello world', 'npm:j': { a: [1, 'two'] } }
      for (const [i, k] of keys.entries()) want[k] = `value ${i}`
      assert.deepEqual(many, want)
      assert.equal(await call<boolean>((cb) => m.del('npm:s', cb)), true)
      assert.equal(await call((cb) => m.get('npm:s', cb)), undefined)
    } finally {
      m.end()
    }
    // the client's own flags: 0 for a string, 2 for JSON (memcached's FLAG_JSON)
    await storedBytes('npm:big', 0, b('x'.repeat(200_000)))
    await storedBytes('npm:j', 2, b(JSON.stringify({ a: [1, 'two'] })))
    await storedBytes('npm:7:key', 0, b('value 7'))
  })
})

describe('libmemcached-tools', () => {
  test('memcp stores a binary file, memcat reads it back', async () => {
    const memcp = tool('memccp', 'memcp')
    const memcat = tool('memccat', 'memcat')
    const rnd = prng(5)
    const data = Buffer.alloc(300_000)
    for (let i = 0; i < data.length; i++) data[i] = i < 256 ? i : Math.floor(rnd() * 256)
    b('\r\nEND\r\n').copy(data, 1000)
    writeFileSync(join(dir, 'blob.bin'), data)
    const servers = `--servers=127.0.0.1:${walnut.port}`
    const cp = await run(memcp, [servers, 'blob.bin'])
    assert.equal(cp.code, 0, `memcp: ${cp.stderr}`)
    await storedBytes('blob.bin', 0, data)
    const cat = await run(memcat, [servers, '--file=out.bin', 'blob.bin'])
    assert.equal(cat.code, 0, `memcat: ${cat.stderr}`)
    expectBytes(readFileSync(join(dir, 'out.bin')), data, 'memcat --file')
    // to stdout memcat adds a newline after the value
    const cat2 = await run(memcat, [servers, 'blob.bin'])
    assert.equal(cat2.code, 0, `memcat: ${cat2.stderr}`)
    expectBytes(cat2.stdout, Buffer.concat([data, b('\n')]), 'memcat to stdout')
  })

  test('memcslap: 4 threads x 2000 sets, then gets, all through walnut', async () => {
    const memcslap = tool('memcslap', 'memslap')
    const servers = `--servers=127.0.0.1:${walnut.port}`
    // memcslap speaks the text protocol unless -b: walnut would answer binary with an error
    const sets0 = await backendStat('cmd_set')
    const r = await run(memcslap, [servers, '--execute-number=2000', '--concurrency=4'], 60_000)
    assert.equal(r.code, 0, `memcslap: ${r.stderr}${r.stdout.toString()}`)
    assert.match(r.stdout.toString(), /Time to set +8000 keys by +4 threads/)
    assert.equal((await backendStat('cmd_set')) - sets0, 8000, 'sets that reached the backends')

    const hits0 = await backendStat('get_hits')
    const misses0 = await backendStat('get_misses')
    const g = await run(
      memcslap,
      [servers, '--execute-number=2000', '--concurrency=4', '--test=get'],
      60_000,
    )
    assert.equal(g.code, 0, `memcslap get: ${g.stderr}${g.stdout.toString()}`)
    assert.match(g.stdout.toString(), /Time to get +8000 keys by +4 threads/)
    assert.equal((await backendStat('get_hits')) - hits0, 8000, 'gets that hit')
    assert.equal((await backendStat('get_misses')) - misses0, 0, 'gets that missed')

    const stats = await poolStats()
    assert.equal(stats.client_err, 0, JSON.stringify(stats))
    assert.equal(stats.forward_error, 0, JSON.stringify(stats))
  })
})
