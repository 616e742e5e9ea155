/**
 * A toy line protocol for the core tests (test/core): just enough of a
 * Protocol (src/proto/types.ts) to drive every ClientApi / ServerApi path of
 * the core without redis or memcache.
 *
 * Requests, one per `\n`-terminated line `<cmd> <key> [args]`:
 *   get / set <key> ...   forwarded verbatim to api.serverFor(key)
 *   nset <key> ...        forwarded verbatim with F_NOREPLY (the backend answers nothing)
 *   uget <key>            forwarded with a ReplyHook that upper-cases the reply
 *   rget <key>            re-encoded as `get <key>\n` and sent with forwardBytes
 *   fail <key>            forwarded; the backend's `-...` reply is flagged F_FAILURE
 *   boom                  the session throws (a bug the core must contain)
 *   mget k1 k2 ...        split: one fragment `mget <its keys>\n` per server, in
 *                         server order; merged as `VALUES k1=v1 k2=v2 ...\n` in key
 *                         order, or `ERR <reason>\n` (the first failed fragment's)
 *   ping                  `PONG\n`, answered by the proxy
 *   quit                  `BYE\n`, then close (clean)
 *   bad                   `ERR protocol\n`, then close (error)
 *   anything else         `ERR unknown command\n`
 * Replies are single lines. A reply line starting with `#` is not a reply:
 * the server session calls api.fail('Invalid argument'). errorReply(reason) is
 * `ERR <reason>\n`. With `handshake: true` every new server connection first
 * sends `hello\n`, whose reply must be swallowed.
 *
 * `events` records what the hooks saw (fragment errors, handshake replies) so
 * tests can assert on them.
 */

import type { PoolConfig } from '../../src/config/types.js'
import { InputStream, type PieceSink } from '../../src/proto/stream.js'
import {
  type ClientApi,
  type ClientSession,
  F_FAILURE,
  F_NOREPLY,
  type HandshakeStep,
  type Protocol,
  type ReplyFrame,
  type ReplyHook,
  type ServerApi,
  type ServerSession,
  type SplitHook,
} from '../../src/proto/types.js'

const LF = 10
const SP = 32
const HASH = 35
const MINUS = 45

const PONG = Buffer.from('PONG\n', 'latin1')
const BYE = Buffer.from('BYE\n', 'latin1')
const ERR_PROTOCOL = Buffer.from('ERR protocol\n', 'latin1')
const ERR_UNKNOWN_COMMAND = Buffer.from('ERR unknown command\n', 'latin1')
const ERR_NO_KEY = Buffer.from('ERR no key\n', 'latin1')
const LF_BUF = Buffer.from('\n', 'latin1')

export interface ToyOptions {
  /** Send `hello\n` first on every server connection. */
  readonly handshake?: boolean
}

export class ToyProtocol implements Protocol {
  readonly name = 'memcache' as const
  /** What hooks saw: `fragmentError <i> <reason>`, `handshake <reply>`. */
  readonly events: string[] = []
  private readonly steps: readonly HandshakeStep[]

  constructor(options: ToyOptions = {}) {
    this.steps = options.handshake
      ? [
          {
            bytes: Buffer.from('hello\n', 'latin1'),
            check: (frame: ReplyFrame) => {
              this.events.push(`handshake ${text(frame)}`)
              return null
            },
          },
        ]
      : []
  }

  newClientSession(api: ClientApi): ClientSession {
    return new ToyClientSession(api, this)
  }

  newServerSession(api: ServerApi): ServerSession {
    return new ToyServerSession(api)
  }

  handshake(_unixSocket: boolean): readonly HandshakeStep[] {
    return this.steps
  }

  errorReply(reason: string): Buffer {
    return Buffer.from(`ERR ${reason}\n`, 'latin1')
  }
}

/** A factory for ProxyOptions.protocolFor that always returns `proto`. */
export function toyFactory(proto: ToyProtocol): (pool: PoolConfig) => ToyProtocol {
  return () => proto
}

/** The reply line of a frame, without its `\n`. */
function text(frame: ReplyFrame): string {
  return frame.stream.view(frame.start, frame.end - 1).toString('latin1')
}

/** Scans `chunk` (just pushed onto `stream`) for lines; calls `onLine(start, end)` per line (end after `\n`). */
class LineScanner {
  readonly stream = new InputStream()
  /** Absolute offset where the current line starts. */
  lineStart = 0

  push(chunk: Buffer, onLine: (start: number, end: number) => boolean): void {
    const s = this.stream
    s.push(chunk)
    // Earlier chunks were scanned already: only the new chunk can hold a `\n`.
    const base = s.end - chunk.length
    for (let i = 0; i < chunk.length; i++) {
      if (chunk[i] !== LF) continue
      const end = base + i + 1
      const start = this.lineStart
      this.lineStart = end
      const go = onLine(start, end)
      s.release(end)
      if (!go) return
    }
  }
}

class ToyClientSession implements ClientSession {
  private readonly lines = new LineScanner()

  constructor(
    private readonly api: ClientApi,
    private readonly proto: ToyProtocol,
  ) {}

  get pending(): number {
    return this.lines.stream.end - this.lines.lineStart
  }

