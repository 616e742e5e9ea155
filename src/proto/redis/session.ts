/**
 * Redis client and server sessions: what walnut does with each request a
 * client sends, and how a server's replies are framed.
 *
 * Client side, per request, in this order (redis's own processCommand order):
 *   1. look the name up (commands.ts): unknown → redis 7's `unknown command`
 *      error; known but unsupported → walnut's `unsupported command` error (R1)
 *   2. arity → redis's `wrong number of arguments` error (R2)
 *   3. with `redis_auth`, anything but AUTH, HELLO and QUIT before a successful
 *      AUTH → `-NOAUTH Authentication required` (spec §6; applied in pipeline order)
 *   4. route: forward verbatim to one server, split over several, or answer
 *      locally (PING, ECHO, QUIT, AUTH, HELLO, CLIENT, SELECT, INFO; R5-R7).
 * A client that sent `HELLO 3` speaks RESP3: its forwarded requests carry the
 * conversion hook of resp3.ts when their reply changes shape, and the replies
 * walnut makes take their RESP3 form (R7). RESP2 clients get no hook.
 * A framing error delivers `-ERR Protocol error: ...` after earlier replies and
 * closes (R3). Every other error leaves the connection usable.
 *
 * Each request leads to exactly one ClientApi call (forward, forwardBytes, a
 * beginSplit..endSplit group, reply or close). The steady-state path (a
 * single-key command) allocates nothing: the key is hashed in place.
 *
 * Server side: replies are framed and handed on unchanged; `-OOM`, `-BUSY` and
 * `-LOADING` are flagged as server failures but passed through (R9); anything
 * unparsable fails the connection with `Invalid argument` (spec §8.1).
 */

import { InputStream, StreamRanges } from '../stream.js'
import {
  type ClientApi,
  type ClientSession,
  F_FAILURE,
  type ServerApi,
  type ServerSession,
} from '../types.js'
import {
  arityOk,
  CLIENT_SUBCOMMANDS,
  COMMAND_NAMES,
  commandIndex,
  lookupCommand,
  ROUTE_EVAL,
  ROUTE_KEY,
  ROUTE_KEY2,
  ROUTE_PLACEHOLDER,
  ROUTE_SPLIT,
  ROUTE_UNSUPPORTED,
  routeOf,
  SPLIT_MGET,
  SPLIT_MSET,
  splitOf,
} from './commands.js'
import { errorBytes, MgetCoalesce, MsetCoalesce, SumCoalesce } from './merge.js'
import * as reply from './reply-parser.js'
import * as request from './request-parser.js'
import { RESP3_NULL, resp3Hook } from './resp3.js'

/** The redis version walnut presents (HELLO, INFO): the command set is redis 7.0's. */
export const REDIS_VERSION = '7.0.0'

/** Settings shared by a pool's sessions. */
export interface RedisSettings {
  /**
   * The password clients must send as bytes (`client_auth`, else `redis_auth`),
   * or null when the pool has none.
   */
  readonly password: Buffer | null
  /**
   * The user clients authenticate as, when it is not `default`: the backend's
   * `redis_auth_user` when clients share the backend's credentials (docs/tls.md).
   * Then only `AUTH <user> <password>` (or HELLO's AUTH) authenticates.
   */
  readonly user?: Buffer
  readonly servers: number
  readonly maxRequestSize: number
  readonly walnutVersion: string
  /** The process start, for INFO's uptime. */
  readonly startedAt: number
}

const PLACEHOLDER = Buffer.from('placeholder')

/**
 * Every fixed reply walnut makes, without its CRLF. docs/redis.md lists each one
 * (test/proto/redis/docs.test.ts checks); texts are redis's or nutcracker's
 * unless the docs say otherwise.
 */
export const REPLIES = {
  pong: '+PONG',
  ok: '+OK',
  nullBulk: '$-1',
  noauth: '-NOAUTH Authentication required',
  noPasswordSet: '-ERR Client sent AUTH, but no password is set',
  invalidPassword: '-ERR invalid password',
  wrongpass: '-WRONGPASS invalid username-password pair or user is disabled.',
  syntaxError: '-ERR syntax error',
  notInteger: '-ERR value is not an integer or out of range',
  notIntRange: '-ERR value is out of range, value must between -2147483648 and 2147483647',
  dbOutOfRange: '-ERR DB index is out of range',
  keysNegative: "-ERR Number of keys can't be negative",
  keysTooMany: "-ERR Number of keys can't be greater than number of args",
  noproto: '-NOPROTO unsupported protocol version',
  helloVersion: '-ERR Protocol version is not an integer or out of range',
  helloNoauth:
    '-NOAUTH HELLO must be called with the client already authenticated, otherwise the ' +
    'HELLO AUTH <user> <pass> option can be used to authenticate the client and ' +
    'select the RESP protocol version at the same time',
  badClientName: '-ERR Client names cannot contain spaces, newlines or special characters.',
} as const

