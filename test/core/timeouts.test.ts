/**
 * The request timeout structure of the core (src/core/timeouts.ts), without
 * sockets: per-pool FIFO lists under one timer. Deadlines are real (a few tens
 * of ms), so each check allows for timer lateness but never for earliness.
 */

import assert from 'node:assert/strict'
import { performance } from 'node:perf_hooks'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { type Timed, TimeoutWheel, untime } from '../../src/core/timeouts.js'

interface Item extends Timed {
  name: string
}

function item(name: string): Item {
  return { name, deadline: 0, tlist: null, tprev: null, tnext: null }
}

/** A wheel recording what expired, when (ms after `t0`), and whether it was unlinked first. */
function recorder() {
  const t0 = performance.now()
  const fired: { name: string; at: number; unlinked: boolean }[] = []
  const wheel = new TimeoutWheel((t) => {
    const it = t as Item
    fired.push({ name: it.name, at: performance.now() - t0, unlinked: it.tlist === null })
  })
  return { wheel, fired, t0 }
}

test('items of one list expire in order, never before their deadline, unlinked first', async () => {
  const { wheel, fired } = recorder()
  const list = wheel.list(30)
  const a = item('a')
  const b = item('b')
  list.add(a)
  await sleep(10)
  list.add(b)
  // A reference keeps the test process alive: the wheel's timer is unref'd.
  await sleep(80)
  assert.deepEqual(
    fired.map((f) => [f.name, f.unlinked]),
    [
      ['a', true],
      ['b', true],
    ],
  )
  assert.ok(fired[0]!.at >= 30, `a fired at ${fired[0]!.at}`)
  assert.ok(fired[1]!.at >= 40, `b fired at ${fired[1]!.at}`)
  assert.equal(list.head, null)
  assert.equal(list.tail, null)
  wheel.stop()
})

test('an item untimed before its deadline never expires; the next one still does, on time', async () => {
  const { wheel, fired } = recorder()
  const list = wheel.list(30)
  const a = item('a')
  const b = item('b')
  const c = item('c')
  list.add(a)
  await sleep(15)
  list.add(b)
  list.add(c)
  untime(a)
  untime(c)
  assert.equal(a.tlist, null)
  assert.equal(list.head, b)
  assert.equal(list.tail, b)
  await sleep(70)
  assert.deepEqual(
    fired.map((f) => f.name),
    ['b'],
  )
  assert.ok(fired[0]!.at >= 45, `b fired at ${fired[0]!.at}`)
  wheel.stop()
})

test('lists with different timeouts share the timer: a shorter timeout added later fires first', async () => {
  const { wheel, fired } = recorder()
  const slow = wheel.list(60)
  const fast = wheel.list(20)
  slow.add(item('slow'))
  await sleep(5)
  fast.add(item('fast'))
  await sleep(100)
  assert.deepEqual(
    fired.map((f) => f.name),
    ['fast', 'slow'],
  )
  assert.ok(fired[0]!.at >= 25, `fast fired at ${fired[0]!.at}`)
  assert.ok(fired[1]!.at >= 60, `slow fired at ${fired[1]!.at}`)
  wheel.stop()
})

test('an item added to an emptied list while the timer is armed for a later head still expires', async () => {
  const { wheel, fired } = recorder()
  const list = wheel.list(40)
  const a = item('a')
  list.add(a)
  await sleep(10)
  untime(a)
  // The timer stays armed for a's deadline; b's is later and must still be honoured.
  list.add(item('b'))
  await sleep(90)
  assert.deepEqual(
    fired.map((f) => f.name),
    ['b'],
  )
  assert.ok(fired[0]!.at >= 50, `b fired at ${fired[0]!.at}`)
  wheel.stop()
})

test('stop() cancels the timer', async () => {
  const { wheel, fired } = recorder()
  wheel.list(10).add(item('a'))
  wheel.stop()
  await sleep(40)
  assert.deepEqual(fired, [])
})

test('one list per timeout value: asking again (a reload) returns the same list', () => {
  const wheel = new TimeoutWheel(() => {})
  const a = wheel.list(200)
  assert.equal(wheel.list(200), a)
  assert.notEqual(wheel.list(300), a)
  assert.equal(wheel.list(300), wheel.list(300))
  wheel.stop()
})
