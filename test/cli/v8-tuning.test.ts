/**
 * src/cli/v8-tuning.ts: after tuneV8() no scavenge hands work to helper
 * threads. Read from V8's own GC trace (--trace-gc-nvp prints, per scavenge,
 * the time helper threads spent); the same program without tuneV8() shows
 * helper time, so the check can tell the two apart.
 */

import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { test } from 'node:test'
import { V8_FLAGS } from '../../src/cli/v8-tuning.js'

/** Helper-thread times (ms) of every scavenge of a program that allocates ~30 young generations. */
function scavengeHelperTimes(tune: boolean): number[] {
  const url = new URL('../../src/cli/v8-tuning.js', import.meta.url).href
  const script = `
    const { tuneV8 } = await import(${JSON.stringify(url)})
    if (${tune}) tuneV8()
    let keep = []
    for (let i = 0; i < 3e6; i++) { keep.push({ a: i, b: [i] }); if (keep.length > 20000) keep = [] }`
  const r = spawnSync(process.execPath, ['--trace-gc-nvp', '--input-type=module', '-e', script], {
    encoding: 'utf8',
  })
  assert.equal(r.status, 0, r.stderr)
  const times = [...r.stdout.matchAll(/gc=s .*?background\.scavenge\.parallel=([0-9.]+)/g)]
  return times.map((m) => Number(m[1]))
}

test('the flags walnut sets', () => {
  assert.deepEqual(V8_FLAGS, ['--no-parallel-scavenge'])
})

test('tuneV8: scavenges run on the main thread only', () => {
  const tuned = scavengeHelperTimes(true)
  assert.ok(tuned.length >= 10, `${tuned.length} scavenges`)
  assert.deepEqual(
    tuned.filter((t) => t > 0),
    [],
  )
  const untuned = scavengeHelperTimes(false)
  assert.ok(untuned.length >= 10, `${untuned.length} scavenges`)
  assert.ok(
    untuned.some((t) => t > 0),
    'without tuneV8 helpers take part (else this test could not fail)',
  )
})
