/**
 * RESP3 for clients that ask for it with `HELLO 3` (deviation R7). Servers are
 * always spoken to in RESP2 (walnut never sends them HELLO 3), so each reply a
 * RESP3 client gets is converted to the shape redis 7 itself gives that
 * command in RESP3:
 *
 *   null bulk / null array (`$-1`, `*-1`)  →  `_`
 *   HGETALL's flat array                   →  map `%`
 *   SMEMBERS, SINTER, ...                  →  set `~`
 *   scores (ZSCORE, WITHSCORES, ...)       →  double `,` (same digits)
 *   flat member/score lists                →  arrays of [member, score] pairs
 *   LOLWUT's bulk                          →  verbatim `=` with `txt:`
 *
 * RESP3_SHAPES is the one table of which commands change and how; it is
 * checked byte for byte against a real redis-server (test/integration/redis-resp3.test.ts)
 * and listed in docs/redis.md. A command not in it keeps its RESP2 bytes and
 * gets no hook at all; RESP2 clients never get one (zero-copy pass-through).
 *
 * The conversion is a ReplyHook chosen per request (some shapes depend on
 * arguments: WITHSCORES, a count). The hooks are shared, stateless objects
 * over one converter: it walks the RESP2 reply (already framed and checked by
 * reply-parser.ts) guided by a small shape tree, and pushes the bytes that do
 * not change as views of the server's chunks; only headers, `_`, `,` and pair
 * headers are written anew, into a shared slab.
 */

import type { PieceSink } from '../stream.js'
import type { ReplyFrame, ReplyHook } from '../types.js'
import { COMMAND_NAMES, type CommandName } from './commands.js'
import type { RequestParser } from './request-parser.js'

/** How a command's reply changes for a RESP3 client. */
export type Resp3Shape =
  | 'null'
  | 'map'
  | 'set'
  | 'spop'
  | 'srandmember'
  | 'double'
  | 'zadd'
  | 'doubles'
  | 'withscores'
  | 'zsetop'
  | 'zrandmember'
  | 'zpop'
  | 'hrandfield'
  | 'geopos'
  | 'geosearch'
  | 'verbatim'
  | 'command'

/**
 * Every forwarded command whose reply differs in RESP3 (or may hold a null).
 * Commands that only ever answer integers, statuses, errors or non-null
 * strings/arrays (INCR, DEL, LRANGE, HKEYS, ZSCAN, INCRBYFLOAT, ...) are not here.
 */
export const RESP3_SHAPES = {
  bitfield: 'null',
  command: 'command',
  dump: 'null',
  eval: 'null',
  evalsha: 'null',
  geodist: 'null',
  geohash: 'null',
  geopos: 'geopos',
  georadius: 'geosearch',
  georadiusbymember: 'geosearch',
  geosearch: 'geosearch',
  get: 'null',
  getdel: 'null',
  getex: 'null',
  getset: 'null',
  hget: 'null',
  hgetall: 'map',
  hmget: 'null',
  hrandfield: 'hrandfield',
  lindex: 'null',
  lmove: 'null',
  lolwut: 'verbatim',
  lpop: 'null',
  lpos: 'null',
  mget: 'null',
  rpop: 'null',
  rpoplpush: 'null',
  sdiff: 'set',
  set: 'null',
  sinter: 'set',
  smembers: 'set',
  sort: 'null',
  spop: 'spop',
  srandmember: 'srandmember',
  sunion: 'set',
  zadd: 'zadd',
  zdiff: 'zsetop',
  zincrby: 'double',
  zinter: 'zsetop',
  zmscore: 'doubles',
  zpopmax: 'zpop',
  zpopmin: 'zpop',
  zrandmember: 'zrandmember',
  zrange: 'withscores',
  zrangebyscore: 'withscores',
  zrank: 'null',
  zrevrange: 'withscores',
  zrevrangebyscore: 'withscores',
  zrevrank: 'null',
  zscore: 'double',
  zunion: 'zsetop',
} as const satisfies Partial<Record<CommandName, Resp3Shape>>

