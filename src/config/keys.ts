/**
 * The pool keys: one row per YAML key, in the manner of nutcracker's
 * conf_commands[] (key, setter, where it lands), plus the value parsers.
 * Adding a key is one row here (and its field in types.ts).
 *
 * A parser returns the typed value or throws DirectiveError with the text nutcracker
 * appends to `directive "<key>" ` (`is not a number`, ...). The loader checks
 * unknown keys and duplicates (`is a duplicate`) before a parser runs, as
 * nutcracker's setters do.
 *
 * Integers (nutcracker's nc_atoi): one or more ASCII digits, nothing else; leading
 * zeros are fine. nutcracker does not detect overflow (its int wraps, so
 * `timeout: 99999999999` passes -t as 1215752191 while `4294967295` is "not a
 * number"). walnut accepts every digit string and saturates at 2^31-1, the largest
 * value nutcracker's int holds and the longest delay a Node timer takes. Ports are
 * checked on the real value, so `4294991397` is an invalid port, not 24101.
 */

import { ResolveError, type Resolver, resolveHost } from './resolve.js'
import {
  DISTRIBUTION_NAMES,
  type DistributionName,
  HASH_NAMES,
  type HashName,
  type ListenAddress,
  POOL_DEFAULTS,
  type PoolConfig,
  type ServerAddress,
} from './types.js'

/** A value nutcracker's setter refuses; `rv` follows `directive "<key>" ` in the reason. */
export class DirectiveError extends Error {
  readonly rv: string
  readonly detail: string | undefined
  constructor(rv: string, options?: { detail?: string; cause?: unknown }) {
    super(rv, { cause: options?.cause })
    this.name = 'DirectiveError'
    this.rv = rv
    this.detail = options?.detail
  }
}

/** What a parser may need beyond the value. */
export interface KeyContext {
  readonly resolve: Resolver
}

/** A parsed `servers:` entry; the loader adds its position in the list. */
export interface ServerEntry {
  readonly text: string
  readonly name: string
  readonly weight: number
  readonly address: ServerAddress
}

/** PoolConfig fields set by a single-valued key. */
export type PoolValues = Omit<PoolConfig, 'name' | 'servers'>

export interface ValueRow<F extends keyof PoolValues = keyof PoolValues> {
  readonly key: string
  readonly field: F
  readonly parse: (value: string, ctx: KeyContext) => PoolValues[F] | Promise<PoolValues[F]>
  /** Value when the key is absent; ignored when `required`. */
  readonly default: PoolValues[F]
  readonly required?: true
  readonly list?: undefined
}

/** A key whose every value (sequence item) adds one entry: `servers`. */
export interface ListRow {
  readonly key: string
  readonly field: 'servers'
  readonly parse: (value: string, ctx: KeyContext) => ServerEntry
  readonly list: true
}

export type KeyRow = ValueRow | ListRow

function row<F extends keyof PoolValues>(r: ValueRow<F>): ValueRow<F> {
  return r
}

// nutcracker's CONF_ERROR: what a setter returns when it fails for another reason.
const INVALID_VALUE = 'has an invalid value'

/** The saturation value for integers: 2^31-1 (nutcracker's int). */
export const INT_MAX = 0x7fffffff

/**
 * nc_atoi: digits only, at least one; -1 otherwise. Saturates at INT_MAX
 * instead of wrapping (see the header).
 */
export function parseDigits(s: string): number {
  if (s.length === 0) return -1
  let v = 0
  for (let i = 0; i < s.length; i++) {
    const d = s.charCodeAt(i) - 48
    if (d < 0 || d > 9) return -1
    v = v * 10 + d
    if (v > INT_MAX) v = INT_MAX
  }
  return v
}

function validPort(n: number): boolean {
  return n >= 1 && n <= 65535
}

export function parseNumber(value: string): number {
  const n = parseDigits(value)
  if (n < 0) throw new DirectiveError('is not a number')
  return n
}

/** A number that must not be 0 (`max_request_size`: a cap of 0 would refuse every request). */
export function parsePositive(value: string): number {
  const n = parseNumber(value)
  if (n === 0) throw new DirectiveError('cannot be 0')
  return n
}

export function parseBool(value: string): boolean {
  if (value === 'true') return true
  if (value === 'false') return false
  throw new DirectiveError('is not "true" or "false"')
}

