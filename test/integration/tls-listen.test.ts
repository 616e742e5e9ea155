/**
 * walnut's TLS listener (`listen_tls`, docs/tls.md): TLS clients next to plain
 * ones on the same pool, a node TLS client with exact bytes, `redis-cli --tls`,
 * memcache over TLS, a unix-socket TLS listener, a client that half-closes, and
 * client-certificate verification (`tls_listen_verify_client`).
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { freePort } from '../helpers/ports.js'
import {
  connect,
  findBinary,
  type ProxyProc,
  type ServerProc,
  startMemcached,
  startRedis,
  startWalnut,
} from '../helpers/servers.js'
import { type Certs, makeCerts, type TlsClientOptions, tempDir, tlsClient } from '../helpers/tls.js'

function cmd(...args: string[]): string {
  return `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`
}

let certs: Certs
let redis: ServerProc
let memcached: ServerProc
let walnut: ProxyProc
let sock: string
const p: Record<string, number> = {}

before(async () => {
  certs = makeCerts()
  ;[redis, memcached] = await Promise.all([startRedis(), startMemcached()])
  for (const k of ['r', 'rTls', 'm', 'mTls', 'v', 'vTls']) p[k] = await freePort()
  sock = join(tempDir('tls-sock'), 'walnut-tls.sock')
  const files = [
    `  tls_listen_cert_file: ${certs.server}`,
    `  tls_listen_key_file: ${certs.serverKey}`,
  ]
  const yaml = [
    'r:',
    `  listen: 127.0.0.1:${p.r}`,
    `  listen_tls: 127.0.0.1:${p.rTls}`,
    ...files,
    '  redis: true',
    '  servers:',
    `   - 127.0.0.1:${redis.port}:1`,
    'm:',
    `  listen: 127.0.0.1:${p.m}`,
    `  listen_tls: 127.0.0.1:${p.mTls}`,
    ...files,
    '  servers:',
    `   - 127.0.0.1:${memcached.port}:1`,
    'v:',
    `  listen: 127.0.0.1:${p.v}`,
    `  listen_tls: 127.0.0.1:${p.vTls}`,
    ...files,
    `  tls_listen_ca_file: ${certs.ca}`,
    '  tls_listen_verify_client: true',
    '  redis: true',
    '  servers:',
    `   - 127.0.0.1:${redis.port}:1`,
    'u:',
    `  listen: 127.0.0.1:${await freePort()}`,
    `  listen_tls: ${sock}`,
    ...files,
    '  redis: true',
    '  servers:',
    `   - 127.0.0.1:${redis.port}:1`,
  ].join('\n')
  walnut = await startWalnut(`${yaml}\n`, {
    ports: [p.r!, p.rTls!, p.m!, p.mTls!, p.v!, p.vTls!],
  })
})

after(async () => {
  await walnut?.stop()
  await Promise.all([redis?.stop(), memcached?.stop()])
})

describe('a TLS listener next to the plain one', () => {
  test('node TLS client: exact replies; the plain listener sees the same pool', async () => {
    const t = await tlsClient(p.rTls!, { ca: certs.ca })
    assert.equal(t.socket.authorized, true, 'walnut presents the certificate signed by the CA')
    await t.send(cmd('SET', 'tls:k', 'over tls') + cmd('GET', 'tls:k') + cmd('PING'))
    assert.equal((await t.readReply()).toString(), '+OK\r\n')
    assert.equal((await t.readReply()).toString(), '$8\r\nover tls\r\n')
    assert.equal((await t.readReply()).toString(), '+PONG\r\n')
    t.close()
    const c = await connect(p.r!)
    await c.send(cmd('GET', 'tls:k'))
    assert.equal((await c.readReply()).toString(), '$8\r\nover tls\r\n')
    await c.close()
  })

  test('a 1 MiB value and 500 pipelined requests through TLS', async () => {
    const t = await tlsClient(p.rTls!, { ca: certs.ca })
    const big = 'x'.repeat(1024 * 1024)
    await t.send(cmd('SET', 'tls:big', big) + cmd('STRLEN', 'tls:big'))
    assert.equal((await t.readReply()).toString(), '+OK\r\n')
    assert.equal((await t.readReply()).toString(), ':1048576\r\n')
    let batch = ''
    for (let i = 0; i < 500; i++) batch += cmd('INCR', 'tls:n')
    await t.send(batch)
    for (let i = 1; i <= 500; i++) assert.equal((await t.readReply()).toString(), `:${i}\r\n`)
    t.close()
  })

  test('redis-cli --tls', () => {
    const cli = findBinary('redis-cli')
    const base = ['--tls', '--cacert', certs.ca, '--sni', 'localhost', '-h', '127.0.0.1']
    const run = (...args: string[]) =>
      spawnSync(cli, [...base, '-p', String(p.rTls), ...args], { encoding: 'utf8', timeout: 5000 })
    const set = run('SET', 'tls:cli', 'v1')
    assert.equal(set.stdout, 'OK\n', set.stderr)
    assert.equal(run('GET', 'tls:cli').stdout, 'v1\n')
    // without the CA, redis-cli refuses walnut's certificate
    const r = spawnSync(cli, ['--tls', '-h', '127.0.0.1', '-p', String(p.rTls), 'PING'], {
      encoding: 'utf8',
      timeout: 5000,
    })
    assert.match(r.stdout + r.stderr, /certificate verify failed|SSL_connect failed/)
  })

  test('memcache over TLS', async () => {
    const t = await tlsClient(p.mTls!, { ca: certs.ca })
    await t.send('set tk 5 0 3\r\nabc\r\nget tk nope\r\n')
    assert.equal((await t.readMcReply()).toString(), 'STORED\r\n')
    assert.equal((await t.readMcReply()).toString(), 'VALUE tk 5 3\r\nabc\r\nEND\r\n')
    t.close()
  })

  test('a unix-socket TLS listener', async () => {
    const { connect: tlsConnect } = await import('node:tls')
    const s = tlsConnect({ path: sock, rejectUnauthorized: false })
    const data: Buffer[] = []
    s.on('data', (d: Buffer) => data.push(d))
    await new Promise<void>((resolve, reject) => {
      s.once('secureConnect', resolve)
      s.once('error', reject)
    })
    s.write(cmd('PING'))
    const deadline = Date.now() + 3000
    while (Buffer.concat(data).length < 7 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10))
    }
    s.destroy()
    assert.equal(Buffer.concat(data).toString(), '+PONG\r\n')
  })

  test('a client that half-closes gets its replies, then the close', async () => {
    const t = await tlsClient(p.rTls!, { ca: certs.ca })
    await t.send(cmd('SET', 'tls:h', '1') + cmd('GET', 'tls:h'))
    t.socket.end()
    const { data, error } = await t.untilClosed()
    assert.equal(error, undefined)
    assert.equal(data.toString(), '+OK\r\n$1\r\n1\r\n')
  })
})

describe('client certificates (tls_listen_verify_client)', () => {
  /**
   * The handshake fails, or (TLS 1.3: the client's side completes first) the
   * connection ends with no reply; the client sees walnut's alert (`alert`) or,
   * when the close wins the race, only the close.
   */
  async function refused(o: TlsClientOptions, alert: RegExp): Promise<void> {
    const t = await tlsClient(p.vTls!, o).catch((e: Error) => e)
    if (t instanceof Error) {
      assert.match(t.message, alert)
      return
    }
    await t.send(cmd('PING')).catch(() => {})
    const { data, error } = await t.untilClosed()
    assert.equal(data.length, 0, 'no reply')
    if (error !== undefined) assert.match(error.message, new RegExp(`${alert.source}|ECONNRESET`))
  }

  test('a client with a certificate from the CA is served', async () => {
    const t = await tlsClient(p.vTls!, { ca: certs.ca, cert: certs.client, key: certs.clientKey })
    await t.send(cmd('PING'))
    assert.equal((await t.readReply()).toString(), '+PONG\r\n')
    t.close()
  })

  test('a client without a certificate gets no reply, the connection ends', async () => {
    await refused({ ca: certs.ca }, /certificate required/)
  })

  test('a certificate from another CA is refused', async () => {
    const dir = tempDir('tls-other')
    const key = join(dir, 'c.key')
    const crt = join(dir, 'c.pem')
    // biome-ignore format: one flag per pair
    const r = spawnSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-days', '2', '-keyout', key, '-out', crt, '-subj', '/CN=intruder',
      '-CA', certs.otherCa, '-CAkey', certs.otherCaKey,
    ])
    assert.equal(r.status, 0, String(r.stderr))
    await refused({ ca: certs.ca, cert: crt, key }, /unknown ca/)
  })

  test('the plain listener of the same pool needs no certificate', async () => {
    const c = await connect(p.v!)
    await c.send(cmd('PING'))
    assert.equal((await c.readReply()).toString(), '+PONG\r\n')
    await c.close()
  })
})
