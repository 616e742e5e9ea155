/**
 * MD5 (RFC 1321), written out by hand so that the router can hash a key in
 * place, as a slice of a request buffer, without allocating: node:crypto's
 * createHash costs an object and a digest Buffer per key (see
 * bench/hash.bench.ts for the numbers).
 *
 * nutcracker 0.5.0 uses MD5 twice: as the `md5` key hash (the first 4 digest
 * bytes read little-endian) and for ketama's continuum points (all 16 bytes as
 * four little-endian uint32). Both read the same four state words.
 */
import type { HashFn } from './types.js'

// The running state (A, B, C, D of RFC 1321), as signed 32-bit values.
let sa = 0
let sb = 0
let sc = 0
let sd = 0

/** Scratch for the padded final block(s): at most 2 blocks of 64 bytes. */
const TAIL = new Uint8Array(128)

function ff(a: number, b: number, c: number, d: number, x: number, s: number, t: number): number {
  const n = (a + ((b & c) | (~b & d)) + x + t) | 0
  return (((n << s) | (n >>> (32 - s))) + b) | 0
}

function gg(a: number, b: number, c: number, d: number, x: number, s: number, t: number): number {
  const n = (a + ((b & d) | (c & ~d)) + x + t) | 0
  return (((n << s) | (n >>> (32 - s))) + b) | 0
}

function hh(a: number, b: number, c: number, d: number, x: number, s: number, t: number): number {
  const n = (a + (b ^ c ^ d) + x + t) | 0
  return (((n << s) | (n >>> (32 - s))) + b) | 0
}

