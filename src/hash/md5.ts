/**
 * MD5 (RFC 1321), written out by hand so that the router can hash a key in
 * place, as a slice of a request buffer, without allocating. node:crypto costs
 * an object and a digest Buffer per key and is about 6x slower on typical keys
 * (bench/hash.bench.ts: ~200 ns vs ~1300 ns for a 30-byte key).
 *
 * nutcracker 0.5.0 uses MD5 twice: as the `md5` key hash (the first 4 digest
 * bytes read little-endian) and for ketama's continuum points (all 16 bytes as
 * four little-endian uint32). Both read the same four state words.
 *
 * The 64 steps are spelled out inline: with one helper function per round, V8
 * did not inline the calls and the whole hash ran 5x slower.
 * Each step is `a = b + rotl(a + f(b, c, d) + x[k] + T[i], s)`.
 */
import type { HashFn } from './types.js'

/** The running state A, B, C, D (RFC 1321 §3.3), as signed 32-bit words. */
const STATE = new Int32Array(4)

/** Scratch for the padded final block(s): at most 2 blocks of 64 bytes. */
const TAIL = new Uint8Array(128)

/** Runs the compression function over the 64 bytes key[p..p+64) (words little-endian). */
function block(key: Uint8Array, p: number): void {
  const x0 = key[p]! | (key[p + 1]! << 8) | (key[p + 2]! << 16) | (key[p + 3]! << 24)
  const x1 = key[p + 4]! | (key[p + 5]! << 8) | (key[p + 6]! << 16) | (key[p + 7]! << 24)
  const x2 = key[p + 8]! | (key[p + 9]! << 8) | (key[p + 10]! << 16) | (key[p + 11]! << 24)
  const x3 = key[p + 12]! | (key[p + 13]! << 8) | (key[p + 14]! << 16) | (key[p + 15]! << 24)
  const x4 = key[p + 16]! | (key[p + 17]! << 8) | (key[p + 18]! << 16) | (key[p + 19]! << 24)
  const x5 = key[p + 20]! | (key[p + 21]! << 8) | (key[p + 22]! << 16) | (key[p + 23]! << 24)
  const x6 = key[p + 24]! | (key[p + 25]! << 8) | (key[p + 26]! << 16) | (key[p + 27]! << 24)
  const x7 = key[p + 28]! | (key[p + 29]! << 8) | (key[p + 30]! << 16) | (key[p + 31]! << 24)
  const x8 = key[p + 32]! | (key[p + 33]! << 8) | (key[p + 34]! << 16) | (key[p + 35]! << 24)
  const x9 = key[p + 36]! | (key[p + 37]! << 8) | (key[p + 38]! << 16) | (key[p + 39]! << 24)
  const x10 = key[p + 40]! | (key[p + 41]! << 8) | (key[p + 42]! << 16) | (key[p + 43]! << 24)
  const x11 = key[p + 44]! | (key[p + 45]! << 8) | (key[p + 46]! << 16) | (key[p + 47]! << 24)
  const x12 = key[p + 48]! | (key[p + 49]! << 8) | (key[p + 50]! << 16) | (key[p + 51]! << 24)
  const x13 = key[p + 52]! | (key[p + 53]! << 8) | (key[p + 54]! << 16) | (key[p + 55]! << 24)
  const x14 = key[p + 56]! | (key[p + 57]! << 8) | (key[p + 58]! << 16) | (key[p + 59]! << 24)
  const x15 = key[p + 60]! | (key[p + 61]! << 8) | (key[p + 62]! << 16) | (key[p + 63]! << 24)
  let a = STATE[0]!
  let b = STATE[1]!
  let c = STATE[2]!
  let d = STATE[3]!
  let n = 0
  // Round 1: F(b, c, d) = (b & c) | (~b & d)
  n = (a + ((b & c) | (~b & d)) + x0 + 0xd76aa478) | 0
  a = (((n << 7) | (n >>> 25)) + b) | 0
  n = (d + ((a & b) | (~a & c)) + x1 + 0xe8c7b756) | 0
  d = (((n << 12) | (n >>> 20)) + a) | 0
  n = (c + ((d & a) | (~d & b)) + x2 + 0x242070db) | 0
  c = (((n << 17) | (n >>> 15)) + d) | 0
  n = (b + ((c & d) | (~c & a)) + x3 + 0xc1bdceee) | 0
  b = (((n << 22) | (n >>> 10)) + c) | 0
  n = (a + ((b & c) | (~b & d)) + x4 + 0xf57c0faf) | 0
  a = (((n << 7) | (n >>> 25)) + b) | 0
  n = (d + ((a & b) | (~a & c)) + x5 + 0x4787c62a) | 0
  d = (((n << 12) | (n >>> 20)) + a) | 0
  n = (c + ((d & a) | (~d & b)) + x6 + 0xa8304613) | 0
  c = (((n << 17) | (n >>> 15)) + d) | 0
  n = (b + ((c & d) | (~c & a)) + x7 + 0xfd469501) | 0
  b = (((n << 22) | (n >>> 10)) + c) | 0
  n = (a + ((b & c) | (~b & d)) + x8 + 0x698098d8) | 0
  a = (((n << 7) | (n >>> 25)) + b) | 0
  n = (d + ((a & b) | (~a & c)) + x9 + 0x8b44f7af) | 0
  d = (((n << 12) | (n >>> 20)) + a) | 0
  n = (c + ((d & a) | (~d & b)) + x10 + 0xffff5bb1) | 0
  c = (((n << 17) | (n >>> 15)) + d) | 0
  n = (b + ((c & d) | (~c & a)) + x11 + 0x895cd7be) | 0
  b = (((n << 22) | (n >>> 10)) + c) | 0
  n = (a + ((b & c) | (~b & d)) + x12 + 0x6b901122) | 0
  a = (((n << 7) | (n >>> 25)) + b) | 0
  n = (d + ((a & b) | (~a & c)) + x13 + 0xfd987193) | 0
  d = (((n << 12) | (n >>> 20)) + a) | 0
  n = (c + ((d & a) | (~d & b)) + x14 + 0xa679438e) | 0
  c = (((n << 17) | (n >>> 15)) + d) | 0
  n = (b + ((c & d) | (~c & a)) + x15 + 0x49b40821) | 0
  b = (((n << 22) | (n >>> 10)) + c) | 0
  // Round 2: G(b, c, d) = (b & d) | (c & ~d)
  n = (a + ((b & d) | (c & ~d)) + x1 + 0xf61e2562) | 0
  a = (((n << 5) | (n >>> 27)) + b) | 0
  n = (d + ((a & c) | (b & ~c)) + x6 + 0xc040b340) | 0
  d = (((n << 9) | (n >>> 23)) + a) | 0
  n = (c + ((d & b) | (a & ~b)) + x11 + 0x265e5a51) | 0
  c = (((n << 14) | (n >>> 18)) + d) | 0
  n = (b + ((c & a) | (d & ~a)) + x0 + 0xe9b6c7aa) | 0
  b = (((n << 20) | (n >>> 12)) + c) | 0
  n = (a + ((b & d) | (c & ~d)) + x5 + 0xd62f105d) | 0
  a = (((n << 5) | (n >>> 27)) + b) | 0
  n = (d + ((a & c) | (b & ~c)) + x10 + 0x02441453) | 0
  d = (((n << 9) | (n >>> 23)) + a) | 0
  n = (c + ((d & b) | (a & ~b)) + x15 + 0xd8a1e681) | 0
  c = (((n << 14) | (n >>> 18)) + d) | 0
  n = (b + ((c & a) | (d & ~a)) + x4 + 0xe7d3fbc8) | 0
  b = (((n << 20) | (n >>> 12)) + c) | 0
  n = (a + ((b & d) | (c & ~d)) + x9 + 0x21e1cde6) | 0
  a = (((n << 5) | (n >>> 27)) + b) | 0
  n = (d + ((a & c) | (b & ~c)) + x14 + 0xc33707d6) | 0
  d = (((n << 9) | (n >>> 23)) + a) | 0
  n = (c + ((d & b) | (a & ~b)) + x3 + 0xf4d50d87) | 0
  c = (((n << 14) | (n >>> 18)) + d) | 0
  n = (b + ((c & a) | (d & ~a)) + x8 + 0x455a14ed) | 0
  b = (((n << 20) | (n >>> 12)) + c) | 0
  n = (a + ((b & d) | (c & ~d)) + x13 + 0xa9e3e905) | 0
  a = (((n << 5) | (n >>> 27)) + b) | 0
  n = (d + ((a & c) | (b & ~c)) + x2 + 0xfcefa3f8) | 0
  d = (((n << 9) | (n >>> 23)) + a) | 0
  n = (c + ((d & b) | (a & ~b)) + x7 + 0x676f02d9) | 0
  c = (((n << 14) | (n >>> 18)) + d) | 0
  n = (b + ((c & a) | (d & ~a)) + x12 + 0x8d2a4c8a) | 0
  b = (((n << 20) | (n >>> 12)) + c) | 0
  // Round 3: H(b, c, d) = b ^ c ^ d
  n = (a + (b ^ c ^ d) + x5 + 0xfffa3942) | 0
  a = (((n << 4) | (n >>> 28)) + b) | 0
  n = (d + (a ^ b ^ c) + x8 + 0x8771f681) | 0
  d = (((n << 11) | (n >>> 21)) + a) | 0
  n = (c + (d ^ a ^ b) + x11 + 0x6d9d6122) | 0
  c = (((n << 16) | (n >>> 16)) + d) | 0
  n = (b + (c ^ d ^ a) + x14 + 0xfde5380c) | 0
  b = (((n << 23) | (n >>> 9)) + c) | 0
  n = (a + (b ^ c ^ d) + x1 + 0xa4beea44) | 0
  a = (((n << 4) | (n >>> 28)) + b) | 0
  n = (d + (a ^ b ^ c) + x4 + 0x4bdecfa9) | 0
  d = (((n << 11) | (n >>> 21)) + a) | 0
  n = (c + (d ^ a ^ b) + x7 + 0xf6bb4b60) | 0
  c = (((n << 16) | (n >>> 16)) + d) | 0
  n = (b + (c ^ d ^ a) + x10 + 0xbebfbc70) | 0
  b = (((n << 23) | (n >>> 9)) + c) | 0
  n = (a + (b ^ c ^ d) + x13 + 0x289b7ec6) | 0
  a = (((n << 4) | (n >>> 28)) + b) | 0
  n = (d + (a ^ b ^ c) + x0 + 0xeaa127fa) | 0
  d = (((n << 11) | (n >>> 21)) + a) | 0
  n = (c + (d ^ a ^ b) + x3 + 0xd4ef3085) | 0
  c = (((n << 16) | (n >>> 16)) + d) | 0
  n = (b + (c ^ d ^ a) + x6 + 0x04881d05) | 0
  b = (((n << 23) | (n >>> 9)) + c) | 0
  n = (a + (b ^ c ^ d) + x9 + 0xd9d4d039) | 0
  a = (((n << 4) | (n >>> 28)) + b) | 0
  n = (d + (a ^ b ^ c) + x12 + 0xe6db99e5) | 0
  d = (((n << 11) | (n >>> 21)) + a) | 0
  n = (c + (d ^ a ^ b) + x15 + 0x1fa27cf8) | 0
  c = (((n << 16) | (n >>> 16)) + d) | 0
  n = (b + (c ^ d ^ a) + x2 + 0xc4ac5665) | 0
  b = (((n << 23) | (n >>> 9)) + c) | 0
  // Round 4: I(b, c, d) = c ^ (b | ~d)
  n = (a + (c ^ (b | ~d)) + x0 + 0xf4292244) | 0
  a = (((n << 6) | (n >>> 26)) + b) | 0
  n = (d + (b ^ (a | ~c)) + x7 + 0x432aff97) | 0
  d = (((n << 10) | (n >>> 22)) + a) | 0
  n = (c + (a ^ (d | ~b)) + x14 + 0xab9423a7) | 0
  c = (((n << 15) | (n >>> 17)) + d) | 0
  n = (b + (d ^ (c | ~a)) + x5 + 0xfc93a039) | 0
  b = (((n << 21) | (n >>> 11)) + c) | 0
  n = (a + (c ^ (b | ~d)) + x12 + 0x655b59c3) | 0
  a = (((n << 6) | (n >>> 26)) + b) | 0
  n = (d + (b ^ (a | ~c)) + x3 + 0x8f0ccc92) | 0
  d = (((n << 10) | (n >>> 22)) + a) | 0
  n = (c + (a ^ (d | ~b)) + x10 + 0xffeff47d) | 0
  c = (((n << 15) | (n >>> 17)) + d) | 0
  n = (b + (d ^ (c | ~a)) + x1 + 0x85845dd1) | 0
  b = (((n << 21) | (n >>> 11)) + c) | 0
  n = (a + (c ^ (b | ~d)) + x8 + 0x6fa87e4f) | 0
  a = (((n << 6) | (n >>> 26)) + b) | 0
  n = (d + (b ^ (a | ~c)) + x15 + 0xfe2ce6e0) | 0
  d = (((n << 10) | (n >>> 22)) + a) | 0
  n = (c + (a ^ (d | ~b)) + x6 + 0xa3014314) | 0
  c = (((n << 15) | (n >>> 17)) + d) | 0
  n = (b + (d ^ (c | ~a)) + x13 + 0x4e0811a1) | 0
  b = (((n << 21) | (n >>> 11)) + c) | 0
  n = (a + (c ^ (b | ~d)) + x4 + 0xf7537e82) | 0
  a = (((n << 6) | (n >>> 26)) + b) | 0
  n = (d + (b ^ (a | ~c)) + x11 + 0xbd3af235) | 0
  d = (((n << 10) | (n >>> 22)) + a) | 0
  n = (c + (a ^ (d | ~b)) + x2 + 0x2ad7d2bb) | 0
  c = (((n << 15) | (n >>> 17)) + d) | 0
  n = (b + (d ^ (c | ~a)) + x9 + 0xeb86d391) | 0
  b = (((n << 21) | (n >>> 11)) + c) | 0
  STATE[0] = (STATE[0]! + a) | 0
  STATE[1] = (STATE[1]! + b) | 0
  STATE[2] = (STATE[2]! + c) | 0
  STATE[3] = (STATE[3]! + d) | 0
}