/** What each shape does, for docs/redis.md (a test keeps the two equal). */
export const SHAPE_TEXT: Record<Resp3Shape, string> = {
  null: 'nulls (`$-1`, `*-1`, also inside arrays) become `_`',
  map: 'map `%`',
  set: 'set `~`',
  spop: 'with a count: set `~`; without: null `_`',
  srandmember: 'no count: null `_`; with a count: unchanged (an array)',
  double: 'double `,` (a null `_`)',
  zadd: 'with INCR: double `,` (or `_`)',
  doubles: 'array of doubles `,` and `_`',
  withscores: 'with WITHSCORES: array of [member, double] pairs',
  zsetop: 'with WITHSCORES (after the keys): array of [member, double] pairs',
  zrandmember: 'no count: null `_`; count and WITHSCORES: array of [member, double] pairs',
  zpop: 'no count: [member, double]; with a count: array of [member, double] pairs',
  hrandfield: 'no count: null `_`; count and WITHVALUES: array of [field, value] pairs',
  geopos: 'coordinates are doubles `,`; a missing member `_`',
  geosearch: 'with WITHCOORD: coordinates are doubles `,`',
  verbatim: 'verbatim string `=` (`txt:`)',
  command:
    'COMMAND, COMMAND INFO: flags, ACL categories, tips, key specs as sets and maps; ' +
    'COMMAND DOCS: maps; COMMAND GETKEYSANDFLAGS: flags as sets',
}

// ---------------------------------------------------------------------------
// Shape trees. A node says what one RESP2 value becomes; a value of another
// type than the node expects (an error, an integer, a null) is only
// null-converted, so a reply redis shapes unexpectedly still passes.

const K_ANY = 0 // as is, nulls (also nested) become `_`
const K_DOUBLE = 1 // bulk → `,`
const K_VERBATIM = 2 // bulk → `=` with `txt:`
const K_ARRAY = 3 // array, each element by `of`
const K_SET = 4 // array → `~`, each element by `of`
const K_MAP = 5 // flat array of pairs → `%`; values by `keys` (by key name) or `of`
const K_PAIRS = 6 // flat array → array of [first, second] arrays
const K_TUPLE = 7 // array, element i by items[i]

/** One node of a shape tree. `null` children: the value is copied unchanged, unscanned. */
class Node {
  kind: number
  of: Node | null = null
  second: Node | null = null
  items: readonly (Node | null)[] = []
  /** K_MAP: value shapes of named keys (key bytes, node). */
  keys: readonly [Buffer, Node | null][] = []
  /** K_ARRAY: an empty array is a set (`~0`), as redis sends for an empty subcommand list. */
  emptySet = false

  constructor(kind: number) {
    this.kind = kind
  }
}

function node(kind: number, of: Node | null = null): Node {
  const n = new Node(kind)
  n.of = of
  return n
}

function mapOf(of: Node | null, keys: Record<string, Node | null> = {}): Node {
  return withKeys(node(K_MAP, of), keys)
}

/** Sets a map node's named value shapes (after creation, for trees that refer to themselves). */
function withKeys(map: Node, keys: Record<string, Node | null>): Node {
  map.keys = Object.entries(keys).map(([k, v]) => [Buffer.from(k, 'latin1'), v])
  return map
}

function pairs(first: Node | null, second: Node | null): Node {
  const n = node(K_PAIRS, first)
  n.second = second
  return n
}

function tuple(items: (Node | null)[]): Node {
  const n = new Node(K_TUPLE)
  n.items = items
  return n
}

const ANY = node(K_ANY)
const DOUBLE = node(K_DOUBLE)
const SET = node(K_SET)

