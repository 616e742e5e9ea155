/**
 * walnut's TLS and auth keys (docs/tls.md, src/config/tls.ts): values, defaults,
 * which keys need which, duplicate listen addresses, and the certificate files —
 * missing, unreadable, malformed, encrypted, a key that is not the certificate's.
 * Certificates are made with the openssl command (test/helpers/tls.ts).
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { parseConfig } from '../../src/config/load.js'
import { type Certs, makeCerts } from '../helpers/tls.js'
import { base, fakeResolve, load, onlyPool, rejects, yaml } from './support.js'

const certs: Certs = makeCerts()

/** A file in the certificate dir with the given text. */
function file(name: string, text: string | Buffer): string {
  const p = join(certs.dir, name)
  writeFileSync(p, text)
  return p
}

/** Column of the value of `  key: value` lines (keys at column 3). */
function col(key: string): number {
  return 3 + key.length + 2
}

/** `base` as a redis pool with extra lines from line 6. */
function redisBase(...extra: string[]): string {
  return base('  redis: true', ...extra)
}

describe('values and defaults', () => {
  test('defaults: no TLS, verification on, no listener, no ACL user', async () => {
    const pool = onlyPool(await load(base()))
    assert.deepEqual(
      {
        tls: pool.tls,
        tlsCaFile: pool.tlsCaFile,
        tlsCertFile: pool.tlsCertFile,
        tlsKeyFile: pool.tlsKeyFile,
        tlsServerName: pool.tlsServerName,
        tlsVerify: pool.tlsVerify,
        listenTls: pool.listenTls,
        tlsListenCertFile: pool.tlsListenCertFile,
        tlsListenKeyFile: pool.tlsListenKeyFile,
        tlsListenCaFile: pool.tlsListenCaFile,
        tlsListenVerifyClient: pool.tlsListenVerifyClient,
        redisAuthUser: pool.redisAuthUser,
        clientAuth: pool.clientAuth,
      },
      {
        tls: false,
        tlsCaFile: undefined,
        tlsCertFile: undefined,
        tlsKeyFile: undefined,
        tlsServerName: undefined,
        tlsVerify: true,
        listenTls: undefined,
        tlsListenCertFile: undefined,
        tlsListenKeyFile: undefined,
        tlsListenCaFile: undefined,
        tlsListenVerifyClient: false,
        redisAuthUser: undefined,
        clientAuth: undefined,
      },
    )
  })

  test('every key set', async () => {
    const pool = onlyPool(
      await load(
        redisBase(
          '  redis_auth: s3cret',
          '  redis_auth_user: alice',
          '  client_auth: clientpw',
          '  tls: true',
          `  tls_ca_file: ${certs.ca}`,
          `  tls_cert_file: ${certs.client}`,
          `  tls_key_file: ${certs.clientKey}`,
          '  tls_server_name: cache.internal',
          '  tls_verify: false',
          '  listen_tls: 127.0.0.1:24211',
          `  tls_listen_cert_file: ${certs.server}`,
          `  tls_listen_key_file: ${certs.serverKey}`,
          `  tls_listen_ca_file: ${certs.ca}`,
          '  tls_listen_verify_client: true',
        ),
      ),
    )
    assert.equal(pool.tls, true)
    assert.equal(pool.tlsCaFile, certs.ca)
    assert.equal(pool.tlsCertFile, certs.client)
    assert.equal(pool.tlsKeyFile, certs.clientKey)
    assert.equal(pool.tlsServerName, 'cache.internal')
    assert.equal(pool.tlsVerify, false)
    assert.deepEqual(pool.listenTls, {
      kind: 'tcp',
      host: '127.0.0.1',
      address: '127.0.0.1',
      port: 24211,
      text: '127.0.0.1:24211',
    })
    assert.equal(pool.tlsListenCertFile, certs.server)
    assert.equal(pool.tlsListenKeyFile, certs.serverKey)
    assert.equal(pool.tlsListenCaFile, certs.ca)
    assert.equal(pool.tlsListenVerifyClient, true)
    assert.equal(pool.redisAuth, 's3cret')
    assert.equal(pool.redisAuthUser, 'alice')
    assert.equal(pool.clientAuth, 'clientpw')
  })

  test('TLS keys on a memcache pool; tls alone uses the built-in CA list', async () => {
    const pool = onlyPool(await load(base('  tls: true')))
    assert.equal(pool.tls, true)
    assert.equal(pool.tlsCaFile, undefined)
  })

  test('relative file paths are taken from the config file directory', async () => {
    const sub = join(certs.dir, 'conf')
    mkdirSync(sub, { recursive: true })
    copyFileSync(certs.ca, join(sub, 'bundle.pem'))
    const text = base('  tls: true', '  tls_ca_file: bundle.pem')
    const config = await parseConfig(text, join(sub, 'walnut.yml'), { resolve: fakeResolve })
    assert.equal(onlyPool(config).tlsCaFile, join(sub, 'bundle.pem'))
  })

  test('booleans are nutcracker booleans', async () => {
    await rejects(base('  tls: yes'), {
      reason: 'directive "tls" is not "true" or "false"',
      line: 5,
      column: col('tls'),
      pool: 'alpha',
      key: 'tls',
    })
  })

  test('listen_tls takes the listen: formats', async () => {
    await rejects(base('  listen_tls: 127.0.0.1'), {
      reason: 'directive "listen_tls" has an invalid "hostname:port" format string',
      line: 5,
      column: col('listen_tls'),
      pool: 'alpha',
      key: 'listen_tls',
    })
    const lines = [
      '  listen_tls: /tmp/walnut-tls.sock 0600',
      `  tls_listen_cert_file: ${certs.server}`,
      `  tls_listen_key_file: ${certs.serverKey}`,
    ]
    const pool = onlyPool(await load(base(...lines)))
    assert.deepEqual(pool.listenTls, {
      kind: 'unix',
      path: '/tmp/walnut-tls.sock',
      mode: 0o600,
      text: '/tmp/walnut-tls.sock 0600',
    })
  })
})

