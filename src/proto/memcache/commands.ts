/**
 * The memcached ASCII commands walnut proxies: the single table the request
 * parser, the session and docs/memcache.md (checked by a test) derive from.
 * nutcracker 0.5.0 supports exactly these fourteen, all lower-case
 * (../shared/spec/memcache.md §1-§2); anything else is answered `ERROR` (M1).
 */

/** Request kinds (the parser's `kind` field). 0 means none / unknown. */
export const CMD_GET = 1
export const CMD_GETS = 2
export const CMD_SET = 3
export const CMD_ADD = 4
export const CMD_REPLACE = 5
export const CMD_APPEND = 6
export const CMD_PREPEND = 7
export const CMD_CAS = 8
export const CMD_DELETE = 9
export const CMD_INCR = 10
export const CMD_DECR = 11
export const CMD_TOUCH = 12
export const CMD_VERSION = 13
export const CMD_QUIT = 14

/** Argument layouts (memcached protocol.txt, "Commands"). */
/** `get <key>*`: every token is a key (also `noreply`). */
export const SYN_RETRIEVAL = 0
/** `<cmd> <key> <flags> <exptime> <bytes> [noreply]`, then a data block. */
export const SYN_STORAGE = 1
/** `cas <key> <flags> <exptime> <bytes> <cas unique> [noreply]`, then a data block. */
export const SYN_CAS = 2
/** `delete <key> [noreply]` */
export const SYN_DELETE = 3
/** `incr|decr <key> <value> [noreply]` */
export const SYN_ARITH = 4
/** `touch <key> <exptime> [noreply]` */
export const SYN_TOUCH = 5
/** `version`, `quit`: no arguments. */
export const SYN_BARE = 6

export interface CommandSpec {
  /** The command name as sent (lower-case only; `GET` is unknown, as in memcached). */
  readonly name: string
  readonly kind: number
  readonly syntax: number
  /** How walnut picks the server; this text appears verbatim in docs/memcache.md. */
  readonly routing: string
}

const ONE_KEY = 'key'

/** The supported commands, in nutcracker's order. */
export const COMMANDS: readonly CommandSpec[] = [
  {
    name: 'get',
    kind: CMD_GET,
    syntax: SYN_RETRIEVAL,
    routing: 'key; 2+ keys: split per server',
  },
  {
    name: 'gets',
    kind: CMD_GETS,
    syntax: SYN_RETRIEVAL,
    routing: 'key; 2+ keys: split per server',
  },
  { name: 'set', kind: CMD_SET, syntax: SYN_STORAGE, routing: ONE_KEY },
  { name: 'add', kind: CMD_ADD, syntax: SYN_STORAGE, routing: ONE_KEY },
  { name: 'replace', kind: CMD_REPLACE, syntax: SYN_STORAGE, routing: ONE_KEY },
  { name: 'append', kind: CMD_APPEND, syntax: SYN_STORAGE, routing: ONE_KEY },
  { name: 'prepend', kind: CMD_PREPEND, syntax: SYN_STORAGE, routing: ONE_KEY },
  { name: 'cas', kind: CMD_CAS, syntax: SYN_CAS, routing: ONE_KEY },
  { name: 'delete', kind: CMD_DELETE, syntax: SYN_DELETE, routing: ONE_KEY },
  { name: 'incr', kind: CMD_INCR, syntax: SYN_ARITH, routing: ONE_KEY },
  { name: 'decr', kind: CMD_DECR, syntax: SYN_ARITH, routing: ONE_KEY },
  { name: 'touch', kind: CMD_TOUCH, syntax: SYN_TOUCH, routing: ONE_KEY },
  {
    name: 'version',
    kind: CMD_VERSION,
    syntax: SYN_BARE,
    routing: 'the literal key `placeholder`',
  },
  { name: 'quit', kind: CMD_QUIT, syntax: SYN_BARE, routing: 'not forwarded' },
]

/** Syntax of each kind, indexed by kind. */
export const SYNTAX_OF: Uint8Array = (() => {
  const t = new Uint8Array(CMD_QUIT + 1)
  for (const c of COMMANDS) t[c.kind] = c.syntax
  return t
})()

/**
 * Folds a command name into a number while it is scanned byte by byte, so no
 * string is built per request: each lower-case letter is 5 bits; any other
 * byte, or more than 7 letters (no supported name is longer), gives -1.
 */
export function nameStep(code: number, len: number, c: number): number {
  if (code < 0 || len >= 7 || c < 0x61 || c > 0x7a) return -1
  return code * 32 + (c - 0x60)
}

/** Name code → kind. */
export const KIND_BY_CODE: ReadonlyMap<number, number> = (() => {
  const m = new Map<number, number>()
  for (const c of COMMANDS) {
    let code = 0
    for (let i = 0; i < c.name.length; i++) code = nameStep(code, i, c.name.charCodeAt(i))
    m.set(code, c.kind)
  }
  return m
})()