/** COMMAND / COMMAND INFO: one entry per command, subcommands nested. */
const COMMAND_ENTRY = new Node(K_TUPLE)
{
  // Key spec: a map; `flags` a set; begin_search / find_keys maps whose `spec` is a map.
  const deepMap = node(K_MAP)
  deepMap.of = deepMap
  const keySpec = mapOf(deepMap, { flags: SET })
  const subcommands = node(K_ARRAY, COMMAND_ENTRY)
  subcommands.emptySet = true
  // name, arity, flags, first key, last key, step, ACL categories, tips, key specs, subcommands
  COMMAND_ENTRY.items = [
    null,
    null,
    SET,
    null,
    null,
    null,
    SET,
    SET,
    node(K_SET, keySpec),
    subcommands,
  ]
}
/** COMMAND DOCS: name → doc map; arguments and subcommands nest. */
const DOC_ARG = mapOf(null)
withKeys(DOC_ARG, { flags: SET, arguments: node(K_ARRAY, DOC_ARG) })
const DOC = mapOf(null)
withKeys(DOC, {
  doc_flags: SET,
  history: SET,
  arguments: node(K_ARRAY, DOC_ARG),
  subcommands: mapOf(DOC),
})

class ShapeHook implements ReplyHook {
  constructor(private readonly shape: Node) {}

  reply(frame: ReplyFrame, out: PieceSink): void {
    CONVERTER.run(frame, this.shape, out)
  }
}

const H_NULLS = new ShapeHook(ANY)
const H_MAP = new ShapeHook(node(K_MAP))
const H_SET = new ShapeHook(SET)
const H_DOUBLE = new ShapeHook(DOUBLE)
const H_DOUBLES = new ShapeHook(node(K_ARRAY, DOUBLE))
const H_SCORE_PAIRS = new ShapeHook(pairs(null, DOUBLE))
const H_MEMBER_SCORE = new ShapeHook(tuple([null, DOUBLE]))
const H_FIELD_PAIRS = new ShapeHook(pairs(null, null))
const H_GEOPOS = new ShapeHook(node(K_ARRAY, node(K_ARRAY, DOUBLE)))
const H_GEOSEARCH = new ShapeHook(node(K_ARRAY, node(K_ARRAY, node(K_ARRAY, DOUBLE))))
const H_VERBATIM = new ShapeHook(node(K_VERBATIM))
const H_COMMAND_INFO = new ShapeHook(node(K_ARRAY, COMMAND_ENTRY))
const H_COMMAND_DOCS = new ShapeHook(mapOf(DOC))
const H_GETKEYSANDFLAGS = new ShapeHook(node(K_ARRAY, tuple([null, SET])))

// ---------------------------------------------------------------------------
// Per-request choice.

const SHAPE_NAMES: readonly Resp3Shape[] = Object.keys(SHAPE_TEXT) as Resp3Shape[]
/** Per command number: 0, or 1 + the index of its shape in SHAPE_NAMES. */
const SHAPE_CODE = new Uint8Array(COMMAND_NAMES.length)
for (const [name, shape] of Object.entries(RESP3_SHAPES)) {
  SHAPE_CODE[COMMAND_NAMES.indexOf(name as CommandName)] = 1 + SHAPE_NAMES.indexOf(shape)
}
const code = (s: Resp3Shape): number => 1 + SHAPE_NAMES.indexOf(s)
const S_NULL = code('null')
const S_MAP = code('map')
const S_SET = code('set')
const S_SPOP = code('spop')
const S_SRANDMEMBER = code('srandmember')
const S_DOUBLE = code('double')
const S_ZADD = code('zadd')
const S_DOUBLES = code('doubles')
const S_WITHSCORES = code('withscores')
const S_ZSETOP = code('zsetop')
const S_ZRANDMEMBER = code('zrandmember')
const S_ZPOP = code('zpop')
const S_HRANDFIELD = code('hrandfield')
const S_GEOPOS = code('geopos')
const S_GEOSEARCH = code('geosearch')
const S_VERBATIM = code('verbatim')
const S_COMMAND = code('command')

/** True when an argument at `from` or later is `word` (any case). */
function hasArg(p: RequestParser, from: number, word: string): boolean {
  for (let i = from; i < p.argc; i++) if (p.argIs(i, word)) return true
  return false
}