function line(text: string): Buffer {
  return Buffer.from(`${text}\r\n`, 'latin1')
}

const PONG = line(REPLIES.pong)
const OK = line(REPLIES.ok)
const NULL_BULK = line(REPLIES.nullBulk)
const NOAUTH = line(REPLIES.noauth)
const NO_PASSWORD_SET = line(REPLIES.noPasswordSet)
const INVALID_PASSWORD = line(REPLIES.invalidPassword)
const WRONGPASS = line(REPLIES.wrongpass)
const SYNTAX_ERROR = line(REPLIES.syntaxError)
const NOT_INTEGER = line(REPLIES.notInteger)
const NOT_INT_RANGE = line(REPLIES.notIntRange)
const DB_OUT_OF_RANGE = line(REPLIES.dbOutOfRange)
const KEYS_NEGATIVE = line(REPLIES.keysNegative)
const KEYS_TOO_MANY = line(REPLIES.keysTooMany)
const NOPROTO = line(REPLIES.noproto)
const HELLO_VERSION = line(REPLIES.helloVersion)
const HELLO_NOAUTH = line(REPLIES.helloNoauth)
const BAD_CLIENT_NAME = line(REPLIES.badClientName)
const DEFAULT_USER = Buffer.from('default')

const CMD_AUTH = commandIndex('auth')
const CMD_HELLO = commandIndex('hello')
const CMD_QUIT = commandIndex('quit')
const CMD_PING = commandIndex('ping')
const CMD_ECHO = commandIndex('echo')
const CMD_CLIENT = commandIndex('client')
const CMD_SELECT = commandIndex('select')
const CMD_INFO = commandIndex('info')

/** Fragment heads by command, then argument count, made on first use (small counts only). */
const FRAGMENT_HEADS: Buffer[][] = COMMAND_NAMES.map(() => [])
const FRAGMENT_HEADS_CACHED = 64

/**
 * `*<args>\r\n$<n>\r\n<name>\r\n`: the head of a split request's fragment, with the
 * lower-case name (nutcracker sends `mget`, not `MGET`).
 */
function fragmentHead(cmd: number, args: number): Buffer {
  const cache = FRAGMENT_HEADS[cmd]!
  let head = cache[args]
  if (head === undefined) {
    const name = COMMAND_NAMES[cmd]!
    head = Buffer.from(`*${args}\r\n$${name.length}\r\n${name}\r\n`, 'latin1')
    if (args < FRAGMENT_HEADS_CACHED) cache[args] = head
  }
  return head
}

/** Client ids: per process, increasing, as redis's. */
let nextClientId = 1

/** Digits of a non-negative integer. */
function digitCount(n: number): number {
  if (n < 10) return 1
  if (n < 100) return 2
  if (n < 1000) return 3
  let d = 3
  while (n >= 1000) {
    n = Math.floor(n / 10)
    d++
  }
  return d
}

/** Shared empty scratch, replaced on first use. */
const NO_INTS = new Int32Array(0)

/** Writes the decimal digits of `n` (non-negative) at `at`; returns the end. */
function writeDecimal(buf: Buffer, at: number, n: number): number {
  // Key lengths and argument counts: almost always one or two digits.
  if (n < 10) {
    buf[at] = 48 + n
    return at + 1
  }
  if (n < 100) {
    const tens = (n / 10) | 0
    buf[at] = 48 + tens
    buf[at + 1] = 48 + n - tens * 10
    return at + 2
  }
  const end = at + digitCount(n)
  let i = end
  do {
    buf[--i] = 48 + (n % 10)
    n = Math.floor(n / 10)
  } while (n > 0)
  return end
}

/** Bytes `$<len>\r\n<arg>\r\n` take. */
function bulkSize(len: number): number {
  return len + digitCount(len) + 5
}

/** The long long range as digits (string2ll's range check): 2^63 - 1 and 2^63. */
const LLONG_MAX = '9223372036854775807'
const LLONG_MIN_ABS = '9223372036854775808'

