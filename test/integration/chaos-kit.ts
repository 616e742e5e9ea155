/**
 * Kit for the chaos tests (chaos-redis / chaos-memcache): a load of checked
 * clients (with the SET/GET dialects of both protocols), a TCP cutter that
 * breaks walnut's server connections mid-reply or refuses them, the chaos
 * script both tests run (runChaos), and walnut's RSS and stats.
 *
 * The load: each client owns its keys and sends batches of pipelined SET/GET,
 * reads exactly one reply per request, in order, and checks each reply against
 * its request and a per-key model:
 *  - a value always names its key (`v:<key>:<seq>:...`), so a reply that
 *    belongs to another request cannot pass;
 *  - on a key whose server is never lost, a GET returns the last acknowledged
 *    write, or one whose reply was an error (it may have been applied);
 *  - an error is one of nutcracker's failure replies, and never comes for a
 *    key on a server nothing happens to;
 *  - after the batch nothing more arrives, and the connection stays open.
 * At the end, acknowledged writes are read back from the backends themselves.
 */

import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { createServer, connect as netConnect, type Server, type Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { b } from '../helpers/memcache.js'
import { prng } from '../helpers/prng.js'
import { cmd, keysOn, type Locator } from '../helpers/redis.js'
import {
  connect,
  mcReplyEnd,
  respReplyEnd,
  type ServerProc,
  showBytes,
  statsDocument,
} from '../helpers/servers.js'

/** One request of the load. */
export interface Op {
  readonly set: boolean
  readonly key: string
  /** SET: the value written. */
  readonly value: string
}

/** A protocol as the load sees it. */
export interface Dialect {
  encode(op: Op): Buffer
  /** End of the first reply in `buf`, or -1 while incomplete. */
  replyEnd(buf: Buffer): number
  /**
   * What a reply says: `ok` (SET acknowledged), a value or null (GET), or an
   * error line (a failure reply); anything else throws.
   */
  parse(
    op: Op,
    reply: Buffer,
  ):
    | { kind: 'ok' }
    | { kind: 'value'; value: string | null }
    | {
        kind: 'error'
        text: string
      }
  /** Failure replies walnut may send when a server fails (exact text, no CRLF). */
  readonly errors: readonly string[]
}

/**
 * SET/GET over RESP. A GET's bulk length must match its value; `errors` are the
 * failure replies the test allows (`-ERR ...`, no CRLF).
 */
export function redisDialect(errors: readonly string[]): Dialect {
  return {
    encode: (op: Op) => (op.set ? cmd('SET', op.key, op.value) : cmd('GET', op.key)),
    replyEnd: (buf) => respReplyEnd(buf, 0),
    parse(op, reply) {
      const text = reply.toString('latin1')
      if (text.startsWith('-')) return { kind: 'error', text: text.slice(0, -2) }
      if (op.set) {
        if (text !== '+OK\r\n') throw new Error(`set ${op.key}: ${text.slice(0, 60)}`)
        return { kind: 'ok' }
      }
      if (text === '$-1\r\n') return { kind: 'value', value: null }
      const nl = text.indexOf('\r\n')
      if (text[0] !== '$' || Number(text.slice(1, nl)) !== text.length - nl - 4) {
        throw new Error(`get ${op.key}: ${text.slice(0, 60)}`)
      }
      return { kind: 'value', value: text.slice(nl + 2, -2) }
    },
    errors,
  }
}

/**
 * set/get over the memcache ASCII protocol. The VALUE line must name the GET's
 * key (a reply to another request cannot pass) and the block end in `END`;
 * `errors` are the allowed failure replies (`SERVER_ERROR ...`, no CRLF).
 */
export function memcacheDialect(errors: readonly string[]): Dialect {
  return {
    encode: (op: Op) =>
      b(op.set ? `set ${op.key} 0 0 ${op.value.length}\r\n${op.value}\r\n` : `get ${op.key}\r\n`),
    replyEnd: (buf) => mcReplyEnd(buf, 0),
    parse(op, reply) {
      const text = reply.toString('latin1')
      if (text.startsWith('SERVER_ERROR ')) return { kind: 'error', text: text.slice(0, -2) }
      if (op.set) {
        if (text !== 'STORED\r\n') throw new Error(`set ${op.key}: ${text.slice(0, 60)}`)
        return { kind: 'ok' }
      }
      if (text === 'END\r\n') return { kind: 'value', value: null }
      const m = /^VALUE (\S+) 0 (\d+)\r\n/.exec(text)
      if (m === null || m[1] !== op.key) throw new Error(`get ${op.key}: ${text.slice(0, 60)}`)
      const start = m[0].length
      const value = text.slice(start, start + Number(m[2]))
      if (text.slice(start + value.length) !== '\r\nEND\r\n') {
        throw new Error(`get ${op.key}: bad value block`)
      }
      return { kind: 'value', value }
    },
    errors,
  }
}

/** Per-key knowledge of what the servers may hold. */
interface KeyState {
  /** Last acknowledged value; null: none yet. */
  acked: string | null
  /** Values written since, whose replies were errors (they may have been applied). */
  maybe: Set<string>
  /** Every value ever written (for keys on a server that loses data). */
  ever: Set<string>
}

export interface LoadOptions {
  readonly port: number
  readonly dialect: Dialect
  /** Keys of each client (disjoint). */
  readonly keys: readonly (readonly string[])[]
  /** The backend index (servers: order) of a key. */
  readonly serverOf: (key: string) => number
  /** Servers that may lose data or reorder writes (killed, restarted, stopped). */
  readonly lossy: ReadonlySet<number>
  /** Servers that are never touched: no request to them may fail. */
  readonly untouched: ReadonlySet<number>
  /** Value size for a key (big values make replies span reads). */
  readonly sizeOf: (key: string) => number
  /** Longest wait for a batch's replies. */
  readonly replyTimeoutMs: number
  readonly seed: number
}

export interface LoadReport {
  requests: number
  batches: number
  /** Failure replies by text. */
  errors: Map<string, number>
  /** Failure replies by server index. */
  errorsByServer: Map<number, number>
}

/** The value of the `seq`-th write to `key`: names the key, padded to `size`. */
export function valueFor(key: string, seq: number, size: number): string {
  const head = `v:${key}:${seq}:`
  return head + 'x'.repeat(Math.max(0, size - head.length))
}

/** A running load; stop() ends it after the batches in flight and returns the report. */
export class Load {
  private stopping = false
  private readonly states = new Map<string, KeyState>()
  private readonly runs: Promise<void>[] = []
  private seq = 0
  readonly report: LoadReport = {
    requests: 0,
    batches: 0,
    errors: new Map(),
    errorsByServer: new Map(),
  }
  /** First problem met by any client (the test fails with it). */
  failure: Error | null = null

  constructor(private readonly o: LoadOptions) {
    for (const ks of o.keys) {
      for (const k of ks) this.states.set(k, { acked: null, maybe: new Set(), ever: new Set() })
    }
  }

  start(): this {
    this.o.keys.forEach((keys, i) => {
      this.runs.push(
        this.client(keys, prng(this.o.seed + i)).catch((e: unknown) => {
          this.failure ??= e instanceof Error ? e : new Error(String(e))
          this.stopping = true
        }),
      )
    })
    return this
  }

  /** Runs until `ms` passed or a client failed. */
  async run(ms: number): Promise<void> {
    const end = Date.now() + ms
    while (Date.now() < end && this.failure === null) await sleep(20)
    if (this.failure !== null) throw this.failure
  }

  async stop(): Promise<LoadReport> {
    this.stopping = true
    await Promise.all(this.runs)
    if (this.failure !== null) throw this.failure
    return this.report
  }

  /** What `key` must hold now on a server that kept its data: every acceptable value (null: absent). */
  expected(key: string): (string | null)[] {
    const st = this.states.get(key)!
    return [st.acked, ...st.maybe]
  }

  private async client(keys: readonly string[], rnd: () => number): Promise<void> {
    const d = this.o.dialect
    const c = await connect(this.o.port)
    try {
      while (!this.stopping) {
        const n = 5 + Math.floor(rnd() * 25)
        const ops: Op[] = []
        for (let i = 0; i < n; i++) {
          const key = keys[Math.floor(rnd() * keys.length)]!
          const set = rnd() < 0.5
          ops.push({
            set,
            key,
            value: set ? valueFor(key, ++this.seq, this.o.sizeOf(key)) : '',
          })
        }
        await c.send(Buffer.concat(ops.map((op) => d.encode(op))))
        const deadline = Date.now() + this.o.replyTimeoutMs
        for (const [i, op] of ops.entries()) {
          let reply: Buffer
          try {
            reply = await c.read((b) => d.replyEnd(b), Math.max(1, deadline - Date.now()))
          } catch (e) {
            throw new Error(
              `reply ${i} of ${n} (${op.set ? 'set' : 'get'} ${op.key}): ${String(e)}`,
            )
          }
          this.check(op, reply)
        }
        // Exactly one reply per request: nothing more may be waiting.
        if (c.buffered().length > 0) {
          throw new Error(`bytes after the last reply of a batch: ${showBytes(c.buffered())}`)
        }
        this.report.batches++
        this.report.requests += n
        await sleep(Math.floor(rnd() * 5))
      }
      const late = await c.drain(100)
      if (late.length > 0) throw new Error(`late bytes after the load: ${showBytes(late)}`)
      if (c.ended) throw new Error('walnut closed a client connection')
    } finally {
      await c.close()
    }
  }

  private check(op: Op, reply: Buffer): void {
    const d = this.o.dialect
    const st = this.states.get(op.key)!
    const server = this.o.serverOf(op.key)
    const r = d.parse(op, reply)
    const what = `${op.set ? 'set' : 'get'} ${op.key} (server ${server})`
    if (r.kind === 'error') {
      if (!d.errors.includes(r.text)) throw new Error(`${what}: unexpected error ${r.text}`)
      if (this.o.untouched.has(server))
        throw new Error(`${what}: ${r.text} from an untouched server`)
      this.report.errors.set(r.text, (this.report.errors.get(r.text) ?? 0) + 1)
      this.report.errorsByServer.set(server, (this.report.errorsByServer.get(server) ?? 0) + 1)
      if (op.set) {
        st.maybe.add(op.value)
        st.ever.add(op.value)
      }
      return
    }
    if (op.set) {
      if (r.kind !== 'ok') throw new Error(`${what}: ${showBytes(reply)}`)
      st.acked = op.value
      st.maybe.clear()
      st.ever.add(op.value)
      return
    }
    if (r.kind !== 'value') throw new Error(`${what}: ${showBytes(reply)}`)
    const v = r.value
    if (v !== null && !v.startsWith(`v:${op.key}:`)) {
      throw new Error(`${what}: a value of another key: ${showBytes(reply)}`)
    }
    if (this.o.lossy.has(server)) {
      if (v !== null && !st.ever.has(v)) throw new Error(`${what}: a value never written`)
      return
    }
    if (v !== st.acked && !(v !== null && st.maybe.has(v))) {
      throw new Error(
        `${what}: got ${v === null ? 'nothing' : v.slice(0, 40)}, acknowledged ${st.acked?.slice(0, 40) ?? 'nothing'} (${st.maybe.size} unacknowledged)`,
      )
    }
  }
}

// ---------------------------------------------------------------------------------------------

/**
 * A TCP relay between walnut and a real backend that breaks on demand:
 * `cutMidReply()` forwards half of the next chunk the backend sends, then
 * closes both sides; `refuse()` closes every connection and stops listening
 * (connects are refused) until `accept()`.
 */
export class Cutter {
  port = 0
  private server: Server
  private readonly pairs = new Set<[Socket, Socket]>()
  private armed = false
  /** Connections cut mid-reply so far. */
  cuts = 0

  private constructor(private readonly target: number) {
    this.server = this.make()
  }

  static async start(target: number): Promise<Cutter> {
    const c = new Cutter(target)
    await c.accept()
    return c
  }

  private make(): Server {
    return createServer((down) => {
      const up = netConnect({ host: '127.0.0.1', port: this.target })
      const pair: [Socket, Socket] = [down, up]
      this.pairs.add(pair)
      const close = () => {
        down.destroy()
        up.destroy()
        this.pairs.delete(pair)
      }
      down.on('error', close)
      up.on('error', close)
      down.on('close', close)
      up.on('close', close)
      down.on('data', (b: Buffer) => up.write(b))
      up.on('data', (b: Buffer) => {
        if (this.armed && b.length >= 2) {
          this.armed = false
          this.cuts++
          down.write(b.subarray(0, b.length >> 1), () => close())
          return
        }
        down.write(b)
      })
    })
  }

  /** The next chunk from the backend (on any connection) is cut in half, then both sides close. */
  cutMidReply(): void {
    this.armed = true
  }

  async refuse(): Promise<void> {
    for (const [a, b] of this.pairs) {
      a.destroy()
      b.destroy()
    }
    this.pairs.clear()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  accept(): Promise<void> {
    this.server = this.server.listening ? this.server : this.make()
    return new Promise((resolve, reject) => {
      this.server.once('error', reject)
      this.server.listen({ host: '127.0.0.1', port: this.port }, () => {
        const a = this.server.address()
        if (a !== null && typeof a === 'object') this.port = a.port
        resolve()
      })
    })
  }

  async close(): Promise<void> {
    if (this.server.listening) await this.refuse()
  }
}

// ---------------------------------------------------------------------------------------------

/** The chaos script of chaos-redis and chaos-memcache, on one pool of three servers. */
export interface ChaosOptions {
  /** walnut's pool port, and its process (for RSS). */
  readonly port: number
  readonly walnutPid: number
  readonly dialect: Dialect
  /** The pool's placement: servers A (0), B (1, never touched) and C (2, behind `cutter`). */
  readonly where: Locator
  /** Client i's keys are `<prefix><i>a…` on A, `…b…` on B, `…c…` on C. */
  readonly prefix: string
  readonly seed: number
  readonly serverA: ServerProc
  readonly cutter: Cutter
  /** Starts A again on its port, empty (the caller stops it at the end). */
  readonly restartA: () => Promise<void>
}

export interface ChaosResult {
  /** Each client's keys. */
  readonly keys: readonly (readonly string[])[]
  /** The stopped load (`expected(key)` for the checks on the backends). */
  readonly load: Load
  readonly report: LoadReport
  /** walnut's RSS after the warm-up, and at the end of the chaos. */
  readonly baseline: number
  readonly peak: number
}

/**
 * Runs the load while A is stopped past the timeout (SIGSTOP) and resumed, C's
 * connections are cut mid-reply three times, C refuses connections and accepts
 * them again, and A is killed (SIGKILL), left dead, then restarted empty.
 * Returns after the load stopped; a client's failure is thrown.
 */
export async function runChaos(o: ChaosOptions): Promise<ChaosResult> {
  const { where, serverA, cutter } = o
  // 6 clients, each with 6 keys on each server; a quarter of the keys have 20 KB values.
  const keys = Array.from({ length: 6 }, (_, i) => [
    ...keysOn(where, 0, 6, `${o.prefix}${i}a`),
    ...keysOn(where, 1, 6, `${o.prefix}${i}b`),
    ...keysOn(where, 2, 6, `${o.prefix}${i}c`),
  ])
  const load = new Load({
    port: o.port,
    dialect: o.dialect,
    keys,
    serverOf: (k) => where(k),
    lossy: new Set([0]),
    untouched: new Set([1]),
    sizeOf: (k) => (k.endsWith('0') || k.endsWith('5') ? 20_000 : 40),
    replyTimeoutMs: 5000,
    seed: o.seed,
  }).start()
  try {
    // Warm up until the heap has grown to its working size, then take the baseline.
    await load.run(2500)
    const baseline = rssOf(o.walnutPid)

    // A stops answering for longer than the timeout, then resumes.
    serverA.kill('SIGSTOP')
    await load.run(900)
    serverA.kill('SIGCONT')
    await load.run(400)

    // C's connections break in the middle of a reply, three times.
    for (let i = 0; i < 3; i++) {
      cutter.cutMidReply()
      await load.run(300)
    }
    // C refuses connections, then accepts them again.
    await cutter.refuse()
    await load.run(500)
    await cutter.accept()
    await load.run(400)

    // A dies, stays dead (refused), and comes back on its port, empty.
    serverA.kill('SIGKILL')
    await serverA.exited
    await load.run(500)
    await o.restartA()
    await load.run(1200)
    const peak = rssOf(o.walnutPid)

    const report = await load.stop()
    return { keys, load, report, baseline, peak }
  } finally {
    await load.stop().catch(() => {})
  }
}

// ---------------------------------------------------------------------------------------------

/** Resident set size of process `pid`, in bytes (VmRSS of /proc/<pid>/status). */
export function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'latin1')
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(status)
  assert.ok(m, `no VmRSS for ${pid}`)
  return Number(m[1]) * 1024
}

