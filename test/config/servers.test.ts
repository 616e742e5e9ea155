/**
 * `servers:` entries (../shared/spec/cli-config.md §5.3): every form, the names
 * nutcracker derives from them, the format errors in nutcracker's order, and
 * nutcracker's sort of servers and pools (E-13, E-14).
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { compareNames, sortByName } from '../../src/config/names.js'
import type { ServerConfig } from '../../src/config/types.js'
import { load, noResolve, onlyPool, rejects, yaml } from './support.js'

const LISTEN = '  listen: 127.0.0.1:24201'

/** A pool whose servers are `entries` (first at line 4, column 6). */
function pool(...entries: readonly string[]): string {
  return yaml('alpha:', LISTEN, '  servers:', ...entries.map((e) => `   - ${e}`))
}

const FORMAT =
  'directive "servers" has an invalid "hostname:port:weight [name]"or "/path/unix_socket:weight [name]" format string'
const PORT =
  'directive "servers" has an invalid port in "hostname:port:weight [name]" format string'
const WEIGHT =
  'directive "servers" has an invalid weight in "hostname:port:weight [name]" format string'
const ZERO = 'directive "servers" has a zero weight in "hostname:port:weight [name]" format string'

async function rejectsServer(entry: string, reason: string): Promise<void> {
  await rejects(pool(entry), { reason, line: 4, column: 6, pool: 'alpha', key: 'servers' })
}

describe('server format errors', () => {
  test('no weight, host only, unix path without weight: invalid format (sic, no space before or)', async () => {
    for (const e of ['127.0.0.1:24101', '127.0.0.1', '/tmp/mc.sock', '"127.0.0.1 24101"']) {
      await rejectsServer(e, FORMAT)
    }
  })

  test('port not a number, 0, > 65535, empty: invalid port', async () => {
    for (const e of [
      '127.0.0.1:abc:1',
      '127.0.0.1:70000:1',
      '127.0.0.1:0:1',
      '127.0.0.1::1',
      '127.0.0.1:+1:1',
      // nutcracker's int would wrap this to 24101; walnut reads the real number
      '127.0.0.1:4294991397:1',
    ]) {
      await rejectsServer(e, PORT)
    }
  })

  test('weight not a number (also h:p:1 a b): invalid weight', async () => {
    for (const e of [
      '127.0.0.1:24101:x',
      '127.0.0.1:24101:1 a b',
      '127.0.0.1:24101:-1',
      '"127.0.0.1:24101:"',
      'localhost:abc',
    ]) {
      await rejectsServer(e, WEIGHT)
    }
  })

  test('weight 0: zero weight', async () => {
    for (const e of ['127.0.0.1:24101:0', '127.0.0.1:24101:000', '/tmp/mc.sock:0']) {
      await rejectsServer(e, ZERO)
    }
  })

  test('parsed from the right: the weight is checked before the port', async () => {
    await rejectsServer('127.0.0.1:abc:x', WEIGHT)
  })

  test('a unix path with a colon reads on as host:port', async () => {
    await rejectsServer('/tmp/a:b.sock:1', PORT)
    await rejectsServer('/tmp/a:80:1', FORMAT)
  })

  test('the error points at the entry, in file order', async () => {
    await rejects(pool('127.0.0.1:24101:1', '127.0.0.1:24102:1', '127.0.0.1:24103'), {
      reason: FORMAT,
      line: 6,
      column: 6,
      pool: 'alpha',
      key: 'servers',
    })
  })
})

