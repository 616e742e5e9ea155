/**
 * crc32 and crc32a as nutcracker 0.5.0 computes them (hashkit/nc_crc32.c).
 * Both start from the standard CRC-32 (IEEE 802.3, reflected, polynomial
 * 0xEDB88320, initial 0xFFFFFFFF, final inversion; the same as zlib's crc32).
 * `crc32a` returns it whole; `crc32` is libmemcached's variant and returns only
 * bits 16..30, so its range is 0..32767.
 */
import type { HashFn } from './types.js'

/** Reflected CRC-32 lookup table (polynomial 0xEDB88320). */
const CRC32_TABLE = (() => {
  const t = new Int32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1
    t[n] = c
  }
  return t
})()

/** Standard CRC-32 of key[start..end), as a signed 32-bit value (callers apply `>>> 0`). */
function crc32Raw(key: Uint8Array, start: number, end: number): number {
  let crc = -1
  for (let i = start; i < end; i++) {
    crc = (crc >>> 8) ^ CRC32_TABLE[(crc ^ key[i]!) & 0xff]!
  }
  return ~crc
}

/** crc32. nutcracker: libmemcached's `(crc >> 16) & 0x7fff`, range 0..32767. */
export const crc32: HashFn = (key, start, end) => (crc32Raw(key, start, end) >>> 16) & 0x7fff

/** crc32a: the full standard CRC-32. */
export const crc32a: HashFn = (key, start, end) => crc32Raw(key, start, end) >>> 0