/** ZUNION/ZINTER/ZDIFF numkeys as a small non-negative number; -1 when it is not one. */
function numkeys(p: RequestParser): number {
  const buf = p.arg(1)
  const s = p.rs
  const e = p.re
  if (e === s || e - s > 9) return -1
  let n = 0
  for (let k = s; k < e; k++) {
    const c = buf[k]!
    if (c < 48 || c > 57) return -1
    n = n * 10 + (c - 48)
  }
  return n
}

/**
 * The hook converting the reply of the current request (`cmd`, arguments in
 * `p`) for a RESP3 client; null when its RESP2 bytes are already right.
 */
export function resp3Hook(cmd: number, p: RequestParser): ReplyHook | null {
  const argc = p.argc
  switch (SHAPE_CODE[cmd]) {
    case 0:
      return null
    case S_NULL:
      return H_NULLS
    case S_MAP:
      return H_MAP
    case S_SET:
      return H_SET
    case S_SPOP:
      return argc > 2 ? H_SET : H_NULLS
    case S_SRANDMEMBER:
      return argc === 2 ? H_NULLS : null
    case S_DOUBLE:
      return H_DOUBLE
    case S_ZADD:
      return hasArg(p, 2, 'incr') ? H_DOUBLE : null
    case S_DOUBLES:
      return H_DOUBLES
    case S_WITHSCORES:
      return hasArg(p, 4, 'withscores') ? H_SCORE_PAIRS : null
    case S_ZSETOP: {
      const n = numkeys(p)
      return n > 0 && hasArg(p, 2 + n, 'withscores') ? H_SCORE_PAIRS : null
    }
    case S_ZRANDMEMBER:
      if (argc === 2) return H_NULLS
      return argc === 4 && p.argIs(3, 'withscores') ? H_SCORE_PAIRS : null
    case S_ZPOP:
      return argc === 2 ? H_MEMBER_SCORE : H_SCORE_PAIRS
    case S_HRANDFIELD:
      if (argc === 2) return H_NULLS
      return argc === 4 && p.argIs(3, 'withvalues') ? H_FIELD_PAIRS : null
    case S_GEOPOS:
      return H_GEOPOS
    case S_GEOSEARCH:
      return hasArg(p, 2, 'withcoord') ? H_GEOSEARCH : null
    case S_VERBATIM:
      return H_VERBATIM
    case S_COMMAND:
      if (argc === 1 || p.argIs(1, 'info')) return H_COMMAND_INFO
      if (p.argIs(1, 'docs')) return H_COMMAND_DOCS
      return p.argIs(1, 'getkeysandflags') ? H_GETKEYSANDFLAGS : null
    default:
      return null
  }
}

// ---------------------------------------------------------------------------
// The converter.

const CR = 13
const MINUS = 45
const DOLLAR = 36
const STAR = 42
const TILDE = 126
const PERCENT = 37
const EQUALS = 61

/** `_\r\n`: RESP3 null. */
export const RESP3_NULL = Buffer.from('_\r\n')
const COMMA = Buffer.from(',')
const PAIR = Buffer.from('*2\r\n')
const TXT = Buffer.from('txt:')
const EMPTY = Buffer.alloc(0)

/** Unchanged runs this long or longer are pushed as views; shorter ones are copied. */
const VIEW_MIN = 512
/** Size of the slab that new bytes and short copies are written to. */
const SLAB = 16 * 1024
/** Shape trees are finite, but a node may refer to itself (maps in key specs). */
const MAX_DEPTH = 32

/**
 * Walks one reply. Not reentrant, and needs not be: a conversion runs to its
 * end inside one `reply()` call. `keep` is the start of the run of reply
 * bytes not yet pushed; a change pushes that run, then its own bytes.
 */
class Converter {
  private b: Buffer = EMPTY
  private keep = 0
  private changed = false
  private out: PieceSink | null = null
  /** Set by `len()`: the offset after the header's CRLF. */
  private after = 0
  /** Bytes are appended to the slab and never rewritten; [from, at) is not pushed yet. */
  private slab: Buffer = Buffer.allocUnsafe(SLAB)
  private at = 0
  private from = 0