describe('keys that need other keys', () => {
  for (const [key, value] of [
    ['tls_ca_file', certs.ca],
    ['tls_cert_file', certs.client],
    ['tls_key_file', certs.clientKey],
    ['tls_server_name', 'x.example'],
    ['tls_verify', 'false'],
  ] as const) {
    test(`${key} without tls: true`, async () => {
      await rejects(base(`  ${key}: ${value}`), {
        reason: `directive "${key}" needs "tls: true"`,
        line: 5,
        column: col(key),
        pool: 'alpha',
        key,
      })
      await rejects(base('  tls: false', `  ${key}: ${value}`), {
        reason: `directive "${key}" needs "tls: true"`,
        line: 6,
        column: col(key),
        pool: 'alpha',
        key,
      })
    })
  }

  test('a client certificate needs its key, and the key its certificate', async () => {
    await rejects(base('  tls: true', `  tls_cert_file: ${certs.client}`), {
      reason: 'directive "tls_cert_file" needs "tls_key_file"',
      line: 6,
      column: col('tls_cert_file'),
      pool: 'alpha',
      key: 'tls_cert_file',
    })
    await rejects(base('  tls: true', `  tls_key_file: ${certs.clientKey}`), {
      reason: 'directive "tls_key_file" needs "tls_cert_file"',
      line: 6,
      column: col('tls_key_file'),
      pool: 'alpha',
      key: 'tls_key_file',
    })
  })

  test('a unix socket server is verified only under tls_server_name', async () => {
    const text = yaml(
      'alpha:',
      '  listen: 127.0.0.1:24201',
      '  tls: true',
      '  servers:',
      '   - /tmp/redis.sock:1 r1',
    )
    await rejects(text, {
      reason: 'directive "tls" needs "tls_server_name" to verify the unix socket server \'r1\'',
      line: 3,
      column: col('tls'),
      pool: 'alpha',
      key: 'tls',
    })
    const named = text.replace('  tls: true\n', '  tls: true\n  tls_server_name: cache\n')
    assert.equal(onlyPool(await load(named)).tlsServerName, 'cache')
    const unverified = text.replace('  tls: true\n', '  tls: true\n  tls_verify: false\n')
    assert.equal(onlyPool(await load(unverified)).tlsVerify, false)
  })

  for (const [key, value] of [
    ['tls_listen_cert_file', certs.server],
    ['tls_listen_key_file', certs.serverKey],
    ['tls_listen_ca_file', certs.ca],
    ['tls_listen_verify_client', 'true'],
  ] as const) {
    test(`${key} without listen_tls`, async () => {
      await rejects(base(`  ${key}: ${value}`), {
        reason: `directive "${key}" needs "listen_tls"`,
        line: 5,
        column: col(key),
        pool: 'alpha',
        key,
      })
    })
  }

  test('listen_tls needs a certificate and a key', async () => {
    for (const extra of [[], [`  tls_listen_cert_file: ${certs.server}`]]) {
      await rejects(base('  listen_tls: 127.0.0.1:24211', ...extra), {
        reason: 'directive "listen_tls" needs "tls_listen_cert_file" and "tls_listen_key_file"',
        line: 5,
        column: col('listen_tls'),
        pool: 'alpha',
        key: 'listen_tls',
      })
    }
  })

  test('client verification and its CA come together', async () => {
    const listen = [
      '  listen_tls: 127.0.0.1:24211',
      `  tls_listen_cert_file: ${certs.server}`,
      `  tls_listen_key_file: ${certs.serverKey}`,
    ]
    await rejects(base(...listen, '  tls_listen_verify_client: true'), {
      reason: 'directive "tls_listen_verify_client" needs "tls_listen_ca_file"',
      line: 8,
      column: col('tls_listen_verify_client'),
      pool: 'alpha',
      key: 'tls_listen_verify_client',
    })
    await rejects(base(...listen, `  tls_listen_ca_file: ${certs.ca}`), {
      reason: 'directive "tls_listen_ca_file" needs "tls_listen_verify_client: true"',
      line: 8,
      column: col('tls_listen_ca_file'),
      pool: 'alpha',
      key: 'tls_listen_ca_file',
    })
  })

  test('redis_auth_user and client_auth: redis pools only; the user needs redis_auth', async () => {
    for (const key of ['redis_auth_user', 'client_auth']) {
      await rejects(base(`  ${key}: x`), {
        reason: `directive "${key}:" is only valid for a redis pool`,
        line: 5,
        column: col(key),
        pool: 'alpha',
        key,
      })
    }
    await rejects(redisBase('  redis_auth_user: alice'), {
      reason: 'directive "redis_auth_user" needs "redis_auth"',
      line: 6,
      column: col('redis_auth_user'),
      pool: 'alpha',
      key: 'redis_auth_user',
    })
    // client_auth alone: clients need a password, the servers none.
    const pool = onlyPool(await load(redisBase('  client_auth: pw')))
    assert.equal(pool.clientAuth, 'pw')
    assert.equal(pool.redisAuth, undefined)
  })
})

