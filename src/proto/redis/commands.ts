/**
 * The redis command table: every command walnut knows, with its arity, how it
 * is routed and whether it is split across servers. The single source for the
 * session's dispatch and for the support matrix in docs/redis.md (a test keeps
 * the two equal). In the spirit of nutcracker's redis_argz/argn/argx classes
 * and node-redis's declarative command objects.
 *
 * Forwarded commands keep the argument counts nutcracker 0.5.0 accepts (spec
 * §2), so a count nutcracker forwards is still forwarded and the server gives
 * its own error; a count nutcracker closes on gets redis's arity error instead
 * (deviation R2). Commands answered by walnut itself follow redis 7's arity.
 * Every other redis 7.0 command is listed as unsupported (spec §3): it gets an
 * error reply saying so, and the connection stays usable (R1).
 *
 * Routes:
 *   key          argv[1] is the key (after hash_tag); forwarded verbatim.
 *   key2         argv[2] is the first key: ZDIFF/ZINTER/ZUNION numkeys key ... (R13).
 *   eval         EVAL/EVALSHA script numkeys key ...: the first key, argv[3].
 *   placeholder  keyless, sent to the server of the literal key `placeholder`.
 *   split        several keys: one sub-request per server, replies merged
 *                (`mget`: array; `sum`: integer sum; `mset`: +OK). R8 adds EXISTS.
 *   local        answered by walnut.
 *   unsupported  refused with an error reply.
 */

/** How a command reaches a server. */
export type Route = 'key' | 'key2' | 'eval' | 'placeholder' | 'split' | 'local' | 'unsupported'

/** How the replies of a split command's sub-requests are merged. */
export type SplitKind = 'mget' | 'sum' | 'mset'

export interface CommandSpec {
  /**
   * Argument count, command name included, in redis's convention: N means
   * exactly N, -N at least N. Unused (0) for unsupported commands.
   */
  readonly arity: number
  /** Upper bound for a variadic arity (PING [message]). */
  readonly max?: number
  /** The count must be odd (MSET key value [key value ...]). */
  readonly odd?: boolean
  readonly route: Route
  readonly split?: SplitKind
}