  feed(chunk: Buffer): void {
    this.lines.push(chunk, this.onLine)
  }

  private readonly onLine = (start: number, end: number): boolean => {
    const api = this.api
    const stream = this.lines.stream
    const line = stream.view(start, end - 1)
    if (line.length === 0) return true
    let sp = line.indexOf(SP)
    if (sp < 0) sp = line.length
    const cmd = line.toString('latin1', 0, sp)
    const ks = Math.min(sp + 1, line.length)
    let ke = line.indexOf(SP, ks)
    if (ke < 0) ke = line.length
    switch (cmd) {
      case 'ping':
        api.reply(PONG)
        return true
      case 'quit':
        api.close(BYE, true)
        return false
      case 'bad':
        api.close(ERR_PROTOCOL, false)
        return false
      case 'boom':
        // A session bug, for the core's containment of exceptions.
        throw new Error('toy session bug')
      case 'get':
      case 'set':
      case 'fail':
      case 'nset':
      case 'uget': {
        if (ke === ks) {
          api.reply(ERR_NO_KEY)
          return true
        }
        const server = api.serverFor(line, ks, ke)
        const flags = cmd === 'nset' ? F_NOREPLY : 0
        api.forward(server, stream, start, end, flags, cmd === 'uget' ? UPPER : null)
        return true
      }
      case 'rget': {
        if (ke === ks) {
          api.reply(ERR_NO_KEY)
          return true
        }
        const server = api.serverFor(line, ks, ke)
        const bytes = Buffer.concat([Buffer.from('get ', 'latin1'), line.subarray(ks, ke), LF_BUF])
        api.forwardBytes(server, bytes, 0, null)
        return true
      }
      case 'mget': {
        const keys = line
          .toString('latin1', ks)
          .split(' ')
          .filter((k) => k.length > 0)
        if (keys.length === 0) {
          api.reply(ERR_NO_KEY)
          return true
        }
        // One fragment per server, in server order.
        const byServer = new Map<number, string[]>()
        for (const k of keys) {
          const kb = Buffer.from(k, 'latin1')
          const s = api.serverFor(kb, 0, kb.length)
          const list = byServer.get(s)
          if (list === undefined) byServer.set(s, [k])
          else list.push(k)
        }
        const servers = [...byServer.keys()].sort((a, b) => a - b)
        api.beginSplit(new MergeHook(keys, this.proto))
        for (const s of servers) {
          const keysOf = byServer.get(s)!
          const first = Buffer.from(keysOf[0]!, 'latin1')
          api.fragment(
            s,
            Buffer.from(`mget ${keysOf.join(' ')}\n`, 'latin1'),
            first,
            0,
            first.length,
          )
        }
        api.endSplit()
        return true
      }
      default:
        api.reply(ERR_UNKNOWN_COMMAND)
        return true
    }
  }
}

/** Replaces a reply by its upper-case copy. */
const UPPER: ReplyHook = {
  reply(frame: ReplyFrame, out: PieceSink): void {
    const b = Buffer.from(`${text(frame).toUpperCase()}\n`, 'latin1')
    out.piece(b, 0, b.length)
  },
}

/** Merges `k=v` fragment replies in the request's key order. */
class MergeHook implements SplitHook {
  private readonly values = new Map<string, string>()
  private error: string | null = null

  constructor(
    private readonly keys: string[],
    private readonly proto: ToyProtocol,
  ) {}

  fragmentReply(_i: number, frame: ReplyFrame): void {
    for (const kv of text(frame).split(' ')) {
      const eq = kv.indexOf('=')
      if (eq > 0) this.values.set(kv.slice(0, eq), kv.slice(eq + 1))
    }
  }

  fragmentError(i: number, reason: string): void {
    this.proto.events.push(`fragmentError ${i} ${reason}`)
    this.error ??= reason
  }

  finish(out: PieceSink): void {
    const b =
      this.error !== null
        ? Buffer.from(`ERR ${this.error}\n`, 'latin1')
        : Buffer.from(
            `VALUES ${this.keys.map((k) => `${k}=${this.values.get(k) ?? '?'}`).join(' ')}\n`,
            'latin1',
          )
    out.piece(b, 0, b.length)
  }
}

/** Frames reply lines; is its own (reused) ReplyFrame. */
class ToyServerSession implements ServerSession, ReplyFrame {
  private readonly lines = new LineScanner()
  start = 0
  end = 0
  kind = 0
  readonly count = 0

  constructor(private readonly api: ServerApi) {}

  get stream(): InputStream {
    return this.lines.stream
  }

  elemStart(_i: number): number {
    return this.start
  }

  elemEnd(_i: number): number {
    return this.end
  }

  feed(chunk: Buffer): void {
    this.lines.push(chunk, this.onLine)
  }

  private readonly onLine = (start: number, end: number): boolean => {
    const first = this.lines.stream.byteAt(start)
    if (first === HASH) {
      this.api.fail('Invalid argument')
      return false
    }
    this.start = start
    this.end = end
    this.kind = first
    this.api.reply(this, first === MINUS ? F_FAILURE : 0)
    return true
  }
}
