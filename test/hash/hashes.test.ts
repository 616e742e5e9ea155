/**
 * The 12 hash functions against nutcracker 0.5.0's own values (vectors/hash.tsv,
 * read at test time), plus properties the router relies on: results are the
 * same for a key in place inside a larger buffer, and md5/crc32a agree with
 * node:crypto and zlib on arbitrary bytes.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import { test } from 'node:test'
import { crc32 as zlibCrc32 } from 'node:zlib'
import fc from 'fast-check'
import { HASH_NAMES } from '../../src/config/types.js'
import { HASHES } from '../../src/hash/index.js'
import { md5Words } from '../../src/hash/md5.js'
import { vectorsDir } from '../helpers/shared.js'
import { hexKey, readTsv } from './vector-files.js'

test('hash.tsv: every key × 12 functions matches nutcracker', () => {
  const { header, rows } = readTsv(join(vectorsDir(), 'hash.tsv'))
  assert.deepEqual(header, ['key_hex', ...HASH_NAMES])
  assert.ok(rows.length > 0, 'hash.tsv has no data rows')
  let checked = 0
  const mismatches: string[] = []
  for (const row of rows) {
    const key = hexKey(row[0]!)
    for (let c = 1; c < header.length; c++) {
      const name = HASH_NAMES[c - 1]!
      const want = Number(row[c])
      const got = HASHES[name](key, 0, key.length)
      checked++
      if (got !== want) mismatches.push(`${name}(${row[0]}) = ${got}, nutcracker ${want}`)
    }
  }
  assert.equal(checked, rows.length * 12)
  assert.deepEqual(mismatches.slice(0, 20), [], `${mismatches.length} mismatches`)
  assert.equal(mismatches.length, 0)
})

test('README examples', () => {
  const apple = Buffer.from('apple')
  // crc16 keeps the unmasked 32-bit register.
  assert.equal(HASHES.crc16(apple, 0, 5), 3662830516)
  const empty = new Uint8Array(0)
  assert.equal(HASHES.jenkins(empty, 0, 0), 3735928572)
  assert.equal(HASHES.hsieh(empty, 0, 0), 0)
  assert.equal(HASHES.murmur(empty, 0, 0), 0)
  assert.equal(HASHES.fnv1a_64(empty, 0, 0), 0x84222325)
  // Sign extension: fnv1a_64 of 0xc3 differs from the unsigned computation.
  const unsigned = Math.imul(0x84222325 ^ 0xc3, 0x1b3) >>> 0
  assert.notEqual(HASHES.fnv1a_64(Buffer.from([0xc3]), 0, 1), unsigned)
})

test('every function hashes a slice exactly as the same bytes on their own', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 300 }),
      fc.uint8Array({ maxLength: 70 }),
      fc.uint8Array({ maxLength: 70 }),
      (key, before, after) => {
        const buf = Buffer.concat([before, key, after])
        const start = before.length
        const end = start + key.length
        const alone = Uint8Array.from(key)
        for (const name of HASH_NAMES) {
          assert.equal(HASHES[name](buf, start, end), HASHES[name](alone, 0, alone.length), name)
        }
      },
    ),
    { numRuns: 300 },
  )
})

test('results are unsigned 32-bit integers', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 80 }), (key) => {
      for (const name of HASH_NAMES) {
        const h = HASHES[name](key, 0, key.length)
        assert.ok(Number.isInteger(h) && h >= 0 && h <= 0xffffffff, `${name} -> ${h}`)
      }
    }),
    { numRuns: 300 },
  )
})

test('md5 equals node:crypto MD5 at every length around the block boundaries', () => {
  const words = new Uint32Array(4)
  const bytes = new Uint8Array(300)
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 151 + 7) & 0xff
  for (let len = 0; len <= 260; len++) {
    const want = createHash('md5')
      .update(bytes.subarray(3, 3 + len))
      .digest()
    md5Words(bytes, 3, 3 + len, words)
    assert.deepEqual(Buffer.from(words.buffer), want, `length ${len}`)
    assert.equal(HASHES.md5(bytes, 3, 3 + len), want.readUInt32LE(0))
  }
})

test('md5 and crc32a equal node:crypto and zlib on arbitrary bytes', () => {
  const words = new Uint32Array(4)
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 2000 }), (key) => {
      md5Words(key, 0, key.length, words)
      assert.deepEqual(Buffer.from(words.buffer), createHash('md5').update(key).digest())
      assert.equal(HASHES.crc32a(key, 0, key.length), zlibCrc32(key))
      assert.equal(HASHES.crc32(key, 0, key.length), (zlibCrc32(key) >>> 16) & 0x7fff)
    }),
    { numRuns: 200 },
  )
})
