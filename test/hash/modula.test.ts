/** Unit tests of the modula and random distributions. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ModulaDistribution } from '../../src/hash/modula.js'
import { RandomDistribution } from '../../src/hash/random.js'
import type { DistServer } from '../../src/hash/types.js'

const servers = (weights: number[], live?: boolean[]): DistServer[] =>
  weights.map((weight, i) => ({ name: `s${i}`, weight, live: live?.[i] ?? true }))

test('modula: weighted slots in server order, hash % slots', () => {
  const m = new ModulaDistribution(servers([1, 2, 3]))
  assert.deepEqual([...m.slots], [0, 1, 1, 2, 2, 2])
  for (let h = 0; h < 12; h++) assert.equal(m.dispatch(h), m.slots[h % 6])
  // The full unsigned 32-bit hash counts: 2^32 - 1 = 3 (mod 6), slot 3 is server 2.
  assert.equal(m.dispatch(0xffffffff), 2)
  // 2^31 = 2 (mod 6): a hash with the top bit set must not go negative.
  assert.equal(m.dispatch(0x80000000), 1)
})

test('modula: servers that are not live have no slots', () => {
  const m = new ModulaDistribution(servers([1, 2, 1, 1], [true, false, true, true]))
  assert.deepEqual([...m.slots], [0, 2, 3])
  assert.equal(new ModulaDistribution(servers([1], [false])).dispatch(7), -1)
})

test('random: only live servers, weights ignored, each one reachable', () => {
  const r = new RandomDistribution(servers([1, 100, 1, 1], [true, true, false, true]))
  assert.deepEqual([...r.live], [0, 1, 3])
  const seen = new Map<number, number>()
  for (let i = 0; i < 3000; i++) {
    const s = r.dispatch(0)
    seen.set(s, (seen.get(s) ?? 0) + 1)
  }
  assert.deepEqual([...seen.keys()].sort(), [0, 1, 3])
  // Weight 100 is ignored: server 1 gets about a third, not ~98%.
  assert.ok(seen.get(1)! < 1500, `server 1 got ${seen.get(1)}`)
  assert.equal(new RandomDistribution(servers([1], [false])).dispatch(0), -1)
})