/** Lowercase name → spec. Sorted by name. */
export const COMMANDS = {
  acl: { arity: 0, route: 'unsupported' },
  append: { arity: 3, route: 'key' },
  asking: { arity: 0, route: 'unsupported' },
  auth: { arity: -2, route: 'local' },
  bgrewriteaof: { arity: 0, route: 'unsupported' },
  bgsave: { arity: 0, route: 'unsupported' },
  bitcount: { arity: -2, route: 'key' },
  bitfield: { arity: -2, route: 'key' },
  bitfield_ro: { arity: 0, route: 'unsupported' },
  bitop: { arity: 0, route: 'unsupported' },
  bitpos: { arity: -2, route: 'key' },
  blmove: { arity: 0, route: 'unsupported' },
  blmpop: { arity: 0, route: 'unsupported' },
  blpop: { arity: 0, route: 'unsupported' },
  brpop: { arity: 0, route: 'unsupported' },
  brpoplpush: { arity: 0, route: 'unsupported' },
  bzmpop: { arity: 0, route: 'unsupported' },
  bzpopmax: { arity: 0, route: 'unsupported' },
  bzpopmin: { arity: 0, route: 'unsupported' },
  client: { arity: -2, route: 'local' },
  cluster: { arity: 0, route: 'unsupported' },
  command: { arity: -1, route: 'placeholder' },
  config: { arity: 0, route: 'unsupported' },
  copy: { arity: -2, route: 'key' },
  dbsize: { arity: 0, route: 'unsupported' },
  debug: { arity: 0, route: 'unsupported' },
  decr: { arity: 2, route: 'key' },
  decrby: { arity: 3, route: 'key' },
  del: { arity: -2, route: 'split', split: 'sum' },
  discard: { arity: 0, route: 'unsupported' },
  dump: { arity: 2, route: 'key' },
  echo: { arity: 2, route: 'local' },
  eval: { arity: -3, route: 'eval' },
  eval_ro: { arity: 0, route: 'unsupported' },
  evalsha: { arity: -3, route: 'eval' },
  evalsha_ro: { arity: 0, route: 'unsupported' },
  exec: { arity: 0, route: 'unsupported' },
  exists: { arity: -2, route: 'split', split: 'sum' },
  // redis 7.0 adds NX|XX|GT|LT: walnut forwards them (nutcracker closes on the 4th argument).
  expire: { arity: -3, max: 4, route: 'key' },
  expireat: { arity: -3, max: 4, route: 'key' },
  expiretime: { arity: 0, route: 'unsupported' },
  failover: { arity: 0, route: 'unsupported' },
  fcall: { arity: 0, route: 'unsupported' },
  fcall_ro: { arity: 0, route: 'unsupported' },
  flushall: { arity: 0, route: 'unsupported' },
  flushdb: { arity: 0, route: 'unsupported' },
  function: { arity: 0, route: 'unsupported' },
  geoadd: { arity: -2, route: 'key' },
  geodist: { arity: -2, route: 'key' },
  geohash: { arity: -2, route: 'key' },
  geopos: { arity: -2, route: 'key' },
  georadius: { arity: -2, route: 'key' },
  georadius_ro: { arity: 0, route: 'unsupported' },
  georadiusbymember: { arity: -2, route: 'key' },
  georadiusbymember_ro: { arity: 0, route: 'unsupported' },
  geosearch: { arity: -2, route: 'key' },
  geosearchstore: { arity: -2, route: 'key' },
  get: { arity: 2, route: 'key' },
  getbit: { arity: 3, route: 'key' },
  getdel: { arity: 2, route: 'key' },
  getex: { arity: -2, route: 'key' },
  getrange: { arity: 4, route: 'key' },
  getset: { arity: 3, route: 'key' },
  hdel: { arity: -2, route: 'key' },
  hello: { arity: -1, route: 'local' },
  hexists: { arity: 3, route: 'key' },
  hget: { arity: 3, route: 'key' },
  hgetall: { arity: 2, route: 'key' },
  hincrby: { arity: 4, route: 'key' },
  hincrbyfloat: { arity: 4, route: 'key' },
  hkeys: { arity: 2, route: 'key' },
  hlen: { arity: 2, route: 'key' },
  hmget: { arity: -2, route: 'key' },
  hmset: { arity: -2, route: 'key' },
  hrandfield: { arity: -2, route: 'key' },
  hscan: { arity: -2, route: 'key' },
  hset: { arity: -2, route: 'key' },
  hsetnx: { arity: 4, route: 'key' },
  hstrlen: { arity: 3, route: 'key' },
  hvals: { arity: 2, route: 'key' },
  incr: { arity: 2, route: 'key' },
  incrby: { arity: 3, route: 'key' },
  incrbyfloat: { arity: 3, route: 'key' },
  info: { arity: -1, route: 'local' },
  keys: { arity: 0, route: 'unsupported' },
  lastsave: { arity: 0, route: 'unsupported' },
  latency: { arity: 0, route: 'unsupported' },
  lcs: { arity: 0, route: 'unsupported' },
  lindex: { arity: 3, route: 'key' },
  linsert: { arity: 5, route: 'key' },
  llen: { arity: 2, route: 'key' },
  lmove: { arity: 5, route: 'key' },
  lmpop: { arity: 0, route: 'unsupported' },
  lolwut: { arity: -1, route: 'placeholder' },
  lpop: { arity: -2, route: 'key' },
  lpos: { arity: -2, route: 'key' },
  lpush: { arity: -2, route: 'key' },
  lpushx: { arity: -2, route: 'key' },
  lrange: { arity: 4, route: 'key' },
  lrem: { arity: 4, route: 'key' },
  lset: { arity: 4, route: 'key' },
  ltrim: { arity: 4, route: 'key' },
  memory: { arity: 0, route: 'unsupported' },
  mget: { arity: -2, route: 'split', split: 'mget' },
  migrate: { arity: 0, route: 'unsupported' },
  module: { arity: 0, route: 'unsupported' },
  monitor: { arity: 0, route: 'unsupported' },
  move: { arity: 0, route: 'unsupported' },
  mset: { arity: -3, odd: true, route: 'split', split: 'mset' },
  msetnx: { arity: 0, route: 'unsupported' },
  multi: { arity: 0, route: 'unsupported' },
  object: { arity: 0, route: 'unsupported' },
  persist: { arity: 2, route: 'key' },
  pexpire: { arity: -3, max: 4, route: 'key' },
  pexpireat: { arity: -3, max: 4, route: 'key' },
  pexpiretime: { arity: 0, route: 'unsupported' },
  pfadd: { arity: -2, route: 'key' },
  pfcount: { arity: -2, route: 'key' },
  pfdebug: { arity: 0, route: 'unsupported' },
  pfmerge: { arity: -2, route: 'key' },
  pfselftest: { arity: 0, route: 'unsupported' },
  ping: { arity: -1, max: 2, route: 'local' },
  psetex: { arity: 4, route: 'key' },
  psubscribe: { arity: 0, route: 'unsupported' },
  psync: { arity: 0, route: 'unsupported' },
  pttl: { arity: 2, route: 'key' },
  publish: { arity: 0, route: 'unsupported' },
  pubsub: { arity: 0, route: 'unsupported' },
  punsubscribe: { arity: 0, route: 'unsupported' },
  quit: { arity: -1, route: 'local' },
  randomkey: { arity: 0, route: 'unsupported' },
  readonly: { arity: 0, route: 'unsupported' },
  readwrite: { arity: 0, route: 'unsupported' },
  rename: { arity: 0, route: 'unsupported' },
  renamenx: { arity: 0, route: 'unsupported' },
  replconf: { arity: 0, route: 'unsupported' },
  replicaof: { arity: 0, route: 'unsupported' },
  reset: { arity: 0, route: 'unsupported' },
  restore: { arity: -2, route: 'key' },
  'restore-asking': { arity: 0, route: 'unsupported' },
  role: { arity: 0, route: 'unsupported' },
  rpop: { arity: -2, route: 'key' },
  rpoplpush: { arity: 3, route: 'key' },
  rpush: { arity: -2, route: 'key' },
  rpushx: { arity: -2, route: 'key' },
  sadd: { arity: -2, route: 'key' },
  save: { arity: 0, route: 'unsupported' },
  scan: { arity: 0, route: 'unsupported' },
  scard: { arity: 2, route: 'key' },
  script: { arity: 0, route: 'unsupported' },
  sdiff: { arity: -2, route: 'key' },
  sdiffstore: { arity: -2, route: 'key' },
  select: { arity: 2, route: 'local' },
  set: { arity: -2, route: 'key' },
  setbit: { arity: 4, route: 'key' },
  setex: { arity: 4, route: 'key' },
  setnx: { arity: 3, route: 'key' },
  setrange: { arity: 4, route: 'key' },
  shutdown: { arity: 0, route: 'unsupported' },
  sinter: { arity: -2, route: 'key' },
  sintercard: { arity: 0, route: 'unsupported' },
  sinterstore: { arity: -2, route: 'key' },
  sismember: { arity: 3, route: 'key' },
  slaveof: { arity: 0, route: 'unsupported' },
  slowlog: { arity: 0, route: 'unsupported' },
  smembers: { arity: 2, route: 'key' },
  smismember: { arity: -2, route: 'key' },
  smove: { arity: 4, route: 'key' },
  sort: { arity: -2, route: 'key' },
  sort_ro: { arity: 0, route: 'unsupported' },
  spop: { arity: -2, route: 'key' },
  spublish: { arity: 0, route: 'unsupported' },
  srandmember: { arity: -2, route: 'key' },
  srem: { arity: -2, route: 'key' },
  sscan: { arity: -2, route: 'key' },
  ssubscribe: { arity: 0, route: 'unsupported' },
  strlen: { arity: 2, route: 'key' },
  subscribe: { arity: 0, route: 'unsupported' },
  substr: { arity: 0, route: 'unsupported' },
  sunion: { arity: -2, route: 'key' },
  sunionstore: { arity: -2, route: 'key' },
  sunsubscribe: { arity: 0, route: 'unsupported' },
  swapdb: { arity: 0, route: 'unsupported' },
  sync: { arity: 0, route: 'unsupported' },
  time: { arity: 0, route: 'unsupported' },
  touch: { arity: -2, route: 'split', split: 'sum' },
  ttl: { arity: 2, route: 'key' },
  type: { arity: 2, route: 'key' },
  unlink: { arity: -2, route: 'split', split: 'sum' },
  unsubscribe: { arity: 0, route: 'unsupported' },
  unwatch: { arity: 0, route: 'unsupported' },
  wait: { arity: 0, route: 'unsupported' },
  watch: { arity: 0, route: 'unsupported' },
  xack: { arity: 0, route: 'unsupported' },
  xadd: { arity: 0, route: 'unsupported' },
  xautoclaim: { arity: 0, route: 'unsupported' },
  xclaim: { arity: 0, route: 'unsupported' },
  xdel: { arity: 0, route: 'unsupported' },
  xgroup: { arity: 0, route: 'unsupported' },
  xinfo: { arity: 0, route: 'unsupported' },
  xlen: { arity: 0, route: 'unsupported' },
  xpending: { arity: 0, route: 'unsupported' },
  xrange: { arity: 0, route: 'unsupported' },
  xread: { arity: 0, route: 'unsupported' },
  xreadgroup: { arity: 0, route: 'unsupported' },
  xrevrange: { arity: 0, route: 'unsupported' },
  xsetid: { arity: 0, route: 'unsupported' },
  xtrim: { arity: 0, route: 'unsupported' },
  zadd: { arity: -2, route: 'key' },
  zcard: { arity: 2, route: 'key' },
  zcount: { arity: 4, route: 'key' },
  zdiff: { arity: -3, route: 'key2' },
  zdiffstore: { arity: -2, route: 'key' },
  zincrby: { arity: 4, route: 'key' },
  zinter: { arity: -3, route: 'key2' },
  zintercard: { arity: 0, route: 'unsupported' },
  zinterstore: { arity: -2, route: 'key' },
  zlexcount: { arity: 4, route: 'key' },
  zmpop: { arity: 0, route: 'unsupported' },
  zmscore: { arity: -2, route: 'key' },
  zpopmax: { arity: -2, route: 'key' },
  zpopmin: { arity: -2, route: 'key' },
  zrandmember: { arity: -2, route: 'key' },
  zrange: { arity: -2, route: 'key' },
  zrangebylex: { arity: -2, route: 'key' },
  zrangebyscore: { arity: -2, route: 'key' },
  zrangestore: { arity: -2, route: 'key' },
  zrank: { arity: 3, route: 'key' },
  zrem: { arity: -2, route: 'key' },
  zremrangebylex: { arity: 4, route: 'key' },
  zremrangebyrank: { arity: 4, route: 'key' },
  zremrangebyscore: { arity: 4, route: 'key' },
  zrevrange: { arity: -2, route: 'key' },
  zrevrangebylex: { arity: -2, route: 'key' },
  zrevrangebyscore: { arity: -2, route: 'key' },
  zrevrank: { arity: 3, route: 'key' },
  zscan: { arity: -2, route: 'key' },
  zscore: { arity: 3, route: 'key' },
  zunion: { arity: -3, route: 'key2' },
  zunionstore: { arity: -2, route: 'key' },
} as const satisfies Record<string, CommandSpec>