export function parseHash(value: string): HashName {
  const found = HASH_NAMES.find((h) => h === value)
  if (found === undefined) throw new DirectiveError('is not a valid hash')
  return found
}

export function parseDistribution(value: string): DistributionName {
  const found = DISTRIBUTION_NAMES.find((d) => d === value)
  if (found === undefined) throw new DirectiveError('is not a valid distribution')
  return found
}

/** Exactly two bytes (a two-byte UTF-8 character counts, as in nutcracker). */
export function parseHashTag(value: string): Buffer {
  const tag = Buffer.from(value, 'utf8')
  if (tag.length !== 2) {
    throw new DirectiveError('is not a valid hash tag string with two characters')
  }
  return tag
}

export function parseString(value: string): string {
  return value
}

/** sizeof(sun_path) on Linux; nutcracker refuses a path that does not fit with its NUL. */
const UNIX_PATH_MAX = 108

/**
 * strtol(s, NULL, 8) as far as the permission check needs it: leading white space,
 * an optional sign, then octal digits up to the first other character (none → 0).
 * A negative value becomes a huge mode_t in C; returned here as Infinity.
 */
export function strtolOctal(s: string): number {
  let i = 0
  while (i < s.length && ' \t\n\v\f\r'.includes(s.charAt(i))) i++
  let negative = false
  if (s.charAt(i) === '+' || s.charAt(i) === '-') {
    negative = s.charAt(i) === '-'
    i++
  }
  let v = 0
  for (; i < s.length; i++) {
    const d = s.charCodeAt(i) - 48
    if (d < 0 || d > 7) break
    v = Math.min(v * 8 + d, Number.MAX_SAFE_INTEGER)
  }
  return negative && v !== 0 ? Number.POSITIVE_INFINITY : v
}

/**
 * `listen:` (spec §5.4): `/path [perm]` when it starts with `/` (the permission
 * after the last space; other spaces stay in the path), else `host:port` split at
 * the last `:`, the host resolved now.
 */
export async function parseListen(value: string, ctx: KeyContext): Promise<ListenAddress> {
  if (value.charCodeAt(0) === 0x2f) {
    const sp = value.lastIndexOf(' ')
    let path = value
    let mode: number | undefined
    if (sp !== -1) {
      // nutcracker: `/x.sock   0640` is the path `/x.sock  `; `/y.sock 0777 extra`
      // is the path `/y.sock 0777` with permission `extra` (0: no chmod).
      path = value.slice(0, sp)
      const perm = strtolOctal(value.slice(sp + 1))
      if (perm > 0o777) {
        throw new DirectiveError(
          'has an invalid file permission in "socket_path permission" format string',
        )
      }
      mode = perm === 0 ? undefined : perm
    }
    const bytes = Buffer.byteLength(path, 'utf8')
    if (bytes >= UNIX_PATH_MAX) {
      throw new DirectiveError(INVALID_VALUE, {
        detail: `unix socket path is ${bytes} bytes long; at most ${UNIX_PATH_MAX - 1} fit`,
      })
    }
    return { kind: 'unix', path, mode, text: value }
  }
  const colon = value.lastIndexOf(':')
  if (colon === -1) throw new DirectiveError('has an invalid "hostname:port" format string')
  const port = parseDigits(value.slice(colon + 1))
  if (!validPort(port)) {
    throw new DirectiveError('has an invalid port in "hostname:port" format string')
  }
  const host = value.slice(0, colon)
  try {
    const address = await resolveHost(host, port, ctx.resolve)
    return { kind: 'tcp', host, address, port, text: value }
  } catch (err) {
    if (!(err instanceof ResolveError)) throw err
    throw new DirectiveError(INVALID_VALUE, { detail: err.message, cause: err.cause })
  }
}

const SERVER_FORMAT =
  'has an invalid "hostname:port:weight [name]"or "/path/unix_socket:weight [name]" format string'
const SERVER_PORT = 'has an invalid port in "hostname:port:weight [name]" format string'
const SERVER_WEIGHT = 'has an invalid weight in "hostname:port:weight [name]" format string'
const SERVER_ZERO_WEIGHT = 'has a zero weight in "hostname:port:weight [name]" format string'

