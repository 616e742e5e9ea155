/**
 * walnut's command-line flags: nutcracker 0.5.0's set (../shared/spec/cli-config.md §1),
 * same letters, long names, checks and messages, with walnut's defaults (deviation P5:
 * the log goes to stderr by default; the config file defaults to conf/walnut.yml).
 *
 * OPTION_TABLE is the single description of every flag: the parser, the `Options`
 * type, the usage synopsis and the `-h` listing are all derived from it, so adding a
 * flag is adding one row. `parseArgs` is pure (no process access) and returns either
 * frozen options or the error line to print before the usage text.
 */
import { parseDnsServers } from '../core/resolver.js'
import { flagName, type GetoptDef, getopt, getoptMessage } from './getopt.js'

/** A value that failed its check; `message` follows `walnut: ` on stderr. */
export class ArgFail {
  readonly message: string
  constructor(message: string) {
    this.message = message
  }
}

/** A flag without a value: true when present. */
export interface FlagRow<K extends string> {
  readonly kind: 'flag'
  readonly key: K
  readonly short: string | undefined
  readonly long: string
  readonly help: string
}

/** A flag with a value, checked by `parse` each time it occurs; the last one wins. */
export interface ValueRow<K extends string, T> {
  readonly kind: 'value'
  readonly key: K
  readonly short: string | undefined
  readonly long: string
  /** `N` (number) or `S` (string), as in `--stats-port=N`. */
  readonly metavar: 'N' | 'S'
  /** Words in the usage synopsis: `[-s stats port]`. */
  readonly synopsis: string
  /** What the flag needs, for `option -s requires a number` when the value is missing. */
  readonly missing: 'a number' | 'a file name' | 'a string'
  readonly default: T
  readonly help: string
  /** The default as `-h` shows it, e.g. `5, min: 0, max: 11`. */
  readonly defaultHelp: string
  /** `flag` is how messages name the flag: `-s`, or `--name` for a long-only flag. */
  readonly parse: (raw: string, flag: string) => T | ArgFail
}

function flag<K extends string>(
  key: K,
  short: string | undefined,
  long: string,
  help: string,
): FlagRow<K> {
  return { kind: 'flag', key, short, long, help }
}

function value<K extends string, T>(row: Omit<ValueRow<K, T>, 'kind'>): ValueRow<K, T> {
  return { kind: 'value', ...row }
}

/** Log levels: nutcracker's 0 (always) .. 11 (pverb). */
export const LOG_LEVEL_MAX = 11
/** nutcracker's mbuf size limits (bytes). */
export const MBUF_SIZE_MIN = 512
export const MBUF_SIZE_MAX = 16777216

const DIGITS = /^[0-9]+$/
/** Largest value accepted for an unbounded numeric flag (a C int, as nutcracker stores it). */
const INT_MAX = 2147483647

/** The digit string without leading zeros, for messages (`-s 070000` → `70000`). */
function decimal(raw: string): string {
  return raw.replace(/^0+(?=[0-9])/, '')
}

function parseVerbosity(raw: string, name: string): number | ArgFail {
  if (!DIGITS.test(raw)) return new ArgFail(`option ${name} requires a number`)
  // nutcracker: any larger level is clamped to the maximum, not rejected.
  return Math.min(Number(raw), LOG_LEVEL_MAX)
}

function parsePort(raw: string, name: string): number | ArgFail {
  if (!DIGITS.test(raw)) return new ArgFail(`option ${name} requires a number`)
  const n = Number(raw)
  if (n < 1 || n > 65535)
    return new ArgFail(`option ${name} value ${decimal(raw)} is not a valid port`)
  return n
}

function parseInterval(raw: string, name: string): number | ArgFail {
  if (!DIGITS.test(raw)) return new ArgFail(`option ${name} requires a number`)
  const n = Number(raw)
  // nutcracker keeps it in a C int and silently wraps; walnut refuses instead.
  if (n > INT_MAX) return new ArgFail(`option ${name} value ${decimal(raw)} is too large`)
  return n
}

function parseMbufSize(raw: string, name: string): number | ArgFail {
  const n = DIGITS.test(raw) ? Number(raw) : 0
  if (n === 0) return new ArgFail(`option ${name} requires a non-zero number`)
  if (n < MBUF_SIZE_MIN || n > MBUF_SIZE_MAX) {
    return new ArgFail(
      `mbuf chunk size must be between ${MBUF_SIZE_MIN} and ${MBUF_SIZE_MAX} bytes`,
    )
  }
  return n
}

const asString = (raw: string): string => raw

/** --workers: at most this many processes (a typo like 800 should not fork 800). */
export const WORKERS_MAX = 256

function parseWorkers(raw: string, name: string): number | ArgFail {
  if (!DIGITS.test(raw)) return new ArgFail(`option ${name} requires a number`)
  const n = Number(raw)
  if (n < 1 || n > WORKERS_MAX) {
    return new ArgFail(`option ${name} value ${decimal(raw)} is not between 1 and ${WORKERS_MAX}`)
  }
  return n
}

