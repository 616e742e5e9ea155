/**
 * TLS to the servers (docs/tls.md), on real TLS servers: two redis-servers with
 * a TLS port (one requires client certificates) and two `memcached -Z`, behind
 * one walnut. Proxying (get/set, split MGET/DEL, memcache multi-get), pipelining
 * on one reused connection, a client certificate, and the failures: a wrong CA,
 * a wrong server name, a missing client certificate — each answered with an
 * error reply naming the TLS reason (never a hang), logged with pool and
 * server, and counted as a server failure.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { freePort } from '../helpers/ports.js'
import {
  type Client,
  connect,
  type ProxyProc,
  type ServerProc,
  startWalnut,
  statsDocument,
} from '../helpers/servers.js'
import {
  type Certs,
  makeCerts,
  startTlsMemcached,
  startTlsRedis,
  type TlsMemcached,
  type TlsRedis,
  tlsClient,
} from '../helpers/tls.js'

/** A RESP request. */
function cmd(...args: string[]): string {
  return `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`
}

let certs: Certs
let redis1: TlsRedis
let redis2: TlsRedis
let mc1: TlsMemcached
let mc2: TlsMemcached
let walnut: ProxyProc
const ports: Record<string, number> = {}

const POOLS = ['rtls', 'rsplit', 'mtls', 'rnocert', 'rbadca', 'rbadname', 'rnoverify', 'mbadca']

before(async () => {
  certs = makeCerts()
  ;[redis1, redis2, mc1, mc2] = await Promise.all([
    startTlsRedis(certs),
    startTlsRedis(certs, { authClients: true }),
    startTlsMemcached(certs),
    startTlsMemcached(certs),
  ])
  for (const p of POOLS) ports[p] = await freePort()
  const pool = (name: string, lines: string[], servers: string[]) =>
    [
      `${name}:`,
      `  listen: 127.0.0.1:${ports[name]}`,
      ...lines.map((l) => `  ${l}`),
      '  servers:',
      ...servers.map((s) => `   - ${s}`),
    ].join('\n')
  const r1 = `127.0.0.1:${redis1.tlsPort}:1 r1`
  const r2 = `127.0.0.1:${redis2.tlsPort}:1 r2`
  const redisTls = ['redis: true', 'tls: true', `tls_ca_file: ${certs.ca}`]
  const clientCert = [`tls_cert_file: ${certs.client}`, `tls_key_file: ${certs.clientKey}`]
  const yaml = [
    pool('rtls', redisTls, [r1]),
    pool('rsplit', [...redisTls, ...clientCert], [r1, r2]),
    pool(
      'mtls',
      ['tls: true', `tls_ca_file: ${certs.ca}`, 'tls_server_name: localhost'],
      [`127.0.0.1:${mc1.port}:1 m1`, `127.0.0.1:${mc2.port}:1 m2`],
    ),
    pool('rnocert', redisTls, [r2]),
    pool('rbadca', ['redis: true', 'tls: true', `tls_ca_file: ${certs.otherCa}`], [r1]),
    pool('rbadname', [...redisTls, 'tls_server_name: wrong.example'], [r1]),
    pool('rnoverify', ['redis: true', 'tls: true', 'tls_verify: false'], [r1]),
    pool('mbadca', ['tls: true', `tls_ca_file: ${certs.otherCa}`], [`127.0.0.1:${mc1.port}:1`]),
  ].join('\n')
  walnut = await startWalnut(`${yaml}\n`)
})

after(async () => {
  await walnut?.stop()
  await Promise.all([redis1?.stop(), redis2?.stop(), mc1?.stop(), mc2?.stop()])
})

async function client(pool: string): Promise<Client> {
  return connect(ports[pool]!)
}

/** Sends each request and reads one RESP reply for it, as text. */
async function ask(c: Client, ...requests: string[]): Promise<string[]> {
  await c.send(requests.join(''))
  return (await c.readReplies(requests.length)).map((b) => b.toString('latin1'))
}

/** The stats document of walnut. */
function stats(): Promise<Record<string, Record<string, Record<string, number>>>> {
  return statsDocument(walnut.statsPort)
}

