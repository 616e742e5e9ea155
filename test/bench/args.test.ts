/**
 * `npm run bench` flags: defaults, both spellings, groups, ordering, and every rejection
 * with its message. No processes.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { ArgError, type BenchOptions, parseBenchArgs } from '../../bench/args.js'
import { WORKLOAD_NAMES } from '../../bench/plan.js'

function ok(argv: string[]): BenchOptions {
  const r = parseBenchArgs(argv)
  if (r instanceof ArgError) assert.fail(`${JSON.stringify(argv)} rejected: ${r.message}`)
  return r
}

function fails(argv: string[]): string {
  const r = parseBenchArgs(argv)
  if (!(r instanceof ArgError)) assert.fail(`${JSON.stringify(argv)} accepted`)
  return r.message
}

describe('bench args', () => {
  test('defaults', () => {
    assert.deepEqual(ok([]), {
      reps: 3,
      scale: 1,
      workloads: WORKLOAD_NAMES,
      targets: ['direct', 'nutcracker-v4', 'walnut'],
      targetsGiven: false,
      out: undefined,
      idleConns: 10_000,
      timeLimit: 60,
      docs: true,
      keep: false,
      help: false,
    })
    assert.deepEqual(WORKLOAD_NAMES, [
      'redis_set_p1',
      'redis_get_p1',
      'redis_set_p16',
      'redis_get_p16',
      'redis_mget10',
      'redis_get_c1000',
      'mc_set',
      'mc_get',
      'mc_mget10',
      'idle_10k',
    ])
  })

  test('values after a space or an =', () => {
    const a = ok(['--reps', '5', '--scale=0.5', '--out', 'x.tsv', '--time-limit=30'])
    assert.equal(a.reps, 5)
    assert.equal(a.scale, 0.5)
    assert.equal(a.out, 'x.tsv')
    assert.equal(a.timeLimit, 30)
    assert.equal(ok(['--scale', '2']).scale, 2)
    assert.equal(ok(['--scale', '.3']).scale, 0.3)
    assert.equal(ok(['--idle-conns', '500']).idleConns, 500)
  })

  test('workloads: names and groups, deduplicated, in table order', () => {
    assert.deepEqual(ok(['--workloads', 'mc_get,redis_get_p1']).workloads, [
      'redis_get_p1',
      'mc_get',
    ])
    assert.deepEqual(ok(['--workloads=mc,memory']).workloads, [
      'mc_set',
      'mc_get',
      'mc_mget10',
      'idle_10k',
    ])
    assert.deepEqual(ok(['--workloads', 'redis,redis_get_p1']).workloads, [
      'redis_set_p1',
      'redis_get_p1',
      'redis_set_p16',
      'redis_get_p16',
      'redis_mget10',
      'redis_get_c1000',
    ])
    assert.deepEqual(ok(['--workloads', 'all']).workloads, WORKLOAD_NAMES)
  })

  test('targets keep the order given', () => {
    const a = ok(['--targets', 'walnut,nutcracker-v5,direct'])
    assert.deepEqual(a.targets, ['walnut', 'nutcracker-v5', 'direct'])
    assert.equal(a.targetsGiven, true)
  })

  test('flags without values', () => {
    const a = ok(['--no-docs', '--keep'])
    assert.equal(a.docs, false)
    assert.equal(a.keep, true)
    assert.equal(ok(['-h']).help, true)
    assert.equal(ok(['--help']).help, true)
  })

  test('the last occurrence wins', () => {
    assert.equal(ok(['--reps', '2', '--reps', '4']).reps, 4)
  })

  test('rejections', () => {
    assert.equal(fails(['--reps']), '--reps needs a value')
    assert.equal(fails(['--reps', '0']), '--reps must be between 1 and 99, got 0')
    assert.equal(fails(['--reps', '100']), '--reps must be between 1 and 99, got 100')
    assert.equal(fails(['--reps', '2.5']), "--reps needs a whole number, got '2.5'")
    assert.equal(fails(['--scale', '0']), "--scale must be a number in (0, 100], got '0'")
    assert.equal(fails(['--scale', '-1']), "--scale must be a number in (0, 100], got '-1'")
    assert.equal(fails(['--scale', '1e3']), "--scale must be a number in (0, 100], got '1e3'")
    assert.equal(
      fails(['--workloads', 'redis_get']),
      `--workloads: unknown name 'redis_get' (choose from ${WORKLOAD_NAMES.join(', ')})`,
    )
    assert.equal(fails(['--workloads', ',']), '--workloads needs at least one name')
    assert.equal(
      fails(['--targets', 'twemproxy']),
      "--targets: unknown name 'twemproxy' (choose from direct, nutcracker-v4, nutcracker-v5, walnut)",
    )
    assert.equal(
      fails(['--targets', 'all']),
      "--targets: unknown name 'all' (choose from direct, nutcracker-v4, nutcracker-v5, walnut)",
    )
    assert.equal(fails(['--out=']), '--out needs a file name')
    assert.equal(fails(['--keep=1']), '--keep takes no value')
    assert.equal(fails(['--fast']), "unknown argument '--fast'")
    assert.equal(fails(['extra']), "unknown argument 'extra'")
  })

  test('the result is frozen', () => {
    assert.ok(Object.isFrozen(ok([])))
  })
})
