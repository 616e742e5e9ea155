/**
 * The main command line: every flag in every spelling nutcracker's getopt_long
 * accepts, and every rejection with its exact message (../shared/spec/cli-config.md §1,
 * cli-memcache-evidence.md E-02), with walnut's program name and defaults.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  DEFAULT_OPTIONS,
  OPTION_TABLE,
  type Options,
  parseArgs,
  usageText,
} from '../../src/cli/args.js'

function ok(argv: string[]): Options {
  const r = parseArgs(argv)
  if (!r.ok) assert.fail(`${JSON.stringify(argv)} rejected: ${r.message}`)
  return r.options
}

function fails(argv: string[]): string {
  const r = parseArgs(argv)
  if (r.ok) assert.fail(`${JSON.stringify(argv)} accepted`)
  return r.message
}

const DEFAULTS: Options = {
  help: false,
  version: false,
  testConf: false,
  daemonize: false,
  describeStats: false,
  verbosity: 5,
  output: '',
  confFile: 'conf/walnut.yml',
  statsPort: 22222,
  statsAddr: '0.0.0.0',
  statsInterval: 30000,
  pidFile: undefined,
  mbufSize: 16384,
  statsMetricsPort: undefined,
  statsMetricsAddr: undefined,
  drainTimeout: 10000,
  dnsServers: undefined,
  watchConfig: false,
  workers: 1,
}

describe('parseArgs defaults', () => {
  test('no arguments gives the documented defaults', () => {
    assert.deepEqual(ok([]), DEFAULTS)
    assert.deepEqual(DEFAULT_OPTIONS, DEFAULTS)
  })

  test('options are frozen', () => {
    const o = ok(['-t'])
    assert.ok(Object.isFrozen(o))
    assert.throws(() => {
      ;(o as { testConf: boolean }).testConf = false
    }, TypeError)
  })

  test('the Options type follows the table', () => {
    const o = ok([])
    const port: number = o.statsPort
    const pid: string | undefined = o.pidFile
    const t: boolean = o.testConf
    // @ts-expect-error not a flag
    void o.noSuchFlag
    assert.equal(typeof port, 'number')
    assert.equal(pid, undefined)
    assert.equal(t, false)
  })
})

describe('parseArgs boolean flags', () => {
  const cases: [keyof Options, string, string][] = [
    ['help', '-h', '--help'],
    ['version', '-V', '--version'],
    ['testConf', '-t', '--test-conf'],
    ['daemonize', '-d', '--daemonize'],
    ['describeStats', '-D', '--describe-stats'],
  ]
  for (const [key, short, long] of cases) {
    test(`${short} / ${long} / prefix set ${key}`, () => {
      assert.deepEqual(ok([short]), { ...DEFAULTS, [key]: true })
      assert.deepEqual(ok([long]), { ...DEFAULTS, [key]: true })
      // The shortest unique prefix.
      const prefixes: Record<string, string> = {
        '--help': '--h',
        '--version': '--vers',
        '--test-conf': '--t',
        '--daemonize': '--da',
        '--describe-stats': '--de',
      }
      assert.deepEqual(ok([prefixes[long] as string]), { ...DEFAULTS, [key]: true })
    })
  }

  test('bundled short flags', () => {
    assert.deepEqual(ok(['-tdD']), {
      ...DEFAULTS,
      testConf: true,
      daemonize: true,
      describeStats: true,
    })
    assert.deepEqual(ok(['-hV']), { ...DEFAULTS, help: true, version: true })
  })

  test('a flag without a value rejects --flag=value', () => {
    assert.equal(fails(['--help=1']), "option '--help' doesn't allow an argument")
    assert.equal(fails(['--test=x']), "option '--test-conf' doesn't allow an argument")
  })

  test('a prefix that is ambiguous is refused', () => {
    assert.equal(
      fails(['--d']),
      "option '--d' is ambiguous; possibilities: '--daemonize' '--describe-stats' '--drain-timeout' '--dns-server'",
    )
    assert.equal(
      fails(['--stats=1']),
      "option '--stats' is ambiguous; possibilities: '--stats-port' '--stats-addr' '--stats-interval' '--stats-metrics-port' '--stats-metrics-addr'",
    )
  })
})

describe('parseArgs value flags', () => {
  // [key, short, long, a shortest unique prefix, raw value, parsed value]
  const cases: [keyof Options, string, string, string, string, unknown][] = [
    ['verbosity', 'v', 'verbose', '--verb', '7', 7],
    ['output', 'o', 'output', '--o', '/tmp/w.log', '/tmp/w.log'],
    ['confFile', 'c', 'conf-file', '--c', 'x.yml', 'x.yml'],
    ['statsPort', 's', 'stats-port', '--stats-p', '24301', 24301],
    ['statsAddr', 'a', 'stats-addr', '--stats-a', '127.0.0.1', '127.0.0.1'],
    ['statsInterval', 'i', 'stats-interval', '--stats-i', '1000', 1000],
    ['pidFile', 'p', 'pid-file', '--p', '/tmp/w.pid', '/tmp/w.pid'],
    ['mbufSize', 'm', 'mbuf-size', '--m', '4096', 4096],
  ]
  for (const [key, short, long, prefix, raw, want] of cases) {
    test(`-${short} / --${long} in every spelling`, () => {
      const expected = { ...DEFAULTS, [key]: want }
      assert.deepEqual(ok([`-${short}`, raw]), expected)
      assert.deepEqual(ok([`-${short}${raw}`]), expected)
      assert.deepEqual(ok([`--${long}`, raw]), expected)
      assert.deepEqual(ok([`--${long}=${raw}`]), expected)
      assert.deepEqual(ok([prefix, raw]), expected)
      assert.deepEqual(ok([`${prefix}=${raw}`]), expected)
    })
  }

  test('bundling ends at a value flag, which takes the rest or the next word', () => {
    assert.deepEqual(ok(['-tc', 'file.yml']), { ...DEFAULTS, testConf: true, confFile: 'file.yml' })
    assert.deepEqual(ok(['-tcfile.yml']), { ...DEFAULTS, testConf: true, confFile: 'file.yml' })
    assert.deepEqual(ok(['-dv11']), { ...DEFAULTS, daemonize: true, verbosity: 11 })
  })

  test('a value flag swallows the next word even if it looks like a flag', () => {
    assert.deepEqual(ok(['-c', '-t']), { ...DEFAULTS, confFile: '-t' })
    assert.deepEqual(ok(['--conf-file', '--help']), { ...DEFAULTS, confFile: '--help' })
    assert.deepEqual(ok(['-o', '-']), { ...DEFAULTS, output: '-' })
  })

  test('later repeats override earlier ones', () => {
    assert.equal(ok(['-t', '-c', 'd.yml', '-c', 'bad.yml', '-c', 'd.yml']).confFile, 'd.yml')
    assert.equal(ok(['-s', '1000', '--stats-port=2000']).statsPort, 2000)
    assert.equal(ok(['-v', '1', '-v', '9']).verbosity, 9)
  })

  test('positional arguments are ignored, anywhere; -- ends the flags', () => {
    const r = parseArgs(['foo', '-t', '-c', 'd.yml', 'bar', '--', '-x'])
    assert.ok(r.ok)
    assert.deepEqual(r.options, { ...DEFAULTS, testConf: true, confFile: 'd.yml' })
    assert.deepEqual(r.positionals, ['foo', 'bar', '-x'])
    assert.deepEqual(ok(['-']), DEFAULTS)
  })

  test('long names in the forms from E-02', () => {
    assert.deepEqual(ok(['--test-conf', '--conf-file=d.yml']), {
      ...DEFAULTS,
      testConf: true,
      confFile: 'd.yml',
    })
    assert.deepEqual(ok(['--conf', 'd.yml', '-t']), {
      ...DEFAULTS,
      testConf: true,
      confFile: 'd.yml',
    })
  })

  test('-o with an empty value means stderr', () => {
    assert.equal(ok(['-o', '']).output, '')
    assert.equal(ok(['-o', 'x', '--output=']).output, '')
  })

  test('-v: digits only, clamped to 11', () => {
    assert.equal(ok(['-v', '0']).verbosity, 0)
    assert.equal(ok(['-v', '11']).verbosity, 11)
    assert.equal(ok(['-v', '12']).verbosity, 11)
    assert.equal(ok(['-v', '99']).verbosity, 11)
    assert.equal(ok(['-v', '011']).verbosity, 11)
    assert.equal(ok(['-v', '99999999999999999999999']).verbosity, 11)
    for (const bad of ['abc', '-1', '', '1.5', '+3', ' 3', '3 ']) {
      assert.equal(fails(['-v', bad]), 'option -v requires a number', bad)
    }
    assert.equal(fails(['--verbose=x']), 'option -v requires a number')
  })

  test('-s: a port 1..65535', () => {
    assert.equal(ok(['-s', '1']).statsPort, 1)
    assert.equal(ok(['-s', '65535']).statsPort, 65535)
    assert.equal(ok(['-s', '0024301']).statsPort, 24301)
    for (const bad of ['abc', '24301x', '-1', '', '0x10']) {
      assert.equal(fails(['-s', bad]), 'option -s requires a number', bad)
    }
    assert.equal(fails(['--stats-port=abc']), 'option -s requires a number')
    assert.equal(fails(['-s', '0']), 'option -s value 0 is not a valid port')
    assert.equal(fails(['-s', '000']), 'option -s value 0 is not a valid port')
    assert.equal(fails(['-s', '70000']), 'option -s value 70000 is not a valid port')
    assert.equal(fails(['-s', '070000']), 'option -s value 70000 is not a valid port')
    assert.equal(fails(['-s', '65536']), 'option -s value 65536 is not a valid port')
  })

  test('-i: digits, 0 allowed', () => {
    assert.equal(ok(['-i', '0']).statsInterval, 0)
    assert.equal(ok(['-i', '2147483647']).statsInterval, 2147483647)
    for (const bad of ['abc', '-5', '', '1e3']) {
      assert.equal(fails(['-i', bad]), 'option -i requires a number', bad)
    }
    assert.equal(fails(['-i', '2147483648']), 'option -i value 2147483648 is too large')
  })

  test('-m: 512..16777216', () => {
    assert.equal(ok(['-m', '512']).mbufSize, 512)
    assert.equal(ok(['-m', '16777216']).mbufSize, 16777216)
    for (const bad of ['0', '000', 'abc', '', '-512']) {
      assert.equal(fails(['-m', bad]), 'option -m requires a non-zero number', bad)
    }
    for (const bad of ['100', '511', '16777217', '99999999999999999999']) {
      assert.equal(
        fails(['-m', bad]),
        'mbuf chunk size must be between 512 and 16777216 bytes',
        bad,
      )
    }
  })

  test('-a, -c, -p take any string', () => {
    assert.equal(ok(['-a', 'localhost']).statsAddr, 'localhost')
    assert.equal(ok(['-c', '']).confFile, '')
    assert.equal(ok(['-p', 'nodir/x.pid']).pidFile, 'nodir/x.pid')
  })
})

describe('parseArgs errors', () => {
  test('a value flag at the end of the command line', () => {
    for (const f of ['c', 'o', 'p']) {
      assert.equal(fails([`-${f}`]), `option -${f} requires a file name`)
      assert.equal(fails(['-t', `-t${f}`]), `option -${f} requires a file name`)
    }
    for (const f of ['v', 's', 'i', 'm']) {
      assert.equal(fails([`-${f}`]), `option -${f} requires a number`)
    }
    assert.equal(fails(['-a']), 'option -a requires a string')
    assert.equal(fails(['--stats-addr']), 'option -a requires a string')
    assert.equal(fails(['--conf-file']), 'option -c requires a file name')
    assert.equal(fails(['--mbuf']), 'option -m requires a number')
  })

  test('unknown flags', () => {
    assert.equal(fails(['-x']), "invalid option -- 'x'")
    assert.equal(fails(['-?']), "invalid option -- '?'")
    assert.equal(fails(['-tx']), "invalid option -- 'x'")
    assert.equal(fails(['-t-']), "invalid option -- '-'")
    // nutcracker prints a NUL byte between the quotes here; walnut names the flag.
    assert.equal(fails(['--bogus']), "invalid option -- '--bogus'")
    assert.equal(fails(['--bogus=1']), "invalid option -- '--bogus'")
    assert.equal(fails(['--conf-files=x']), "invalid option -- '--conf-files'")
    assert.equal(fails(['--=x']), "invalid option -- '--'")
  })

  test('the first problem on the command line is the one reported', () => {
    assert.equal(fails(['-s', '0', '-x']), 'option -s value 0 is not a valid port')
    assert.equal(fails(['-x', '-s', '0']), "invalid option -- 'x'")
    assert.equal(fails(['-v', 'a', '-m', '1']), 'option -v requires a number')
    // -h does not rescue a bad command line.
    assert.equal(fails(['-h', '-x']), "invalid option -- 'x'")
  })
})

describe('usageText', () => {
  test('exact text', () => {
    assert.equal(
      usageText(),
      [
        'Usage: walnut [-?hVtdD] [-v verbosity level] [-o output file]',
        '              [-c conf file] [-s stats port] [-a stats addr]',
        '              [-i stats interval] [-p pid file] [-m mbuf size]',
        '              [--stats-metrics-port metrics port] [--stats-metrics-addr metrics addr] [--drain-timeout drain msec]',
        '              [--dns-server dns servers] [--watch-config] [--workers workers]',
        '       walnut locate -c conf file [--pool name] [--hex] [key ...]',
        '       walnut hash [--hash name] [--hex] [key ...]',
        '',
        'Options:',
        '  -h, --help             : this help',
        '  -V, --version          : show version and exit',
        '  -t, --test-conf        : test configuration for syntax errors and exit',
        '  -d, --daemonize        : run as a daemon',
        '  -D, --describe-stats   : print stats description and exit',
        '  -v, --verbose=N        : set logging level (default: 5, min: 0, max: 11)',
        '  -o, --output=S         : set logging file (default: stderr)',
        '  -c, --conf-file=S      : set configuration file (default: conf/walnut.yml)',
        '  -s, --stats-port=N     : set stats monitoring port (default: 22222)',
        '  -a, --stats-addr=S     : set stats monitoring ip (default: 0.0.0.0)',
        '  -i, --stats-interval=N : set stats aggregation interval in msec (default: 30000 msec)',
        '  -p, --pid-file=S       : set pid file (default: off)',
        '  -m, --mbuf-size=N      : set size of mbuf chunk in bytes (default: 16384 bytes)',
        '      --stats-metrics-port=N : set Prometheus /metrics http port (default: off)',
        '      --stats-metrics-addr=S : set Prometheus /metrics http ip (default: off: the stats addr)',
        '      --drain-timeout=N  : on SIGINT/SIGTERM, wait this long for requests in flight (default: 10000 msec)',
        '      --dns-server=S     : look backend names up at these ip[:port],... only (default: off: the system resolver)',
        '      --watch-config     : reload the configuration when its file changes',
        '      --workers=N        : serve with this many processes sharing the listeners (default: 1)',
        '',
        '',
      ].join('\n'),
    )
  })

  test('every value flag shows its real default', () => {
    for (const row of OPTION_TABLE) {
      if (row.kind !== 'value') continue
      const shown =
        row.default === undefined ? 'off' : row.default === '' ? 'stderr' : String(row.default)
      assert.ok(row.defaultHelp.startsWith(shown), `${row.long}: ${row.defaultHelp} vs ${shown}`)
    }
  })
})
