/**
 * The built executable's fixed outputs: -V, -h, -D and flag errors, byte for byte,
 * on the stream nutcracker uses (stderr; stdout stays empty), with their exit status.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { usageText } from '../../src/cli/args.js'
import { describeStats } from '../../src/stats/metrics.js'
import { REPO_ROOT } from '../helpers/shared.js'
import { runCli } from './run-cli.js'

const VERSION = (
  JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }
).version
const BANNER = `This is walnut-${VERSION}\n`

/** nutcracker's -D listing (cli-config.md §2), which walnut prints unchanged. */
const STATS_DESCRIPTION = `pool stats:
  client_eof          "# eof on client connections"
  client_err          "# errors on client connections"
  client_connections  "# active client connections"
  server_ejects       "# times backend server was ejected"
  forward_error       "# times we encountered a forwarding error"
  fragments           "# fragments created from a multi-vector request"

server stats:
  server_eof          "# eof on server connections"
  server_err          "# errors on server connections"
  server_timedout     "# timeouts on server connections"
  server_connections  "# active server connections"
  server_ejected_at   "timestamp when server was ejected in usec since epoch"
  requests            "# requests"
  request_bytes       "total request bytes"
  responses           "# responses"
  response_bytes      "total response bytes"
  in_queue            "# requests in incoming queue"
  in_queue_bytes      "current request bytes in incoming queue"
  out_queue           "# requests in outgoing queue"
  out_queue_bytes     "current request bytes in outgoing queue"
`

describe('walnut -V / -h / -D', () => {
  test('the version comes from package.json', () => {
    assert.match(VERSION, /^\d+\.\d+\.\d+/)
  })

  test('-V prints the banner', () => {
    for (const flag of ['-V', '--version', '--vers']) {
      const r = runCli([flag])
      assert.equal(r.status, 0)
      assert.equal(r.err, BANNER)
      assert.equal(r.stdout.length, 0)
    }
  })

  test('-h prints banner, blank line, usage', () => {
    const r = runCli(['-h'])
    assert.equal(r.status, 0)
    assert.equal(r.err, `${BANNER}\n${usageText()}`)
    assert.ok(r.err.startsWith(`${BANNER}\nUsage: walnut [-?hVtdD] [-v verbosity level]`))
    assert.ok(!r.err.includes('\r'), 'LF line ends only')
    assert.equal(r.stdout.length, 0)
    assert.equal(runCli(['--help']).err, r.err)
  })

  test('-D prints banner, blank line, the stats description', () => {
    assert.equal(describeStats(), STATS_DESCRIPTION)
    const r = runCli(['-D'])
    assert.equal(r.status, 0)
    assert.equal(r.err, `${BANNER}\n${STATS_DESCRIPTION}`)
    assert.equal(r.stdout.length, 0)
    assert.equal(runCli(['--describe-stats']).err, r.err)
  })

  test('-h -D prints banner, usage, then the stats description', () => {
    const r = runCli(['-hD'])
    assert.equal(r.status, 0)
    assert.equal(r.err, `${BANNER}\n${usageText()}${STATS_DESCRIPTION}`)
  })

  test('-h, -V, -D win over -t and never read the config', () => {
    const r = runCli(['-t', '-V', '-c', '/nonexistent/walnut.yml'])
    assert.equal(r.status, 0)
    assert.equal(r.err, BANNER)
    const h = runCli(['-c', '/nonexistent/walnut.yml', '-D', '-t'])
    assert.equal(h.status, 0)
    assert.equal(h.err, `${BANNER}\n${STATS_DESCRIPTION}`)
  })
})

describe('walnut flag errors', () => {
  const cases: [string[], string][] = [
    [['-x'], "walnut: invalid option -- 'x'"],
    [['-?'], "walnut: invalid option -- '?'"],
    [['--bogus'], "walnut: invalid option -- '--bogus'"],
    [['-s', '0'], 'walnut: option -s value 0 is not a valid port'],
    [['-s', '70000'], 'walnut: option -s value 70000 is not a valid port'],
    [['--stats-port=abc'], 'walnut: option -s requires a number'],
    [['-v', '-1'], 'walnut: option -v requires a number'],
    [['-i', '-5'], 'walnut: option -i requires a number'],
    [['-m', '0'], 'walnut: option -m requires a non-zero number'],
    [['-m', '511'], 'walnut: mbuf chunk size must be between 512 and 16777216 bytes'],
    [['-c'], 'walnut: option -c requires a file name'],
    [['-m'], 'walnut: option -m requires a number'],
    [['--stats-addr'], 'walnut: option -a requires a string'],
    [['-h', '-x'], "walnut: invalid option -- 'x'"],
  ]
  for (const [args, line] of cases) {
    test(`${args.join(' ')} → ${line}`, () => {
      const r = runCli(args)
      assert.equal(r.status, 1)
      assert.equal(r.err, `${line}\n${usageText()}`)
      assert.equal(r.stdout.length, 0)
      assert.ok(!r.stderr.includes(0), 'no NUL byte')
    })
  }
})
