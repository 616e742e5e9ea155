/**
 * The time, read at most once per socket read.
 *
 * Each request's timeout starts when it is queued to its server, and with
 * latency metrics on each request is stamped when read and when answered.
 * A pipelined read holds many requests or replies, all handled in the same
 * synchronous callback, microseconds apart: they share one clock reading.
 * Outside a read callback (timers, TLS and other sockets read through
 * 'data') every call reads the clock.
 */

import { performance } from 'node:perf_hooks'

let inRead = false
/** The reading taken during the current read; 0 until the first call. */
let cached = 0

/** A direct socket read callback starts (src/core/socket-read.ts). */
export function readStarted(): void {
  inRead = true
  cached = 0
}

/** The read callback returned (or threw). */
export function readEnded(): void {
  inRead = false
}

/** performance.now(), shared by everything one socket read triggers. */
export function clockNow(): number {
  if (!inRead) return performance.now()
  if (cached === 0) cached = performance.now()
  return cached
}
