/**
 * Kit for the redis integration tests (test/integration/redis-*.test.ts): RESP request and
 * reply encoding, pool YAML for walnut and nutcracker, key placement computed from that YAML
 * with the proxy's own code (src/config + src/hash/placement.ts), and a request/reply
 * connection over the byte-exact client of servers.ts, used both through a proxy and straight
 * to a backend (to check where a key really landed).
 */
import assert from 'node:assert/strict'
import { parseConfig } from '../../src/config/load.js'
import { Placement } from '../../src/hash/placement.js'
import { type Client, connect, showBytes } from './servers.js'

export { prng } from './prng.js'

/** One request argument: text (latin1, so every byte 0..255 can be written), bytes or a number. */
export type Arg = string | Buffer | number

function argBytes(a: Arg): Buffer {
  if (Buffer.isBuffer(a)) return a
  return Buffer.from(typeof a === 'number' ? String(a) : a, 'latin1')
}

/** `*N\r\n$len\r\narg\r\n...`: a request as every client library sends it. */
export function cmd(...args: Arg[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)]
  for (const a of args) {
    const b = argBytes(a)
    parts.push(Buffer.from(`$${b.length}\r\n`), b, CRLF)
  }
  return Buffer.concat(parts)
}

const CRLF = Buffer.from('\r\n')

/** Reply bytes: `$len\r\n<v>\r\n`. */
export function bulk(v: Arg): Buffer {
  const b = argBytes(v)
  return Buffer.concat([Buffer.from(`$${b.length}\r\n`), b, CRLF])
}

/** Reply bytes: `:n\r\n`. */
export function int(n: number): Buffer {
  return Buffer.from(`:${n}\r\n`)
}

/** Reply bytes: a status or error line (`+OK`, `-ERR ...`) with its CRLF. */
export function line(text: string): Buffer {
  return Buffer.from(`${text}\r\n`, 'latin1')
}

export const OK = line('+OK')
export const NIL = line('$-1')

/** Reply bytes: an array of already encoded replies (strings are taken as reply bytes). */
export function arr(...items: (Buffer | string)[]): Buffer {
  return arrayOf(items)
}

