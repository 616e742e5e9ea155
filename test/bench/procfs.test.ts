/**
 * Parsing of the /proc files the benchmark measures with, on captured text (exact numbers):
 * /proc/PID/stat with awkward command names, /proc/stat, /proc/PID/status, limits, children.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  parseChildren,
  parseOpenFilesLimit,
  parseProcStat,
  parseSystemStat,
  parseVmRssKb,
} from '../../bench/procfs.js'

// Fields 14-17 (utime stime cutime cstime) are 111 222 333 444.
const TAIL =
  'S 25383 25383 11355 0 -1 4194304 100 0 0 0 111 222 333 444 20 0 1 0 264078 3133440 416 ' +
  '18446744073709551615 94858597826560 94858597846441 140722153355872 0 0 0 0 0 0 0 0 0 17 1 0 0 0\n'

describe('/proc/PID/stat', () => {
  test('utime+stime and cutime+cstime', () => {
    assert.deepEqual(parseProcStat(`25385 (nutcracker) ${TAIL}`), { self: 333, children: 777 })
  })

  test('a command name with spaces and parentheses', () => {
    assert.deepEqual(parseProcStat(`7 (a) b (c)) ${TAIL}`), { self: 333, children: 777 })
    assert.deepEqual(parseProcStat(`7 (node main.js) ${TAIL}`), { self: 333, children: 777 })
  })

  test('a real line from cat', () => {
    const line =
      '25385 (cat) R 25383 25383 11355 0 -1 4194304 100 0 0 0 3 1 0 0 20 0 1 0 264078 3133440 416 ' +
      '18446744073709551615 94858597826560 94858597846441 140722153355872 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0'
    assert.deepEqual(parseProcStat(line), { self: 4, children: 0 })
  })

  test('garbage is an error, not NaN', () => {
    assert.throws(() => parseProcStat('no parens here'), /no '\)'/)
    assert.throws(() => parseProcStat('1 (x) S 1 2'), /field 14 is not a number/)
  })
})

describe('/proc/stat', () => {
  test('busy = user+nice+system+irq+softirq; steal; idle+iowait', () => {
    const text =
      'cpu  107605 7 20701 394703 544 3 1141 299 50 0\ncpu0 53844 0 9852 198143 38 0 533 113 0 0\n'
    assert.deepEqual(parseSystemStat(text), {
      busy: 107605 + 7 + 20701 + 3 + 1141,
      steal: 299,
      idle: 394703 + 544,
    })
  })

  test('an old kernel without steal', () => {
    assert.deepEqual(parseSystemStat('cpu 10 0 5 100 0 0 0\n'), { busy: 15, steal: 0, idle: 100 })
  })

  test('the first line must be the cpu total', () => {
    assert.throws(() => parseSystemStat('intr 1 2 3\n'), /first line is not 'cpu'/)
  })
})

describe('/proc/PID/status, limits, children', () => {
  test('VmRSS in kB', () => {
    const status = 'Name:\tnode\nVmHWM:\t  150000 kB\nVmRSS:\t  132908 kB\nRssAnon:\t 100 kB\n'
    assert.equal(parseVmRssKb(status), 132908)
    assert.equal(parseVmRssKb('Name:\tkthreadd\nState:\tS\n'), undefined)
  })

  test('Max open files', () => {
    const limits =
      'Limit                     Soft Limit           Hard Limit           Units     \n' +
      'Max processes             63658                63658                processes \n' +
      'Max open files            1024                 20000                files     \n'
    assert.deepEqual(parseOpenFilesLimit(limits), { soft: 1024, hard: 20000 })
    assert.deepEqual(
      parseOpenFilesLimit(
        'Max open files            unlimited            unlimited            files\n',
      ),
      { soft: Infinity, hard: Infinity },
    )
    assert.throws(() => parseOpenFilesLimit(''), /Max open files/)
  })

  test('children lists', () => {
    assert.deepEqual(parseChildren('12 345 6789 '), [12, 345, 6789])
    assert.deepEqual(parseChildren(''), [])
  })
})
