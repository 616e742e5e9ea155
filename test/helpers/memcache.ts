/**
 * Helpers for the memcache integration tests (test/integration/memcache-*.test.ts), on top of
 * servers.ts:
 * - pool YAML for walnut and nutcracker, and walnut's own placement of keys (`walnut locate`
 *   run through the built CLI), so a test can pick keys per server and check where they land;
 * - direct reads of the backends (bypassing every proxy);
 * - request/reply byte builders, and expectBytes(): one exact comparison of a whole reply
 *   stream that names the first differing byte;
 * - FakeMemcached: an in-process server that answers every command line with a scripted line,
 *   for replies real memcached cannot be made to send (`SERVER_ERROR boom`).
 */
import assert from 'node:assert/strict'
import { createServer, type Server, type Socket } from 'node:net'
import { type Client, connect, runWalnut, type ServerProc, showBytes } from './servers.js'

export const b = (s: string): Buffer => Buffer.from(s, 'latin1')

// ---------------------------------------------------------------------------------------------
// Config and placement

export interface PoolSpec {
  name: string
  /** host:port */
  listen: string
  /** `host:port:weight [name]` lines. */
  servers: readonly string[]
  /** Other keys of the pool, written as `key: value`. */
  extra?: Readonly<Record<string, string | number | boolean>>
}

/** nutcracker YAML for `pools` (ketama + fnv1a_64 unless `extra` says otherwise). */
export function poolsYaml(pools: readonly PoolSpec[]): string {
  let out = ''
  for (const p of pools) {
    const extra: Record<string, string | number | boolean> = {
      hash: 'fnv1a_64',
      distribution: 'ketama',
      ...p.extra,
    }
    out += `${p.name}:\n  listen: ${p.listen}\n`
    for (const [k, v] of Object.entries(extra)) out += `  ${k}: ${String(v)}\n`
    out += '  servers:\n'
    for (const s of p.servers) out += `   - ${s}\n`
  }
  return out
}

/** `host:port:1` for a started server. */
export function serverLine(s: { host: string; port: number }, weight = 1): string {
  return `${s.host}:${s.port}:${weight}`
}

/**
 * Where walnut places each key: the index in the pool's `servers:` list, from
 * `walnut locate -c <config> --hex [--pool name]` (the built CLI, the proxy's own Placement).
 */
export async function locate(
  configPath: string,
  keys: readonly Buffer[],
  pool?: string,
): Promise<number[]> {
  const args = ['locate', '-c', configPath, '--hex']
  if (pool !== undefined) args.push('--pool', pool)
  const input = keys.map((k) => k.toString('hex')).join('\n') + (keys.length > 0 ? '\n' : '')
  const r = await runWalnut(args, { input })
  assert.equal(r.code, 0, `walnut locate failed: ${r.stderr.toString()}`)
  const lines = r.stdout.toString('latin1').split('\n')
  assert.equal(lines.pop(), '', 'locate output ends with a newline')
  assert.equal(lines.length, keys.length, 'one locate line per key')
  return lines.map((line, i) => {
    const [hex, index] = line.split('\t')
    assert.equal(hex, keys[i]!.toString('hex'), `locate line ${i} is for key ${i}`)
    return Number(index)
  })
}

/**
 * `perServer` keys `<prefix><n>` for each of `nservers` servers: result[s] holds keys that
 * walnut places on server s (YAML index).
 */
export async function keysPerServer(
  configPath: string,
  prefix: string,
  nservers: number,
  perServer: number,
  pool?: string,
): Promise<string[][]> {
  const out: string[][] = Array.from({ length: nservers }, () => [])
  const batch = Math.max(64, nservers * perServer * 3)
  for (let from = 0; from < 100 * batch; from += batch) {
    const keys = Array.from({ length: batch }, (_, i) => `${prefix}${from + i}`)
    const where = await locate(configPath, keys.map(b), pool)
    keys.forEach((k, i) => {
      const list = out[where[i]!]!
      if (list.length < perServer) list.push(k)
    })
    if (out.every((l) => l.length === perServer)) return out
  }
  throw new Error(`keysPerServer: no ${perServer} keys per server with prefix ${prefix}`)
}

// ---------------------------------------------------------------------------------------------
// Bytes

/** A storage request: `<cmd> <key> <flags> <exptime> <len>[ <tail>]\r\n<data>\r\n`. */
export function storage(
  cmd: string,
  key: string | Buffer,
  data: Buffer | string,
  flags = 0,
  tail = '',
  exptime: number | string = 0,
): Buffer {
  const d = typeof data === 'string' ? b(data) : data
  const k = typeof key === 'string' ? b(key) : key
  const head = b(`${cmd} `)
  const rest = b(` ${flags} ${exptime} ${d.length}${tail === '' ? '' : ` ${tail}`}\r\n`)
  return Buffer.concat([head, k, rest, d, b('\r\n')])
}

