/**
 * `listen:` (../shared/spec/cli-config.md §5.4, E-09, E-11): host:port split at
 * the last colon and resolved at load time, unix sockets with an optional octal
 * permission after the last space, and every error with its reason and location.
 */
import assert from 'node:assert/strict'
import { isIP } from 'node:net'
import { describe, test } from 'node:test'
import { strtolOctal } from '../../src/config/keys.js'
import { parseConfig } from '../../src/config/load.js'
import type { ListenAddress } from '../../src/config/types.js'
import { FILE, fakeResolve, load, noResolve, onlyPool, rejects, yaml } from './support.js'

const SERVERS = ['  servers:', '   - 127.0.0.1:24101:1'] as const

/** The standard pool with `listen: <value>` (value at line 2, column 11). */
function withListen(value: string): string {
  return yaml('alpha:', `  listen: ${value}`, ...SERVERS)
}

async function listenOf(value: string, resolve = fakeResolve): Promise<ListenAddress> {
  return onlyPool(await load(withListen(value), { resolve })).listen
}

async function rejectsListen(value: string, reason: string, detail?: string): Promise<void> {
  await rejects(
    withListen(value),
    { reason, line: 2, column: 11, pool: 'alpha', key: 'listen', detail },
    { resolve: fakeResolve },
  )
}

const FORMAT = 'directive "listen" has an invalid "hostname:port" format string'
const PORT = 'directive "listen" has an invalid port in "hostname:port" format string'
const INVALID = 'directive "listen" has an invalid value'
const PERM =
  'directive "listen" has an invalid file permission in "socket_path permission" format string'

describe('listen errors', () => {
  test('no colon (host only, port only, relative path): invalid format', async () => {
    for (const v of ['127.0.0.1', '24201', 'relative.sock', 'x.sock 0666']) {
      await rejectsListen(v, FORMAT)
    }
  })

  test('bad port: 0, 70000, +24201, trailing text, empty, not a number', async () => {
    for (const v of [
      '127.0.0.1:0',
      '127.0.0.1:70000',
      '127.0.0.1:+24201',
      '127.0.0.1:24201 extra',
      '"127.0.0.1:"',
      'relative:sock',
      '127.0.0.1:-1',
    ]) {
      await rejectsListen(v, PORT)
    }
  })

  test('unresolvable host: invalid value, with the address resolution detail', async () => {
    await rejectsListen(
      'no-such-host.invalid:24201',
      INVALID,
      "address resolution of node 'no-such-host.invalid' service '24201' failed: Name or service not known",
    )
    await rejectsListen(
      "'[::1]:24201'",
      INVALID,
      "address resolution of node '[::1]' service '24201' failed: Name or service not known",
    )
  })

  test('empty host fails without asking the resolver', async () => {
    await rejects(
      withListen(':24201'),
      {
        reason: INVALID,
        line: 2,
        column: 11,
        pool: 'alpha',
        key: 'listen',
        detail: "address resolution of node '' service '24201' failed: Name or service not known",
      },
      { resolve: noResolve },
    )
  })

  test('the service in the detail is the port number, and the error text is glibc-like', async () => {
    const again = async () => {
      throw Object.assign(new Error('getaddrinfo EAI_AGAIN x'), { code: 'EAI_AGAIN' })
    }
    const err = await rejects(
      withListen('cache.example:024201'),
      { reason: INVALID, line: 2, column: 11, pool: 'alpha', key: 'listen' },
      { resolve: again },
    )
    assert.equal(
      err.detail,
      "address resolution of node 'cache.example' service '24201' failed: Temporary failure in name resolution",
    )
    assert.equal(
      err.message,
      `${FILE}:2:11: pool 'alpha', key 'listen': ${INVALID} (${err.detail})`,
    )
    assert.equal((err.cause as Error).message, 'getaddrinfo EAI_AGAIN x')
  })

  test('permission > 0777 or negative: invalid file permission', async () => {
    for (const v of [
      '/tmp/x.sock 1777',
      '/tmp/x.sock 01000',
      '/tmp/x.sock -1',
      '/tmp/x.sock 77777777777777777777777',
    ]) {
      await rejectsListen(v, PERM)
    }
  })

  test('a unix path that does not fit in sun_path: invalid value', async () => {
    const path = `/${'a'.repeat(107)}`
    await rejectsListen(path, INVALID, 'unix socket path is 108 bytes long; at most 107 fit')
    assert.equal((await listenOf(path.slice(0, 107))).kind, 'unix')
  })

  test('listen is resolved as it is read: an earlier mistake wins, a later one loses', async () => {
    const bad = 'no-such-host.invalid:24201'
    await rejects(yaml('alpha:', '  foo: 1', `  listen: ${bad}`, ...SERVERS), {
      reason: 'directive "foo" is unknown',
      line: 2,
      column: 3,
      pool: 'alpha',
      key: 'foo',
    })
    await rejects(yaml('alpha:', `  listen: ${bad}`, ...SERVERS, 'beta:', '  foo: 1', ...SERVERS), {
      reason: INVALID,
      line: 2,
      column: 11,
      pool: 'alpha',
      key: 'listen',
    })
  })
})

