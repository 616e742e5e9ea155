/**
 * The command table's compiled form: case-insensitive lookup of every name,
 * misses, and the arity rules of spec §2 as walnut keeps them.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  arityOk,
  COMMAND_NAMES,
  type COMMANDS,
  commandIndex,
  lookupCommand,
  ROUTE_EVAL,
  ROUTE_KEY,
  ROUTE_KEY2,
  ROUTE_LOCAL,
  ROUTE_PLACEHOLDER,
  ROUTE_SPLIT,
  ROUTE_UNSUPPORTED,
  routeOf,
  SPLIT_MGET,
  SPLIT_MSET,
  SPLIT_SUM,
  splitOf,
} from '../../../src/proto/redis/commands.js'

function find(name: string): number {
  const buf = Buffer.from(`..${name}..`, 'latin1')
  return lookupCommand(buf, 2, buf.length - 2)
}

function mixedCase(s: string): string {
  return [...s].map((c, i) => (i % 2 === 0 ? c.toUpperCase() : c)).join('')
}

describe('redis command table', () => {
  it('finds every name in any letter case', () => {
    COMMAND_NAMES.forEach((name, i) => {
      assert.equal(find(name), i, name)
      assert.equal(find(name.toUpperCase()), i, name)
      assert.equal(find(mixedCase(name)), i, name)
    })
  })

  it('misses on anything else', () => {
    for (const s of [
      '',
      'ge',
      'gett',
      'foobar',
      'get ',
      'g\u00e9t',
      'x'.repeat(40),
      'GET\0',
      'restore_asking',
    ]) {
      assert.equal(find(s), -1, JSON.stringify(s))
    }
    // Case folding is ASCII only: 'K' (U+212A) is not 'k'.
    assert.equal(find('\u212aeys'), -1)
  })

  it('routes the spec §2 classes', () => {
    const route = (n: keyof typeof COMMANDS) => routeOf(commandIndex(n))
    assert.equal(route('get'), ROUTE_KEY)
    assert.equal(route('sunion'), ROUTE_KEY)
    assert.equal(route('zunion'), ROUTE_KEY2)
    assert.equal(route('zunionstore'), ROUTE_KEY)
    assert.equal(route('eval'), ROUTE_EVAL)
    assert.equal(route('evalsha'), ROUTE_EVAL)
    assert.equal(route('command'), ROUTE_PLACEHOLDER)
    assert.equal(route('lolwut'), ROUTE_PLACEHOLDER)
    assert.equal(route('ping'), ROUTE_LOCAL)
    assert.equal(route('hello'), ROUTE_LOCAL)
    assert.equal(route('move'), ROUTE_UNSUPPORTED)
    assert.equal(route('keys'), ROUTE_UNSUPPORTED)
    assert.equal(route('blpop'), ROUTE_UNSUPPORTED)
    for (const n of ['mget', 'del', 'unlink', 'touch', 'mset', 'exists'] as const) {
      assert.equal(route(n), ROUTE_SPLIT, n)
    }
    assert.equal(splitOf(commandIndex('mget')), SPLIT_MGET)
    assert.equal(splitOf(commandIndex('exists')), SPLIT_SUM)
    assert.equal(splitOf(commandIndex('del')), SPLIT_SUM)
    assert.equal(splitOf(commandIndex('mset')), SPLIT_MSET)
  })

  it('checks arity: exact, at least, bounded, odd', () => {
    const ok = (n: keyof typeof COMMANDS, argc: number) => arityOk(commandIndex(n), argc)
    assert.deepEqual(
      [1, 2, 3].map((a) => ok('get', a)),
      [false, true, false],
    )
    assert.deepEqual(
      [2, 3, 4, 5].map((a) => ok('expire', a)),
      [false, true, true, false],
    )
    assert.deepEqual(
      [4, 5, 6].map((a) => ok('linsert', a)),
      [false, true, false],
    )
    assert.deepEqual(
      [1, 2, 9].map((a) => ok('set', a)),
      [false, true, true],
    )
    assert.deepEqual(
      [1, 2, 3].map((a) => ok('ping', a)),
      [true, true, false],
    )
    assert.deepEqual(
      [2, 3, 4, 5, 6, 7].map((a) => ok('mset', a)),
      [false, true, false, true, false, true],
    )
    assert.deepEqual(
      [1, 2, 3].map((a) => ok('mget', a)),
      [false, true, true],
    )
    assert.deepEqual(
      [2, 3].map((a) => ok('zunion', a)),
      [false, true],
    )
    assert.deepEqual(
      [2, 3, 4].map((a) => ok('eval', a)),
      [false, true, true],
    )
    assert.deepEqual(
      [1, 5].map((a) => ok('lolwut', a)),
      [true, true],
    )
    assert.deepEqual(
      [1, 2].map((a) => ok('quit', a)),
      [true, true],
    )
  })
})