export type CommandName = keyof typeof COMMANDS

/**
 * CLIENT subcommands redis 7 knows. walnut answers SETNAME, GETNAME, SETINFO and
 * ID; the others are refused as unsupported; any other name is redis's
 * `unknown subcommand`.
 */
export const CLIENT_SUBCOMMANDS = {
  caching: 'unsupported',
  getname: 'local',
  getredir: 'unsupported',
  help: 'unsupported',
  id: 'local',
  info: 'unsupported',
  kill: 'unsupported',
  list: 'unsupported',
  'no-evict': 'unsupported',
  'no-touch': 'unsupported',
  pause: 'unsupported',
  reply: 'unsupported',
  setinfo: 'local',
  setname: 'local',
  tracking: 'unsupported',
  trackinginfo: 'unsupported',
  unblock: 'unsupported',
  unpause: 'unsupported',
} as const satisfies Record<string, 'local' | 'unsupported'>

// ---------------------------------------------------------------------------
// The compiled form: dense arrays indexed by command number, and an
// allocation-free, case-insensitive lookup over the name's bytes.

export const ROUTE_KEY = 0
export const ROUTE_KEY2 = 1
export const ROUTE_EVAL = 2
export const ROUTE_PLACEHOLDER = 3
export const ROUTE_SPLIT = 4
export const ROUTE_LOCAL = 5
export const ROUTE_UNSUPPORTED = 6

