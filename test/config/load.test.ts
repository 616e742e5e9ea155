/**
 * loadConfig: reading the file, the open error, the Config it returns (a sample
 * nutcracker.yml read unchanged, deeply frozen), and ConfigError's message.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { loadConfig, parseConfig } from '../../src/config/load.js'
import { ConfigError, ProxyError } from '../../src/errors.js'
import { REPO_ROOT } from '../helpers/shared.js'
import { base, FILE, noResolve } from './support.js'

const FIXTURES = join(REPO_ROOT, 'test', 'fixtures', 'config')

describe('loadConfig', () => {
  test('reads a multi-pool nutcracker.yml unchanged', async () => {
    const path = join(FIXTURES, 'nutcracker.yml')
    const config = await loadConfig(path, { resolve: noResolve })
    assert.equal(config.path, path)
    assert.deepEqual(
      config.pools.map((p) => p.name),
      ['beta', 'alpha', 'delta', 'gamma', 'omega'],
    )
    const byName = new Map(config.pools.map((p) => [p.name, p]))
    const beta = byName.get('beta')!
    assert.deepEqual(beta.hashTag, Buffer.from('{}'))
    assert.equal(beta.timeout, 400)
    assert.deepEqual(
      beta.servers.map((s) => s.name),
      ['server1', 'server2', 'server3', 'server4'],
    )
    const delta = byName.get('delta')!
    assert.equal(delta.servers.length, 10)
    assert.equal(delta.servers[0]!.name, '127.0.0.1:11214')
    const omega = byName.get('omega')!
    assert.deepEqual(omega.listen, {
      kind: 'unix',
      path: '/tmp/walnut-fixture.sock',
      mode: 0o600,
      text: '/tmp/walnut-fixture.sock 0600',
    })
    assert.equal(omega.hash, 'hsieh')
    assert.deepEqual(
      omega.servers.map((s) => [s.name, s.weight, s.address.kind]),
      [
        ['local', 1, 'unix'],
        ['127.0.0.1:11214', 100000, 'tcp'],
        ['127.0.0.1:11215', 1, 'tcp'],
      ],
    )
    const gamma = byName.get('gamma')!
    assert.equal(gamma.preconnect, true)
    assert.equal(gamma.backlog, 1024)
    assert.equal(gamma.serverFailureLimit, 3)
  })

  test('a mistake names the file as given, line:column, pool and key', async () => {
    const path = join(FIXTURES, 'bad-hash.yml')
    await assert.rejects(loadConfig(path), (err: unknown) => {
      assert.ok(err instanceof ConfigError)
      assert.equal(err.reason, 'directive "hash" is not a valid hash')
      assert.deepEqual(err.location, {
        file: path,
        line: 3,
        column: 9,
        pool: 'alpha',
        key: 'hash',
      })
      assert.equal(
        err.message,
        `${path}:3:9: pool 'alpha', key 'hash': directive "hash" is not a valid hash`,
      )
      return true
    })
  })

  test('a missing file: NC_ERR_CONFIG_OPEN with strerror text', async () => {
    const path = join(FIXTURES, 'no-such-file.yml')
    await assert.rejects(loadConfig(path), (err: unknown) => {
      assert.ok(err instanceof ProxyError)
      assert.ok(!(err instanceof ConfigError))
      assert.equal(err.code, 'NC_ERR_CONFIG_OPEN')
      assert.equal(err.message, `failed to open configuration '${path}': No such file or directory`)
      assert.equal((err.cause as { code?: string }).code, 'ENOENT')
      return true
    })
  })

  test('a directory: NC_ERR_CONFIG_OPEN, Is a directory', async () => {
    await assert.rejects(loadConfig(FIXTURES), (err: unknown) => {
      assert.ok(err instanceof ProxyError)
      assert.equal(err.code, 'NC_ERR_CONFIG_OPEN')
      assert.equal(err.message, `failed to open configuration '${FIXTURES}': Is a directory`)
      return true
    })
  })
})

describe('the Config', () => {
  test('is deeply frozen', async () => {
    const config = await parseConfig(
      base(
        '   - /tmp/mc.sock:1',
        '  hash_tag: "{}"',
        'beta:',
        '  listen: /tmp/b.sock',
        '  servers:',
        '   - h:1:1',
      ),
      FILE,
      { resolve: noResolve },
    )
    assert.ok(Object.isFrozen(config))
    assert.ok(Object.isFrozen(config.pools))
    for (const pool of config.pools) {
      assert.ok(Object.isFrozen(pool))
      assert.ok(Object.isFrozen(pool.listen))
      assert.ok(Object.isFrozen(pool.servers))
      for (const s of pool.servers) {
        assert.ok(Object.isFrozen(s))
        assert.ok(Object.isFrozen(s.address))
      }
    }
    const pool = config.pools[1]!
    assert.throws(() => {
      ;(pool as { timeout: number }).timeout = 5
    }, TypeError)
    assert.throws(() => {
      ;(pool.servers as unknown as unknown[]).push({})
    }, TypeError)
  })

  test('text and bytes give the same Config', async () => {
    const text = base('  hash: crc32a')
    const a = await parseConfig(text, FILE, { resolve: noResolve })
    const b = await parseConfig(Buffer.from(text), FILE, { resolve: noResolve })
    assert.deepEqual(a, b)
  })
})

describe('ConfigError', () => {
  test('message: file:line:col: pool, key: reason (detail)', () => {
    const err = new ConfigError(
      'directive "listen" has an invalid value',
      { file: 'a.yml', line: 2, column: 11, pool: 'alpha', key: 'listen' },
      { detail: 'address resolution failed' },
    )
    assert.equal(
      err.message,
      `a.yml:2:11: pool 'alpha', key 'listen': directive "listen" has an invalid value (address resolution failed)`,
    )
    assert.equal(err.detail, 'address resolution failed')
    assert.equal(err.code, 'NC_ERR_CONFIG')
  })

  test('message without position or detail', () => {
    const err = new ConfigError("'a.yml' must contain only 1 document; found 0 documents", {
      file: 'a.yml',
    })
    assert.equal(err.message, "a.yml: 'a.yml' must contain only 1 document; found 0 documents")
    assert.equal(err.detail, undefined)
  })
})
