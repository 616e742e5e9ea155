/**
 * `walnut -t` (nutcracker's test-conf, plus the reason: deviation P1) and the start
 * path up to the proxy: log file handling, the "syntax is invalid" report, exit codes.
 */
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { type AddressInfo, createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { freePort } from '../helpers/ports.js'
import { vectorsDir } from '../helpers/shared.js'
import { runCli } from './run-cli.js'

const tmp = mkdtempSync(join(tmpdir(), 'walnut-conf-'))
after(() => rmSync(tmp, { recursive: true, force: true }))

function writeTmp(name: string, text: string): string {
  const p = join(tmp, name)
  writeFileSync(p, text)
  return p
}

const GOOD = writeTmp(
  'good.yml',
  'alpha:\n  listen: 127.0.0.1:22121\n  hash: md5\n  servers:\n   - 127.0.0.1:11211:1\n',
)
const UNKNOWN_KEY = writeTmp(
  'unknown-key.yml',
  'alpha:\n  listen: 127.0.0.1:22121\n  foo: 1\n  servers:\n   - 127.0.0.1:11211:1\n',
)
const BAD_HASH = writeTmp(
  'bad-hash.yml',
  'alpha:\n  listen: 127.0.0.1:22121\n  servers:\n   - 127.0.0.1:11211:1\nbeta:\n  listen: 127.0.0.1:22122\n  hash: sha1\n  servers:\n   - 127.0.0.1:11212:1\n',
)

/** The reason line must name file:line:col, pool, key, and nutcracker's reason. */
function assertReason(
  line: string | undefined,
  where: string,
  pool: string,
  key: string,
  reason: string,
) {
  assert.ok(line !== undefined)
  assert.ok(line.startsWith(`${where}:`), line)
  assert.ok(line.includes(`pool '${pool}'`), line)
  assert.ok(line.includes(`key '${key}'`), line)
  assert.ok(line.endsWith(reason), line)
}

describe('walnut -t', () => {
  test('a valid file: syntax is ok, exit 0, on stderr', () => {
    for (const args of [
      ['-t', '-c', GOOD],
      ['-tc', GOOD],
      ['--test-conf', `--conf-file=${GOOD}`],
    ]) {
      const r = runCli(args)
      assert.equal(r.status, 0)
      assert.equal(r.err, `walnut: configuration file '${GOOD}' syntax is ok\n`)
      assert.equal(r.stdout.length, 0)
    }
  })

  test('an unknown key: syntax is invalid, then the reason with file:line:col, pool and key', () => {
    const r = runCli(['-t', '-c', UNKNOWN_KEY])
    assert.equal(r.status, 1)
    assert.equal(r.stdout.length, 0)
    const lines = r.err.split('\n')
    assert.equal(lines.length, 3)
    assert.equal(lines[0], `walnut: configuration file '${UNKNOWN_KEY}' syntax is invalid`)
    assertReason(lines[1], `${UNKNOWN_KEY}:3:3`, 'alpha', 'foo', 'directive "foo" is unknown')
    assert.equal(lines[2], '')
  })

  test('a bad value in the second pool', () => {
    const r = runCli(['-t', '-c', BAD_HASH])
    assert.equal(r.status, 1)
    const lines = r.err.split('\n')
    assert.equal(lines[0], `walnut: configuration file '${BAD_HASH}' syntax is invalid`)
    assertReason(
      lines[1],
      `${BAD_HASH}:7:9`,
      'beta',
      'hash',
      'directive "hash" is not a valid hash',
    )
  })

  test('a missing file: the path exactly as typed, and why', () => {
    const r = runCli(['-t', '-c', 'no/such/walnut.yml'])
    assert.equal(r.status, 1)
    assert.equal(
      r.err,
      "walnut: configuration file 'no/such/walnut.yml' syntax is invalid\n" +
        "failed to open configuration 'no/such/walnut.yml': No such file or directory\n",
    )
  })

  test('-t never opens the log', () => {
    const log = join(tmp, 'never.log')
    const r = runCli(['-t', '-c', UNKNOWN_KEY, '-o', log, '-v', '11'])
    assert.equal(r.status, 1)
    assert.equal(existsSync(log), false)
  })

  test('every config in the vectors passes', () => {
    const dist = join(vectorsDir(), 'dist')
    const ymls = readdirSync(dist).filter((f) => f.endsWith('.yml'))
    assert.ok(ymls.length >= 50)
    for (const f of ymls) {
      const path = join(dist, f)
      const r = runCli(['-t', '-c', path])
      assert.equal(r.err, `walnut: configuration file '${path}' syntax is ok\n`, f)
      assert.equal(r.status, 0, f)
    }
  })
})

describe('walnut start-up', () => {
  const STAMP = String.raw`\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\]`
  // The pool's listen port is taken, so walnut logs its start, fails to bind and
  // exits 1 (nutcracker's start-up failure), which a synchronous run can observe.
  let busy: Server
  let BUSY_CONF = ''
  let statsPort = 0
  before(async () => {
    busy = createServer()
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve))
    const port = (busy.address() as AddressInfo).port
    BUSY_CONF = writeTmp(
      'busy.yml',
      `alpha:\n  listen: 127.0.0.1:${port}\n  hash: md5\n  servers:\n   - 127.0.0.1:11211:1\n`,
    )
    statsPort = await freePort()
  })
  after(() => busy.close())

  test('logs the banner and the loaded config to stderr by default', () => {
    const r = runCli(['-c', BUSY_CONF, '-s', String(statsPort), '-a', '127.0.0.1'])
    assert.equal(r.status, 1)
    assert.equal(r.stdout.length, 0)
    const lines = r.err.split('\n')
    assert.match(
      lines[0] as string,
      new RegExp(`^${STAMP} cli walnut-\\d+\\.\\d+\\.\\d+\\S* started on pid \\d+$`),
    )
    assert.match(
      lines[1] as string,
      new RegExp(`^${STAMP} cli configuration '${BUSY_CONF}' loaded: 1 pools$`),
    )
    assert.match(r.err, /bind on p alpha to addr '127\.0\.0\.1:\d+' failed: Address already in use/)
  })

  test('-o writes the log to a file (append), nothing to stderr', () => {
    const log = join(tmp, 'start.log')
    writeFileSync(log, 'earlier\n')
    const r = runCli(['-c', BUSY_CONF, '-o', log, '-s', String(statsPort), '-a', '127.0.0.1'])
    assert.equal(r.status, 1)
    assert.equal(r.err, '')
    const text = readFileSync(log, 'utf8')
    assert.ok(text.startsWith('earlier\n['), text)
    assert.match(text, / cli configuration '.*' loaded: 1 pools\n/)
  })

  test('a log file that cannot be opened: message, exit 1', () => {
    const r = runCli(['-c', GOOD, '-o', 'nodir/x.log'])
    assert.equal(r.status, 1)
    assert.equal(
      r.err,
      "walnut: opening log file 'nodir/x.log' failed: No such file or directory\n",
    )
  })

  test('a bad config: syntax is invalid with the reason, exit 1; a log file gets the reason', () => {
    const r = runCli(['-c', UNKNOWN_KEY])
    assert.equal(r.status, 1)
    const lines = r.err.split('\n')
    const invalid = lines.indexOf(`walnut: configuration file '${UNKNOWN_KEY}' syntax is invalid`)
    assert.ok(invalid > 0, r.err)
    assertReason(
      lines[invalid + 1],
      `${UNKNOWN_KEY}:3:3`,
      'alpha',
      'foo',
      'directive "foo" is unknown',
    )

    const log = join(tmp, 'bad.log')
    const f = runCli(['-c', UNKNOWN_KEY, '-o', log])
    assert.equal(f.status, 1)
    assert.equal(
      f.err.split('\n')[0],
      `walnut: configuration file '${UNKNOWN_KEY}' syntax is invalid`,
    )
    assert.match(readFileSync(log, 'utf8'), / conf .*directive "foo" is unknown\n/)
  })
})
