/**
 * The hashing and placement tables: nutcracker's `hash:` names → functions and
 * `distribution:` names → builders (its HASH_CODEC and DIST_CODEC in
 * hashkit/nc_hashkit.h). Every hash returns exactly what nutcracker 0.5.0 on
 * x86-64 returns, as an unsigned 32-bit number. Routing goes through Placement
 * (placement.ts), which also applies hash_tag and the empty-key rule.
 */
import type { DistributionName, HashName } from '../config/types.js'
import { crc16 } from './crc16.js'
import { crc32, crc32a } from './crc32.js'
import { fnv1_32, fnv1_64, fnv1a_32, fnv1a_64 } from './fnv.js'
import { hsieh } from './hsieh.js'
import { jenkins } from './jenkins.js'
import { KetamaContinuum } from './ketama.js'
import { md5 } from './md5.js'
import { ModulaDistribution } from './modula.js'
import { murmur } from './murmur.js'
import { oneAtATime } from './one-at-a-time.js'
import { RandomDistribution } from './random.js'
import type { Distribution, DistServer, HashFn } from './types.js'

export type { Distribution, DistServer, HashFn } from './types.js'

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

/** Builds a distribution from servers in the pool's internal (sorted) order. */
export type DistributionBuilder = (servers: readonly DistServer[]) => Distribution

/** One entry per nutcracker distribution name. */
export const DISTRIBUTIONS: Readonly<Record<DistributionName, DistributionBuilder>> = Object.freeze(
  {
    ketama: (servers) => new KetamaContinuum(servers),
    modula: (servers) => new ModulaDistribution(servers),
    random: (servers) => new RandomDistribution(servers),
  },
)
