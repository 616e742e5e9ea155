/**
 * Pool keys (../shared/spec/cli-config.md §5.2) and the validation errors of §5.5:
 * each mistake with nutcracker's exact reason and its location, the check order,
 * every accepted value and every default.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { POOL_KEYS, parseDigits } from '../../src/config/keys.js'
import { DISTRIBUTION_NAMES, HASH_NAMES, POOL_DEFAULTS } from '../../src/config/types.js'
import { BASE_LINES, base, load, onlyPool, rejects, yaml } from './support.js'

const SERVERS = ['  servers:', '   - 127.0.0.1:24101:1'] as const

/** Column of the value in an appended `  key: value` line. */
const valueColumn = (key: string) => key.length + 5

/** Asserts that `  key: value` appended to the standard pool fails with `rv`, at the value. */
async function rejectsValue(key: string, value: string, rv: string): Promise<void> {
  await rejects(base(`  ${key}: ${value}`), {
    reason: `directive "${key}" ${rv}`,
    line: 5,
    column: valueColumn(key),
    pool: 'alpha',
    key,
  })
}

describe('unknown and repeated keys', () => {
  for (const key of ['foo', 'Hash', 'reuseport', 'LISTEN', 'server']) {
    test(`${key}: is unknown`, async () => {
      await rejects(base(`  ${key}: true`), {
        reason: `directive "${key}" is unknown`,
        line: 5,
        column: 3,
        pool: 'alpha',
        key,
      })
    })
  }

  for (const [key, value] of [
    ['listen', '127.0.0.1:24202'],
    ['hash', 'md5'],
    ['hash_tag', '"{}"'],
    ['distribution', 'ketama'],
    ['timeout', '1'],
    ['redis', 'false'],
    ['redis_auth', 'x'],
    ['tcpkeepalive', 'true'],
  ] as const) {
    test(`${key} twice: is a duplicate, at the second`, async () => {
      await rejects(base(`  ${key}: ${value}`, `  ${key}: ${value}`), {
        reason: `directive "${key}" is a duplicate`,
        line: key === 'listen' ? 5 : 6,
        column: 3,
        pool: 'alpha',
        key,
      })
    })
  }

  test('a repeat is a duplicate even when its value is invalid', async () => {
    await rejects(base('  hash: md5', '  hash: sha1'), {
      reason: 'directive "hash" is a duplicate',
      line: 6,
      column: 3,
      pool: 'alpha',
      key: 'hash',
    })
  })
})

describe('values', () => {
  test('hash: sha1, MD5, md5 with spaces are not valid hashes', async () => {
    await rejectsValue('hash', 'sha1', 'is not a valid hash')
    await rejectsValue('hash', 'MD5', 'is not a valid hash')
    await rejectsValue('hash', '"md5 "', 'is not a valid hash')
  })

  test('distribution: rendezvous is not a valid distribution', async () => {
    await rejectsValue('distribution', 'rendezvous', 'is not a valid distribution')
    await rejectsValue('distribution', 'Ketama', 'is not a valid distribution')
  })

  for (const key of ['auto_eject_hosts', 'redis', 'preconnect', 'tcpkeepalive']) {
    test(`${key}: yes, True, 1 are not "true" or "false"`, async () => {
      for (const v of ['yes', 'True', '1', 'FALSE', 'on']) {
        await rejectsValue(key, v, 'is not "true" or "false"')
      }
    })
  }

  for (const key of [
    'timeout',
    'backlog',
    'client_connections',
    'redis_db',
    'server_connections',
    'server_retry_timeout',
    'server_failure_limit',
  ]) {
    test(`${key}: -1, abc, 1.5, +1, 1_000, 0x10, " 1" are not numbers`, async () => {
      for (const v of ['-1', 'abc', '1.5', '+1', '1_000', '0x10', '" 1"', '1e3', '"１"']) {
        await rejectsValue(key, v, 'is not a number')
      }
    })
  }

  test('hash_tag of 1 or 3 bytes is not a valid hash tag', async () => {
    for (const v of ['"{"', '"{}}"', '"€"', 'abc']) {
      await rejectsValue('hash_tag', v, 'is not a valid hash tag string with two characters')
    }
  })

  test('server_connections: 0 cannot be 0, at the value', async () => {
    for (const v of ['0', '000']) {
      await rejects(base(`  server_connections: ${v}`), {
        reason: 'directive "server_connections:" cannot be 0',
        line: 5,
        column: 23,
        pool: 'alpha',
        key: 'server_connections',
      })
    }
  })

  test('redis_auth on a memcache pool is only valid for a redis pool', async () => {
    for (const extra of [[], ['  redis: false']]) {
      await rejects(base('  redis_auth: secret', ...extra), {
        reason: 'directive "redis_auth:" is only valid for a redis pool',
        line: 5,
        column: 15,
        pool: 'alpha',
        key: 'redis_auth',
      })
    }
  })

  test('redis_auth with redis: true (in either order) is accepted', async () => {
    for (const lines of [
      ['  redis_auth: secret', '  redis: true'],
      ['  redis: true', '  redis_auth: secret'],
    ]) {
      const pool = onlyPool(await load(base(...lines)))
      assert.equal(pool.redis, true)
      assert.equal(pool.redisAuth, 'secret')
    }
  })
})