describe('server forms and names', () => {
  const cases: [string, Omit<ServerConfig, 'index' | 'text'>][] = [
    [
      '127.0.0.1:24101:1',
      {
        name: '127.0.0.1:24101',
        weight: 1,
        address: { kind: 'tcp', host: '127.0.0.1', port: 24101 },
      },
    ],
    [
      '127.0.0.1:11211:1',
      { name: '127.0.0.1', weight: 1, address: { kind: 'tcp', host: '127.0.0.1', port: 11211 } },
    ],
    [
      '127.0.0.1:011211:1',
      { name: '127.0.0.1', weight: 1, address: { kind: 'tcp', host: '127.0.0.1', port: 11211 } },
    ],
    [
      '127.0.0.1:024101:01',
      {
        name: '127.0.0.1:024101',
        weight: 1,
        address: { kind: 'tcp', host: '127.0.0.1', port: 24101 },
      },
    ],
    [
      '127.0.0.1:24101:1 s1',
      { name: 's1', weight: 1, address: { kind: 'tcp', host: '127.0.0.1', port: 24101 } },
    ],
    [
      '10.0.0.4:11211:3 10.0.0.4:11211',
      {
        name: '10.0.0.4:11211',
        weight: 3,
        address: { kind: 'tcp', host: '10.0.0.4', port: 11211 },
      },
    ],
    [
      '/tmp/mc.sock:1',
      { name: '/tmp/mc.sock:', weight: 1, address: { kind: 'unix', path: '/tmp/mc.sock' } },
    ],
    [
      '/tmp/mc.sock:2 u1',
      { name: 'u1', weight: 2, address: { kind: 'unix', path: '/tmp/mc.sock' } },
    ],
    [
      'no-such-host.invalid:24101:1',
      {
        name: 'no-such-host.invalid:24101',
        weight: 1,
        address: { kind: 'tcp', host: 'no-such-host.invalid', port: 24101 },
      },
    ],
    [
      '::1:24101:1',
      { name: '::1:24101', weight: 1, address: { kind: 'tcp', host: '::1', port: 24101 } },
    ],
    [
      '"cache.example:65535:250 my:name"',
      {
        name: 'my:name',
        weight: 250,
        address: { kind: 'tcp', host: 'cache.example', port: 65535 },
      },
    ],
    // nutcracker keeps the empty name after a trailing space
    [
      '"127.0.0.1:24101:1 "',
      { name: '', weight: 1, address: { kind: 'tcp', host: '127.0.0.1', port: 24101 } },
    ],
    [':24101:1', { name: ':24101', weight: 1, address: { kind: 'tcp', host: '', port: 24101 } }],
    [
      '127.0.0.1:24101:99999999999',
      {
        name: '127.0.0.1:24101',
        weight: 2147483647,
        address: { kind: 'tcp', host: '127.0.0.1', port: 24101 },
      },
    ],
  ]
  for (const [entry, want] of cases) {
    test(entry, async () => {
      // backend hosts are never resolved at load time
      const server = onlyPool(await load(pool(entry), { resolve: noResolve })).servers[0]
      const text = entry.startsWith('"') ? entry.slice(1, -1) : entry
      assert.deepEqual(server, { text, index: 0, ...want })
    })
  }
})

describe('duplicate server names', () => {
  const dup = (name: string) => `pool 'alpha' has servers with same name '${name}'`

  test('the same entry twice, at the second', async () => {
    await rejects(pool('127.0.0.1:24101:1', '127.0.0.1:24101:1'), {
      reason: dup('127.0.0.1:24101'),
      line: 5,
      column: 6,
      pool: 'alpha',
      key: 'servers',
    })
  })

  test('h:p:1 and h:p:2 clash (the weight is not part of the name)', async () => {
    await rejects(pool('127.0.0.1:24102:1', '127.0.0.1:24101:1', '127.0.0.1:24101:2'), {
      reason: dup('127.0.0.1:24101'),
      line: 6,
      column: 6,
      pool: 'alpha',
      key: 'servers',
    })
  })

  test('two servers named s1', async () => {
    await rejects(pool('127.0.0.1:24101:1 s1', '127.0.0.1:24102:1 s1'), {
      reason: dup('s1'),
      line: 5,
      column: 6,
      pool: 'alpha',
      key: 'servers',
    })
  })

  test('a port-11211 server and a server named like its host', async () => {
    await rejects(pool('127.0.0.1:11211:1', '127.0.0.1:24101:1 127.0.0.1'), {
      reason: dup('127.0.0.1'),
      line: 5,
      column: 6,
      pool: 'alpha',
      key: 'servers',
    })
  })

  test('three equal names: reported at the second in file order', async () => {
    await rejects(pool('a:1:1 x', 'b:1:1 x', 'c:1:1 x'), {
      reason: dup('x'),
      line: 5,
      column: 6,
      pool: 'alpha',
      key: 'servers',
    })
  })

  test('the same host:port with two names is fine', async () => {
    const servers = onlyPool(
      await load(pool('127.0.0.1:24101:1 s1', '127.0.0.1:24101:1 s2')),
    ).servers
    assert.deepEqual(
      servers.map((s) => s.name),
      ['s1', 's2'],
    )
  })
})