function ii(a: number, b: number, c: number, d: number, x: number, s: number, t: number): number {
  const n = (a + (c ^ (b | ~d)) + x + t) | 0
  return (((n << s) | (n >>> (32 - s))) + b) | 0
}

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
  let a = sa
  let b = sb
  let c = sc
  let d = sd
  // Round 1
  a = ff(a, b, c, d, x0, 7, 0xd76aa478)
  d = ff(d, a, b, c, x1, 12, 0xe8c7b756)
  c = ff(c, d, a, b, x2, 17, 0x242070db)
  b = ff(b, c, d, a, x3, 22, 0xc1bdceee)
  a = ff(a, b, c, d, x4, 7, 0xf57c0faf)
  d = ff(d, a, b, c, x5, 12, 0x4787c62a)
  c = ff(c, d, a, b, x6, 17, 0xa8304613)
  b = ff(b, c, d, a, x7, 22, 0xfd469501)
  a = ff(a, b, c, d, x8, 7, 0x698098d8)
  d = ff(d, a, b, c, x9, 12, 0x8b44f7af)
  c = ff(c, d, a, b, x10, 17, 0xffff5bb1)
  b = ff(b, c, d, a, x11, 22, 0x895cd7be)
  a = ff(a, b, c, d, x12, 7, 0x6b901122)
  d = ff(d, a, b, c, x13, 12, 0xfd987193)
  c = ff(c, d, a, b, x14, 17, 0xa679438e)
  b = ff(b, c, d, a, x15, 22, 0x49b40821)
  // Round 2
  a = gg(a, b, c, d, x1, 5, 0xf61e2562)
  d = gg(d, a, b, c, x6, 9, 0xc040b340)
  c = gg(c, d, a, b, x11, 14, 0x265e5a51)
  b = gg(b, c, d, a, x0, 20, 0xe9b6c7aa)
  a = gg(a, b, c, d, x5, 5, 0xd62f105d)
  d = gg(d, a, b, c, x10, 9, 0x02441453)
  c = gg(c, d, a, b, x15, 14, 0xd8a1e681)
  b = gg(b, c, d, a, x4, 20, 0xe7d3fbc8)
  a = gg(a, b, c, d, x9, 5, 0x21e1cde6)
  d = gg(d, a, b, c, x14, 9, 0xc33707d6)
  c = gg(c, d, a, b, x3, 14, 0xf4d50d87)
  b = gg(b, c, d, a, x8, 20, 0x455a14ed)
  a = gg(a, b, c, d, x13, 5, 0xa9e3e905)
  d = gg(d, a, b, c, x2, 9, 0xfcefa3f8)
  c = gg(c, d, a, b, x7, 14, 0x676f02d9)
  b = gg(b, c, d, a, x12, 20, 0x8d2a4c8a)
  // Round 3
  a = hh(a, b, c, d, x5, 4, 0xfffa3942)
  d = hh(d, a, b, c, x8, 11, 0x8771f681)
  c = hh(c, d, a, b, x11, 16, 0x6d9d6122)
  b = hh(b, c, d, a, x14, 23, 0xfde5380c)
  a = hh(a, b, c, d, x1, 4, 0xa4beea44)
  d = hh(d, a, b, c, x4, 11, 0x4bdecfa9)
  c = hh(c, d, a, b, x7, 16, 0xf6bb4b60)
  b = hh(b, c, d, a, x10, 23, 0xbebfbc70)
  a = hh(a, b, c, d, x13, 4, 0x289b7ec6)
  d = hh(d, a, b, c, x0, 11, 0xeaa127fa)
  c = hh(c, d, a, b, x3, 16, 0xd4ef3085)
  b = hh(b, c, d, a, x6, 23, 0x04881d05)
  a = hh(a, b, c, d, x9, 4, 0xd9d4d039)
  d = hh(d, a, b, c, x12, 11, 0xe6db99e5)
  c = hh(c, d, a, b, x15, 16, 0x1fa27cf8)
  b = hh(b, c, d, a, x2, 23, 0xc4ac5665)
  // Round 4
  a = ii(a, b, c, d, x0, 6, 0xf4292244)
  d = ii(d, a, b, c, x7, 10, 0x432aff97)
  c = ii(c, d, a, b, x14, 15, 0xab9423a7)
  b = ii(b, c, d, a, x5, 21, 0xfc93a039)
  a = ii(a, b, c, d, x12, 6, 0x655b59c3)
  d = ii(d, a, b, c, x3, 10, 0x8f0ccc92)
  c = ii(c, d, a, b, x10, 15, 0xffeff47d)
  b = ii(b, c, d, a, x1, 21, 0x85845dd1)
  a = ii(a, b, c, d, x8, 6, 0x6fa87e4f)
  d = ii(d, a, b, c, x15, 10, 0xfe2ce6e0)
  c = ii(c, d, a, b, x6, 15, 0xa3014314)
  b = ii(b, c, d, a, x13, 21, 0x4e0811a1)
  a = ii(a, b, c, d, x4, 6, 0xf7537e82)
  d = ii(d, a, b, c, x11, 10, 0xbd3af235)
  c = ii(c, d, a, b, x2, 15, 0x2ad7d2bb)
  b = ii(b, c, d, a, x9, 21, 0xeb86d391)
  sa = (sa + a) | 0
  sb = (sb + b) | 0
  sc = (sc + c) | 0
  sd = (sd + d) | 0
}

/** Computes MD5 of key[start..end) into the module state (sa, sb, sc, sd). */
function digest(key: Uint8Array, start: number, end: number): void {
  sa = 0x67452301
  sb = 0xefcdab89 | 0
  sc = 0x98badcfe | 0
  sd = 0x10325476
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
  TAIL.fill(0, rem + 1, size - 8)
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
  return sa >>> 0
}

/**
 * Writes the full MD5 digest of key[start..end) into `out` as four
 * little-endian uint32 words (digest bytes 0-3, 4-7, 8-11, 12-15).
 */
export function md5Words(key: Uint8Array, start: number, end: number, out: Uint32Array): void {
  digest(key, start, end)
  out[0] = sa
  out[1] = sb
  out[2] = sc
  out[3] = sd
}
