/**
 * Micro-benchmark of the hashing and placement layer: ns per key for each raw
 * hash function, for node:crypto MD5 (to justify the hand-written one), and
 * for Placement.serverFor over typical pools. Keys are ~100k realistic
 * memcached/redis keys, laid out back to back in one buffer and hashed in
 * place, as the router does. Each case runs for a fixed time budget; the
 * whole run stays under 10 s.
 *
 * Run: node dist/bench/hash.bench.js
 */
import { createHash, hash as cryptoHash } from 'node:crypto'
import type { DistributionName, HashName } from '../src/config/types.js'
import { HASH_NAMES } from '../src/config/types.js'
import { HASHES } from '../src/hash/index.js'
import { Placement } from '../src/hash/placement.js'

const KEY_COUNT = 100_000
const CASE_BUDGET_MS = 300
const TOTAL_BUDGET_MS = 9_000

/** Deterministic PRNG (xorshift32) so every run sees the same keys. */
let seed = 0x9e3779b9
function rand(n: number): number {
  seed ^= seed << 13
  seed ^= seed >>> 17
  seed ^= seed << 5
  return (seed >>> 0) % n
}
const hex = (n: number) => Array.from({ length: n }, () => '0123456789abcdef'[rand(16)]).join('')

const SHAPES: (() => string)[] = [
  () => `user:${rand(10_000_000)}:profile`,
  () => `session:${hex(32)}`,
  () => `product:${rand(500_000)}:v${rand(9)}`,
  () => `cache:page:/category/${hex(6)}/item-${rand(100_000)}?page=${rand(50)}`,
  () => `{user${rand(1_000_000)}}:cart`,
  () => `rate:10.${rand(256)}.${rand(256)}.${rand(256)}:${rand(1440)}`,
  () => `feed:${rand(1_000_000)}:${hex(8)}:${'x'.repeat(rand(80))}`,
  () => `café:${rand(100_000)}:naïve`,
]

function makeKeys(): { buf: Buffer; starts: Uint32Array; ends: Uint32Array; bytes: number } {
  const parts: Buffer[] = []
  const starts = new Uint32Array(KEY_COUNT)
  const ends = new Uint32Array(KEY_COUNT)
  let off = 0
  for (let i = 0; i < KEY_COUNT; i++) {
    const k = Buffer.from(SHAPES[rand(SHAPES.length)]!(), 'utf8')
    parts.push(k, Buffer.from('\r\n'))
    starts[i] = off
    ends[i] = off + k.length
    off += k.length + 2
  }
  return { buf: Buffer.concat(parts), starts, ends, bytes: off - 2 * KEY_COUNT }
}

const { buf, starts, ends, bytes } = makeKeys()
// performance.now() counts from process start, so key generation is inside the budget.
const deadline = TOTAL_BUDGET_MS
let sink = 0

/** Runs `fn` over every key repeatedly for the budget; returns ns per key. */
function measure(fn: (key: Uint8Array, start: number, end: number) => number): number {
  for (let i = 0; i < KEY_COUNT; i++) sink ^= fn(buf, starts[i]!, ends[i]!) // warm-up pass
  let passes = 0
  const t0 = performance.now()
  let t = t0
  do {
    for (let i = 0; i < KEY_COUNT; i++) sink ^= fn(buf, starts[i]!, ends[i]!)
    passes++
    t = performance.now()
  } while (t - t0 < CASE_BUDGET_MS && t < deadline)
  return ((t - t0) * 1e6) / (passes * KEY_COUNT)
}

const rows: [string, number][] = []
function run(name: string, fn: (key: Uint8Array, start: number, end: number) => number): void {
  if (performance.now() >= deadline) {
    rows.push([name, Number.NaN])
    return
  }
  rows.push([name, measure(fn)])
}

for (const name of HASH_NAMES) run(`hash ${name}`, HASHES[name])

run('md5 via crypto.createHash', (key, start, end) =>
  createHash('md5').update(key.subarray(start, end)).digest().readUInt32LE(0),
)
run('md5 via crypto.hash (one-shot)', (key, start, end) =>
  cryptoHash('md5', key.subarray(start, end), 'buffer').readUInt32LE(0),
)

function pool(hash: HashName, distribution: DistributionName, n: number, tag?: string): Placement {
  const servers = Array.from({ length: n }, (_, i) => ({
    name: `10.0.${i >> 8}.${i & 255}`,
    weight: 1,
  }))
  const hashTag = tag === undefined ? undefined : Buffer.from(tag)
  return new Placement({ hash, hashTag, distribution, servers })
}
const placements: [string, Placement][] = [
  ['serverFor ketama+fnv1a_64, 6 servers', pool('fnv1a_64', 'ketama', 6)],
  ['serverFor ketama+md5, 6 servers', pool('md5', 'ketama', 6)],
  ['serverFor ketama+fnv1a_64, 100 servers', pool('fnv1a_64', 'ketama', 100)],
  ['serverFor ketama+fnv1a_64+hash_tag {}', pool('fnv1a_64', 'ketama', 6, '{}')],
  ['serverFor modula+fnv1a_64, 6 servers', pool('fnv1a_64', 'modula', 6)],
]
for (const [name, p] of placements) run(name, (key, start, end) => p.serverFor(key, start, end))

const width = Math.max(...rows.map(([n]) => n.length))
console.log(
  `hash bench: ${KEY_COUNT} keys, mean ${(bytes / KEY_COUNT).toFixed(1)} bytes, node ${process.version}`,
)
console.log(`${'case'.padEnd(width)}  ${'ns/key'.padStart(8)}  ${'Mkeys/s'.padStart(8)}`)
for (const [name, ns] of rows) {
  const cell = Number.isNaN(ns) ? ['skipped', ''] : [ns.toFixed(1), (1e3 / ns).toFixed(2)]
  console.log(`${name.padEnd(width)}  ${cell[0]!.padStart(8)}  ${cell[1]!.padStart(8)}`)
}
console.log(`(checksum ${sink >>> 0})`)