describe('accepted listen forms', () => {
  test('host:port with an IP literal is not looked up', async () => {
    assert.deepEqual(await listenOf('127.0.0.1:24201', noResolve), {
      kind: 'tcp',
      host: '127.0.0.1',
      address: '127.0.0.1',
      port: 24201,
      text: '127.0.0.1:24201',
    })
    assert.deepEqual(await listenOf('0.0.0.0:24201', noResolve), {
      kind: 'tcp',
      host: '0.0.0.0',
      address: '0.0.0.0',
      port: 24201,
      text: '0.0.0.0:24201',
    })
  })

  test('split at the last colon: ::1:24201', async () => {
    assert.deepEqual(await listenOf('::1:24201', noResolve), {
      kind: 'tcp',
      host: '::1',
      address: '::1',
      port: 24201,
      text: '::1:24201',
    })
  })

  test('leading zeros in the port; the text is kept as written', async () => {
    const l = await listenOf('127.0.0.1:024201')
    assert.equal(l.kind === 'tcp' && l.port, 24201)
    assert.equal(l.text, '127.0.0.1:024201')
  })

  test('a name goes through the resolver', async () => {
    const asked: string[] = []
    const resolve = async (host: string) => {
      asked.push(host)
      return fakeResolve(host)
    }
    assert.deepEqual(await listenOf('cache.example:24201', resolve), {
      kind: 'tcp',
      host: 'cache.example',
      address: '10.1.2.3',
      port: 24201,
      text: 'cache.example:24201',
    })
    assert.deepEqual(asked, ['cache.example'])
  })

  test('localhost with the default resolver (node:dns lookup, no network)', async () => {
    const config = await parseConfig(withListen('localhost:24201'), FILE)
    const l = onlyPool(config).listen
    assert.equal(l.kind, 'tcp')
    assert.ok(l.kind === 'tcp' && isIP(l.address) !== 0, `address ${JSON.stringify(l)}`)
  })

  const unix: [string, string, number | undefined][] = [
    ['/tmp/x.sock', '/tmp/x.sock', undefined],
    ['/tmp/x.sock 0666', '/tmp/x.sock', 0o666],
    ['/tmp/x.sock 777', '/tmp/x.sock', 0o777],
    ['/tmp/x.sock 0777', '/tmp/x.sock', 0o777],
    ['/tmp/x.sock 0', '/tmp/x.sock', undefined],
    // octal prefix: 999 and 0x1ff parse to 0, which means no chmod
    ['/tmp/x.sock 999', '/tmp/x.sock', undefined],
    ['/tmp/x.sock 0x1ff', '/tmp/x.sock', undefined],
    ['/tmp/x.sock 0640abc', '/tmp/x.sock', 0o640],
    ['/tmp/x.sock +7', '/tmp/x.sock', 0o7],
    // E-11: extra spaces stay in the path; the permission is after the last space
    ['"/tmp/x.sock   0640"', '/tmp/x.sock  ', 0o640],
    ['/tmp/y.sock 0777 extra', '/tmp/y.sock 0777', undefined],
    ['"/tmp/x.sock "', '/tmp/x.sock', undefined],
  ]
  for (const [value, path, mode] of unix) {
    test(`unix: ${value}`, async () => {
      const text = value.startsWith('"') ? value.slice(1, -1) : value
      assert.deepEqual(await listenOf(value, noResolve), { kind: 'unix', path, mode, text })
    })
  }

  test('strtolOctal follows strtol(s, NULL, 8)', () => {
    assert.equal(strtolOctal(''), 0)
    assert.equal(strtolOctal('0666'), 0o666)
    assert.equal(strtolOctal('\t0644'), 0o644)
    assert.equal(strtolOctal('89'), 0)
    assert.equal(strtolOctal('-0'), 0)
    assert.equal(strtolOctal('-1'), Number.POSITIVE_INFINITY)
    assert.equal(strtolOctal('+10'), 8)
  })
})
