/**
 * Bob Jenkins' one-at-a-time hash as nutcracker 0.5.0 computes it
 * (hashkit/nc_one_at_a_time.c): state starts at 0, 32-bit arithmetic.
 */
import type { HashFn } from './types.js'

/** one_at_a_time. nutcracker: each byte is a signed `char`, sign-extended before the add. */
export const oneAtATime: HashFn = (key, start, end) => {
  let h = 0
  for (let i = start; i < end; i++) {
    h = (h + ((key[i]! << 24) >> 24)) | 0
    h = (h + (h << 10)) | 0
    h ^= h >>> 6
  }
  h = (h + (h << 3)) | 0
  h ^= h >>> 11
  h = (h + (h << 15)) | 0
  return h >>> 0
}