/** Index of the last `ch` in s[0, end), or -1 (nutcracker's nc_strrchr). */
function lastIndexBefore(s: string, ch: string, end: number): number {
  for (let i = end - 1; i >= 0; i--) if (s.charAt(i) === ch) return i
  return -1
}

/** libmemcached compatibility: a server on this port is named by its host alone. */
const KETAMA_PORT = 11211

/**
 * A `servers:` entry (spec §5.3), parsed from the right as nutcracker does:
 * optional ` name` after the last space, then `:weight`, then `:port` (TCP only;
 * an entry starting with `/` is a unix socket). Checks come in that order, so
 * `h:p:x` is a bad weight even when the port is bad too.
 */
export function parseServer(value: string): ServerEntry {
  const unix = value.charCodeAt(0) === 0x2f
  let end = value.length
  let name: string | undefined
  const sp = lastIndexBefore(value, ' ', end)
  if (sp !== -1) {
    // nutcracker: a trailing space gives an empty name, which is kept.
    name = value.slice(sp + 1)
    end = sp
  }
  const weightColon = lastIndexBefore(value, ':', end)
  if (weightColon === -1) throw new DirectiveError(SERVER_FORMAT)
  const weight = parseDigits(value.slice(weightColon + 1, end))
  if (weight < 0) throw new DirectiveError(SERVER_WEIGHT)
  if (weight === 0) throw new DirectiveError(SERVER_ZERO_WEIGHT)
  const portColon = lastIndexBefore(value, ':', weightColon)
  if (unix) {
    if (portColon !== -1) {
      // nutcracker reads on as if it were host:port:weight, then refuses the form.
      if (!validPort(parseDigits(value.slice(portColon + 1, weightColon)))) {
        throw new DirectiveError(SERVER_PORT)
      }
      throw new DirectiveError(SERVER_FORMAT)
    }
    const path = value.slice(0, weightColon)
    // nutcracker: the name of an unnamed unix server keeps the colon: `/path:`.
    return {
      text: value,
      name: name ?? value.slice(0, weightColon + 1),
      weight,
      address: { kind: 'unix', path },
    }
  }
  if (portColon === -1) throw new DirectiveError(SERVER_FORMAT)
  const port = parseDigits(value.slice(portColon + 1, weightColon))
  if (!validPort(port)) throw new DirectiveError(SERVER_PORT)
  // nutcracker's delimiter list ends with its NUL terminator: a NUL in the host
  // is one delimiter too many.
  if (lastIndexBefore(value, '\0', portColon) !== -1) throw new DirectiveError(SERVER_FORMAT)
  const host = value.slice(0, portColon)
  const unnamed = port === KETAMA_PORT ? host : value.slice(0, weightColon)
  return { text: value, name: name ?? unnamed, weight, address: { kind: 'tcp', host, port } }
}

/**
 * nutcracker 0.5.0's pool keys (spec §5.2), in conf_commands[] order. Keys are
 * case-sensitive; anything else is `directive "<key>" is unknown`.
 */