function parseDnsServerList(raw: string, name: string): readonly string[] | ArgFail {
  const r = parseDnsServers(raw)
  return typeof r === 'string' ? new ArgFail(`option ${name} value ${r}`) : r
}

/** Every flag, in the order `-h` lists them. */
export const OPTION_TABLE = [
  flag('help', 'h', 'help', 'this help'),
  flag('version', 'V', 'version', 'show version and exit'),
  flag('testConf', 't', 'test-conf', 'test configuration for syntax errors and exit'),
  flag('daemonize', 'd', 'daemonize', 'run as a daemon'),
  flag('describeStats', 'D', 'describe-stats', 'print stats description and exit'),
  value({
    key: 'verbosity',
    short: 'v',
    long: 'verbose',
    metavar: 'N',
    synopsis: 'verbosity level',
    missing: 'a number',
    default: 5,
    help: 'set logging level',
    defaultHelp: `5, min: 0, max: ${LOG_LEVEL_MAX}`,
    parse: parseVerbosity,
  }),
  value({
    key: 'output',
    short: 'o',
    long: 'output',
    metavar: 'S',
    synopsis: 'output file',
    missing: 'a file name',
    // Deviation P5: stderr (the empty string), not Debian's /var/log path.
    default: '',
    help: 'set logging file',
    defaultHelp: 'stderr',
    parse: asString,
  }),
  value({
    key: 'confFile',
    short: 'c',
    long: 'conf-file',
    metavar: 'S',
    synopsis: 'conf file',
    missing: 'a file name',
    default: 'conf/walnut.yml',
    help: 'set configuration file',
    defaultHelp: 'conf/walnut.yml',
    parse: asString,
  }),
  value({
    key: 'statsPort',
    short: 's',
    long: 'stats-port',
    metavar: 'N',
    synopsis: 'stats port',
    missing: 'a number',
    default: 22222,
    help: 'set stats monitoring port',
    defaultHelp: '22222',
    parse: parsePort,
  }),
  value({
    key: 'statsAddr',
    short: 'a',
    long: 'stats-addr',
    metavar: 'S',
    synopsis: 'stats addr',
    missing: 'a string',
    default: '0.0.0.0',
    help: 'set stats monitoring ip',
    defaultHelp: '0.0.0.0',
    parse: asString,
  }),
  value({
    key: 'statsInterval',
    short: 'i',
    long: 'stats-interval',
    metavar: 'N',
    synopsis: 'stats interval',
    missing: 'a number',
    default: 30000,
    help: 'set stats aggregation interval in msec',
    defaultHelp: '30000 msec',
    parse: parseInterval,
  }),
  value<'pidFile', string | undefined>({
    key: 'pidFile',
    short: 'p',
    long: 'pid-file',
    metavar: 'S',
    synopsis: 'pid file',
    missing: 'a file name',
    default: undefined,
    help: 'set pid file',
    defaultHelp: 'off',
    parse: asString,
  }),
  value({
    key: 'mbufSize',
    short: 'm',
    long: 'mbuf-size',
    metavar: 'N',
    synopsis: 'mbuf size',
    missing: 'a number',
    default: 16384,
    help: 'set size of mbuf chunk in bytes',
    defaultHelp: '16384 bytes',
    parse: parseMbufSize,
  }),
  // walnut-only flags: long names that leave every nutcracker abbreviation (--m, --p, --stats-p...) unique.
  value<'statsMetricsPort', number | undefined>({
    key: 'statsMetricsPort',
    short: undefined,
    long: 'stats-metrics-port',
    metavar: 'N',
    synopsis: 'metrics port',
    missing: 'a number',
    default: undefined,
    help: 'set Prometheus /metrics http port',
    defaultHelp: 'off',
    parse: parsePort,
  }),
  value<'statsMetricsAddr', string | undefined>({
    key: 'statsMetricsAddr',
    short: undefined,
    long: 'stats-metrics-addr',
    metavar: 'S',
    synopsis: 'metrics addr',
    missing: 'a string',
    default: undefined,
    help: 'set Prometheus /metrics http ip',
    defaultHelp: 'off: the stats addr',
    parse: asString,
  }),
  value({
    key: 'drainTimeout',
    short: undefined,
    long: 'drain-timeout',
    metavar: 'N',
    synopsis: 'drain msec',
    missing: 'a number',
    default: 10000,
    help: 'on SIGINT/SIGTERM, wait this long for requests in flight',
    defaultHelp: '10000 msec',
    parse: parseInterval,
  }),
  // docs/dns-and-reload.md: where backend names are looked up; reload when the file changes.
  value<'dnsServers', readonly string[] | undefined>({
    key: 'dnsServers',
    short: undefined,
    long: 'dns-server',
    metavar: 'S',
    synopsis: 'dns servers',
    missing: 'a string',
    default: undefined,
    help: 'look backend names up at these ip[:port],... only',
    defaultHelp: 'off: the system resolver',
    parse: parseDnsServerList,
  }),
  flag('watchConfig', undefined, 'watch-config', 'reload the configuration when its file changes'),
  // docs/operations.md "Workers": processes sharing the listeners (src/cli/workers.ts).
  value({
    key: 'workers',
    short: undefined,
    long: 'workers',
    metavar: 'N',
    synopsis: 'workers',
    missing: 'a number',
    default: 1,
    help: 'serve with this many processes sharing the listeners',
    defaultHelp: '1',
    parse: parseWorkers,
  }),
] as const