describe('listen_tls addresses', () => {
  const listen = (addr: string) => [
    `  listen_tls: ${addr}`,
    `  tls_listen_cert_file: ${certs.server}`,
    `  tls_listen_key_file: ${certs.serverKey}`,
  ]

  test("not the pool's own listen address", async () => {
    await rejects(base(...listen('127.0.0.1:24201')), {
      reason:
        "directive \"listen_tls\" repeats the listen address '127.0.0.1:24201' of pool 'alpha'",
      line: 5,
      column: col('listen_tls'),
      pool: 'alpha',
      key: 'listen_tls',
    })
  })

  test("not another pool's listen or listen_tls address", async () => {
    const beta = (...extra: string[]) => [
      'beta:',
      '  listen: 127.0.0.1:24202',
      ...extra,
      '  servers:',
      '   - 127.0.0.1:24102:1',
    ]
    await rejects(base(...listen('127.0.0.1:24211'), ...beta(...listen('127.0.0.1:24211'))), {
      reason:
        "directive \"listen_tls\" repeats the listen_tls address '127.0.0.1:24211' of pool 'alpha'",
      line: 10,
      column: col('listen_tls'),
      pool: 'beta',
      key: 'listen_tls',
    })
    await rejects(base(...listen('127.0.0.1:24202'), ...beta()), {
      reason:
        "directive \"listen_tls\" repeats the listen address '127.0.0.1:24202' of pool 'beta'",
      line: 5,
      column: col('listen_tls'),
      pool: 'alpha',
      key: 'listen_tls',
    })
  })
})