describe('pool checks', () => {
  test('missing listen, at the pool name', async () => {
    await rejects(yaml('alpha:', ...SERVERS), {
      reason: 'directive "listen:" is missing',
      line: 1,
      column: 1,
      pool: 'alpha',
      key: 'listen',
    })
  })

  test('missing listen in the second pool', async () => {
    await rejects(base('beta:', ...SERVERS), {
      reason: 'directive "listen:" is missing',
      line: 5,
      column: 1,
      pool: 'beta',
      key: 'listen',
    })
  })

  test('two pools with the same name', async () => {
    await rejects(base('alpha:', '  listen: 127.0.0.1:24202', ...SERVERS), {
      reason: `'test.yml' has pools with same name alpha'`,
      line: 5,
      column: 1,
      pool: 'alpha',
    })
  })

  test('two pools with the same listen string', async () => {
    await rejects(base('beta:', '  listen: 127.0.0.1:24201', ...SERVERS), {
      reason: `pools 'alpha' and 'beta' have the same listen address '127.0.0.1:24201'`,
      line: 6,
      column: 11,
      pool: 'beta',
      key: 'listen',
    })
  })

  test('the same listen written differently is not a duplicate (fails only at bind)', async () => {
    const config = await load(base('beta:', '  listen: localhost:24201', ...SERVERS))
    assert.deepEqual(
      config.pools.map((p) => p.name),
      ['beta', 'alpha'],
    )
  })

  test('pool alpha twice with the same listen: the listen check comes first', async () => {
    await rejects(base(...BASE_LINES), {
      reason: `pools 'alpha' and 'alpha' have the same listen address '127.0.0.1:24201'`,
      line: 6,
      column: 11,
      pool: 'alpha',
      key: 'listen',
    })
  })

  test('same listen reported by sorted listen string, names in file order', async () => {
    const text = yaml(
      'zeta:',
      '  listen: 127.0.0.1:24202',
      ...SERVERS,
      'alpha:',
      '  listen: 127.0.0.1:24201',
      ...SERVERS,
      'beta:',
      '  listen: 127.0.0.1:24201',
      ...SERVERS,
      'eta:',
      '  listen: 127.0.0.1:24202',
      ...SERVERS,
    )
    await rejects(text, {
      reason: `pools 'alpha' and 'beta' have the same listen address '127.0.0.1:24201'`,
      line: 10,
      column: 11,
      pool: 'beta',
      key: 'listen',
    })
  })
})

