/**
 * The logger: level filtering (nothing is formatted below the level), nutcracker's
 * line format, the -o file (append/create 0644, open failure text), reopen for SIGHUP
 * and level changes for SIGTTIN/SIGTTOU.
 */
import assert from 'node:assert/strict'
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import {
  LOG_DEBUG,
  LOG_ERR,
  LOG_LEVEL_NAMES,
  LOG_PVERB,
  LOG_WARN,
  Logger,
  LogOpenError,
} from '../../src/log/logger.js'
import { strerror } from '../../src/log/strerror.js'

const dir = mkdtempSync(join(tmpdir(), 'walnut-log-'))
after(() => rmSync(dir, { recursive: true, force: true }))

/** 2026-11-23 19:24:05.933 local time. */
const T0 = new Date(2026, 10, 23, 19, 24, 5, 933).getTime()

function memoryLogger(level: number, clock: () => number = () => T0) {
  const lines: string[] = []
  const logger = new Logger({ output: '', level, clock, stderr: (t) => lines.push(t) })
  return { logger, lines }
}

describe('levels', () => {
  test("the level names are nutcracker's, 0..11", () => {
    assert.deepEqual(LOG_LEVEL_NAMES, [
      'emerg',
      'alert',
      'crit',
      'err',
      'warn',
      'notice',
      'info',
      'debug',
      'verb',
      'vverb',
      'vvverb',
      'pverb',
    ])
    assert.equal(LOG_ERR, 3)
    assert.equal(LOG_WARN, 4)
    assert.equal(LOG_PVERB, 11)
  })

  test('a line is written when its level <= the logger level', () => {
    const { logger, lines } = memoryLogger(LOG_ERR)
    logger.always('m', 'a')
    logger.error('m', 'b')
    logger.warn('m', 'c')
    logger.notice('m', 'd')
    logger.info('m', 'e')
    logger.debug('m', 'f')
    logger.verb('m', 'g')
    logger.log(2, 'm', 'h')
    logger.log(4, 'm', 'i')
    assert.deepEqual(
      lines.map((l) => l.slice(l.indexOf(']') + 2)),
      ['m a\n', 'm b\n', 'm h\n'],
    )
  })

  test('level 0 writes only always lines; 11 writes everything', () => {
    const quiet = memoryLogger(0)
    quiet.logger.error('m', 'x')
    quiet.logger.always('m', 'y')
    assert.equal(quiet.lines.length, 1)
    const loud = memoryLogger(11)
    for (let l = 0; l <= 11; l++) loud.logger.log(l, 'm', `l${l}`)
    loud.logger.log(12, 'm', 'beyond')
    assert.equal(loud.lines.length, 12)
  })

  test('a message closure is not called below the level', () => {
    const { logger, lines } = memoryLogger(LOG_WARN)
    let calls = 0
    const build = () => {
      calls++
      return 'built'
    }
    logger.debug('m', build)
    logger.log(LOG_DEBUG, 'm', build)
    assert.equal(calls, 0)
    assert.equal(logger.enabled(LOG_DEBUG), false)
    assert.equal(logger.enabled(LOG_WARN), true)
    logger.warn('m', build)
    assert.equal(calls, 1)
    assert.equal(lines.length, 1)
    assert.ok(lines[0]?.endsWith(' m built\n'))
  })

  test('setLevel clamps; levelUp/levelDown step within 0..11', () => {
    const { logger } = memoryLogger(5)
    assert.equal(logger.setLevel(99), 11)
    assert.equal(logger.levelUp(), 11)
    assert.equal(logger.levelDown(), 10)
    assert.equal(logger.setLevel(-3), 0)
    assert.equal(logger.levelDown(), 0)
    assert.equal(logger.levelUp(), 1)
    assert.equal(logger.level, 1)
    assert.equal(new Logger({ output: '', level: 40, stderr: () => {} }).level, 11)
  })
})

