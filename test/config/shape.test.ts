/**
 * The YAML shape rules (../shared/spec/cli-config.md §5.1, evidence E-08..E-10):
 * every construct nutcracker refuses before it reads a key, with its exact reason
 * and where walnut says it is.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { BASE_LINES, base, load, onlyPool, rejects, yaml } from './support.js'

const LISTEN = '  listen: 127.0.0.1:24201'
const SERVERS = ['  servers:', '   - 127.0.0.1:24101:1'] as const

describe('documents', () => {
  test('empty file: found 0 documents', async () => {
    await rejects('', { reason: "'test.yml' must contain only 1 document; found 0 documents" })
  })

  test('only comments: found 0 documents', async () => {
    await rejects('# nothing here\n\n# at all\n', {
      reason: "'test.yml' must contain only 1 document; found 0 documents",
    })
  })

  test('two documents: found 2 documents, at the second', async () => {
    await rejects(`${base()}---\n${base()}`, {
      reason: "'test.yml' must contain only 1 document; found 2 documents",
      line: 5,
      column: 1,
    })
  })

  test('leading --- is a document start token (5)', async () => {
    await rejects(`---\n${base()}`, {
      reason: 'document start token (5) is disallowed',
      line: 1,
      column: 1,
    })
  })

  test('trailing ... is a document end token (6)', async () => {
    await rejects(base('...'), {
      reason: 'document end token (6) is disallowed',
      line: 5,
      column: 1,
    })
  })

  test('%YAML without --- is a YAML error (err 4)', async () => {
    await rejects(yaml('%YAML 1.1', ...BASE_LINES), {
      reason: 'failed (err 4) to get the next yaml document',
      line: 2,
      column: 1,
      detail: 'Missing directives-end/doc-start indicator line',
    })
  })

  test('%YAML with --- is a version directive token (3)', async () => {
    await rejects(yaml('%YAML 1.1', '---', ...BASE_LINES), {
      reason: 'version directive token (3) is disallowed',
      line: 1,
      column: 1,
    })
  })

  test('%TAG with --- is a tag directive token (4)', async () => {
    await rejects(yaml('%TAG !e! tag:example.com,2000:', '---', ...BASE_LINES), {
      reason: 'tag directive token (4) is disallowed',
      line: 1,
      column: 1,
    })
  })

  test('an unknown directive is a YAML error (libyaml scanner, err 3)', async () => {
    await rejects(yaml('%FOO bar', '---', ...BASE_LINES), {
      reason: 'failed (err 3) to get the next yaml document',
      line: 1,
      column: 1,
    })
  })
})

describe('disallowed tokens', () => {
  test('flow sequence: flow sequence start token (10)', async () => {
    await rejects(yaml('alpha:', LISTEN, '  servers: [127.0.0.1:24101:1]'), {
      reason: 'flow sequence start token (10) is disallowed',
      line: 3,
      column: 12,
    })
  })

  test('unquoted [::1]:port is a YAML error (err 4)', async () => {
    await rejects(yaml('alpha:', '  listen: [::1]:24201', ...SERVERS), {
      reason: 'failed (err 4) to get the next yaml document',
      line: 2,
      column: 16,
    })
  })

  test('flow mapping: flow mapping start token (12)', async () => {
    await rejects(yaml('alpha: {listen: 127.0.0.1:24201}'), {
      reason: 'flow mapping start token (12) is disallowed',
      line: 1,
      column: 8,
    })
  })

  test('anchor: anchor token (19)', async () => {
    await rejects(yaml('alpha:', '  listen: &l 127.0.0.1:24201', ...SERVERS), {
      reason: 'anchor token (19) is disallowed',
      line: 2,
      column: 11,
    })
  })

  test('anchor then alias: the anchor is reported', async () => {
    const text = yaml(
      ...BASE_LINES,
      '  hash: &h md5',
      'beta:',
      '  listen: 127.0.0.1:24202',
      '  hash: *h',
      ...SERVERS,
    )
    await rejects(text, { reason: 'anchor token (19) is disallowed', line: 5, column: 9 })
  })

  test('alias without anchor is a YAML error (libyaml composer, err 5)', async () => {
    await rejects(base('  hash: *h'), {
      reason: 'failed (err 5) to get the next yaml document',
      line: 5,
      column: 9,
      detail: 'found undefined alias *h',
    })
  })

  test('tag !!str: tag token (20)', async () => {
    await rejects(yaml('alpha:', '  listen: !!str 127.0.0.1:24201', ...SERVERS), {
      reason: 'tag token (20) is disallowed',
      line: 2,
      column: 11,
    })
  })

  test('the first disallowed token in the file wins', async () => {
    await rejects(yaml('alpha:', '  listen: !!str 127.0.0.1:24201', '  servers: [a:1:1]'), {
      reason: 'tag token (20) is disallowed',
      line: 2,
      column: 11,
    })
  })
})

describe('YAML syntax', () => {
  test('tab indentation: err 3', async () => {
    await rejects(yaml('alpha:', '\tlisten: 127.0.0.1:24201', ...SERVERS), {
      reason: 'failed (err 3) to get the next yaml document',
      line: 2,
      column: 1,
      detail: 'Tabs are not allowed as indentation',
    })
  })

  test('unclosed quote: err 3', async () => {
    const err = await rejects(yaml('alpha:', '  listen: "127.0.0.1:24201', ...SERVERS), {
      reason: 'failed (err 3) to get the next yaml document',
      line: 5,
      column: 1,
    })
    assert.match(err.message, /Missing closing "quote/)
  })

  test('mis-indented key: err 4', async () => {
    await rejects(yaml('alpha:', LISTEN, ' servers:', '   - 127.0.0.1:24101:1'), {
      reason: 'failed (err 4) to get the next yaml document',
      line: 3,
      column: 1,
    })
  })

  test('a control character: reader error (err 2)', async () => {
    await rejects(base('  hash: md5\u0001'), {
      reason: 'failed (err 2) to get the next yaml document',
      line: 5,
      column: 12,
      detail: 'control characters are not allowed (U+0001)',
    })
  })

  test('invalid UTF-8: reader error (err 2)', async () => {
    const bytes = Buffer.concat([Buffer.from(base('  hash: m')), Buffer.from([0xff, 0x0a])])
    await rejects(bytes, {
      reason: 'failed (err 2) to get the next yaml document',
      line: 6,
      column: 1,
      detail: 'invalid UTF-8 at byte offset 77',
    })
  })

  test('a byte order mark and valid UTF-8 are fine', async () => {
    const bytes = Buffer.concat([
      Buffer.from([0xef, 0xbb, 0xbf]),
      Buffer.from(yaml('pöol:', LISTEN, ...SERVERS)),
    ])
    assert.equal(onlyPool(await load(bytes)).name, 'pöol')
  })
})

describe('tree shape', () => {
  test('top-level scalar: invalid empty "key:" at depth 0', async () => {
    await rejects('alpha\n', {
      reason: `'test.yml' has invalid empty "key:" at depth 0`,
      line: 1,
      column: 1,
    })
  })

  test('top-level sequence: sequence at depth 0', async () => {
    await rejects('- alpha\n', {
      reason: "'test.yml' has sequence at depth 0 instead of 2",
      line: 1,
      column: 1,
    })
  })

  test('pool with no body: invalid mapping "key:" at depth 1', async () => {
    await rejects(yaml('alpha:', 'beta:', LISTEN, ...SERVERS), {
      reason: `'test.yml' has invalid mapping "key:" at depth 1`,
      line: 1,
      column: 7,
      pool: 'alpha',
    })
  })

  test('pool with a scalar body: invalid mapping "key:" at depth 1', async () => {
    await rejects('alpha: 127.0.0.1:24201\n', {
      reason: `'test.yml' has invalid mapping "key:" at depth 1`,
      line: 1,
      column: 8,
      pool: 'alpha',
    })
  })

  test('pool whose body is a sequence: sequence at depth 1', async () => {
    await rejects(yaml('alpha:', '  - 127.0.0.1:24101:1'), {
      reason: "'test.yml' has sequence at depth 1 instead of 2",
      line: 2,
      column: 3,
      pool: 'alpha',
    })
  })

  test('no servers: missing sequence directive, at the pool', async () => {
    await rejects(yaml('alpha:', LISTEN, '  hash: md5'), {
      reason: "'test.yml' missing sequence directive at depth 2",
      line: 1,
      column: 1,
      pool: 'alpha',
      key: 'servers',
    })
  })

  test('servers: with no items: missing sequence directive, at servers', async () => {
    await rejects(yaml('alpha:', LISTEN, '  servers:', '  hash: md5'), {
      reason: "'test.yml' missing sequence directive at depth 2",
      line: 3,
      column: 3,
      pool: 'alpha',
      key: 'servers',
    })
  })

  test('missing sequence in the second pool', async () => {
    await rejects(base('beta:', '  listen: 127.0.0.1:24202'), {
      reason: "'test.yml' missing sequence directive at depth 2",
      line: 5,
      column: 1,
      pool: 'beta',
      key: 'servers',
    })
  })

  test('a second servers list: more than one sequence directive', async () => {
    await rejects(base('  servers:', '   - 127.0.0.1:24102:1'), {
      reason: "'test.yml' has more than one sequence directive",
      line: 6,
      column: 4,
      pool: 'alpha',
      key: 'servers',
    })
  })

  test('hash as a list: more than one sequence directive', async () => {
    await rejects(base('  hash:', '   - md5'), {
      reason: "'test.yml' has more than one sequence directive",
      line: 6,
      column: 4,
      pool: 'alpha',
      key: 'hash',
    })
  })

  test('nested mapping in a pool: depth greater than 2', async () => {
    await rejects(base('  x:', '    y: z'), {
      reason: "'test.yml' has a depth greater than 2",
      line: 6,
      column: 5,
      pool: 'alpha',
      key: 'x',
    })
  })

  test('mapping as a servers item: depth greater than 2', async () => {
    await rejects(yaml('alpha:', LISTEN, '  servers:', '   - host: 127.0.0.1'), {
      reason: "'test.yml' has a depth greater than 2",
      line: 4,
      column: 6,
      pool: 'alpha',
      key: 'servers',
    })
  })

  test('shape is checked before keys: an unknown key earlier does not win', async () => {
    await rejects(yaml('alpha:', '  foo: bar', LISTEN), {
      reason: "'test.yml' missing sequence directive at depth 2",
      line: 1,
      column: 1,
      pool: 'alpha',
      key: 'servers',
    })
  })
})

describe('empty scalars (nutcracker prints no reason)', () => {
  test('hash: with no value', async () => {
    await rejects(base('  hash:'), {
      reason: 'directive "hash" has an empty value',
      line: 5,
      column: 3,
      pool: 'alpha',
      key: 'hash',
    })
  })

  test('hash: ""', async () => {
    await rejects(base('  hash: ""'), {
      reason: 'directive "hash" has an empty value',
      line: 5,
      column: 3,
      pool: 'alpha',
      key: 'hash',
    })
  })

  test('an unknown key with an empty value is an empty value (value read first)', async () => {
    await rejects(base('  foo:'), {
      reason: 'directive "foo" has an empty value',
      line: 5,
      column: 3,
      pool: 'alpha',
      key: 'foo',
    })
  })

  test('an empty servers item', async () => {
    await rejects(base('   - ""'), {
      reason: 'directive "servers" has an empty value',
      line: 5,
      column: 6,
      pool: 'alpha',
      key: 'servers',
    })
  })

  test('an empty key', async () => {
    await rejects(base('  "": md5'), {
      reason: 'directive name is empty',
      line: 5,
      column: 3,
      pool: 'alpha',
    })
  })

  test('an empty pool name', async () => {
    await rejects(yaml('"":', LISTEN, ...SERVERS), {
      reason: 'pool name is empty',
      line: 1,
      column: 1,
    })
  })
})

describe('accepted YAML', () => {
  test('plain, single- and double-quoted scalars are the same', async () => {
    const plain = onlyPool(await load(base('  hash: md5', '  redis: true')))
    const quoted = onlyPool(
      await load(
        yaml(
          '"alpha":',
          "  'listen': '127.0.0.1:24201'",
          '  "servers":',
          '   - "127.0.0.1:24101:1"',
          "  hash: 'md5'",
          '  redis: "true"',
        ),
      ),
    )
    assert.deepEqual(quoted, plain)
  })

  test('comments, blank lines, servers before listen', async () => {
    const text = yaml(
      '# walnut',
      '',
      'alpha:   # the pool',
      '  servers:',
      '   # first',
      '   - 127.0.0.1:24101:1 # the one',
      '',
      '  hash: md5 # comment',
      '  listen: 127.0.0.1:24201',
    )
    const pool = onlyPool(await load(text))
    assert.equal(pool.hash, 'md5')
    assert.equal(pool.listen.text, '127.0.0.1:24201')
    assert.deepEqual(
      pool.servers.map((s) => s.text),
      ['127.0.0.1:24101:1'],
    )
  })

  test('values nutcracker does not interpret: null, ~ and 0x10 are plain strings', async () => {
    await rejects(base('  hash: null'), {
      reason: 'directive "hash" is not a valid hash',
      line: 5,
      column: 9,
      pool: 'alpha',
      key: 'hash',
    })
    await rejects(base('  timeout: 0x10'), {
      reason: 'directive "timeout" is not a number',
      line: 5,
      column: 12,
      pool: 'alpha',
      key: 'timeout',
    })
  })

  test('a block scalar is a scalar', async () => {
    const pool = onlyPool(
      await load(base('  redis_auth: >-', '    sec', '    ret', '  redis: true')),
    )
    assert.equal(pool.redisAuth, 'sec ret')
  })
})

describe('nutcracker oddities kept', () => {
  test('the one sequence may belong to another key: each item goes to that key', async () => {
    const pool = onlyPool(
      await load(yaml('alpha:', LISTEN, '  servers: 127.0.0.1:24101:1', '  hash:', '   - md5')),
    )
    assert.equal(pool.hash, 'md5')
    assert.deepEqual(
      pool.servers.map((s) => s.name),
      ['127.0.0.1:24101'],
    )
  })

  test('no servers at all (the sequence is elsewhere): pool has no servers', async () => {
    // nutcracker only logs this and starts a pool without servers; walnut refuses it
    await rejects(yaml('alpha:', LISTEN, '  hash:', '   - md5'), {
      reason: "pool 'alpha' has no servers",
      line: 1,
      column: 1,
      pool: 'alpha',
      key: 'servers',
    })
  })

  test('a sequence as an explicit key: invalid "key:value" at depth 2', async () => {
    await rejects(yaml('alpha:', LISTEN, '  ? - a', '  : b', ...SERVERS), {
      reason: `'test.yml' has invalid "key:value" at depth 2`,
      line: 3,
      column: 5,
      pool: 'alpha',
    })
  })

  test('a mapping as an explicit pool name: more than one "key:value" at depth 1', async () => {
    // the position of an explicit-key mapping is whatever the yaml package
    // reports (the `:` of `a: b`); only the reason is pinned here
    await assert.rejects(load(yaml('? a: b', ': c')), {
      reason: `'test.yml' has more than one "key:value" at depth 1`,
    })
  })

  test('CRLF line ends', async () => {
    const pool = onlyPool(await load(base().replaceAll('\n', '\r\n')))
    assert.equal(pool.listen.text, '127.0.0.1:24201')
  })
})