/**
 * A signed integer the way redis's string2ll reads it: optional `-`, digits,
 * no leading zero (but `0`), within the range of a long long; NaN otherwise.
 * Values beyond 2^53 are approximate, which only range checks see.
 */
function parseInteger(buf: Buffer, s: number, e: number): number {
  let k = s
  const negative = k < e && buf[k] === 45
  if (negative) k++
  const digits = e - k
  if (digits === 0 || digits > 19) return Number.NaN
  if (buf[k] === 48 && (digits > 1 || negative)) return Number.NaN
  let n = 0
  const limit = negative ? LLONG_MIN_ABS : LLONG_MAX
  let cmp = 0 // 19 digits against the limit: <0, 0, >0
  for (let d = 0; k < e; k++, d++) {
    const c = buf[k]!
    if (c < 48 || c > 57) return Number.NaN
    if (cmp === 0 && digits === 19) cmp = c - limit.charCodeAt(d)
    n = n * 10 + (c - 48)
  }
  if (cmp > 0) return Number.NaN
  return negative ? -n : n
}

/**
 * Up to `max` bytes of `buf[s..e)` as redis's `%.<max>s` prints them: stopping
 * at a NUL byte.
 */
function cString(buf: Buffer, s: number, e: number, max: number): string {
  let end = Math.min(e, s + max)
  const nul = buf.subarray(s, end).indexOf(0)
  if (nul >= 0) end = s + nul
  return buf.toString('latin1', s, end)
}

/** An error line as redis's addReplyErrorFormat makes it: CR and LF become spaces. */
function errorLine(text: string): Buffer {
  return Buffer.from(`-${text.replace(/[\r\n]/g, ' ')}\r\n`, 'latin1')
}

export class RedisClientSession implements ClientSession {
  private readonly stream = new InputStream()
  private readonly parser: request.RequestParser
  private closed = false
  private authed: boolean
  /** CLIENT SETNAME's name, or null. */
  private name: Buffer | null = null
  readonly id = nextClientId++
  /** The client switched to RESP3 with `HELLO 3` (and back with `HELLO 2`). */
  private resp3 = false
  /** The command number of the request being dispatched. */
  private cmd = 0

  // Split scratch, reused: per key its server and the next key bound for the same
  // server; per server its key count, first and last key, and fragment number.
  // Sized for the pool's servers; grown when a reload adds servers (growServers).
  private keyServer = NO_INTS
  private keyNext = NO_INTS
  private serverKeys: Int32Array
  private serverFirst: Int32Array
  private serverLast: Int32Array
  private serverFragment: Int32Array
  /** A fragment's request as pieces of the client's bytes (fragmentRanges). */
  private readonly ranges = new StreamRanges()

  constructor(
    private readonly api: ClientApi,
    private readonly settings: RedisSettings,
  ) {
    this.parser = new request.RequestParser(this.stream, settings.maxRequestSize)
    this.authed = settings.password === null
    // The split scratch is made by the first split (growServers): most clients never send
    // one, and an idle connection's session should cost little.
    this.serverKeys = NO_INTS
    this.serverFirst = NO_INTS
    this.serverLast = NO_INTS
    this.serverFragment = NO_INTS
  }

  /** Makes the per-server split scratch hold server index `s` (a reload may add servers). */
  private growServers(s: number): void {
    const n = Math.max(s + 1, this.settings.servers, this.serverKeys.length * 2)
    const grow = (a: Int32Array): Int32Array => {
      const b = new Int32Array(n)
      b.set(a)
      return b
    }
    this.serverKeys = grow(this.serverKeys)
    this.serverFirst = grow(this.serverFirst)
    this.serverLast = grow(this.serverLast)
    this.serverFragment = grow(this.serverFragment)
  }

  /** The RESP version this client speaks. */
  get protocol(): number {
    return this.resp3 ? 3 : 2
  }

  get pending(): number {
    return this.closed ? 0 : this.stream.end - this.parser.mark
  }

  feed(chunk: Buffer): void {
    if (this.closed) return
    const stream = this.stream
    const parser = this.parser
    stream.push(chunk)
    for (;;) {
      const r = parser.next()
      if (r === request.NEED_MORE) break
      if (r === request.ERROR) {
        this.closed = true
        if (parser.error === request.PROTOCOL_ERRORS.tooLarge) this.api.requestTooLarge?.()
        this.api.close(errorBytes(parser.error), false)
        return
      }
      if (parser.inline && parser.end - parser.start > this.settings.maxRequestSize) {
        // The parser bounds inline lines by redis's 64 KiB only; max_request_size caps them too.
        this.closed = true
        this.api.requestTooLarge?.()
        this.api.close(errorBytes(request.PROTOCOL_ERRORS.tooLarge), false)
        return
      }
      this.dispatch()
      if (this.closed) return
    }
    stream.releaseTail(parser.mark)
  }

