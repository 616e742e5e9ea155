/**
 * The random distribution as nutcracker 0.5.0 builds it (hashkit/nc_random.c):
 * one entry per live server, weights ignored; each request picks one at
 * random and the key's hash is not used. Not deterministic, so not covered by
 * the placement vectors.
 */
import type { Distribution, DistServer } from './types.js'

export class RandomDistribution implements Distribution {
  /** Indexes (internal order) of the live servers. */
  readonly live: Uint32Array

  constructor(servers: readonly DistServer[]) {
    let n = 0
    for (const s of servers) if (s.live) n++
    const live = new Uint32Array(n)
    let k = 0
    for (let i = 0; i < servers.length; i++) if (servers[i]!.live) live[k++] = i
    this.live = live
  }

  /** Ignores `hash` (nutcracker: `random() % ncontinuum`). */
  dispatch(_hash: number): number {
    const n = this.live.length
    if (n === 0) return -1
    return this.live[Math.floor(Math.random() * n)]!
  }
}