/** Waits until `pred(rss)` holds (polling) or `ms` passed; returns the last RSS seen. */
export async function rssSettles(
  pid: number,
  pred: (rss: number) => boolean,
  ms: number,
): Promise<number> {
  const end = Date.now() + ms
  let rss = rssOf(pid)
  while (!pred(rss) && Date.now() < end) {
    await sleep(200)
    rss = rssOf(pid)
  }
  return rss
}

/** The stats document of a walnut (or nutcracker) stats port, parsed. */
export { statsDocument as stats }

/** Counter `name` of `pool` (or of its server `server`) in a stats document. */
export function counter(
  doc: Record<string, unknown>,
  pool: string,
  name: string,
  server?: string,
): number {
  let o = doc[pool] as Record<string, unknown> | undefined
  assert.ok(o !== undefined && typeof o === 'object', `no pool ${pool} in the stats`)
  if (server !== undefined) {
    o = o[server] as Record<string, unknown> | undefined
    assert.ok(o !== undefined && typeof o === 'object', `no server ${server} in pool ${pool}`)
  }
  const v = o[name]
  assert.equal(typeof v, 'number', `${pool} ${server ?? ''} ${name}`)
  return v as number
}

export const MiB = 1024 * 1024

/**
 * Waits until pool `pool` has no client connection and no request queued or
 * awaiting a reply on any server (nothing retained after the load), or fails.
 */
export async function drained(statsPort: number, pool: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms
  let last = ''
  for (;;) {
    const p = (await statsDocument(statsPort))[pool] as Record<string, unknown>
    const busy: string[] = []
    if (p.client_connections !== 0) busy.push(`client_connections ${String(p.client_connections)}`)
    for (const [name, v] of Object.entries(p)) {
      if (typeof v !== 'object' || v === null) continue
      const s = v as Record<string, number>
      for (const k of ['in_queue', 'in_queue_bytes', 'out_queue', 'out_queue_bytes']) {
        if (s[k] !== 0) busy.push(`${name} ${k} ${s[k]}`)
      }
    }
    if (busy.length === 0) return
    last = busy.join(', ')
    if (Date.now() > end) assert.fail(`pool ${pool} still holds: ${last}`)
    await sleep(100)
  }
}