export const SPLIT_MGET = 1
export const SPLIT_SUM = 2
export const SPLIT_MSET = 3

const ROUTE_CODES: Record<Route, number> = {
  key: ROUTE_KEY,
  key2: ROUTE_KEY2,
  eval: ROUTE_EVAL,
  placeholder: ROUTE_PLACEHOLDER,
  split: ROUTE_SPLIT,
  local: ROUTE_LOCAL,
  unsupported: ROUTE_UNSUPPORTED,
}
const SPLIT_CODES: Record<SplitKind, number> = {
  mget: SPLIT_MGET,
  sum: SPLIT_SUM,
  mset: SPLIT_MSET,
}

/** Lowercase names, by command number. */
export const COMMAND_NAMES: readonly CommandName[] = Object.keys(COMMANDS).sort() as CommandName[]
const N = COMMAND_NAMES.length
const ARITY = new Int32Array(N)
const MAX = new Int32Array(N)
const ODD = new Uint8Array(N)
const ROUTES = new Uint8Array(N)
const SPLITS = new Uint8Array(N)
/** Every name's bytes, back to back, and where each starts. */
const NAME_BYTES = Buffer.from(COMMAND_NAMES.join(''), 'latin1')
const NAME_AT = new Int32Array(N + 1)

/** Open-addressing hash table: slot → command number + 1 (0 = empty). */
const TABLE_BITS = 10
const TABLE = new Int16Array(1 << TABLE_BITS)
/** Longer names are not commands: no hashing of arbitrary client bytes. */
const MAX_NAME = 32

