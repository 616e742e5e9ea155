/**
 * Runs one parser fuzz target for a fixed time: random soup from `soup`,
 * mutated, is parsed whole, cut at random points, and (when short) byte by
 * byte; every run must keep the driver's invariants and give the same log.
 * fast-check shrinks a failure to a small input and prints its seed.
 */

import assert from 'node:assert/strict'
import fc from 'fast-check'
import { bytewise, cut, type Driver } from './drivers.js'
import { cuts, mutate, mutations } from './generators.js'

/** Time per fuzz target (the suite's budget is ~2 minutes for all failure tests). */
export const FUZZ_MS = Number(process.env.WALNUT_FUZZ_MS ?? 8000)

export function fuzzParser(
  soup: fc.Arbitrary<Buffer>,
  drivers: fc.Arbitrary<Driver>,
  ms: number = FUZZ_MS,
): number {
  const result = fc.check(
    fc.property(soup, mutations, cuts, drivers, (raw, muts, at, driver) => {
      const input = mutate(raw, muts)
      const whole = driver(input, input.length > 0 ? [Buffer.from(input)] : [])
      assert.deepEqual(driver(input, cut(input, at)), whole, 'random cut')
      if (input.length <= 200) assert.deepEqual(driver(input, bytewise(input)), whole, 'bytewise')
    }),
    { numRuns: 100_000_000, interruptAfterTimeLimit: ms },
  )
  if (result.failed) throw new Error(fc.defaultReportMessage(result))
  // Enough inputs went through to mean something, even on a slow machine.
  assert.ok(result.numRuns >= 500, `only ${result.numRuns} inputs in ${ms} ms`)
  return result.numRuns
}