/** A key count on a redis through its plain port. */
async function dbsize(r: ServerProc): Promise<number> {
  const c = await connect(r.port)
  await c.send(cmd('DBSIZE'))
  const reply = (await c.readReply()).toString('latin1')
  await c.close()
  return Number(reply.slice(1, -2))
}

describe('proxying through TLS servers', () => {
  test('redis: SET, GET, and the key landed on the TLS server', async () => {
    const c = await client('rtls')
    assert.deepEqual(await ask(c, cmd('SET', 'tls:a', 'hello'), cmd('GET', 'tls:a')), [
      '+OK\r\n',
      '$5\r\nhello\r\n',
    ])
    await c.close()
    const plain = await connect(redis1.port)
    await plain.send(cmd('GET', 'tls:a'))
    assert.equal((await plain.readReply()).toString(), '$5\r\nhello\r\n')
    await plain.close()
  })

  test('redis: MSET, MGET and DEL split over two TLS servers, with a client certificate', async () => {
    const keys = Array.from({ length: 20 }, (_, i) => `split:${i}`)
    const c = await client('rsplit')
    const mset = cmd('MSET', ...keys.flatMap((k, i) => [k, `v${i}`]))
    const mget = cmd('MGET', ...keys, 'split:none')
    const [ok, values] = await ask(c, mset, mget)
    assert.equal(ok, '+OK\r\n')
    const want = `*21\r\n${keys.map((_, i) => `$${`v${i}`.length}\r\nv${i}\r\n`).join('')}$-1\r\n`
    assert.equal(values, want)
    // both servers hold some of the keys: the split really used both TLS connections
    const [n1, n2] = [await dbsize(redis1), await dbsize(redis2)]
    assert.ok(n1 > 0 && n2 > 0, `keys on r1 ${n1}, r2 ${n2}`)
    assert.deepEqual(await ask(c, cmd('DEL', ...keys)), [':20\r\n'])
    await c.close()
  })

  test('redis: 2000 pipelined requests in one write, in order, on one TLS connection', async () => {
    const c = await client('rtls')
    let batch = ''
    for (let i = 0; i < 1000; i++)
      batch += cmd('SET', `p:${i}`, `value-${i}`) + cmd('GET', `p:${i}`)
    await c.send(batch)
    const replies = await c.readReplies(2000, 10_000)
    for (let i = 0; i < 1000; i++) {
      assert.equal(replies[2 * i]!.toString(), '+OK\r\n')
      const v = `value-${i}`
      assert.equal(replies[2 * i + 1]!.toString(), `$${v.length}\r\n${v}\r\n`)
    }
    await c.close()
    const s = await stats()
    const r1 = s.rtls!.r1!
    assert.equal(r1.server_connections, 1, 'one connection, reused')
    assert.equal(r1.server_err, 0)
    assert.ok(r1.responses! >= 2002, `responses ${r1.responses}`)
  })

  test('memcache: set, get, multi-get over two TLS memcached', async () => {
    const c = await client('mtls')
    const keys = Array.from({ length: 12 }, (_, i) => `mk${i}`)
    let req = ''
    for (const [i, k] of keys.entries()) req += `set ${k} ${i} 0 ${`val${i}`.length}\r\nval${i}\r\n`
    await c.send(req)
    for (const _ of keys) assert.equal((await c.readMcReply()).toString(), 'STORED\r\n')
    await c.send(`get ${keys[3]}\r\n`)
    assert.equal((await c.readMcReply()).toString(), 'VALUE mk3 3 4\r\nval3\r\nEND\r\n')
    await c.send(`gets ${keys.join(' ')} missing\r\n`)
    const multi = (await c.readMcReply()).toString()
    const values = [...multi.matchAll(/VALUE (\S+) (\d+) (\d+) \d+\r\n(\S+)\r\n/g)]
    assert.deepEqual(
      values.map((m) => [m[1], m[2], m[4]]),
      keys.map((k, i) => [k, String(i), `val${i}`]),
    )
    assert.ok(multi.endsWith('END\r\n'))
    await c.close()
    // both memcached got items
    for (const m of [mc1, mc2]) {
      const t = await tlsClient(m.port, { ca: certs.ca })
      await t.send('stats\r\n')
      const st = (await t.readMcReply()).toString()
      t.close()
      assert.ok(/STAT curr_items [1-9]/.test(st), st.slice(0, 200))
    }
  })

  test('tls_verify: false connects to a server no CA here vouches for', async () => {
    const c = await client('rnoverify')
    assert.deepEqual(await ask(c, cmd('SET', 'nv', '1'), cmd('GET', 'nv')), [
      '+OK\r\n',
      '$1\r\n1\r\n',
    ])
    await c.close()
  })
})

