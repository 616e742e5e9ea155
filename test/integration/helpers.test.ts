/**
 * Tests of the integration-test helpers themselves (test/helpers/ports.ts, servers.ts): the
 * byte-exact client framing, real redis-server / memcached / nutcracker start and stop, and
 * nutcracker as the reference proxy over both protocols. If these fail, every other
 * integration test is suspect.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, readFileSync } from 'node:fs'
import { createServer, type Server, type Socket } from 'node:net'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { freePort, waitForPort } from '../helpers/ports.js'
import {
  connect,
  listenAddrs,
  mcReplyEnd,
  respReplyEnd,
  runWalnut,
  STOP_GRACE_MS,
  StartError,
  startMemcached,
  startNutcracker,
  startRedis,
  startWalnut,
} from '../helpers/servers.js'
import { REPO_ROOT } from '../helpers/shared.js'

const b = (s: string) => Buffer.from(s, 'latin1')

/** True while `pid` runs (a zombie, killed but not yet reaped by its new parent, is dead). */
function isAlive(pid: number): boolean {
  let stat: string
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1')
  } catch {
    return false
  }
  // state is the field after "(comm)"
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
}

/** An in-process TCP server that runs `script` on each connection. */
async function scripted(script: (s: Socket) => void | Promise<void>): Promise<Server> {
  const srv = createServer((s) => {
    s.on('error', () => {})
    void script(s)
  })
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  return srv
}

function portOf(srv: Server): number {
  const a = srv.address()
  assert.ok(a !== null && typeof a === 'object')
  return a.port
}

/** Writes `bytes` one byte per write, with a tick between, so every boundary is a chunk edge. */
async function dribble(s: Socket, bytes: Buffer): Promise<void> {
  for (let i = 0; i < bytes.length; i++) {
    s.write(bytes.subarray(i, i + 1))
    await new Promise((r) => setImmediate(r))
  }
}

/** One reply of each RESP2/RESP3 kind, including nesting and bulk data holding CRLF. */
const resp = [
  '+OK\r\n',
  '-ERR unknown command\r\n',
  ':-42\r\n',
  '$3\r\nbar\r\n',
  '$-1\r\n',
  '$0\r\n\r\n',
  '$4\r\na\r\nb\r\n',
  '*-1\r\n',
  '*0\r\n',
  '*2\r\n*2\r\n$1\r\na\r\n:1\r\n*1\r\n$-1\r\n',
  '%1\r\n+k\r\n~2\r\n,1.5\r\n#t\r\n',
  '|1\r\n+ttl\r\n:3\r\n$1\r\nv\r\n',
  '>2\r\n+message\r\n=7\r\ntxt:abc\r\n',
  '_\r\n',
  '(12345678901234567890\r\n',
  '!3\r\nERR\r\n',
]

describe('ports', () => {
  test('freePort returns a port that can be listened on', async () => {
    const port = await freePort()
    assert.ok(Number.isInteger(port) && port > 0 && port < 65536, `port ${port}`)
    const srv = createServer()
    await new Promise<void>((r) => srv.listen(port, '127.0.0.1', r))
    await waitForPort(port, '127.0.0.1', 1000)
    await new Promise((r) => srv.close(r))
  })

  test('waitForPort rejects after its timeout when nothing listens', async () => {
    const port = await freePort()
    const t0 = Date.now()
    await assert.rejects(waitForPort(port, '127.0.0.1', 200), {
      message: `waitForPort 127.0.0.1:${port}: nothing accepted within 200 ms`,
    })
    assert.ok(Date.now() - t0 < 1500)
  })
})

describe('reply framing', () => {
  test('respReplyEnd frames every RESP2/RESP3 type and is -1 on every proper prefix', () => {
    for (const r of resp) {
      const buf = b(r)
      assert.equal(respReplyEnd(buf, 0), buf.length, r)
      assert.equal(respReplyEnd(Buffer.concat([buf, b('+NEXT\r\n')]), 0), buf.length, r)
      for (let i = 0; i < buf.length; i++) assert.equal(respReplyEnd(buf.subarray(0, i), 0), -1, r)
    }
    assert.throws(() => respReplyEnd(b('hello\r\n')), /unexpected type byte/)
    assert.throws(() => respReplyEnd(b('$3\r\nbarX\r\n')), /not followed by CRLF/)
    assert.throws(() => respReplyEnd(b('*x\r\n')), /bad length/)
  })

  const mc = [
    'STORED\r\n',
    'END\r\n',
    'VALUE foo 5 3\r\nbar\r\nEND\r\n',
    'VALUE a 0 4 17\r\nx\r\ny\r\nVALUE b 1 0 18\r\n\r\nEND\r\n',
    'STAT pid 1\r\nSTAT uptime 2\r\nEND\r\n',
    'VA 2 f0\r\nhi\r\n',
    'SERVER_ERROR out of memory\r\n',
    '12\r\n',
  ]

  test('mcReplyEnd frames VALUE/STAT blocks and lines and is -1 on every proper prefix', () => {
    for (const r of mc) {
      const buf = b(r)
      assert.equal(mcReplyEnd(buf, 0), buf.length, r)
      assert.equal(mcReplyEnd(Buffer.concat([buf, b('STORED\r\n')]), 0), buf.length, r)
      for (let i = 0; i < buf.length; i++) assert.equal(mcReplyEnd(buf.subarray(0, i), 0), -1, r)
    }
    assert.throws(() => mcReplyEnd(b('VALUE k 0 2\r\nabc\r\nEND\r\n')), /not followed by CRLF/)
    assert.throws(() => mcReplyEnd(b('VALUE k 0 1\r\na\r\nSTORED\r\n')), /expected VALUE or END/)
  })
})