describe('nutcracker order', () => {
  test('E-13: zz, 127.0.0.1:24101, 127.0.0.1:24103; index keeps file order', async () => {
    const servers = onlyPool(
      await load(pool('127.0.0.1:24103:1', '127.0.0.1:24101:1', '127.0.0.1:24102:1 zz')),
    ).servers
    assert.deepEqual(
      servers.map((s) => [s.name, s.index]),
      [
        ['zz', 2],
        ['127.0.0.1:24101', 1],
        ['127.0.0.1:24103', 0],
      ],
    )
  })

  test('E-14: pools b, aa, zz, beta, alpha; servers x, 127.0.0.1, 127.0.0.1:9, 127.0.0.1:24101', async () => {
    const text = ['alpha', 'zz', 'beta', 'b', 'aa']
      .map((name, i) =>
        yaml(
          `${name}:`,
          `  listen: 127.0.0.1:2420${i + 1}`,
          '  servers:',
          '   - 127.0.0.1:24101:1',
          '   - 127.0.0.1:24102:1 x',
          '   - 127.0.0.1:9:1',
          '   - 127.0.0.1:11211:1',
        ),
      )
      .join('')
    const config = await load(text)
    assert.deepEqual(
      config.pools.map((p) => p.name),
      ['b', 'aa', 'zz', 'beta', 'alpha'],
    )
    for (const p of config.pools) {
      assert.deepEqual(
        p.servers.map((s) => s.name),
        ['x', '127.0.0.1', '127.0.0.1:9', '127.0.0.1:24101'],
      )
    }
  })

  test('lengths are UTF-8 bytes and bytes compare unsigned', async () => {
    const names = ['éé', 'abc', 'é', 'zz', 'Z', 'a', '€', 'ab']
    const servers = onlyPool(await load(pool(...names.map((n, i) => `h:${i + 1}:1 ${n}`)))).servers
    // é = c3 a9 (2 bytes), € = e2 82 ac (3 bytes), éé = 4 bytes
    assert.deepEqual(
      servers.map((s) => s.name),
      ['Z', 'a', 'ab', 'zz', 'é', 'abc', '€', 'éé'],
    )
  })

  test('compareNames: shorter first, then bytewise', () => {
    assert.equal(compareNames('b', 'aa') < 0, true)
    assert.equal(compareNames('zz', 'beta') < 0, true)
    assert.equal(compareNames('beta', 'alpha') < 0, true)
    assert.equal(compareNames('alpha', 'alpha'), 0)
    assert.equal(compareNames('aa', 'ab') < 0, true)
    assert.equal(compareNames('é', 'zz') > 0, true)
    assert.equal(compareNames('abc', 'éé') < 0, true)
  })

  test('sortByName is stable', () => {
    const items = [
      { n: 'b', i: 0 },
      { n: 'a', i: 1 },
      { n: 'b', i: 2 },
      { n: 'a', i: 3 },
    ]
    assert.deepEqual(
      sortByName(items, (x) => x.n).map((x) => x.i),
      [1, 3, 0, 2],
    )
  })
})
