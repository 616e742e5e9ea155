/**
 * hsieh as nutcracker 0.5.0 computes it (hashkit/nc_hsieh.c): Paul Hsieh's
 * SuperFastHash with two differences from the original, both marked below:
 * the state starts at 0, and the third byte of a 3-byte tail is sign-extended.
 * 16-bit reads are little-endian and unsigned; the 1-byte tail is unsigned.
 */
import type { HashFn } from './types.js'

/** hsieh. The empty key gives 0. */
export const hsieh: HashFn = (key, start, end) => {
  const len = end - start
  if (len <= 0) return 0
  // nutcracker: the state starts at 0, not at the key length as in the original.
  let h = 0
  let i = start
  const blocks = start + (len & ~3)
  while (i < blocks) {
    h = (h + (key[i]! | (key[i + 1]! << 8))) | 0
    const tmp = ((key[i + 2]! | (key[i + 3]! << 8)) << 11) ^ h
    h = (h << 16) ^ tmp
    i += 4
    h = (h + (h >>> 11)) | 0
  }
  switch (len & 3) {
    case 3:
      h = (h + (key[i]! | (key[i + 1]! << 8))) | 0
      h ^= h << 16
      // nutcracker: the third tail byte is a signed char, sign-extended before the shift.
      h ^= ((key[i + 2]! << 24) >> 24) << 18
      h = (h + (h >>> 11)) | 0
      break
    case 2:
      h = (h + (key[i]! | (key[i + 1]! << 8))) | 0
      h ^= h << 11
      h = (h + (h >>> 17)) | 0
      break
    case 1:
      h = (h + key[i]!) | 0
      h ^= h << 10
      h = (h + (h >>> 1)) | 0
      break
  }
  // Final avalanche.
  h ^= h << 3
  h = (h + (h >>> 5)) | 0
  h ^= h << 4
  h = (h + (h >>> 17)) | 0
  h ^= h << 25
  h = (h + (h >>> 6)) | 0
  return h >>> 0
}