  private dispatch(): void {
    const p = this.parser
    const api = this.api
    const argc = p.argc
    const nameBuf = p.arg(0)
    const cmd = lookupCommand(nameBuf, p.rs, p.re)
    if (cmd < 0) {
      api.reply(this.unknownCommand())
      return
    }
    const route = routeOf(cmd)
    if (route === ROUTE_UNSUPPORTED) {
      api.reply(this.unsupported(1))
      return
    }
    if (!arityOk(cmd, argc)) {
      api.reply(wrongArity(COMMAND_NAMES[cmd]!))
      return
    }
    this.cmd = cmd
    if (!this.authed && cmd !== CMD_AUTH && cmd !== CMD_HELLO && cmd !== CMD_QUIT) {
      api.reply(NOAUTH)
      return
    }
    switch (route) {
      case ROUTE_KEY:
        this.forwardByArg(1)
        return
      case ROUTE_KEY2:
        this.forwardByArg(2)
        return
      case ROUTE_EVAL:
        this.evalCommand()
        return
      case ROUTE_PLACEHOLDER:
        this.forwardTo(api.serverFor(PLACEHOLDER, 0, PLACEHOLDER.length))
        return
      case ROUTE_SPLIT:
        this.split(cmd)
        return
      default:
        this.local(cmd)
    }
  }

  // -- forwarding ------------------------------------------------------------

  private forwardByArg(i: number): void {
    const p = this.parser
    const buf = p.arg(i)
    this.forwardTo(this.api.serverFor(buf, p.rs, p.re))
  }

  private forwardTo(server: number): void {
    const p = this.parser
    // RESP3: the reply's conversion, when its shape changes (resp3.ts); RESP2: none.
    const hook = this.resp3 ? resp3Hook(this.cmd, p) : null
    if (p.inline) this.api.forwardBytes(server, this.encodeRequest(), 0, hook)
    else this.api.forward(server, this.stream, p.start, p.end, 0, hook)
  }

  /** The current request as a RESP array (for inline requests, which have no such bytes). */
  private encodeRequest(): Buffer {
    const p = this.parser
    const argc = p.argc
    let size = 3 + digitCount(argc)
    for (let i = 0; i < argc; i++) size += bulkSize(p.argLength(i))
    const out = Buffer.allocUnsafe(size)
    out[0] = 42 // *
    let at = writeDecimal(out, 1, argc)
    out[at++] = 13
    out[at++] = 10
    for (let i = 0; i < argc; i++) at = this.writeArg(out, at, i)
    return out
  }

  /** Writes `$<len>\r\n<arg i>\r\n` at `at`; returns the end. */
  private writeArg(out: Buffer, at: number, i: number): number {
    const p = this.parser
    const len = p.argLength(i)
    out[at++] = 36 // $
    at = writeDecimal(out, at, len)
    out[at++] = 13
    out[at++] = 10
    if (len <= 64) {
      // Keys are short: a byte loop beats Buffer#copy's call overhead there.
      const src = p.arg(i)
      const s = p.rs
      for (let k = 0; k < len; k++) out[at + k] = src[s + k]!
    } else {
      p.copyArg(i, out, at)
    }
    at += len
    out[at++] = 13
    out[at++] = 10
    return at
  }

  /** EVAL/EVALSHA script numkeys key [key ...] [arg ...]: routed by the first key. */
  private evalCommand(): void {
    const p = this.parser
    const buf = p.arg(2)
    const numkeys = parseInteger(buf, p.rs, p.re)
    if (Number.isNaN(numkeys)) this.api.reply(NOT_INTEGER)
    else if (numkeys > p.argc - 3) this.api.reply(KEYS_TOO_MANY)
    else if (numkeys < 0) this.api.reply(KEYS_NEGATIVE)
    else if (numkeys === 0) {
      const name = p.arg(0)
      const shown = cString(name, p.rs, p.re, 128)
      this.api.reply(
        errorLine(`ERR ${shown} with numkeys 0 is not supported by walnut: no key to route by`),
      )
    } else this.forwardByArg(3)
  }

