/** Unit tests of Placement: hash_tag extraction, empty keys, one server, ejection, name order. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { DistributionName, HashName, PoolConfig } from '../../src/config/types.js'
import { HASHES } from '../../src/hash/index.js'
import { compareNutcrackerNames, Placement, type PlacementPool } from '../../src/hash/placement.js'

// Compile-time check: a validated PoolConfig can be handed to Placement as is.
export type PoolConfigIsPlacementPool = PoolConfig extends PlacementPool ? true : never
const poolConfigFits: PoolConfigIsPlacementPool = true
void poolConfigFits

const SERVERS = [1, 2, 3, 4, 5].map((i) => ({ name: `10.0.0.${i}:11300`, weight: 1 }))

function placement(
  hash: HashName,
  tag: string | undefined,
  distribution: DistributionName = 'ketama',
  servers = SERVERS,
) {
  const hashTag = tag === undefined ? undefined : Buffer.from(tag)
  return new Placement({ hash, hashTag, distribution, servers })
}

const b = (s: string) => Buffer.from(s, 'utf8')
const h = (name: HashName, s: string) => HASHES[name](b(s), 0, b(s).length)

test('hash_tag: first open byte, first close byte after it, non-empty inside', () => {
  const braces = placement('md5', '{}')
  const cases: [string, string][] = [
    ['user:{42}:profile', '42'],
    ['{}{x}', '{}{x}'], // only the first open byte counts, and its tag is empty
    ['{{a}}', '{a'],
    ['a}{b}', 'b'],
    ['{abc', '{abc'], // unterminated: whole key
    ['abc}', 'abc}'],
    ['plain', 'plain'],
    ['{}', '{}'],
    ['x{y}z{w}', 'y'],
  ]
  for (const [key, part] of cases) {
    assert.equal(braces.hashOf(b(key), 0, b(key).length), h('md5', part), key)
  }
  const dollar = placement('fnv1a_64', '$$')
  for (const [key, part] of [
    ['$a$b$', 'a'],
    ['$$a$', '$$a$'],
    ['x$tag$y', 'tag'],
  ] as const) {
    assert.equal(dollar.hashOf(b(key), 0, b(key).length), h('fnv1a_64', part), key)
  }
})

test('hash_tag: only bytes inside [start, end) are searched', () => {
  const p = placement('crc32a', '{}')
  const buf = b('{a}xy}{b}')
  // "xy" alone has no tag; the braces outside the slice must not be used.
  assert.equal(p.hashOf(buf, 3, 5), h('crc32a', 'xy'))
  // "{a}x": tag "a"
  assert.equal(p.hashOf(buf, 0, 4), h('crc32a', 'a'))
  // "}{b" : open byte but no close byte within the slice.
  assert.equal(p.hashOf(buf, 5, 8), h('crc32a', '}{b'))
})

test('no hash_tag: the whole key is hashed, tag-like bytes included', () => {
  const p = placement('murmur', undefined)
  assert.equal(p.hashOf(b('user:{42}'), 0, 9), h('murmur', 'user:{42}'))
})

test('empty key: hash 0 without calling the function; ketama → owner of the lowest point', () => {
  for (const name of Object.keys(HASHES) as HashName[]) {
    assert.equal(placement(name, undefined).hashOf(new Uint8Array(0), 0, 0), 0, name)
    assert.equal(placement(name, '{}').hashOf(b('abc'), 1, 1), 0, name)
  }
  // md5("") = 3649838548: pick a pool where hashing the empty key would land elsewhere.
  const empty = new Uint8Array(0)
  let checked = 0
  const many = Array.from({ length: 20 }, (_, i) => ({ name: `10.0.0.${i + 1}:11300`, weight: 1 }))
  for (let n = 2; n <= many.length; n++) {
    const p = placement('md5', undefined, 'ketama', many.slice(0, n))
    if (p.distribution.dispatch(h('md5', '')) === p.distribution.dispatch(0)) continue
    assert.equal(p.serverFor(empty, 0, 0), p.distribution.dispatch(0))
    checked++
  }
  assert.ok(checked > 0)
  const m = placement('md5', undefined, 'modula')
  assert.equal(m.serverFor(new Uint8Array(0), 0, 0), 0) // slot 0
})

test('one server: index 0 for every key, nothing hashed; -1 once ejected', () => {
  for (const dist of ['ketama', 'modula', 'random'] as const) {
    const p = placement('crc16', '{}', dist, [{ name: 'only', weight: 3 }])
    for (const key of ['', 'a', '{x}', 'some:key'])
      assert.equal(p.serverFor(b(key), 0, key.length), 0)
    p.setLive(0, false)
    assert.equal(p.serverFor(b('a'), 0, 1), -1)
  }
})

test('ejection rebuilds from the live servers; un-ejecting restores the mapping', () => {
  for (const dist of ['ketama', 'modula'] as const) {
    // murmur spreads these similar keys; fnv1a_64's small prime clusters them.
    const p = placement('murmur', undefined, dist)
    const keys = Array.from({ length: 2000 }, (_, i) => b(`key:${i}`))
    const before = keys.map((k) => p.serverFor(k, 0, k.length))
    assert.equal(new Set(before).size, 5)

    assert.equal(p.setLive(2, false), true)
    assert.equal(p.setLive(2, false), false)
    assert.equal(p.liveCount, 4)
    assert.equal(p.isLive(2), false)
    const during = keys.map((k) => p.serverFor(k, 0, k.length))
    assert.ok(!during.includes(2))
    if (dist === 'ketama') {
      // Consistent hashing: keys of other servers mostly stay put.
      const moved = before.filter((s, i) => s !== 2 && during[i] !== s).length
      assert.ok(moved < keys.length / 10, `${moved} keys moved`)
    }

    p.setLive(2, true)
    assert.deepEqual(
      keys.map((k) => p.serverFor(k, 0, k.length)),
      before,
    )
    assert.equal(p.setLiveFlags([false, true, true, false, true]), true)
    assert.equal(p.setLiveFlags([false, true, true, false, true]), false)
    assert.equal(p.liveCount, 3)
    const flags = keys.map((k) => p.serverFor(k, 0, k.length))
    assert.deepEqual([...new Set(flags)].sort(), [1, 2, 4])
    p.setLiveFlags([false, false, false, false, false])
    assert.equal(p.serverFor(keys[0]!, 0, keys[0]!.length), -1)
  }
})

test('constructor checks its inputs', () => {
  assert.throws(() => placement('md5', '{'), RangeError)
  assert.throws(() => placement('md5', '{}}'), RangeError)
  assert.throws(
    () =>
      new Placement({ hash: 'md5', hashTag: undefined, distribution: 'ketama', servers: SERVERS }, [
        true,
      ]),
    RangeError,
  )
  assert.throws(() => placement('md5', undefined, 'ketama', [{ name: 'a', weight: 0 }]), RangeError)
  const p = new Placement(
    { hash: 'md5', hashTag: undefined, distribution: 'ketama', servers: SERVERS },
    [false, true, true, true, true],
  )
  assert.equal(p.liveCount, 4)
  assert.equal(p.isLive(0), false)
})

test('compareNutcrackerNames: shorter UTF-8 first, then unsigned bytes', () => {
  assert.deepEqual(['zeta', 'alpha', 'mid', 'b'].sort(compareNutcrackerNames), [
    'b',
    'mid',
    'zeta',
    'alpha',
  ])
  // Byte length, not string length: "é" is 2 bytes.
  assert.deepEqual(['é', 'zz', 'z'].sort(compareNutcrackerNames), ['z', 'zz', 'é'])
  // Unsigned: 0xc3 sorts after 'z' (0x7a).
  assert.ok(compareNutcrackerNames('é', 'zz') > 0)
  assert.ok(compareNutcrackerNames('10.0.0.9:1', '10.0.0.10:1') < 0)
  assert.ok(compareNutcrackerNames('10.0.0.10:1', '10.0.0.11:1') < 0)
  assert.equal(compareNutcrackerNames('same', 'same'), 0)
})
