/**
 * The modula distribution as nutcracker 0.5.0 builds it (hashkit/nc_modula.c):
 * walk the live servers in the internal (sorted) order, each adding `weight`
 * consecutive slots; a key goes to `slots[hash % slots.length]` with the full
 * unsigned 32-bit hash.
 */
import type { Distribution, DistServer } from './types.js'

export class ModulaDistribution implements Distribution {
  /** slots[i]: server index (internal order) owning slot i. */
  readonly slots: Uint32Array

  constructor(servers: readonly DistServer[]) {
    let total = 0
    for (const s of servers) if (s.live) total += s.weight
    const slots = new Uint32Array(total)
    let k = 0
    for (let i = 0; i < servers.length; i++) {
      const s = servers[i]!
      if (!s.live) continue
      for (let w = 0; w < s.weight; w++) slots[k++] = i
    }
    this.slots = slots
  }

  dispatch(hash: number): number {
    const n = this.slots.length
    if (n === 0) return -1
    return this.slots[hash % n]!
  }
}