describe('check order', () => {
  test('every key of every pool is read before any pool check', async () => {
    await rejects(
      yaml('alpha:', ...SERVERS, 'beta:', '  listen: 127.0.0.1:24202', ...SERVERS, '  foo: 1'),
      {
        reason: 'directive "foo" is unknown',
        line: 8,
        column: 3,
        pool: 'beta',
        key: 'foo',
      },
    )
  })

  test('keys are read in file order: the first mistake wins', async () => {
    await rejects(base('  hash: sha1', '  foo: 1', '  timeout: x'), {
      reason: 'directive "hash" is not a valid hash',
      line: 5,
      column: 9,
      pool: 'alpha',
      key: 'hash',
    })
  })

  test('pool checks run in file order, not sorted order', async () => {
    const text = yaml(
      'zz:',
      ...SERVERS,
      'b:',
      '  listen: 127.0.0.1:24202',
      '  server_connections: 0',
      ...SERVERS,
    )
    await rejects(text, {
      reason: 'directive "listen:" is missing',
      line: 1,
      column: 1,
      pool: 'zz',
      key: 'listen',
    })
  })

  test('listen missing → server_connections → redis_auth → servers', async () => {
    const lines = ['  server_connections: 0', '  redis_auth: x', '   - 127.0.0.1:24101:1']
    await rejects(yaml('alpha:', ...SERVERS, ...lines), {
      reason: 'directive "listen:" is missing',
      line: 1,
      column: 1,
      pool: 'alpha',
      key: 'listen',
    })
    await rejects(base(...lines), {
      reason: 'directive "server_connections:" cannot be 0',
      line: 5,
      column: 23,
      pool: 'alpha',
      key: 'server_connections',
    })
    await rejects(base(...lines.slice(1)), {
      reason: 'directive "redis_auth:" is only valid for a redis pool',
      line: 5,
      column: 15,
      pool: 'alpha',
      key: 'redis_auth',
    })
  })

  test("a pool's server names are checked before same listen and same pool name", async () => {
    const dupServer = ['   - 127.0.0.1:24101:1']
    await rejects(base('alpha:', '  listen: 127.0.0.1:24201', ...SERVERS, ...dupServer), {
      reason: "pool 'alpha' has servers with same name '127.0.0.1:24101'",
      line: 9,
      column: 6,
      pool: 'alpha',
      key: 'servers',
    })
  })
})