/** One `VALUE <key> <flags> <bytes>[ <cas>]\r\n<data>\r\n` item. */
export function valueItem(
  key: string | Buffer,
  data: Buffer | string,
  flags = 0,
  cas?: string | bigint,
): Buffer {
  const d = typeof data === 'string' ? b(data) : data
  const k = typeof key === 'string' ? b(key) : key
  const tail = cas === undefined ? '' : ` ${String(cas)}`
  return Buffer.concat([b('VALUE '), k, b(` ${flags} ${d.length}${tail}\r\n`), d, b('\r\n')])
}

/** A whole get reply: the items, then `END\r\n`. */
export function getReply(items: readonly Buffer[]): Buffer {
  return Buffer.concat([...items, b('END\r\n')])
}

/**
 * Asserts `actual` equals `expected` byte for byte; on a difference, the message names the
 * first differing offset and shows both sides around it (whole buffers can be megabytes).
 */
export function expectBytes(actual: Buffer, expected: Buffer, what: string): void {
  if (actual.equals(expected)) return
  const n = Math.min(actual.length, expected.length)
  let i = 0
  while (i < n && actual[i] === expected[i]) i++
  const from = Math.max(0, i - 60)
  assert.fail(
    `${what}: differs at byte ${i} (got ${actual.length} bytes, want ${expected.length})\n` +
      `  got:  ${showBytes(actual.subarray(from, i + 100))}\n` +
      `  want: ${showBytes(expected.subarray(from, i + 100))}`,
  )
}

/** Sends `req`, reads exactly `expected.length` bytes and compares them. */
export async function exchange(
  c: Client,
  req: Buffer | string,
  expected: Buffer | string,
  what = String(req).slice(0, 60),
  timeoutMs?: number,
): Promise<void> {
  const want = typeof expected === 'string' ? b(expected) : expected
  await c.send(typeof req === 'string' ? b(req) : req)
  const got = await c.read(want.length, timeoutMs)
  expectBytes(got, want, what)
}

/** Asserts nothing more arrives on `c` within `ms` (and the connection is still open). */
export async function expectSilence(c: Client, ms: number, what: string): Promise<void> {
  const extra = await c.drain(ms)
  assert.equal(extra.length, 0, `${what}: unexpected bytes ${showBytes(extra)}`)
  assert.equal(c.ended, false, `${what}: connection closed`)
}

// ---------------------------------------------------------------------------------------------
// Direct backend access

/** One connection per backend, straight to memcached. */
export class Direct {
  readonly servers: readonly ServerProc[]
  private readonly clients: Client[] = []

  private constructor(servers: readonly ServerProc[]) {
    this.servers = servers
  }

  static async open(servers: readonly ServerProc[]): Promise<Direct> {
    const d = new Direct(servers)
    for (const s of servers) d.clients.push(await connect(s.port, s.host))
    return d
  }

  client(server: number): Client {
    const c = this.clients[server]
    if (c === undefined) throw new Error(`Direct: no server ${server}`)
    return c
  }

  /** Sends a raw request (a string is latin1) to one backend and returns its one reply. */
  async call(server: number, req: Buffer | string): Promise<Buffer> {
    const c = this.client(server)
    await c.send(typeof req === 'string' ? b(req) : req)
    return c.readMcReply(5000)
  }

  /** The raw `get` reply of `key` on each backend (`END\r\n` where it is absent). */
  async everywhere(key: string | Buffer): Promise<Buffer[]> {
    const k = typeof key === 'string' ? b(key) : key
    const req = Buffer.concat([b('get '), k, b('\r\n')])
    return Promise.all(this.servers.map((_, i) => this.call(i, req)))
  }

  /**
   * For each key (latin1: one char per byte), the one backend that holds it (-1: none), asking
   * every backend with multi-gets. Fails if a key is on two backends.
   */
  async holders(keys: readonly string[]): Promise<number[]> {
    const out = new Array<number>(keys.length).fill(-1)
    const index = new Map<string, number>()
    for (const [i, k] of keys.entries()) index.set(k, i)
    for (let s = 0; s < this.servers.length; s++) {
      for (let from = 0; from < keys.length; from += 200) {
        const part = keys.slice(from, from + 200)
        const reply = await this.call(s, `get ${part.join(' ')}\r\n`)
        for (const m of reply.toString('latin1').matchAll(/^VALUE ([^ ]+) /gm)) {
          const i = index.get(m[1]!)
          assert.ok(i !== undefined, `server ${s} returned unrequested key ${m[1]}`)
          assert.equal(out[i], -1, `key ${m[1]} is on servers ${out[i]} and ${s}`)
          out[i] = s
        }
      }
    }
    return out
  }

