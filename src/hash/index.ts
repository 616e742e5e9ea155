/**
 * The hash table: nutcracker's `hash:` names → functions (its HASH_CODEC in
 * hashkit/nc_hashkit.h). Every function returns exactly what nutcracker 0.5.0
 * on x86-64 returns, as an unsigned 32-bit number. Routing goes through
 * Placement (placement.ts), which also applies hash_tag and the empty-key rule.
 */
import type { HashName } from '../config/types.js'
import { crc16 } from './crc16.js'
import { crc32, crc32a } from './crc32.js'
import { fnv1_32, fnv1_64, fnv1a_32, fnv1a_64 } from './fnv.js'
import { hsieh } from './hsieh.js'
import { jenkins } from './jenkins.js'
import { md5 } from './md5.js'
import { murmur } from './murmur.js'
import { oneAtATime } from './one-at-a-time.js'
import type { HashFn } from './types.js'

export type { HashFn } from './types.js'

/** One entry per nutcracker hash name. */
export const HASHES: Readonly<Record<HashName, HashFn>> = Object.freeze({
  one_at_a_time: oneAtATime,
  md5,
  crc16,
  crc32,
  crc32a,
  fnv1_64,
  fnv1a_64,
  fnv1_32,
  fnv1a_32,
  hsieh,
  murmur,
  jenkins,
})