function hashStep(h: number, c: number): number {
  return Math.imul(h ^ c, 16777619)
}

{
  let at = 0
  for (let i = 0; i < N; i++) {
    const name = COMMAND_NAMES[i]!
    const spec: CommandSpec = COMMANDS[name]
    ARITY[i] = spec.arity
    MAX[i] = spec.max ?? 0
    ODD[i] = spec.odd === true ? 1 : 0
    ROUTES[i] = ROUTE_CODES[spec.route]
    SPLITS[i] = spec.split === undefined ? 0 : SPLIT_CODES[spec.split]
    NAME_AT[i] = at
    at += name.length
    let h = 0x811c9dc5
    for (let k = 0; k < name.length; k++) h = hashStep(h, name.charCodeAt(k))
    let slot = h & (TABLE.length - 1)
    while (TABLE[slot] !== 0) slot = (slot + 1) & (TABLE.length - 1)
    TABLE[slot] = i + 1
  }
  NAME_AT[N] = at
}

/** The command number of a lowercase name (for the session's constants). */
export function commandIndex(name: CommandName): number {
  return COMMAND_NAMES.indexOf(name)
}

/**
 * The command whose name is `buf[start..end)`, in any letter case; -1 when
 * there is none. No allocation: hashes the bytes folded to lowercase, then
 * compares them with the table's name.
 */
export function lookupCommand(buf: Uint8Array, start: number, end: number): number {
  const len = end - start
  if (len === 0 || len > MAX_NAME) return -1
  let h = 0x811c9dc5
  for (let k = start; k < end; k++) {
    let c = buf[k]!
    if (c >= 65 && c <= 90) c += 32
    h = hashStep(h, c)
  }
  const mask = TABLE.length - 1
  for (let slot = h & mask; ; slot = (slot + 1) & mask) {
    const entry = TABLE[slot]!
    if (entry === 0) return -1
    const i = entry - 1
    const at = NAME_AT[i]!
    if (NAME_AT[i + 1]! - at !== len) continue
    let k = 0
    while (k < len) {
      let c = buf[start + k]!
      if (c >= 65 && c <= 90) c += 32
      if (c !== NAME_BYTES[at + k]) break
      k++
    }
    if (k === len) return i
  }
}

export function routeOf(cmd: number): number {
  return ROUTES[cmd]!
}

export function splitOf(cmd: number): number {
  return SPLITS[cmd]!
}

/** True when `argc` arguments (name included) are an acceptable count for `cmd`. */
export function arityOk(cmd: number, argc: number): boolean {
  const arity = ARITY[cmd]!
  if (arity >= 0) return argc === arity
  if (argc < -arity) return false
  const max = MAX[cmd]!
  if (max !== 0 && argc > max) return false
  return ODD[cmd] === 0 || (argc & 1) === 1
}

/** The arity rule in words, for the support matrix: `2`, `≥ 2`, `1..2`, `odd ≥ 3`. */
export function arityText(spec: CommandSpec): string {
  if (spec.route === 'unsupported') return ''
  if (spec.arity >= 0) return String(spec.arity)
  const min = -spec.arity
  if (spec.max !== undefined) return `${min}..${spec.max}`
  return spec.odd === true ? `odd ≥ ${min}` : `≥ ${min}`
}