describe('format', () => {
  test('[YYYY-MM-DD HH:MM:SS.mmm] <module> <message> in local time', () => {
    let now = T0
    const { logger, lines } = memoryLogger(5, () => now)
    logger.always('cli', 'walnut started')
    now = T0 + 74 // .007 of the next second
    logger.always('conf', 'x')
    now = new Date(2027, 0, 2, 3, 4, 5, 60).getTime()
    logger.error('core', 'y z')
    assert.deepEqual(lines, [
      '[2026-11-23 19:24:05.933] cli walnut started\n',
      '[2026-11-23 19:24:06.007] conf x\n',
      '[2027-01-02 03:04:05.060] core y z\n',
    ])
  })

  test('the real clock gives a well-formed stamp', () => {
    const lines: string[] = []
    new Logger({ output: '', level: 5, stderr: (t) => lines.push(t) }).always('m', 'x')
    assert.match(lines[0] as string, /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\] m x\n$/)
  })
})

describe('log file', () => {
  test('appends to an existing file and creates a new one with mode 0644', () => {
    const existing = join(dir, 'existing.log')
    writeFileSync(existing, 'old line\n')
    const a = new Logger({ output: existing, level: 5, clock: () => T0 })
    a.always('m', 'new line')
    a.close()
    assert.equal(readFileSync(existing, 'utf8'), 'old line\n[2026-11-23 19:24:05.933] m new line\n')

    const fresh = join(dir, 'fresh.log')
    const b = new Logger({ output: fresh, level: 5, clock: () => T0 })
    b.error('m', 'one')
    b.close()
    assert.equal(readFileSync(fresh, 'utf8'), '[2026-11-23 19:24:05.933] m one\n')
    assert.equal(statSync(fresh).mode & 0o777, 0o644 & ~process.umask())
  })

  test("an unopenable file throws LogOpenError with nutcracker's text", () => {
    const path = join(dir, 'nodir', 'x.log')
    assert.throws(
      () => new Logger({ output: path, level: 5 }),
      (err: unknown) =>
        err instanceof LogOpenError &&
        err.message === `opening log file '${path}' failed: No such file or directory` &&
        err.path === path &&
        err.reason === 'No such file or directory',
    )
    assert.throws(
      () => new Logger({ output: dir, level: 5 }),
      (err: unknown) =>
        err instanceof LogOpenError &&
        err.message === `opening log file '${dir}' failed: Is a directory`,
    )
  })

  test('reopen lets go of a rotated file and writes to a new one', () => {
    const path = join(dir, 'rotate.log')
    const logger = new Logger({ output: path, level: 5, clock: () => T0 })
    logger.always('m', 'before')
    renameSync(path, `${path}.1`)
    logger.always('m', 'still to the renamed file')
    assert.equal(logger.reopen(), true)
    logger.always('m', 'after')
    logger.close()
    assert.equal(
      readFileSync(`${path}.1`, 'utf8'),
      '[2026-11-23 19:24:05.933] m before\n[2026-11-23 19:24:05.933] m still to the renamed file\n',
    )
    assert.equal(readFileSync(path, 'utf8'), '[2026-11-23 19:24:05.933] m after\n')
  })

  test('a failed reopen keeps the old file and logs why', () => {
    const sub = join(dir, 'gone')
    mkdirSync(sub)
    const path = join(sub, 'x.log')
    const logger = new Logger({ output: path, level: 5, clock: () => T0 })
    renameSync(sub, `${sub}.moved`)
    assert.equal(logger.reopen(), false)
    logger.always('m', 'kept')
    logger.close()
    assert.equal(
      readFileSync(join(`${sub}.moved`, 'x.log'), 'utf8'),
      `[2026-11-23 19:24:05.933] log reopening log file '${path}' failed: No such file or directory\n` +
        '[2026-11-23 19:24:05.933] m kept\n',
    )
  })

  test('reopen is a no-op on stderr', () => {
    const { logger, lines } = memoryLogger(5)
    assert.equal(logger.reopen(), true)
    logger.always('m', 'x')
    assert.equal(lines.length, 1)
    assert.equal(logger.output, '')
  })
})

describe('strerror', () => {
  test('glibc wording for known codes, libuv text otherwise', () => {
    assert.equal(
      strerror({ code: 'EACCES', message: 'EACCES: permission denied, open' }),
      'Permission denied',
    )
    assert.equal(
      strerror({ code: 'EWHAT', message: "EWHAT: something odd, open 'x'" }),
      'Something odd',
    )
    assert.equal(strerror(new Error('plain')), 'Plain')
    assert.equal(strerror('text'), 'text')
  })
})