  run(frame: ReplyFrame, shape: Node, out: PieceSink): void {
    const stream = frame.stream
    const start = frame.start
    const end = frame.end
    const kind = frame.kind
    if (kind !== DOLLAR && kind !== STAR) {
      stream.pieces(start, end, out)
      return
    }
    if (end - start === 5 && stream.byteAt(start + 1) === MINUS) {
      out.piece(RESP3_NULL, 0, 3)
      return
    }
    const k = shape.kind
    if (kind === DOLLAR && k !== K_DOUBLE && k !== K_VERBATIM) {
      stream.pieces(start, end, out)
      return
    }
    this.out = out
    if ((k === K_SET || k === K_MAP) && shape.of === null && shape.keys.length === 0) {
      // Only the header changes (SMEMBERS, HGETALL): the elements go as views.
      const n = frame.count
      if (k === K_MAP && (n & 1) !== 0) {
        stream.pieces(start, end, out)
        return
      }
      this.writeHeader(k === K_SET ? TILDE : PERCENT, k === K_SET ? n : n / 2)
      this.flushSlab()
      stream.pieces(n > 0 ? frame.elemStart(0) : end, end, out)
      this.out = null
      return
    }
    this.b = stream.view(start, end)
    this.keep = 0
    this.changed = false
    this.convert(shape, 0, 0)
    if (this.changed) {
      this.push(this.b.length)
      this.flushSlab()
    } else {
      stream.pieces(start, end, out)
    }
    this.b = EMPTY
    this.out = null
  }

  // -- reading (the reply was checked by the reply parser) -------------------

  /** The length or count in the header at `p` (`$5\r\n`, `*-1\r\n`); sets `after`. */
  private len(p: number): number {
    const b = this.b
    let k = p + 1
    const negative = b[k] === MINUS
    if (negative) k++
    let n = 0
    for (; b[k] !== CR; k++) n = n * 10 + (b[k]! - 48)
    this.after = k + 2
    return negative ? -n : n
  }

  /** The end of the value at `p`, unchanged. */
  private skip(p: number): number {
    return this.walk(p, false)
  }

  /** The end of the value at `p`; its nulls, nested too, become `_`. */
  private any(p: number): number {
    return this.walk(p, true)
  }

  /** Iterative (no recursion however deep the arrays): counts values still to come. */
  private walk(p: number, nulls: boolean): number {
    const b = this.b
    let left = 1
    while (left > 0) {
      left--
      const t = b[p]
      if (t === DOLLAR || t === STAR) {
        const n = this.len(p)
        if (n < 0) {
          if (nulls) this.replace(p, this.after, RESP3_NULL)
          p = this.after
        } else if (t === DOLLAR) {
          p = this.after + n + 2
        } else {
          left += n
          p = this.after
        }
      } else {
        p = b.indexOf(CR, p) + 2
      }
    }
    return p
  }

  /** Converts the value at `p` by `shape`; returns its end. */
  private convert(shape: Node | null, p: number, depth: number): number {
    if (shape === null) return this.skip(p)
    const b = this.b
    const t = b[p]
    const kind = shape.kind
    if (kind === K_ANY) return this.any(p)
    if (kind === K_DOUBLE || kind === K_VERBATIM) {
      if (t !== DOLLAR) return this.any(p)
      const n = this.len(p)
      if (n < 0) return this.any(p)
      const data = this.after
      if (kind === K_DOUBLE) {
        this.replace(p, data, COMMA)
      } else {
        this.push(p)
        this.writeHeader(EQUALS, n + 4)
        this.write(TXT)
        this.keep = data
        this.changed = true
      }
      return data + n + 2
    }
    if (t !== STAR || depth > MAX_DEPTH) return this.any(p)
    const n = this.len(p)
    if (n < 0) return this.any(p)
    let q = this.after
    switch (kind) {
      case K_ARRAY:
      case K_SET:
        if (kind === K_SET || (n === 0 && shape.emptySet)) this.header(p, q, TILDE, n)
        for (let i = 0; i < n; i++) q = this.convert(shape.of, q, depth + 1)
        return q
      case K_MAP: {
        if ((n & 1) !== 0) return this.any(p)
        this.header(p, q, PERCENT, n / 2)
        for (let i = 0; i < n; i += 2) {
          const key = q
          q = this.skip(q)
          q = this.convert(this.valueShape(shape, key), q, depth + 1)
        }
        return q
      }
      case K_PAIRS:
        if ((n & 1) !== 0) return this.any(p)
        this.header(p, q, STAR, n / 2)
        for (let i = 0; i < n; i += 2) {
          this.insert(q, PAIR)
          q = this.convert(shape.of, q, depth + 1)
          q = this.convert(shape.second, q, depth + 1)
        }
        return q
      default: // K_TUPLE
        for (let i = 0; i < n; i++) q = this.convert(shape.items[i] ?? null, q, depth + 1)
        return q
    }
  }