describe('client', () => {
  test('readReplies returns exact bytes of pipelined replies sent one byte at a time', async (t) => {
    const wire = resp.join('')
    const srv = await scripted((s) => dribble(s, b(wire)))
    t.after(() => srv.close())
    const c = await connect(portOf(srv))
    const got = await c.readReplies(resp.length, 10_000)
    assert.deepEqual(
      got.map((g) => g.toString('latin1')),
      resp,
    )
    assert.equal(c.buffered().length, 0)
    await c.close()
  })

  test('readMcReply, read(n), read(predicate), drain, readUntilClose and closed', async (t) => {
    const wire = 'VALUE a 0 4\r\nx\r\ny\r\nEND\r\nSTORED\r\nabcdefgh'
    const srv = await scripted(async (s) => {
      await dribble(s, b(wire))
      s.once('data', (d) => {
        s.end(Buffer.concat([b('echo:'), d]))
      })
    })
    t.after(() => srv.close())
    const c = await connect(portOf(srv))
    assert.equal((await c.readMcReply()).toString('latin1'), 'VALUE a 0 4\r\nx\r\ny\r\nEND\r\n')
    assert.equal((await c.readMcReply()).toString('latin1'), 'STORED\r\n')
    assert.equal((await c.read(3)).toString('latin1'), 'abc')
    const upToF = (buf: Buffer) => {
      const i = buf.indexOf('f')
      return i < 0 ? false : i + 1
    }
    assert.equal((await c.read(upToF)).toString('latin1'), 'def')
    assert.equal((await c.read(2)).toString('latin1'), 'gh')
    assert.equal((await c.drain(30)).length, 0)
    await c.send('ping')
    assert.equal((await c.readUntilClose()).toString('latin1'), 'echo:ping')
    assert.equal(c.ended, true)
    await c.closed
  })

  test('a read that cannot complete times out or fails on close, with what was buffered', async (t) => {
    const srv = await scripted((s) => {
      s.write('+PAR')
      setTimeout(() => s.end(), 300)
    })
    t.after(() => srv.close())
    const c = await connect(portOf(srv))
    await assert.rejects(c.readReply(100), {
      message:
        'client: timed out after 100 ms waiting for a complete reply; buffered 4 bytes: "+PAR"',
    })
    await assert.rejects(c.read(10, 2000), {
      message: 'client: connection closed while waiting for 10 bytes; buffered 4 bytes: "+PAR"',
    })
    await c.close()
  })

  test('connect to a port where nothing listens rejects', async () => {
    const port = await freePort()
    await assert.rejects(connect(port), { code: 'ECONNREFUSED' })
  })
})

describe('listenAddrs', () => {
  test('reads TCP listen lines, skips unix sockets, maps wildcard hosts to 127.0.0.1', () => {
    const yaml = [
      'a:',
      '  listen: 127.0.0.1:22121',
      'b:',
      '  servers:',
      '   - 127.0.0.1:6379:1',
      '  listen: "0.0.0.0:22122"   # comment',
      'c:',
      '  listen: /tmp/walnut.sock 0666',
      'd:',
      '  listen: localhost:22123',
    ].join('\n')
    assert.deepEqual(listenAddrs(yaml), [
      { host: '127.0.0.1', port: 22121 },
      { host: '127.0.0.1', port: 22122 },
      { host: 'localhost', port: 22123 },
    ])
  })
})