  /** `flush_all` on every backend. */
  async flushAll(): Promise<void> {
    for (let s = 0; s < this.servers.length; s++) {
      const r = await this.call(s, 'flush_all\r\n')
      expectBytes(r, b('OK\r\n'), `flush_all on server ${s}`)
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.close()))
  }
}

// ---------------------------------------------------------------------------------------------
// Fake memcached

/** FakeMemcached answers: send nothing (the request hangs), or close the connection (FIN). */
export const HANG = Symbol('hang')
export const CLOSE = Symbol('close')
export type FakeAnswer = string | typeof HANG | typeof CLOSE

/**
 * A fake memcached on 127.0.0.1: every CRLF-terminated line it receives is answered with
 * `answer(line)` (latin1; a line without CRLF gets one added), in order; HANG sends nothing,
 * CLOSE ends the connection. It never reads data blocks: send it retrieval commands only.
 */
export class FakeMemcached {
  port = 0
  /** Lines received over all connections, in arrival order. */
  readonly lines: string[] = []
  private readonly server: Server
  private readonly sockets = new Set<Socket>()

  private constructor(answer: (line: string) => FakeAnswer) {
    this.server = createServer((s) => {
      this.sockets.add(s)
      s.on('close', () => this.sockets.delete(s))
      s.on('error', () => {})
      let pending = ''
      s.on('data', (chunk: Buffer) => {
        pending += chunk.toString('latin1')
        for (let i = pending.indexOf('\r\n'); i >= 0; i = pending.indexOf('\r\n')) {
          const line = pending.slice(0, i)
          pending = pending.slice(i + 2)
          this.lines.push(line)
          const reply = answer(line)
          if (reply === CLOSE) {
            s.end()
            return
          }
          if (reply !== HANG) s.write(b(reply.endsWith('\r\n') ? reply : `${reply}\r\n`))
        }
      })
    })
  }

  static async start(answer: (line: string) => FakeAnswer): Promise<FakeMemcached> {
    const f = new FakeMemcached(answer)
    await new Promise<void>((resolve, reject) => {
      f.server.once('error', reject)
      f.server.listen(0, '127.0.0.1', () => resolve())
    })
    const a = f.server.address()
    assert.ok(a !== null && typeof a === 'object')
    f.port = a.port
    return f
  }

  get host(): string {
    return '127.0.0.1'
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }
}

// ---------------------------------------------------------------------------------------------
// Randomness

export { prng } from './prng.js'

/** Integer in [lo, hi]. */
export function randInt(rnd: () => number, lo: number, hi: number): number {
  return lo + Math.floor(rnd() * (hi - lo + 1))
}

/** Cuts `bytes` into consecutive chunks of 1..maxChunk bytes. */
export function randomChunks(rnd: () => number, bytes: Buffer, maxChunk: number): Buffer[] {
  const out: Buffer[] = []
  for (let at = 0; at < bytes.length; ) {
    const n = Math.min(bytes.length - at, randInt(rnd, 1, maxChunk))
    out.push(bytes.subarray(at, at + n))
    at += n
  }
  return out
}

/** Writes each chunk as its own write, yielding to the event loop between them. */
export async function writeChunks(c: Client, chunks: readonly Buffer[]): Promise<void> {
  for (const ch of chunks) {
    c.socket.write(ch)
    await new Promise((r) => setImmediate(r))
  }
}

// ---------------------------------------------------------------------------------------------
// Reading replies

export interface Item {
  key: string
  flags: number
  data: Buffer
  /** Present for `gets` replies. */
  cas: string | undefined
}

/** The items of one whole `VALUE ... END\r\n` reply (keys as latin1 strings). */
export function parseItems(reply: Buffer): Item[] {
  const out: Item[] = []
  let at = 0
  for (;;) {
    const eol = reply.indexOf('\r\n', at, 'latin1')
    assert.ok(eol >= 0, `parseItems: no line end at ${at} in ${showBytes(reply)}`)
    const line = reply.toString('latin1', at, eol)
    if (line === 'END') {
      assert.equal(eol + 2, reply.length, 'parseItems: bytes after END')
      return out
    }
    const m = /^VALUE (\S+) (\d+) (\d+)(?: (\d+))?$/.exec(line)
    assert.ok(m !== null, `parseItems: not a VALUE line: ${JSON.stringify(line)}`)
    const len = Number(m[3])
    const data = reply.subarray(eol + 2, eol + 2 + len)
    assert.equal(reply.toString('latin1', eol + 2 + len, eol + 4 + len), '\r\n')
    out.push({ key: m[1]!, flags: Number(m[2]), data, cas: m[4] })
    at = eol + 4 + len
  }
}