  /** The shape of a map value whose key is the value at `key`. */
  private valueShape(shape: Node, key: number): Node | null {
    const keys = shape.keys
    if (keys.length > 0 && this.b[key] === DOLLAR) {
      const n = this.len(key)
      const s = this.after
      for (const [name, value] of keys) {
        if (name.length === n && this.b.compare(name, 0, n, s, s + n) === 0) return value
      }
    }
    return shape.of
  }

  // -- writing ---------------------------------------------------------------

  /** Replaces the reply bytes `[p, to)` with `bytes`. */
  private replace(p: number, to: number, bytes: Buffer): void {
    this.push(p)
    this.write(bytes)
    this.keep = to
    this.changed = true
  }

  /** Inserts `bytes` before the reply byte `p`. */
  private insert(p: number, bytes: Buffer): void {
    this.push(p)
    this.write(bytes)
    this.changed = true
  }

  /** Replaces the header `[p, to)` with `<type><n>\r\n`. */
  private header(p: number, to: number, type: number, n: number): void {
    this.push(p)
    this.writeHeader(type, n)
    this.keep = to
    this.changed = true
  }

  /** Pushes the unchanged run `[keep, to)` of the reply. */
  private push(to: number): void {
    const from = this.keep
    if (to <= from) return
    if (to - from >= VIEW_MIN) {
      this.flushSlab()
      this.out!.piece(this.b, from, to)
    } else {
      this.room(to - from)
      this.at = copyBytes(this.b, from, to, this.slab, this.at)
    }
    this.keep = to
  }

  private write(bytes: Buffer): void {
    this.room(bytes.length)
    this.at = copyBytes(bytes, 0, bytes.length, this.slab, this.at)
  }

  private writeHeader(type: number, n: number): void {
    this.room(24)
    const slab = this.slab
    slab[this.at++] = type
    let digits = 1
    for (let v = n; v >= 10; v = Math.floor(v / 10)) digits++
    let i = this.at + digits
    this.at = i
    do {
      slab[--i] = 48 + (n % 10)
      n = Math.floor(n / 10)
    } while (n > 0)
    slab[this.at++] = 13
    slab[this.at++] = 10
  }

  /** Makes room for `n` more bytes: pushes what the slab holds and starts a new one if needed. */
  private room(n: number): void {
    if (this.slab.length - this.at >= n) return
    this.flushSlab()
    this.slab = Buffer.allocUnsafe(Math.max(n, SLAB))
    this.at = 0
    this.from = 0
  }

  private flushSlab(): void {
    if (this.at > this.from) {
      this.out!.piece(this.slab, this.from, this.at)
      this.from = this.at
    }
  }
}

/** Copies `src[from, to)` to `dst` at `at`; returns the end. Short runs: a byte loop beats Buffer#copy's call overhead. */
function copyBytes(src: Buffer, from: number, to: number, dst: Buffer, at: number): number {
  if (to - from > 64) return at + src.copy(dst, at, from, to)
  for (let k = from; k < to; k++) dst[at++] = src[k]!
  return at
}

const CONVERTER = new Converter()
