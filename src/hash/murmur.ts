/**
 * murmur as nutcracker 0.5.0 computes it (hashkit/nc_murmur.c): 32-bit
 * MurmurHash2 (m = 0x5bd1e995, r = 24) with seed `0xdeadbeef * len`, words read
 * little-endian, tail bytes unsigned. The empty key gives 0.
 */
import type { HashFn } from './types.js'

const M = 0x5bd1e995

/** murmur. nutcracker: the seed depends on the length, so the state starts at `(0xdeadbeef*len) ^ len`. */
export const murmur: HashFn = (key, start, end) => {
  const len = end - start
  let h = Math.imul(0xdeadbeef, len) ^ len
  let i = start
  const blocks = start + (len & ~3)
  while (i < blocks) {
    let k = key[i]! | (key[i + 1]! << 8) | (key[i + 2]! << 16) | (key[i + 3]! << 24)
    k = Math.imul(k, M)
    k ^= k >>> 24
    k = Math.imul(k, M)
    h = Math.imul(h, M) ^ k
    i += 4
  }
  // Tail of 1..3 bytes (MurmurHash2's fall-through switch, unrolled).
  const rem = end - i
  if (rem > 0) {
    if (rem === 3) h ^= key[i + 2]! << 16
    if (rem >= 2) h ^= key[i + 1]! << 8
    h ^= key[i]!
    h = Math.imul(h, M)
  }
  h ^= h >>> 13
  h = Math.imul(h, M)
  h ^= h >>> 15
  return h >>> 0
}
