/** Unit tests of the ketama continuum: float32 point counts, truncation, lookup, ties. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { KetamaContinuum, ketamaPointCount } from '../../src/hash/ketama.js'
import type { DistServer } from '../../src/hash/types.js'

const servers = (weights: number[], live?: boolean[]): DistServer[] =>
  weights.map((weight, i) => ({ name: `10.0.0.${i + 1}:11300`, weight, live: live?.[i] ?? true }))

test('equal weights: 160 points, but float32 gives 156 for some pool sizes', () => {
  for (const n of [1, 2, 3, 6, 20, 24, 26]) assert.equal(ketamaPointCount(1, n, n), 160, `n=${n}`)
  for (const n of [25, 47, 50, 55, 61, 71, 94, 100, 107]) {
    assert.equal(ketamaPointCount(1, n, n), 156, `n=${n}`)
  }
  const k = new KetamaContinuum(servers(Array(25).fill(1)))
  assert.deepEqual([...k.pointCounts], Array(25).fill(156))
  assert.equal(k.values.length, 25 * 156)
})

test('weights 1,2,3,5 give 56,116,172,288 points', () => {
  const k = new KetamaContinuum(servers([1, 2, 3, 5]))
  assert.deepEqual([...k.pointCounts], [56, 116, 172, 288])
  assert.equal(k.values.length, 632)
})

test('a server with a tiny share gets 0 points and never receives a key', () => {
  const k = new KetamaContinuum(servers([1, 200, 100, 3]))
  assert.equal(k.pointCounts[0], 0)
  assert.ok(!k.owners.includes(0))
  for (let h = 0; h < 2 ** 32; h += 9973 * 7919) assert.notEqual(k.dispatch(h), 0)
})

test('servers that are not live get no points; the others are recounted over the live ones', () => {
  const k = new KetamaContinuum(servers([1, 2, 3, 5], [true, true, false, true]))
  assert.deepEqual(
    [...k.pointCounts],
    [ketamaPointCount(1, 8, 3), ketamaPointCount(2, 8, 3), 0, ketamaPointCount(5, 8, 3)],
  )
  assert.ok(!k.owners.includes(2))
  assert.equal(new KetamaContinuum(servers([1, 1], [false, false])).dispatch(123), -1)
})

test('point strings are cut to 272 bytes', () => {
  const one = (name: string) => new KetamaContinuum([{ name, weight: 1, live: true }])
  // 270 bytes + "-0".."-9" fit; "-10".."-39" are cut back to "-1".."-3": 10 distinct digests.
  assert.equal(new Set(one('a'.repeat(270)).values).size, 40)
  // 271 bytes + "-" fills 272 bytes: every point string is the same.
  assert.equal(new Set(one('a'.repeat(271)).values).size, 4)
  assert.equal(new Set(one('a'.repeat(300)).values).size, 4)
  assert.equal(new Set(one('a'.repeat(200)).values).size, 160)
})

test('continuum is sorted and lookup is the lower bound, wrapping past the last point', () => {
  // 1280 points (2^11 lookup buckets) and 120 servers' 18720 points (2^16 buckets).
  for (const k of [
    new KetamaContinuum(servers([1, 1, 2, 1, 3])),
    new KetamaContinuum(servers(Array(120).fill(1))),
  ])
    checkLowerBound(k)
})

function checkLowerBound(k: KetamaContinuum): void {
  const v = k.values
  for (let i = 1; i < v.length; i++) assert.ok(v[i - 1]! <= v[i]!)
  const linear = (h: number) => {
    const i = v.findIndex((x) => x >= h)
    return k.owners[i === -1 ? 0 : i]
  }
  const probes = [0, 1, v[0]!, v[0]! + 1, v[v.length - 1]!, v[v.length - 1]! + 1, 0xffffffff]
  for (const i of [1, 2, 100, 500]) probes.push(v[i]! - 1, v[i]!, v[i]! + 1)
  let x = 12345
  for (let i = 0; i < 5000; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0
    probes.push(x)
  }
  // The edges of the lookup buckets, for every bucket size in use.
  for (let bits = 8; bits <= 16; bits++) {
    for (let b = 1; b < 1 << bits; b += 37) {
      const edge = b * 2 ** (32 - bits)
      probes.push(edge - 1, edge, edge + 1)
    }
  }
  for (const h of probes) assert.equal(k.dispatch(h), linear(h), `hash ${h}`)
  assert.equal(k.dispatch(0xffffffff), k.owners[0])
}

test('equal point values: the lower server index (internal order) comes first', () => {
  // Names equal in their first 272 bytes give identical points.
  const base = 'x'.repeat(280)
  const k = new KetamaContinuum([
    { name: `${base}a`, weight: 1, live: true },
    { name: `${base}b`, weight: 1, live: true },
  ])
  assert.equal(k.values.length, 320)
  assert.equal(new Set(k.values).size, 4)
  for (let i = 1; i < k.values.length; i++) {
    if (k.values[i] === k.values[i - 1]) assert.ok(k.owners[i - 1]! <= k.owners[i]!, `point ${i}`)
  }
  // Lower bound lands on the first of each run of equal values: always server 0.
  for (const h of [0, k.values[5]!, 0xffffffff]) assert.equal(k.dispatch(h), 0)
})
