/**
 * Redis ACL auth (docs/tls.md): `redis_auth_user` makes the server handshake
 * `AUTH <user> <redis_auth>`, over TLS here, against a redis-server with an ACL
 * user `alice` and a `default` user with its own password. How clients
 * authenticate to walnut: with the backend's credentials by default (user and
 * password), or with `client_auth`; nutcracker's one-password setup unchanged.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { freePort } from '../helpers/ports.js'
import { type Client, connect, type ProxyProc, startWalnut } from '../helpers/servers.js'
import { type Certs, makeCerts, startTlsRedis, type TlsRedis } from '../helpers/tls.js'

function cmd(...args: string[]): string {
  return `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`
}

const WRONGPASS = '-WRONGPASS invalid username-password pair or user is disabled.\r\n'
const NOAUTH = '-NOAUTH Authentication required\r\n'

let certs: Certs
let redis: TlsRedis
let walnut: ProxyProc
const p: Record<string, number> = {}

before(async () => {
  certs = makeCerts()
  redis = await startTlsRedis(certs, {
    // biome-ignore format: one flag per pair
    args: [
      '--user', 'alice', 'on', '>apw', '~*', '+@all',
      '--user', 'default', 'on', '>dpw', '~*', '+@all',
    ],
  })
  for (const k of ['acl', 'aclc', 'aclbad', 'legacy']) p[k] = await freePort()
  const pool = (name: string, ...lines: string[]) => [
    `${name}:`,
    `  listen: 127.0.0.1:${p[name]}`,
    '  redis: true',
    '  tls: true',
    `  tls_ca_file: ${certs.ca}`,
    ...lines.map((l) => `  ${l}`),
    '  servers:',
    `   - 127.0.0.1:${redis.tlsPort}:1 r`,
  ]
  const yaml = [
    ...pool('acl', 'redis_auth_user: alice', 'redis_auth: apw'),
    ...pool('aclc', 'redis_auth_user: alice', 'redis_auth: apw', 'client_auth: cpw'),
    ...pool('aclbad', 'redis_auth_user: alice', 'redis_auth: nope'),
    ...pool('legacy', 'redis_auth: dpw'),
  ].join('\n')
  walnut = await startWalnut(`${yaml}\n`)
})

after(async () => {
  await walnut?.stop()
  await redis?.stop()
})

async function ask(c: Client, ...requests: string[]): Promise<string[]> {
  await c.send(requests.join(''))
  return (await c.readReplies(requests.length)).map((b) => b.toString('latin1'))
}

/** CLIENT LIST of the redis, through its plain port as `default`. */
async function clientList(): Promise<string> {
  const c = await connect(redis.port)
  const [ok, list] = await ask(c, cmd('AUTH', 'dpw'), cmd('CLIENT', 'LIST'))
  await c.close()
  assert.equal(ok, '+OK\r\n')
  return list!
}

describe('redis_auth_user: AUTH <user> <password> to the servers', () => {
  test('clients send the same user and password; the server connection is alice', async () => {
    const c = await connect(p.acl!)
    assert.deepEqual(
      await ask(
        c,
        cmd('GET', 'k'),
        cmd('AUTH', 'apw'),
        cmd('AUTH', 'alice', 'wrong'),
        cmd('AUTH', 'default', 'apw'),
        cmd('AUTH', 'alice', 'apw'),
        cmd('SET', 'acl:k', 'v'),
        cmd('GET', 'acl:k'),
      ),
      [NOAUTH, WRONGPASS, WRONGPASS, WRONGPASS, '+OK\r\n', '+OK\r\n', '$1\r\nv\r\n'],
    )
    await c.close()
    // walnut's connection to redis authenticated as alice (and arrived over TLS)
    const list = await clientList()
    assert.match(list, /user=alice/)
  })

  test('HELLO with AUTH takes the same credentials', async () => {
    const c = await connect(p.acl!)
    await c.send(cmd('HELLO', '2', 'AUTH', 'alice', 'apw'))
    const hello = (await c.readReply()).toString()
    assert.ok(hello.startsWith('*14\r\n$6\r\nserver\r\n$5\r\nredis\r\n'), hello)
    assert.deepEqual(await ask(c, cmd('GET', 'acl:k')), ['$1\r\nv\r\n'])
    await c.close()
  })

  test("client_auth: clients send their own password, not the servers' credentials", async () => {
    const c = await connect(p.aclc!)
    assert.deepEqual(
      await ask(
        c,
        cmd('AUTH', 'alice', 'apw'),
        cmd('GET', 'acl:k'),
        cmd('AUTH', 'cpw'),
        cmd('GET', 'acl:k'),
        cmd('AUTH', 'default', 'cpw'),
      ),
      [WRONGPASS, NOAUTH, '+OK\r\n', '$1\r\nv\r\n', '+OK\r\n'],
    )
    await c.close()
  })

  test("a refused server AUTH is logged; requests get the server's refusal", async () => {
    const c = await connect(p.aclbad!)
    assert.deepEqual(await ask(c, cmd('AUTH', 'alice', 'nope'), cmd('GET', 'acl:k')), [
      '+OK\r\n',
      '-NOAUTH Authentication required.\r\n',
    ])
    await c.close()
    // one line names the pool and server and carries the server's refusal
    const line =
      /AUTH failed on [^\n]*WRONGPASS invalid username-password pair or user is disabled\.[^\n]*/
    await walnut.waitForOutput(line)
    assert.match(walnut.output().match(line)![0], /aclbad \| r/)
  })

  test("nutcracker's redis_auth alone: one password, the default user", async () => {
    const c = await connect(p.legacy!)
    assert.deepEqual(await ask(c, cmd('GET', 'acl:k'), cmd('AUTH', 'dpw'), cmd('GET', 'acl:k')), [
      NOAUTH,
      '+OK\r\n',
      '$1\r\nv\r\n',
    ])
    await c.close()
  })
})