describe('certificate files', () => {
  const tls = (key: string, path: string) => base('  tls: true', `  ${key}: ${path}`)
  const at = (key: string) => ({ line: 6, column: col(key), pool: 'alpha', key })

  test('a missing file, a directory', async () => {
    const missing = join(certs.dir, 'missing.pem')
    await rejects(tls('tls_ca_file', missing), {
      reason: `directive "tls_ca_file" cannot read '${missing}': No such file or directory`,
      ...at('tls_ca_file'),
    })
    await rejects(tls('tls_ca_file', certs.dir), {
      reason: `directive "tls_ca_file" cannot read '${certs.dir}': Is a directory`,
      ...at('tls_ca_file'),
    })
  })

  test('no certificate in the file', async () => {
    const junk = file('junk.pem', 'not a certificate\n')
    await rejects(tls('tls_ca_file', junk), {
      reason: `directive "tls_ca_file" has no PEM certificate in '${junk}'`,
      ...at('tls_ca_file'),
    })
    // a key is not a certificate
    await rejects(tls('tls_ca_file', certs.clientKey), {
      reason: `directive "tls_ca_file" has no PEM certificate in '${certs.clientKey}'`,
      ...at('tls_ca_file'),
    })
  })

  test('a damaged certificate', async () => {
    const pem = file(
      'damaged.pem',
      '-----BEGIN CERTIFICATE-----\nAAAAAAAAAAAAAAAAAAAAAAAA\n-----END CERTIFICATE-----\n',
    )
    const err = await rejects(tls('tls_ca_file', pem), {
      reason: `directive "tls_ca_file" has an invalid certificate in '${pem}'`,
      ...at('tls_ca_file'),
    })
    assert.ok(err.detail !== undefined && err.detail.length > 0, 'the OpenSSL reason is the detail')
    assert.ok(err.message.endsWith(`(${err.detail})`), err.message)
  })

  test("keys: none, damaged, encrypted, not the certificate's", async () => {
    const pair = (certFile: string, keyFile: string) =>
      base('  tls: true', `  tls_cert_file: ${certFile}`, `  tls_key_file: ${keyFile}`)
    const keyAt = { line: 7, column: col('tls_key_file'), pool: 'alpha', key: 'tls_key_file' }
    await rejects(pair(certs.client, certs.client), {
      reason: `directive "tls_key_file" has no PEM private key in '${certs.client}'`,
      ...keyAt,
    })
    const damaged = file(
      'damaged.key',
      '-----BEGIN PRIVATE KEY-----\nAAAAAAAAAAAAAAAAAAAAAAAA\n-----END PRIVATE KEY-----\n',
    )
    await rejects(pair(certs.client, damaged), {
      reason: `directive "tls_key_file" has an invalid private key in '${damaged}'`,
      ...keyAt,
    })
    const encrypted = join(certs.dir, 'encrypted.key')
    const r = spawnSync('openssl', [
      'pkey',
      '-in',
      certs.clientKey,
      '-aes256',
      '-passout',
      'pass:secret',
      '-out',
      encrypted,
    ])
    assert.equal(r.status, 0, String(r.stderr))
    await rejects(pair(certs.client, encrypted), {
      reason: `directive "tls_key_file" has an encrypted private key in '${encrypted}'`,
      detail: 'walnut reads unencrypted keys only',
      ...keyAt,
    })
    await rejects(pair(certs.client, certs.serverKey), {
      reason: `directive "tls_key_file" does not match the certificate in '${certs.client}'`,
      ...keyAt,
    })
  })

  test('the listener files are checked the same way', async () => {
    const missing = join(certs.dir, 'gone.key')
    await rejects(
      base(
        '  listen_tls: 127.0.0.1:24211',
        `  tls_listen_cert_file: ${certs.server}`,
        `  tls_listen_key_file: ${missing}`,
      ),
      {
        reason: `directive "tls_listen_key_file" cannot read '${missing}': No such file or directory`,
        line: 7,
        column: col('tls_listen_key_file'),
        pool: 'alpha',
        key: 'tls_listen_key_file',
      },
    )
    await rejects(
      base(
        '  listen_tls: 127.0.0.1:24211',
        `  tls_listen_cert_file: ${certs.server}`,
        `  tls_listen_key_file: ${certs.clientKey}`,
      ),
      {
        reason: `directive "tls_listen_key_file" does not match the certificate in '${certs.server}'`,
        line: 7,
        column: col('tls_listen_key_file'),
        pool: 'alpha',
        key: 'tls_listen_key_file',
      },
    )
  })

  test('a certificate followed by its chain is accepted', async () => {
    const chain = file(
      'chain.pem',
      Buffer.concat([readFileSync(certs.client), readFileSync(certs.ca)]),
    )
    const pool = onlyPool(
      await load(
        base('  tls: true', `  tls_cert_file: ${chain}`, `  tls_key_file: ${certs.clientKey}`),
      ),
    )
    assert.equal(pool.tlsCertFile, chain)
  })
})