export const POOL_KEYS = [
  row({
    key: 'listen',
    field: 'listen',
    parse: parseListen,
    // never used: a pool without listen is refused
    default: { kind: 'unix', path: '', mode: undefined, text: '' },
    required: true,
  }),
  row({ key: 'hash', field: 'hash', parse: parseHash, default: POOL_DEFAULTS.hash }),
  row({ key: 'hash_tag', field: 'hashTag', parse: parseHashTag, default: undefined }),
  row({
    key: 'distribution',
    field: 'distribution',
    parse: parseDistribution,
    default: POOL_DEFAULTS.distribution,
  }),
  row({ key: 'timeout', field: 'timeout', parse: parseNumber, default: POOL_DEFAULTS.timeout }),
  row({ key: 'backlog', field: 'backlog', parse: parseNumber, default: POOL_DEFAULTS.backlog }),
  row({
    key: 'client_connections',
    field: 'clientConnections',
    parse: parseNumber,
    default: POOL_DEFAULTS.clientConnections,
  }),
  row({ key: 'redis', field: 'redis', parse: parseBool, default: POOL_DEFAULTS.redis }),
  row({ key: 'redis_auth', field: 'redisAuth', parse: parseString, default: undefined }),
  row({ key: 'redis_db', field: 'redisDb', parse: parseNumber, default: POOL_DEFAULTS.redisDb }),
  row({
    key: 'preconnect',
    field: 'preconnect',
    parse: parseBool,
    default: POOL_DEFAULTS.preconnect,
  }),
  row({
    key: 'auto_eject_hosts',
    field: 'autoEjectHosts',
    parse: parseBool,
    default: POOL_DEFAULTS.autoEjectHosts,
  }),
  row({
    key: 'server_connections',
    field: 'serverConnections',
    parse: parseNumber,
    default: POOL_DEFAULTS.serverConnections,
  }),
  row({
    key: 'server_retry_timeout',
    field: 'serverRetryTimeout',
    parse: parseNumber,
    default: POOL_DEFAULTS.serverRetryTimeout,
  }),
  row({
    key: 'server_failure_limit',
    field: 'serverFailureLimit',
    parse: parseNumber,
    default: POOL_DEFAULTS.serverFailureLimit,
  }),
  row({
    key: 'tcpkeepalive',
    field: 'tcpkeepalive',
    parse: parseBool,
    default: POOL_DEFAULTS.tcpkeepalive,
  }),
  { key: 'servers', field: 'servers', parse: parseServer, list: true },
  // walnut's own keys (docs/failures.md): limits against hostile or broken clients.
  row({
    key: 'max_request_size',
    field: 'maxRequestSize',
    parse: parsePositive,
    default: POOL_DEFAULTS.maxRequestSize,
  }),
  row({
    key: 'client_max_buffer',
    field: 'clientMaxBuffer',
    parse: parseNumber,
    default: POOL_DEFAULTS.clientMaxBuffer,
  }),
  row({
    key: 'client_max_inflight',
    field: 'clientMaxInflight',
    parse: parseNumber,
    default: POOL_DEFAULTS.clientMaxInflight,
  }),
  // walnut's own keys (docs/tls.md): TLS to the servers, a TLS listener, redis ACL auth.
  // Checks across keys and the certificate files: src/config/tls.ts.
  row({ key: 'tls', field: 'tls', parse: parseBool, default: POOL_DEFAULTS.tls }),
  row({ key: 'tls_ca_file', field: 'tlsCaFile', parse: parseString, default: undefined }),
  row({ key: 'tls_cert_file', field: 'tlsCertFile', parse: parseString, default: undefined }),
  row({ key: 'tls_key_file', field: 'tlsKeyFile', parse: parseString, default: undefined }),
  row({ key: 'tls_server_name', field: 'tlsServerName', parse: parseString, default: undefined }),
  row({
    key: 'tls_verify',
    field: 'tlsVerify',
    parse: parseBool,
    default: POOL_DEFAULTS.tlsVerify,
  }),
  row({ key: 'listen_tls', field: 'listenTls', parse: parseListen, default: undefined }),
  row({
    key: 'tls_listen_cert_file',
    field: 'tlsListenCertFile',
    parse: parseString,
    default: undefined,
  }),
  row({
    key: 'tls_listen_key_file',
    field: 'tlsListenKeyFile',
    parse: parseString,
    default: undefined,
  }),
  row({
    key: 'tls_listen_ca_file',
    field: 'tlsListenCaFile',
    parse: parseString,
    default: undefined,
  }),
  row({
    key: 'tls_listen_verify_client',
    field: 'tlsListenVerifyClient',
    parse: parseBool,
    default: POOL_DEFAULTS.tlsListenVerifyClient,
  }),
  row({ key: 'redis_auth_user', field: 'redisAuthUser', parse: parseString, default: undefined }),
  row({ key: 'client_auth', field: 'clientAuth', parse: parseString, default: undefined }),
  // walnut's own key (docs/dns-and-reload.md): how often backend names are looked up again.
  row({
    key: 'dns_refresh_interval',
    field: 'dnsRefreshInterval',
    parse: parseNumber,
    default: POOL_DEFAULTS.dnsRefreshInterval,
  }),
] as const satisfies readonly KeyRow[]

/** Row by YAML key. */
export const KEY_ROWS: ReadonlyMap<string, KeyRow> = new Map(
  POOL_KEYS.map((r): [string, KeyRow] => [r.key, r as KeyRow]),
)