type Row = (typeof OPTION_TABLE)[number]

/** The parsed command line: one member per table row. */
export type Options = {
  readonly [R in Row as R['key']]: R extends ValueRow<string, infer T> ? T : boolean
}

export type ParseResult =
  | { readonly ok: true; readonly options: Options; readonly positionals: readonly string[] }
  /** `message` is the error line without the `walnut: ` prefix. */
  | { readonly ok: false; readonly message: string }

const GETOPT_DEFS: readonly GetoptDef[] = OPTION_TABLE.map((r) => ({
  short: r.short,
  long: r.long,
  hasArg: r.kind === 'value',
}))

/** Parses walnut's main command line (without the node and script words). */
export function parseArgs(argv: readonly string[]): ParseResult {
  const opts: Record<string, unknown> = {}
  for (const row of OPTION_TABLE) opts[row.key] = row.kind === 'flag' ? false : row.default

  const { events, positionals, error } = getopt(argv, GETOPT_DEFS)
  for (const ev of events) {
    const row = OPTION_TABLE[ev.def] as Row
    if (row.kind === 'flag') {
      opts[row.key] = true
      continue
    }
    const v = row.parse(ev.value ?? '', flagName(row))
    if (v instanceof ArgFail) return { ok: false, message: v.message }
    opts[row.key] = v
  }
  if (error !== undefined) {
    const missing = (def: number) => {
      const row = OPTION_TABLE[def] as Row
      return row.kind === 'value' ? row.missing : 'a value'
    }
    return { ok: false, message: getoptMessage(error, GETOPT_DEFS, missing) }
  }
  return {
    ok: true,
    options: Object.freeze(opts) as Options,
    positionals: Object.freeze(positionals),
  }
}

/** The options a run without flags gets. */
export const DEFAULT_OPTIONS: Options = (() => {
  const r = parseArgs([])
  if (!r.ok) throw new Error('unreachable: empty command line rejected')
  return r.options
})()

/** Width of the flag column in the `-h` listing (nutcracker's: `  -i, --stats-interval=N`). */
const FLAG_COLUMN = 24
/** Value flags per synopsis line, as nutcracker wraps them. */
const SYNOPSIS_PER_LINE = 3

/**
 * The usage text printed by `-h` (after the banner) and after a flag error: the
 * synopsis, the subcommands, then one line per flag with its default. LF line ends
 * (nutcracker ends most of these lines in CRLF; walnut does not copy that).
 */
export function usageText(program = 'walnut'): string {
  const head = `Usage: ${program} `
  const indent = ' '.repeat(head.length)
  const letters = OPTION_TABLE.filter((r) => r.kind === 'flag' && r.short !== undefined)
    .map((r) => r.short)
    .join('')
  const groups = [`[-?${letters}]`]
  for (const r of OPTION_TABLE) {
    if (r.kind === 'value') groups.push(`[${flagName(r)} ${r.synopsis}]`)
    else if (r.short === undefined) groups.push(`[--${r.long}]`)
  }
  const synopsis: string[] = []
  // The first line carries the flag letters plus (SYNOPSIS_PER_LINE - 1) value groups.
  synopsis.push(head + groups.slice(0, SYNOPSIS_PER_LINE).join(' '))
  for (let i = SYNOPSIS_PER_LINE; i < groups.length; i += SYNOPSIS_PER_LINE) {
    synopsis.push(indent + groups.slice(i, i + SYNOPSIS_PER_LINE).join(' '))
  }
  const also = `${' '.repeat('Usage: '.length)}${program} `
  synopsis.push(`${also}locate -c conf file [--pool name] [--hex] [key ...]`)
  synopsis.push(`${also}hash [--hash name] [--hex] [key ...]`)

  const lines = OPTION_TABLE.map((r) => {
    let left = r.short === undefined ? `      --${r.long}` : `  -${r.short}, --${r.long}`
    if (r.kind === 'value') left += `=${r.metavar}`
    const help = r.kind === 'value' ? `${r.help} (default: ${r.defaultHelp})` : r.help
    return `${left.padEnd(FLAG_COLUMN)} : ${help}`
  })
  return `${synopsis.join('\n')}\n\nOptions:\n${lines.join('\n')}\n\n`
}