/** arr() for a list (no argument spreading, so any length works). */
export function arrayOf(items: readonly (Buffer | string)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${items.length}\r\n`)]
  for (const i of items) parts.push(Buffer.isBuffer(i) ? i : Buffer.from(i, 'latin1'))
  return Buffer.concat(parts)
}

/** Reply bytes: an array of bulk strings (null: `$-1`). */
export function bulks(...values: (Arg | null)[]): Buffer {
  return bulkArray(values)
}

/** bulks() for a list. */
export function bulkArray(values: readonly (Arg | null)[]): Buffer {
  return arrayOf(values.map((v) => (v === null ? NIL : bulk(v))))
}

// ---------------------------------------------------------------------------------------------
// Config

export interface PoolSpec {
  name: string
  /** Listen port on 127.0.0.1. */
  port: number
  /**
   * Backends in `servers:` order: a port on 127.0.0.1 (weight 1), or an entry written as is
   * (`/path/redis.sock:1` for a unix socket).
   */
  servers: readonly (number | string)[]
  hash?: string
  distribution?: string
  /** Two characters, e.g. `{}`. */
  hashTag?: string
  redisAuth?: string
  redisDb?: number
  /** Further `key: value` lines (timeout, server_connections, ...). */
  extra?: Readonly<Record<string, string | number | boolean>>
}

/** One redis pool in nutcracker.yml syntax (walnut reads the same file). */
export function poolYaml(p: PoolSpec): string {
  const lines = [
    `${p.name}:`,
    `  listen: 127.0.0.1:${p.port}`,
    '  redis: true',
    `  hash: ${p.hash ?? 'fnv1a_64'}`,
    `  distribution: ${p.distribution ?? 'ketama'}`,
  ]
  if (p.hashTag !== undefined) lines.push(`  hash_tag: "${p.hashTag}"`)
  if (p.redisAuth !== undefined) lines.push(`  redis_auth: ${p.redisAuth}`)
  if (p.redisDb !== undefined) lines.push(`  redis_db: ${p.redisDb}`)
  for (const [k, v] of Object.entries(p.extra ?? {})) lines.push(`  ${k}: ${String(v)}`)
  lines.push('  servers:')
  for (const s of p.servers)
    lines.push(typeof s === 'number' ? `   - 127.0.0.1:${s}:1` : `   - ${s}`)
  return `${lines.join('\n')}\n`
}

/** Where a pool puts a key: the index of its backend in the `servers:` list as written. */
export type Locator = (key: Arg) => number

/**
 * The placement of pool `pool` of the config text `yaml`, all servers live, computed with
 * walnut's own config loader and Placement (the differential tests check it against
 * nutcracker, and hash vectors check Placement itself).
 */
export async function locator(yaml: string, pool: string): Promise<Locator> {
  const config = await parseConfig(yaml, 'test.yml')
  const p = config.pools.find((x) => x.name === pool)
  if (p === undefined) throw new Error(`locator: no pool ${pool}`)
  const placement = new Placement(p)
  return (key) => {
    const b = argBytes(key)
    const internal = placement.serverFor(b, 0, b.length)
    return p.servers[internal]!.index
  }
}

/**
 * `count` distinct keys `<prefix><n>` that `where` puts on backend `server`, n counting up
 * from 0 (deterministic, so a failure names the same keys every run).
 */
export function keysOn(where: Locator, server: number, count: number, prefix: string): string[] {
  const out: string[] = []
  for (let n = 0; out.length < count; n++) {
    if (n > 100_000) throw new Error(`keysOn: no ${count} keys on server ${server}`)
    const k = `${prefix}${n}`
    if (where(k) === server) out.push(k)
  }
  return out
}

// ---------------------------------------------------------------------------------------------
// Connections

/** A request/reply connection with exact reply bytes. */
export class Resp {
  readonly client: Client
  /** Read timeout of call()/pipeline() (big values need more than the client's default). */
  timeoutMs = 10_000

  private constructor(client: Client) {
    this.client = client
  }

  /** Connects to 127.0.0.1:port; with `password`, sends AUTH first; with `db` > 0, SELECT. */
  static async open(port: number, password?: string, db = 0): Promise<Resp> {
    const r = new Resp(await connect(port))
    if (password !== undefined) await r.expect(['AUTH', password], OK)
    if (db > 0) await r.expect(['SELECT', db], OK)
    return r
  }

  /** Sends one request, returns its reply bytes. */
  async call(...args: Arg[]): Promise<Buffer> {
    await this.client.send(cmd(...args))
    return this.client.readReply(this.timeoutMs)
  }

  /** Sends raw bytes (one write), returns `count` replies. */
  async raw(bytes: Buffer | string, count: number, timeoutMs?: number): Promise<Buffer[]> {
    await this.client.send(bytes)
    return this.client.readReplies(count, timeoutMs ?? this.timeoutMs)
  }

  /** Sends the requests in one write and returns their replies, in order. */
  async pipeline(requests: readonly Arg[][], timeoutMs?: number): Promise<Buffer[]> {
    return this.raw(Buffer.concat(requests.map((r) => cmd(...r))), requests.length, timeoutMs)
  }

  /** call() and assert the exact reply bytes. */
  async expect(args: Arg[], reply: Buffer | string, message?: string): Promise<void> {
    const got = await this.call(...args)
    assertBytes(got, reply, message ?? args.map((a) => String(a).slice(0, 40)).join(' '))
  }

  close(): Promise<void> {
    return this.client.close()
  }
}

/** Byte equality with a readable message (escaped text, not a Buffer dump). */
export function assertBytes(got: Buffer, want: Buffer | string, message = ''): void {
  const w = Buffer.isBuffer(want) ? want : Buffer.from(want, 'latin1')
  if (got.equals(w)) return
  let at = 0
  while (at < got.length && at < w.length && got[at] === w[at]) at++
  assert.fail(
    `${message}: reply differs at byte ${at} (got ${got.length}, want ${w.length} bytes)\n` +
      `  got:  ${showBytes(got.subarray(Math.max(0, at - 20)))}\n` +
      `  want: ${showBytes(w.subarray(Math.max(0, at - 20)))}`,
  )
}

/** The keys of a RESP array of bulk strings (KEYS * / SCAN replies), as latin1 text. */
export function parseBulkArray(reply: Buffer): string[] {
  const text = reply.toString('latin1')
  const m = /^\*(\d+)\r\n/.exec(text)
  if (m === null) throw new Error(`not an array: ${showBytes(reply)}`)
  const out: string[] = []
  let at = m[0].length
  for (let i = 0; i < Number(m[1]); i++) {
    const h = /^\$(\d+)\r\n/.exec(text.slice(at, at + 24))
    if (h === null) throw new Error(`element ${i} is not a bulk: ${showBytes(reply.subarray(at))}`)
    const n = Number(h[1])
    at += h[0].length
    out.push(text.slice(at, at + n))
    at += n + 2
  }
  return out
}

/** Every key of a backend's current db (`KEYS *`), sorted. */
export async function backendKeys(c: Resp): Promise<string[]> {
  return parseBulkArray(await c.call('KEYS', '*')).sort()
}

/** Empties every db of each backend (FLUSHALL straight on the backend). */
export async function flushAll(backends: readonly Resp[]): Promise<void> {
  for (const b of backends) assertBytes(await b.call('FLUSHALL'), OK, 'FLUSHALL')
}

/** `n` pseudo-random bytes from `seed` (fast: 4 bytes per step). */
export function randomBytes(n: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(n)
  let a = seed >>> 0
  let i = 0
  for (; i + 4 <= n; i += 4) {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0
    out.writeUInt32LE((a ^ (a >>> 13)) >>> 0, i)
  }
  for (; i < n; i++) out[i] = (i * 31 + seed) & 255
  return out
}

/**
 * Asserts that each key exists on backend `where(key)` and on no other backend (EXISTS straight
 * on every backend, `backends` in `servers:` order).
 */
export async function assertLanded(
  keys: readonly Arg[],
  where: Locator,
  backends: readonly Resp[],
  what = 'key',
): Promise<void> {
  if (keys.length === 0) return
  const replies = await Promise.all(backends.map((b) => b.pipeline(keys.map((k) => ['EXISTS', k]))))
  keys.forEach((k, i) => {
    const on = replies.map((r) => r[i]!.toString('latin1')).join('')
    const want = backends.map((_, j) => (j === where(k) ? ':1\r\n' : ':0\r\n')).join('')
    assert.equal(on, want, `${what} ${showBytes(argBytes(k))}: EXISTS per backend`)
  })
}

/** `calls=` of every command in a backend's `INFO commandstats` (`get`, `mget`, ...). */
export async function commandCalls(b: Resp): Promise<Map<string, number>> {
  const text = (await b.call('INFO', 'commandstats')).toString('latin1')
  const out = new Map<string, number>()
  for (const m of text.matchAll(/^cmdstat_([^:]+):calls=(\d+),/gm)) out.set(m[1]!, Number(m[2]))
  return out
}