/** Computes MD5 of key[start..end) into STATE. */
function digest(key: Uint8Array, start: number, end: number): void {
  STATE[0] = 0x67452301
  STATE[1] = 0xefcdab89
  STATE[2] = 0x98badcfe
  STATE[3] = 0x10325476
  let p = start
  while (end - p >= 64) {
    block(key, p)
    p += 64
  }
  // Final block(s): the remaining bytes, 0x80, zeros, then the bit length (64-bit LE).
  const rem = end - p
  for (let j = 0; j < rem; j++) TAIL[j] = key[p + j]!
  TAIL[rem] = 0x80
  const size = rem < 56 ? 64 : 128
  for (let j = rem + 1; j < size - 8; j++) TAIL[j] = 0
  const len = end - start
  const lo = len << 3
  const hi = Math.floor(len / 0x20000000)
  TAIL[size - 8] = lo
  TAIL[size - 7] = lo >>> 8
  TAIL[size - 6] = lo >>> 16
  TAIL[size - 5] = lo >>> 24
  TAIL[size - 4] = hi
  TAIL[size - 3] = hi >>> 8
  TAIL[size - 2] = hi >>> 16
  TAIL[size - 1] = hi >>> 24
  block(TAIL, 0)
  if (size === 128) block(TAIL, 64)
}

/** md5: the first 4 bytes of the MD5 digest of key[start..end), read little-endian. */
export const md5: HashFn = (key, start, end) => {
  digest(key, start, end)
  return STATE[0]! >>> 0
}

/**
 * Writes the full MD5 digest of key[start..end) into `out` as four
 * little-endian uint32 words (digest bytes 0-3, 4-7, 8-11, 12-15).
 */
export function md5Words(key: Uint8Array, start: number, end: number, out: Uint32Array): void {
  digest(key, start, end)
  out[0] = STATE[0]!
  out[1] = STATE[1]!
  out[2] = STATE[2]!
  out[3] = STATE[3]!
}
