/**
 * jenkins as nutcracker 0.5.0 computes it (hashkit/nc_jenkins.c): Bob Jenkins'
 * lookup3 `hashlittle` with initval 13. Bytes are unsigned and read
 * little-endian (the result does not depend on alignment). The result is `c`.
 */
import type { HashFn } from './types.js'

/** Reads up to 4 bytes little-endian from key[i..i+n), n in 0..4, unsigned bytes. */
function partialWord(key: Uint8Array, i: number, n: number): number {
  let w = 0
  if (n > 3) w |= key[i + 3]! << 24
  if (n > 2) w |= key[i + 2]! << 16
  if (n > 1) w |= key[i + 1]! << 8
  if (n > 0) w |= key[i]!
  return w
}

/** jenkins. A zero-length key returns `c` unmixed: 0xdeadbeef + 13 = 3735928572. */
export const jenkins: HashFn = (key, start, end) => {
  let len = end - start
  // nutcracker: initval 13, so a = b = c = 0xdeadbeef + len + 13.
  let a = (0xdeadbeef + len + 13) | 0
  let b = a
  let c = a
  let i = start
  // All but the last block: note the strict `>`, a multiple of 12 keeps a full last block.
  while (len > 12) {
    a = (a + (key[i]! | (key[i + 1]! << 8) | (key[i + 2]! << 16) | (key[i + 3]! << 24))) | 0
    b = (b + (key[i + 4]! | (key[i + 5]! << 8) | (key[i + 6]! << 16) | (key[i + 7]! << 24))) | 0
    c = (c + (key[i + 8]! | (key[i + 9]! << 8) | (key[i + 10]! << 16) | (key[i + 11]! << 24))) | 0
    // mix(a, b, c)
    a = (a - c) | 0
    a ^= (c << 4) | (c >>> 28)
    c = (c + b) | 0
    b = (b - a) | 0
    b ^= (a << 6) | (a >>> 26)
    a = (a + c) | 0
    c = (c - b) | 0
    c ^= (b << 8) | (b >>> 24)
    b = (b + a) | 0
    a = (a - c) | 0
    a ^= (c << 16) | (c >>> 16)
    c = (c + b) | 0
    b = (b - a) | 0
    b ^= (a << 19) | (a >>> 13)
    a = (a + c) | 0
    c = (c - b) | 0
    c ^= (b << 4) | (b >>> 28)
    b = (b + a) | 0
    len -= 12
    i += 12
  }
  if (len === 0) return c >>> 0
  // Last block of 1..12 bytes, zero-padded (lookup3's byte-wise fall-through switch).
  a = (a + partialWord(key, i, len)) | 0
  if (len > 4) b = (b + partialWord(key, i + 4, len - 4)) | 0
  if (len > 8) c = (c + partialWord(key, i + 8, len - 8)) | 0
  // final(a, b, c)
  c ^= b
  c = (c - ((b << 14) | (b >>> 18))) | 0
  a ^= c
  a = (a - ((c << 11) | (c >>> 21))) | 0
  b ^= a
  b = (b - ((a << 25) | (a >>> 7))) | 0
  c ^= b
  c = (c - ((b << 16) | (b >>> 16))) | 0
  a ^= c
  a = (a - ((c << 4) | (c >>> 28))) | 0
  b ^= a
  b = (b - ((a << 14) | (a >>> 18))) | 0
  c ^= b
  c = (c - ((b << 24) | (b >>> 8))) | 0
  return c >>> 0
}