  /**
   * MGET/DEL/UNLINK/TOUCH/EXISTS key [key ...], MSET key value [key value ...].
   * One key: forwarded verbatim. More: one sub-request per server, in server
   * order, named in lower case, carrying that server's keys in request order.
   */
  private split(cmd: number): void {
    const p = this.parser
    const api = this.api
    const kind = splitOf(cmd)
    const step = kind === SPLIT_MSET ? 2 : 1
    const keys = (p.argc - 1) / step
    if (keys === 1) {
      this.forwardByArg(1)
      return
    }
    if (this.keyServer.length < keys) {
      const size = Math.max(keys, this.keyServer.length * 2)
      this.keyServer = new Int32Array(size)
      this.keyNext = new Int32Array(size)
    }
    const keyServer = this.keyServer
    const keyNext = this.keyNext
    // Per server, its keys in request order: serverFirst, then keyNext links (-1 ends).
    for (let k = 0; k < keys; k++) {
      const a = 1 + k * step
      const buf = p.arg(a)
      const s = api.serverFor(buf, p.rs, p.re)
      if (s >= this.serverKeys.length) this.growServers(s)
      const serverKeys = this.serverKeys
      if (s < 0) {
        // Every server is ejected (then no key has a server): forwarded whole to none,
        // the core answers `-ERR Connection refused` as for any request (spec §8.2).
        for (let j = 0; j < k; j++) serverKeys[keyServer[j]!] = 0
        this.forwardTo(s)
        return
      }
      keyServer[k] = s
      keyNext[k] = -1
      if (serverKeys[s] === 0) this.serverFirst[s] = k
      else keyNext[this.serverLast[s]!] = k
      this.serverLast[s] = k
      serverKeys[s]!++
    }
    const serverKeys = this.serverKeys
    const servers = serverKeys.length
    let fragments = 0
    for (let s = 0; s < servers; s++) {
      if (serverKeys[s] !== 0) this.serverFragment[s] = fragments++
    }
    let hook: MgetCoalesce | SumCoalesce | MsetCoalesce
    if (kind === SPLIT_MGET) {
      const keyFragment = new Array<number>(keys)
      for (let k = 0; k < keys; k++) keyFragment[k] = this.serverFragment[keyServer[k]!]!
      const fragmentKeys = new Array<number>(fragments)
      for (let s = 0; s < servers; s++) {
        if (serverKeys[s]! > 0) fragmentKeys[this.serverFragment[s]!] = serverKeys[s]!
      }
      hook = new MgetCoalesce(keyFragment, fragmentKeys, this.resp3)
    } else if (kind === SPLIT_MSET) {
      hook = new MsetCoalesce()
    } else {
      hook = new SumCoalesce()
    }
    api.beginSplit(hook)
    for (let s = 0; s < servers; s++) {
      if (serverKeys[s] === 0) continue
      const req = p.inline ? this.fragmentCopy(cmd, s, step) : this.fragmentRanges(cmd, s, step)
      // The fragment's first key picks its server connection (ClientApi.fragment).
      const first = p.arg(1 + this.serverFirst[s]! * step)
      api.fragment(s, req, first, p.rs, p.re)
      serverKeys[s] = 0
    }
    api.endSplit()
  }

  /**
   * Server `s`'s sub-request as the fragment head and the client's own bytes
   * for its keys (`$<len>\r\n<key>\r\n`, and the value for MSET), which are
   * forwarded without being copied; runs of keys bound for one server stay one
   * piece.
   */
  private fragmentRanges(cmd: number, s: number, step: number): StreamRanges {
    const p = this.parser
    const req = this.ranges
    req.begin(fragmentHead(cmd, 1 + this.serverKeys[s]! * step), this.stream)
    for (let k = this.serverFirst[s]!; k !== -1; k = this.keyNext[k]!) {
      const a = 1 + k * step
      // An element starts right after the previous argument's CRLF.
      req.add(p.argEnd(a - 1) + 2, p.argEnd(a + step - 1) + 2)
    }
    return req
  }

  /** Server `s`'s sub-request, copied: an inline request's arguments are not its bytes. */
  private fragmentCopy(cmd: number, s: number, step: number): Buffer {
    const p = this.parser
    const head = fragmentHead(cmd, 1 + this.serverKeys[s]! * step)
    let size = head.length
    for (let k = this.serverFirst[s]!; k !== -1; k = this.keyNext[k]!) {
      for (let a = 1 + k * step; a <= k * step + step; a++) size += bulkSize(p.argLength(a))
    }
    const out = Buffer.allocUnsafe(size)
    head.copy(out)
    let at = head.length
    for (let k = this.serverFirst[s]!; k !== -1; k = this.keyNext[k]!) {
      for (let a = 1 + k * step; a <= k * step + step; a++) at = this.writeArg(out, at, a)
    }
    return out
  }

