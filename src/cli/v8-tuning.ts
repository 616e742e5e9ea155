/**
 * V8 settings for the walnut process, set at start by main.ts (and so in every
 * worker, which runs the same file).
 *
 * `--no-parallel-scavenge`: young-generation collections on the main thread
 * only. A proxy allocates short-lived objects per request and keeps few, so
 * each scavenge has little to copy. Splitting that little over helper threads
 * costs more than it saves when the cores are busy with clients and backends,
 * as they usually are next to a proxy: the main thread waits for helpers to
 * be scheduled. Measured with redis GET, 50 clients, 2 cores (docs/bench.md):
 * median scavenge pause 0.29 → 0.16 ms, p99 at pipeline 16 3.1–3.4 → 2.6–2.7 ms.
 * V8 reads the flag at every scavenge, so setting it after start takes effect.
 * Major collections keep their concurrent marking.
 */

import { setFlagsFromString } from 'node:v8'

export const V8_FLAGS: readonly string[] = ['--no-parallel-scavenge']

export function tuneV8(): void {
  for (const flag of V8_FLAGS) setFlagsFromString(flag)
}
