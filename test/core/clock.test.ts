/**
 * clock.ts: one clock reading per socket read, shared by all it triggers;
 * outside a read, every call reads the clock.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { clockNow, readEnded, readStarted } from '../../src/core/clock.js'

/** Busy-waits until performance.now() has moved past `t`. */
function after(t: number): void {
  while (performance.now() <= t) {}
}

test('inside a read every call returns the first reading; outside, the clock moves', () => {
  const before = clockNow()
  after(before)
  assert.ok(clockNow() > before, 'outside a read, each call reads the clock')

  readStarted()
  const first = clockNow()
  after(first)
  assert.equal(clockNow(), first)
  assert.equal(clockNow(), first)
  readEnded()

  assert.ok(clockNow() > first)
  // The next read takes a reading of its own, not the previous read's.
  readStarted()
  const second = clockNow()
  readEnded()
  assert.ok(second > first)
})