  // -- answered locally --------------------------------------------------------

  private local(cmd: number): void {
    const p = this.parser
    const api = this.api
    switch (cmd) {
      case CMD_PING:
        api.reply(p.argc === 1 ? PONG : this.bulkArg(1))
        return
      case CMD_ECHO:
        api.reply(this.bulkArg(1))
        return
      case CMD_QUIT:
        // R5: +OK after every earlier reply, then close (nutcracker: close, no reply).
        this.closed = true
        api.close(OK, true)
        return
      case CMD_AUTH:
        api.reply(this.auth())
        return
      case CMD_HELLO:
        api.reply(this.hello())
        return
      case CMD_CLIENT:
        api.reply(this.client())
        return
      case CMD_SELECT:
        api.reply(this.select())
        return
      case CMD_INFO:
        api.reply(this.info())
        return
      default:
        // A local command without a handler is a table error; say so rather than hang.
        api.reply(this.unsupported(1))
    }
  }

  /** `$<len>\r\n<arg i>\r\n`. */
  private bulkArg(i: number): Buffer {
    const out = Buffer.allocUnsafe(bulkSize(this.parser.argLength(i)))
    this.writeArg(out, 0, i)
    return out
  }

  private argEquals(i: number, bytes: Buffer): boolean {
    const p = this.parser
    const buf = p.arg(i)
    return p.re - p.rs === bytes.length && buf.compare(bytes, 0, bytes.length, p.rs, p.re) === 0
  }

  /**
   * AUTH password | AUTH username password (spec §6). The 1-argument form keeps
   * nutcracker's texts; the 2-argument form is redis 7's ACL form with one user,
   * `default` (or `redis_auth_user`), whose password is the pool's; without a
   * password `default` takes any (redis 7's nopass default user).
   */
  private auth(): Buffer {
    const p = this.parser
    const password = this.settings.password
    if (p.argc > 3) return SYNTAX_ERROR
    if (p.argc === 2) {
      if (password === null) return NO_PASSWORD_SET
      if (this.settings.user !== undefined) {
        // redis: `AUTH <password>` is the default user's, and the pool's user is another.
        this.authed = false
        return WRONGPASS
      }
      this.authed = this.argEquals(1, password)
      return this.authed ? OK : INVALID_PASSWORD
    }
    return this.authUser(1) ?? OK
  }

  /** Checks `username password` at argument `i`; null when accepted, else the error reply. */
  private authUser(i: number): Buffer | null {
    const password = this.settings.password
    // redis 7 without requirepass: `default` is a nopass user, any other name is unknown.
    if (password === null) return this.argEquals(i, DEFAULT_USER) ? null : WRONGPASS
    const user = this.settings.user ?? DEFAULT_USER
    this.authed = this.argEquals(i, user) && this.argEquals(i + 1, password)
    return this.authed ? null : WRONGPASS
  }

  /**
   * HELLO [protover [AUTH username password] [SETNAME clientname]] (R7). As
   * redis 7.0 does: options act in order as they are read (a later bad option
   * does not undo an earlier AUTH or SETNAME), then authentication is required,
   * then the protocol switches and the reply comes in the new one.
   */
  private hello(): Buffer {
    const p = this.parser
    const argc = p.argc
    let version = 0
    if (argc >= 2) {
      const buf = p.arg(1)
      version = parseInteger(buf, p.rs, p.re)
      if (Number.isNaN(version)) return HELLO_VERSION
      if (version < 2 || version > 3) return NOPROTO
    }
    for (let j = 2; j < argc; j++) {
      const more = argc - 1 - j
      if (p.argIs(j, 'auth') && more >= 2) {
        const refused = this.authUser(j + 1)
        if (refused !== null) return refused
        j += 2
      } else if (p.argIs(j, 'setname') && more >= 1) {
        if (!this.setName(j + 1)) return BAD_CLIENT_NAME
        j++
      } else {
        const buf = p.arg(j)
        return errorLine(
          `ERR Syntax error in HELLO option '${cString(buf, p.rs, p.re, buf.length)}'`,
        )
      }
    }
    if (!this.authed) return HELLO_NOAUTH
    if (version !== 0) this.resp3 = version === 3
    return helloReply(this.id, this.resp3)
  }