describe('redis-server and memcached', () => {
  test('startRedis answers exact RESP bytes, takes extra args, stop() leaves nothing behind', async () => {
    const r = await startRedis({ args: ['--maxmemory', '1mb'] })
    assert.equal(r.host, '127.0.0.1')
    const c = await connect(r.port)
    await c.send('*3\r\n$3\r\nSET\r\n$3\r\nfoo\r\n$3\r\nbar\r\n*2\r\n$3\r\nGET\r\n$3\r\nfoo\r\n')
    assert.deepEqual(
      (await c.readReplies(2)).map((x) => x.toString('latin1')),
      ['+OK\r\n', '$3\r\nbar\r\n'],
    )
    await c.send('CONFIG GET maxmemory\r\n')
    assert.equal(
      (await c.readReply()).toString('latin1'),
      '*2\r\n$9\r\nmaxmemory\r\n$7\r\n1048576\r\n',
    )
    await c.close()
    assert.ok(isAlive(r.pid))
    await r.stop()
    assert.equal(isAlive(r.pid), false)
    assert.equal(existsSync(r.dir), false)
    assert.deepEqual(r.exitInfo, { code: 0, signal: null })
    await r.stop() // idempotent
  })

  test('startRedis with a port in use fails with the server output, without retrying', async () => {
    const r = await startRedis()
    try {
      await assert.rejects(startRedis({ port: r.port }), (e: unknown) => {
        assert.ok(e instanceof StartError)
        assert.match(e.message, /redis-server exited \(code 1\) before answering INFO/)
        assert.match(e.message, /Address already in use/)
        return true
      })
    } finally {
      await r.stop()
    }
  })

  test('stop() escalates to SIGKILL after the grace period', async () => {
    const r = await startRedis()
    assert.equal(r.kill('SIGSTOP'), true) // a stopped process cannot act on SIGTERM
    const t0 = Date.now()
    await r.stop()
    const took = Date.now() - t0
    assert.deepEqual(r.exitInfo, { code: null, signal: 'SIGKILL' })
    assert.ok(took >= STOP_GRACE_MS - 50 && took < STOP_GRACE_MS + 3000, `took ${took} ms`)
    assert.equal(r.kill('SIGTERM'), false)
  })

  test('startMemcached answers exact memcache bytes', async () => {
    const m = await startMemcached({ args: ['-m', '8'] })
    const c = await connect(m.port, m.host)
    await c.send('set foo 5 0 3\r\nbar\r\nget foo nokey\r\n')
    assert.equal((await c.readMcReply()).toString('latin1'), 'STORED\r\n')
    assert.equal((await c.readMcReply()).toString('latin1'), 'VALUE foo 5 3\r\nbar\r\nEND\r\n')
    await c.send('stats settings\r\n')
    const settings = (await c.readMcReply()).toString('latin1')
    assert.ok(settings.startsWith('STAT maxbytes 8388608\r\n'), settings)
    assert.ok(settings.endsWith('\r\nEND\r\n'), settings)
    await c.close()
    await m.stop()
    assert.equal(isAlive(m.pid), false)
  })
})

describe('cleanup when the test process ends', () => {
  // A child node process starts redis-server and memcached and then ends without stop().
  const script = (end: string) => `
    const m = await import(${JSON.stringify(join(REPO_ROOT, 'dist/test/helpers/servers.js'))})
    const r = await m.startRedis()
    const mc = await m.startMemcached()
    process.stderr.write(JSON.stringify({ pids: [r.pid, mc.pid], dirs: [r.dir, mc.dir] }) + '\\n')
    ${end}
  `

  for (const [how, end, signal] of [
    ['process.exit()', 'process.exit(0)', null],
    ['SIGTERM', 'setInterval(() => {}, 1000)', 'SIGTERM'],
  ] as const) {
    test(`servers left running are killed and their dirs removed on ${how}`, async () => {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script(end)], {
        stdio: ['ignore', 'ignore', 'pipe'],
      })
      let err = ''
      child.stderr.on('data', (c: Buffer) => {
        err += c.toString()
        if (signal !== null && err.includes('\n')) child.kill(signal)
      })
      const [code, sig] = (await once(child, 'close')) as [number | null, string | null]
      assert.deepEqual([code, sig], signal === null ? [0, null] : [null, signal], err)
      const { pids, dirs } = JSON.parse(err.split('\n')[0] ?? '') as {
        pids: number[]
        dirs: string[]
      }
      for (const pid of pids) assert.equal(isAlive(pid), false, `pid ${pid} still running`)
      for (const dir of dirs) assert.equal(existsSync(dir), false, `${dir} left behind`)
    })
  }
})