describe('refused handshakes: error replies, a log line, a server failure', () => {
  // redis-server sends its CA along with its certificate (OpenSSL builds the chain from
  // --tls-ca-cert-file); memcached sends its certificate alone.
  const VERIFY =
    'TLS handshake failed: self-signed certificate in certificate chain (SELF_SIGNED_CERT_IN_CHAIN)'
  const LEAF =
    'TLS handshake failed: unable to verify the first certificate (UNABLE_TO_VERIFY_LEAF_SIGNATURE)'
  const NAME =
    "TLS handshake failed: Hostname/IP does not match certificate's altnames: " +
    "Host: wrong.example. is not in the cert's altnames: DNS:localhost, IP Address:127.0.0.1"

  test('a wrong CA: -ERR with the reason, every pipelined request, no hang', async () => {
    const c = await client('rbadca')
    const started = Date.now()
    const replies = await ask(c, cmd('GET', 'a'), cmd('SET', 'b', '1'), cmd('MGET', 'a', 'b'))
    assert.deepEqual(replies, [`-ERR ${VERIFY}\r\n`, `-ERR ${VERIFY}\r\n`, `-ERR ${VERIFY}\r\n`])
    assert.ok(Date.now() - started < 2000, 'answered at once')
    // the connection stays usable, and the next request tries again (and fails again)
    assert.deepEqual(await ask(c, cmd('GET', 'a')), [`-ERR ${VERIFY}\r\n`])
    await c.close()
    await walnut.waitForOutput(`tls to rbadca | r1 failed: ${VERIFY}`)
    const s = await stats()
    assert.ok(s.rbadca!.r1!.server_err! >= 2)
    assert.ok((s.rbadca as unknown as Record<string, number>).forward_error! >= 4)
  })

  test('a wrong server name', async () => {
    const c = await client('rbadname')
    assert.deepEqual(await ask(c, cmd('GET', 'a')), [`-ERR ${NAME}\r\n`])
    await c.close()
    await walnut.waitForOutput(`tls to rbadname | r1 failed: ${NAME}`)
  })

  test('memcache: SERVER_ERROR with the reason', async () => {
    const c = await client('mbadca')
    await c.send('get a\r\nset b 0 0 1\r\nx\r\n')
    assert.equal((await c.readMcReply()).toString(), `SERVER_ERROR ${LEAF}\r\n`)
    assert.equal((await c.readMcReply()).toString(), `SERVER_ERROR ${LEAF}\r\n`)
    await c.close()
    await walnut.waitForOutput(`tls to mbadca | 127.0.0.1:${mc1.port} failed: ${LEAF}`)
  })

  test('a server that wants a client certificate and gets none', async () => {
    const c = await client('rnocert')
    const [reply] = await ask(c, cmd('GET', 'a'))
    // TLS 1.3: the server refuses after the client's side of the handshake is done; walnut
    // reads its alert, or finds the connection reset first (a race, the server's).
    const alert = '-ERR TLS error: tlsv13 alert certificate required\r\n'
    const reset = '-ERR TLS error: connection closed by the server right after the handshake\r\n'
    assert.ok(reply === alert || reply === reset, JSON.stringify(reply))
    await c.close()
    await walnut.waitForOutput(`tls to rnocert | r2 failed: ${reply!.slice(5, -2)}`)
  })
})