  /** Sets the client name from argument `i`; false when it has a forbidden byte. */
  private setName(i: number): boolean {
    const p = this.parser
    const buf = p.arg(i)
    for (let k = p.rs; k < p.re; k++) {
      const c = buf[k]!
      if (c < 33 || c > 126) return false
    }
    this.name = p.re > p.rs ? Buffer.from(buf.subarray(p.rs, p.re)) : null
    return true
  }

  /** CLIENT SETNAME / GETNAME / SETINFO / ID (R7). */
  private client(): Buffer {
    const p = this.parser
    const buf = p.arg(1)
    const sub = buf.toString('latin1', p.rs, p.re).toLowerCase()
    const how = Object.hasOwn(CLIENT_SUBCOMMANDS, sub)
      ? CLIENT_SUBCOMMANDS[sub as keyof typeof CLIENT_SUBCOMMANDS]
      : undefined
    if (how === undefined) {
      const shown = cString(buf, p.rs, p.re, 128)
      return errorLine(`ERR unknown subcommand '${shown}'. Try CLIENT HELP.`)
    }
    if (how === 'unsupported') return this.unsupported(2)
    const argc = p.argc
    switch (sub) {
      case 'setname':
        if (argc !== 3) return wrongArity('client|setname')
        return this.setName(2) ? OK : BAD_CLIENT_NAME
      case 'getname':
        if (argc !== 2) return wrongArity('client|getname')
        if (this.name !== null) return bulk(this.name)
        return this.resp3 ? RESP3_NULL : NULL_BULK
      case 'id':
        if (argc !== 2) return wrongArity('client|id')
        return Buffer.from(`:${this.id}\r\n`)
      default:
        // setinfo: accepted and ignored (lib-name / lib-ver are for CLIENT LIST, which walnut lacks).
        if (argc !== 4) return wrongArity('client|setinfo')
        return OK
    }
  }

  /** SELECT 0 is fine; walnut presents only database 0 (R7). */
  private select(): Buffer {
    const p = this.parser
    const buf = p.arg(1)
    const db = parseInteger(buf, p.rs, p.re)
    if (Number.isNaN(db)) return NOT_INTEGER
    if (db < -2147483648 || db > 2147483647) return NOT_INT_RANGE
    return db === 0 ? OK : DB_OUT_OF_RANGE
  }

  /** INFO [section ...]: the proxy, described with the fields clients read (R7). */
  private info(): Buffer {
    const p = this.parser
    let wanted = p.argc === 1 ? INFO_ALL : 0
    for (let i = 1; i < p.argc; i++) {
      const buf = p.arg(i)
      const section = buf.toString('latin1', p.rs, p.re).toLowerCase()
      if (section === 'default' || section === 'all' || section === 'everything') wanted = INFO_ALL
      const bit = (INFO_SECTIONS as readonly string[]).indexOf(section)
      if (bit >= 0) wanted |= 1 << bit
    }
    const text = infoText(wanted, this.settings)
    // RESP3: redis sends INFO as a verbatim string.
    return this.resp3 ? verbatim(text) : bulk(Buffer.from(text, 'latin1'))
  }

  // -- refusals -----------------------------------------------------------------

  /** redis 7: `unknown command '<name>', with args beginning with: '<arg>' ...`. */
  private unknownCommand(): Buffer {
    const p = this.parser
    const nameBuf = p.arg(0)
    const name = cString(nameBuf, p.rs, p.re, 128)
    let args = ''
    for (let i = 1; i < p.argc && args.length < 128; i++) {
      const buf = p.arg(i)
      args += `'${cString(buf, p.rs, p.re, 128 - args.length)}' `
    }
    return errorLine(`ERR unknown command '${name}', with args beginning with: ${args}`)
  }

  /** `unsupported command '<first n words as sent>': not available through walnut` (R1). */
  private unsupported(words: number): Buffer {
    const p = this.parser
    let shown = ''
    for (let i = 0; i < words; i++) {
      const buf = p.arg(i)
      shown += (i > 0 ? ' ' : '') + cString(buf, p.rs, p.re, 128)
    }
    return errorLine(`ERR unsupported command '${shown}': not available through walnut`)
  }
}