describe('accepted values and defaults', () => {
  test('defaults (spec §5.2)', async () => {
    const pool = onlyPool(await load(base()))
    assert.deepEqual(
      {
        hash: pool.hash,
        hashTag: pool.hashTag,
        distribution: pool.distribution,
        timeout: pool.timeout,
        backlog: pool.backlog,
        clientConnections: pool.clientConnections,
        redis: pool.redis,
        redisAuth: pool.redisAuth,
        redisDb: pool.redisDb,
        preconnect: pool.preconnect,
        autoEjectHosts: pool.autoEjectHosts,
        serverConnections: pool.serverConnections,
        serverRetryTimeout: pool.serverRetryTimeout,
        serverFailureLimit: pool.serverFailureLimit,
        tcpkeepalive: pool.tcpkeepalive,
      },
      {
        hash: 'fnv1a_64',
        hashTag: undefined,
        distribution: 'ketama',
        timeout: 0,
        backlog: 512,
        clientConnections: 0,
        redis: false,
        redisAuth: undefined,
        redisDb: 0,
        preconnect: false,
        autoEjectHosts: false,
        serverConnections: 1,
        serverRetryTimeout: 30000,
        serverFailureLimit: 2,
        tcpkeepalive: false,
      },
    )
  })

  test('every key set', async () => {
    const pool = onlyPool(
      await load(
        base(
          '  hash: murmur',
          '  hash_tag: "{}"',
          '  distribution: modula',
          '  timeout: 400',
          '  backlog: 1024',
          '  client_connections: 10',
          '  redis: true',
          '  redis_auth: hunter2',
          '  redis_db: 3',
          '  preconnect: true',
          '  auto_eject_hosts: true',
          '  server_connections: 4',
          '  server_retry_timeout: 0',
          '  server_failure_limit: 0',
          '  tcpkeepalive: true',
        ),
      ),
    )
    assert.deepEqual(pool, {
      name: 'alpha',
      index: 0,
      listen: {
        kind: 'tcp',
        host: '127.0.0.1',
        address: '127.0.0.1',
        port: 24201,
        text: '127.0.0.1:24201',
      },
      hash: 'murmur',
      hashTag: Buffer.from('{}'),
      distribution: 'modula',
      timeout: 400,
      backlog: 1024,
      clientConnections: 10,
      redis: true,
      redisAuth: 'hunter2',
      redisDb: 3,
      preconnect: true,
      autoEjectHosts: true,
      serverConnections: 4,
      serverRetryTimeout: 0,
      serverFailureLimit: 0,
      tcpkeepalive: true,
      maxRequestSize: 512 * 1024 * 1024,
      clientMaxBuffer: 1024 * 1024 * 1024,
      clientMaxInflight: 4096,
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
      dnsRefreshInterval: 30000,
      servers: [
        {
          text: '127.0.0.1:24101:1',
          index: 0,
          name: '127.0.0.1:24101',
          weight: 1,
          address: { kind: 'tcp', host: '127.0.0.1', port: 24101 },
        },
      ],
    })
  })

  test('all 12 hash names', async () => {
    assert.equal(HASH_NAMES.length, 12)
    for (const h of HASH_NAMES) assert.equal(onlyPool(await load(base(`  hash: ${h}`))).hash, h)
  })

  test('all 3 distributions', async () => {
    for (const d of DISTRIBUTION_NAMES) {
      assert.equal(onlyPool(await load(base(`  distribution: ${d}`))).distribution, d)
    }
  })

  test('booleans: true and false, plain or quoted', async () => {
    for (const [v, want] of [
      ['true', true],
      ['false', false],
      ['"true"', true],
      ["'false'", false],
    ] as const) {
      assert.equal(onlyPool(await load(base(`  preconnect: ${v}`))).preconnect, want)
    }
  })

  test('integers: leading zeros, zero, and saturation at 2^31-1', async () => {
    const t = async (v: string) => onlyPool(await load(base(`  timeout: ${v}`))).timeout
    assert.equal(await t('0005'), 5)
    assert.equal(await t('0'), 0)
    assert.equal(await t('2147483647'), 2147483647)
    // nutcracker wraps (99999999999 → 1215752191, passes -t); walnut saturates.
    assert.equal(await t('99999999999'), 2147483647)
    assert.equal(await t('2147483648'), 2147483647)
    assert.equal(await t('"00000000000000000000000000000001"'), 1)
  })

  test('parseDigits is nc_atoi without the wrap', () => {
    assert.equal(parseDigits(''), -1)
    assert.equal(parseDigits('12a'), -1)
    assert.equal(parseDigits(' 1'), -1)
    assert.equal(parseDigits('007'), 7)
    assert.equal(parseDigits('4294967296'), 2147483647)
  })

  test('hash_tag: two bytes, kept as a Buffer', async () => {
    const tag = async (v: string) => onlyPool(await load(base(`  hash_tag: ${v}`))).hashTag
    assert.deepEqual(await tag('"{}"'), Buffer.from([0x7b, 0x7d]))
    assert.deepEqual(await tag('"$$"'), Buffer.from([0x24, 0x24]))
    // nutcracker counts bytes: one two-byte UTF-8 character is a valid tag
    assert.deepEqual(await tag('é'), Buffer.from([0xc3, 0xa9]))
  })

  test('client_connections and redis_db are kept on a memcache pool', async () => {
    const pool = onlyPool(await load(base('  client_connections: 1', '  redis_db: 3')))
    assert.equal(pool.clientConnections, 1)
    assert.equal(pool.redisDb, 3)
    assert.equal(pool.redis, false)
  })
})

describe('the key table', () => {
  test("one row per key: nutcracker 0.5.0's keys, then walnut's limits, TLS and auth", () => {
    assert.deepEqual(
      POOL_KEYS.map((r) => r.key),
      [
        'listen',
        'hash',
        'hash_tag',
        'distribution',
        'timeout',
        'backlog',
        'client_connections',
        'redis',
        'redis_auth',
        'redis_db',
        'preconnect',
        'auto_eject_hosts',
        'server_connections',
        'server_retry_timeout',
        'server_failure_limit',
        'tcpkeepalive',
        'servers',
        'max_request_size',
        'client_max_buffer',
        'client_max_inflight',
        'tls',
        'tls_ca_file',
        'tls_cert_file',
        'tls_key_file',
        'tls_server_name',
        'tls_verify',
        'listen_tls',
        'tls_listen_cert_file',
        'tls_listen_key_file',
        'tls_listen_ca_file',
        'tls_listen_verify_client',
        'redis_auth_user',
        'client_auth',
        'dns_refresh_interval',
      ],
    )
  })

  test('defaults in the table are POOL_DEFAULTS', () => {
    for (const [field, value] of Object.entries(POOL_DEFAULTS)) {
      const row = POOL_KEYS.find((r) => r.field === field)
      assert.ok(row !== undefined && !('list' in row && row.list), field)
      assert.equal((row as { default: unknown }).default, value, field)
    }
  })
})