describe('nutcracker as the reference proxy', () => {
  let redis: Awaited<ReturnType<typeof startRedis>>
  let mc: Awaited<ReturnType<typeof startMemcached>>
  let nc: Awaited<ReturnType<typeof startNutcracker>>
  let redisListen = 0
  let mcListen = 0

  before(async () => {
    ;[redis, mc] = await Promise.all([startRedis(), startMemcached()])
    redisListen = await freePort()
    mcListen = await freePort()
    const yaml = [
      'walnut_test_redis:',
      `  listen: 127.0.0.1:${redisListen}`,
      '  redis: true',
      '  hash: fnv1a_64',
      '  distribution: ketama',
      '  timeout: 2000',
      '  servers:',
      `   - 127.0.0.1:${redis.port}:1`,
      'walnut_test_mc:',
      `  listen: 127.0.0.1:${mcListen}`,
      '  timeout: 2000',
      '  servers:',
      `   - 127.0.0.1:${mc.port}:1`,
      '',
    ].join('\n')
    nc = await startNutcracker(yaml)
  })

  after(async () => {
    await Promise.all([nc?.stop(), redis?.stop(), mc?.stop()])
  })

  test('waits for both pool ports and the stats port', () => {
    assert.deepEqual(nc.ports, [redisListen, mcListen])
    assert.equal(nc.port, redisListen)
    assert.ok(nc.statsPort > 0)
  })

  test('redis SET/GET through nutcracker: exact bytes, value lands on the backend', async () => {
    const c = await connect(redisListen)
    await c.send('*3\r\n$3\r\nSET\r\n$3\r\nfoo\r\n$3\r\nbar\r\n')
    assert.equal((await c.readReply()).toString('latin1'), '+OK\r\n')
    await c.send('*2\r\n$3\r\nGET\r\n$3\r\nfoo\r\n')
    assert.equal((await c.readReply()).toString('latin1'), '$3\r\nbar\r\n')
    await c.close()
    const direct = await connect(redis.port)
    await direct.send('*2\r\n$3\r\nGET\r\n$3\r\nfoo\r\n')
    assert.equal((await direct.readReply()).toString('latin1'), '$3\r\nbar\r\n')
    await direct.close()
  })

  test('memcache set/get through nutcracker: exact bytes, value lands on the backend', async () => {
    const c = await connect(mcListen)
    await c.send('set foo 7 0 3\r\nbaz\r\n')
    assert.equal((await c.readMcReply()).toString('latin1'), 'STORED\r\n')
    await c.send('get foo\r\n')
    assert.equal((await c.readMcReply()).toString('latin1'), 'VALUE foo 7 3\r\nbaz\r\nEND\r\n')
    await c.close()
    const direct = await connect(mc.port)
    await direct.send('get foo\r\n')
    assert.equal((await direct.readMcReply()).toString('latin1'), 'VALUE foo 7 3\r\nbaz\r\nEND\r\n')
    await direct.close()
  })

  test('stats port serves one JSON document naming both pools, then closes', async () => {
    const c = await connect(nc.statsPort)
    const stats = JSON.parse((await c.readUntilClose()).toString('utf8')) as Record<string, unknown>
    assert.equal(stats.version, '0.5.0')
    assert.equal(stats.service, 'nutcracker')
    assert.ok('walnut_test_redis' in stats && 'walnut_test_mc' in stats, Object.keys(stats).join())
  })

  test('a config nutcracker rejects fails startNutcracker with its reason', async () => {
    const port = await freePort()
    const bad = `bad:\n  listen: 127.0.0.1:${port}\n  hash: sha1\n  servers:\n   - 127.0.0.1:1:1\n`
    await assert.rejects(startNutcracker(bad), (e: unknown) => {
      assert.ok(e instanceof StartError)
      assert.match(e.message, /nutcracker exited \(code 1\)/)
      assert.match(e.message, /syntax is invalid/)
      return true
    })
  })
})

describe('walnut CLI', () => {
  const version = (
    JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }
  ).version

  test('runWalnut -V: exits 0 and names the version', async () => {
    const r = await runWalnut(['-V'])
    const text = r.stdout.toString() + r.stderr.toString()
    assert.equal(r.code, 0, text)
    assert.match(text, new RegExp(`This is walnut-${version.replaceAll('.', '\\.')}`))
  })

  test('startWalnut -t (wait: false): captured output, exit status 0', async () => {
    const port = await freePort()
    const yaml = `p:\n  listen: 127.0.0.1:${port}\n  servers:\n   - 127.0.0.1:11211:1\n`
    const w = await startWalnut(yaml, { wait: false, stats: false, args: ['-t'] })
    assert.deepEqual(w.ports, [port])
    const exit = await w.exited
    assert.deepEqual(exit, { code: 0, signal: null }, w.output())
    await w.stop()
    assert.match(w.stdout().toString() + w.stderr().toString(), /syntax is ok/)
  })
})