/** R2: redis's arity error, with the name in lower case. */
function wrongArity(name: string): Buffer {
  return Buffer.from(`-ERR wrong number of arguments for '${name}' command\r\n`, 'latin1')
}

function bulk(bytes: Buffer): Buffer {
  const out = Buffer.allocUnsafe(bulkSize(bytes.length))
  out[0] = 36
  let at = writeDecimal(out, 1, bytes.length)
  out[at++] = 13
  out[at++] = 10
  at += bytes.copy(out, at)
  out[at++] = 13
  out[at] = 10
  return out
}

function bulkText(s: string): string {
  return `$${Buffer.byteLength(s, 'latin1')}\r\n${s}\r\n`
}

/** `=<len>\r\ntxt:<text>\r\n`: a RESP3 verbatim string of plain text. */
function verbatim(text: string): Buffer {
  return Buffer.from(`=${Buffer.byteLength(text, 'latin1') + 4}\r\ntxt:${text}\r\n`, 'latin1')
}

/** redis's HELLO map (7 pairs): a RESP3 map, or in RESP2 a flat array. */
function helloReply(id: number, resp3: boolean): Buffer {
  return Buffer.from(
    (resp3 ? '%7\r\n' : '*14\r\n') +
      bulkText('server') +
      bulkText('redis') +
      bulkText('version') +
      bulkText(REDIS_VERSION) +
      bulkText('proto') +
      (resp3 ? ':3\r\n' : ':2\r\n') +
      bulkText('id') +
      `:${id}\r\n` +
      bulkText('mode') +
      bulkText('standalone') +
      bulkText('role') +
      bulkText('master') +
      bulkText('modules') +
      '*0\r\n',
    'latin1',
  )
}

const INFO_SECTIONS = ['server', 'persistence', 'replication', 'keyspace'] as const
const INFO_ALL = (1 << INFO_SECTIONS.length) - 1

function infoText(wanted: number, settings: RedisSettings): string {
  const uptime = Math.floor((Date.now() - settings.startedAt) / 1000)
  const sections: string[] = []
  for (let i = 0; i < INFO_SECTIONS.length; i++) {
    if ((wanted & (1 << i)) === 0) continue
    switch (INFO_SECTIONS[i]) {
      case 'server':
        sections.push(
          '# Server\r\n' +
            `redis_version:${REDIS_VERSION}\r\n` +
            `walnut_version:${settings.walnutVersion}\r\n` +
            'redis_mode:standalone\r\n' +
            `process_id:${process.pid}\r\n` +
            `uptime_in_seconds:${uptime}\r\n` +
            `uptime_in_days:${Math.floor(uptime / 86400)}\r\n`,
        )
        break
      case 'persistence':
        sections.push('# Persistence\r\nloading:0\r\n')
        break
      case 'replication':
        sections.push('# Replication\r\nrole:master\r\nconnected_slaves:0\r\n')
        break
      default:
        sections.push('# Keyspace\r\n')
    }
  }
  return sections.join('\r\n')
}

// ---------------------------------------------------------------------------

/** Error replies that count as a server failure (R9): exact token, then a space or CR. */
const FAILURE_TOKENS = [Buffer.from('OOM'), Buffer.from('BUSY'), Buffer.from('LOADING')]

export class RedisServerSession implements ServerSession {
  private readonly stream = new InputStream()
  private readonly parser = new reply.ReplyParser(this.stream)
  private dead = false

  constructor(private readonly api: ServerApi) {}

  feed(chunk: Buffer): void {
    if (this.dead) return
    const stream = this.stream
    const parser = this.parser
    stream.push(chunk)
    for (;;) {
      const r = parser.next()
      if (r === reply.NEED_MORE) break
      if (r === reply.ERROR) {
        // nutcracker: an unparsable reply fails the connection (spec §8.1).
        this.dead = true
        this.api.fail('Invalid argument')
        return
      }
      this.api.reply(parser, parser.kind === reply.KIND_ERROR ? this.failureFlag() : 0)
    }
    stream.release(parser.mark)
  }

  private failureFlag(): number {
    const p = this.parser
    const stream = this.stream
    const end = Math.min(p.end, p.start + 9)
    const buf = stream.resolve(p.start + 1, end)
    const s = stream.rs
    const e = stream.re
    for (const token of FAILURE_TOKENS) {
      const t = token.length
      if (e - s <= t || buf.compare(token, 0, t, s, s + t) !== 0) continue
      const after = buf[s + t]
      if (after === 32 || after === 13) return F_FAILURE
    }
    return 0
  }
}
