/**
 * memcache client and server sessions: what walnut does with each parsed
 * request and reply (../shared/spec/memcache.md §3-§4, deviations M1-M7).
 *
 * Client side, per request:
 *  - one key (get/gets with one key, storage, cas, delete, incr, decr, touch):
 *    the original bytes go to the key's server;
 *  - `version`: to the server of the literal key `placeholder` (nutcracker);
 *  - `quit`: not forwarded; earlier replies are flushed, then close;
 *  - get/gets with 2+ keys: split into one `get k1 k2 \r\n` per server that
 *    owns keys, in server-index order, and merged back by GetMerge (M5-M7);
 *  - REJECT: the parser's error reply (none for noreply), connection kept;
 *  - FATAL: the error reply after every earlier reply, then close.
 *
 * Server side: frames replies and hands each to the core; a line that is not a
 * memcached reply fails the server connection with `Invalid argument`, the
 * text nutcracker gives the client in that case.
 */

import { InputStream, type PieceSink } from '../stream.js'
import {
  type ClientApi,
  type ClientSession,
  F_NOREPLY,
  type ReplyFrame,
  type ServerApi,
  type ServerSession,
  type SplitHook,
} from '../types.js'
import { CMD_CAS, CMD_GET, CMD_GETS, CMD_QUIT, CMD_VERSION } from './commands.js'
import {
  MC_CLIENT_ERROR,
  MC_END,
  MC_ERROR,
  MC_SERVER_ERROR,
  MC_VALUE,
  type MemcacheReplyFrame,
  ReplyParser,
  RP_ERROR,
  RP_FRAME,
} from './reply-parser.js'
import {
  E_FORMAT,
  E_LINE_TOO_LONG,
  E_TOO_LARGE,
  FATAL,
  REJECT,
  REJECT_REPLIES,
  REQUEST,
  RequestParser,
  type RequestParserOptions,
} from './request-parser.js'

const PLACEHOLDER = Buffer.from('placeholder', 'latin1')
const GET = Buffer.from('get', 'latin1')
const GETS = Buffer.from('gets', 'latin1')
const END = Buffer.from('END\r\n', 'latin1')
const SERVER_ERROR = Buffer.from('SERVER_ERROR ', 'latin1')
const SP = 0x20
const CR = 0x0d
const LF = 0x0a
const MINUS = 0x2d
const ZERO = 0x30
/**
 * memcached closes a connection when more than 2048 bytes of a command line have
 * arrived without its LF, unless the line starts with `get `/`gets ` (after at most
 * 100 spaces). A line forwarded as the client sent it (only a multi-key get is
 * rebuilt, as `get k1 k2 ...`) must therefore fit in 2048 bytes, or a client padding
 * it with spaces or zeros would close the server connection under every client.
 */
const MEMCACHED_LINE_MAX = 2048

function isRetrieval(kind: number): boolean {
  return kind === CMD_GET || kind === CMD_GETS
}

/** Bounds of memcached's numbers, as decimal digits: uint64 max, int64 max, |int64 min|. */
const U64_MAX = Buffer.from('18446744073709551615', 'latin1')
const I64_MAX = Buffer.from('9223372036854775807', 'latin1')
const I64_MIN_ABS = Buffer.from('9223372036854775808', 'latin1')

/** True when the digits `buf[s..e)` (leading zeros allowed) are a number above `max`. */
function beyond(buf: Uint8Array, s: number, e: number, max: Buffer): boolean {
  while (s < e - 1 && buf[s] === ZERO) s++
  const n = e - s
  if (n !== max.length) return n > max.length
  for (let k = 0; k < n; k++) {
    const d = buf[s + k]! - max[k]!
    if (d !== 0) return d > 0
  }
  return false
}

/** `SERVER_ERROR <reason>\r\n`: the one reply walnut makes up for a failed request. */
export function serverError(reason: string): Buffer {
  return Buffer.from(`SERVER_ERROR ${reason}\r\n`, 'latin1')
}

/** nutcracker's text when a server answers something it cannot use. */
const INVALID_ARGUMENT = 'Invalid argument'

export class MemcacheClientSession implements ClientSession {
  private readonly stream = new InputStream()
  private readonly parser: RequestParser
  private readonly api: ClientApi
  /** After quit or FATAL: input is ignored. */
  private done = false

  // Reused scratch for splitting multi-gets, indexed by key or by server.
  private keyNext = new Int32Array(16)
  private serverHead = new Int32Array(8)
  private serverTail = new Int32Array(8)
  private serverBytes = new Float64Array(8)
  private touched = new Int32Array(8)

  constructor(api: ClientApi, options: RequestParserOptions = {}, servers = 0) {
    this.api = api
    this.parser = new RequestParser(this.stream, options)
    if (servers + 1 > this.serverHead.length) this.growServers(servers + 1)
    this.serverHead.fill(-1)
  }

  get pending(): number {
    return this.done ? 0 : this.stream.end - this.parser.consumed
  }

  feed(chunk: Buffer): void {
    if (this.done) return
    const stream = this.stream
    const p = this.parser
    stream.push(chunk)
    for (;;) {
      const st = p.next()
      if (st === REQUEST) {
        this.request(p)
        if (this.done) return
        stream.release(p.end)
      } else if (st === REJECT) {
        if (p.error === E_TOO_LARGE) this.api.requestTooLarge?.()
        // memcached sends nothing back for a noreply request, errors included.
        if (!p.noreply) this.api.reply(p.rejectReply)
        stream.release(p.lineEnd)
      } else if (st === FATAL) {
        this.done = true
        if (p.error === E_LINE_TOO_LONG) this.api.requestTooLarge?.()
        this.api.close(p.rejectReply, false)
        return
      } else {
        stream.releaseTail(p.consumed)
        return
      }
    }
  }

  private request(p: RequestParser): void {
    const api = this.api
    const stream = this.stream
    if (
      (p.lineEnd - p.start > MEMCACHED_LINE_MAX && !(p.nkeys > 1 && isRetrieval(p.kind))) ||
      p.keyLfNul ||
      (p.dataStart >= 0 && p.longNumber && this.numbersTooLarge(p))
    ) {
      // Refused as a bad command line (M2): memcached would frame it differently, or
      // drop the connection all clients share (docs/failures.md).
      if (!p.noreply) api.reply(REJECT_REPLIES[E_FORMAT]!)
      return
    }
    switch (p.kind) {
      case CMD_QUIT:
        // Not forwarded; the core flushes earlier replies, then closes (client_eof).
        this.done = true
        api.close(null, true)
        return
      case CMD_VERSION:
        // nutcracker: routed as if its key were `placeholder`.
        api.forward(
          api.serverFor(PLACEHOLDER, 0, PLACEHOLDER.length),
          stream,
          p.start,
          p.end,
          0,
          null,
        )
        return
      case CMD_GET:
      case CMD_GETS:
        if (p.nkeys > 1) {
          this.split(p)
          return
        }
        break
    }
    const buf = stream.resolve(p.keyStart(0), p.keyEnd(0))
    // Offsets inside a chunk are small; `| 0` hands the hash integers, not doubles
    // (the parser keeps absolute offsets in a Float64Array).
    const server = api.serverFor(buf, stream.rs | 0, stream.re | 0)
    api.forward(server, stream, p.start, p.end, p.noreply ? F_NOREPLY : 0, null)
  }

  // A key holding LF or NUL (the parser's `keyLfNul`) is refused: memcached ends a
  // command line at LF and reads it as a C string (a NUL ends it), so it would see
  // other commands than walnut does, and answer a different number of them: on a
  // server connection shared by many clients, those replies would then be matched
  // with other clients' requests (request smuggling). nutcracker forwards such keys
  // (spec §2); walnut refuses them (docs/failures.md).

  /**
   * True when a storage command's flags or cas unique exceeds 2^64-1, or its
   * exptime lies outside -2^63..2^63-1. memcached (1.6) refuses such a line
   * with CLIENT_ERROR and then, not knowing it belongs to the line, reads the
   * data block as commands of its own: more replies than requests, matched
   * with other clients' requests. nutcracker forwards them (spec §2: digits,
   * no range check); walnut answers CLIENT_ERROR itself (docs/failures.md).
   * Only called when the parser saw a number of 19 digits or more (`longNumber`).
   */
  private numbersTooLarge(p: RequestParser): boolean {
    const stream = this.stream
    const buf = stream.resolve(p.keyEnd(0), p.lineEnd)
    const end = stream.re
    // Tokens after the key: flags, exptime, bytes, [cas unique], [noreply].
    let tok = 0
    let i = stream.rs
    while (i < end) {
      const c = buf[i]!
      if (c === SP || c === CR || c === LF) {
        i++
        continue
      }
      let e = i
      while (e < end && buf[e] !== SP && buf[e] !== CR) e++
      if (tok === 0 || tok === 3) {
        if (tok === 0 || p.kind === CMD_CAS) {
          if (beyond(buf, i, e, U64_MAX)) return true
        }
      } else if (tok === 1) {
        if (buf[i] === MINUS ? beyond(buf, i + 1, e, I64_MIN_ABS) : beyond(buf, i, e, I64_MAX)) {
          return true
        }
      }
      tok++
      i = e
    }
    return false
  }

  /**
   * nutcracker's multi-get split (spec §4): one sub-request per server owning
   * keys, `get k1 k2 \r\n` with the keys in request order, duplicates kept,
   * one space between, a trailing space before CRLF; in server-index order.
   */
  private split(p: RequestParser): void {
    const api = this.api
    const stream = this.stream
    const n = p.nkeys
    if (this.keyNext.length < n) this.keyNext = new Int32Array(Math.max(n, this.keyNext.length * 2))
    const keyNext = this.keyNext
    // Per-server lists are indexed by server + 1: serverFor answers -1 when
    // every server is ejected, and the core fails such a fragment itself.
    let ntouched = 0
    for (let j = 0; j < n; j++) {
      const start = p.keyStart(j)
      const end = p.keyEnd(j)
      const buf = stream.resolve(start, end)
      const s = api.serverFor(buf, stream.rs | 0, stream.re | 0)
      const slot = s + 1
      if (slot >= this.serverHead.length) this.growServers(slot + 1)
      keyNext[j] = -1
      if (this.serverHead[slot] === -1) {
        this.serverHead[slot] = j
        this.serverBytes[slot] = 0
        if (ntouched === this.touched.length) this.growTouched()
        this.touched[ntouched++] = s
      } else {
        keyNext[this.serverTail[slot]!] = j
      }
      this.serverTail[slot] = j
      this.serverBytes[slot] = this.serverBytes[slot]! + 1 + (end - start)
    }
    // Server-index order; few servers per request, so insertion sort.
    const touched = this.touched
    for (let a = 1; a < ntouched; a++) {
      const v = touched[a]!
      let k = a - 1
      while (k >= 0 && touched[k]! > v) {
        touched[k + 1] = touched[k]!
        k--
      }
      touched[k + 1] = v
    }
    const verb = p.kind === CMD_GETS ? GETS : GET
    const verbLen = verb.length
    const merge = new GetMerge(n, ntouched, verbLen)
    const slots = merge.slots
    api.beginSplit(merge)
    for (let f = 0; f < ntouched; f++) {
      const s = touched[f]!
      const slot = s + 1
      const bytes = Buffer.allocUnsafe(verbLen + this.serverBytes[slot]! + 3)
      for (let k = 0; k < verbLen; k++) bytes[k] = verb[k]!
      let at = verbLen
      let firstLen = 0
      for (let j = this.serverHead[slot]!; j !== -1; j = keyNext[j]!) {
        bytes[at++] = SP
        const kb = stream.resolve(p.keyStart(j), p.keyEnd(j))
        // Offsets inside a chunk are small: `| 0` keeps the loop on integer indices.
        const ks = stream.rs | 0
        const ke = stream.re | 0
        if (at === verbLen + 1) firstLen = ke - ks
        // Keys are short (250 bytes at most): a byte loop beats Buffer#copy's view.
        for (let k = ks; k < ke; k++) bytes[at++] = kb[k]!
        slots[3 * j] = f
        slots[3 * j + 1] = -1
      }
      // nutcracker: a trailing space before CRLF.
      bytes[at++] = SP
      bytes[at++] = CR
      bytes[at] = LF
      merge.reqs[f] = bytes
      this.serverHead[slot] = -1
      // The fragment's first key picks its server connection (ClientApi.fragment);
      // it sits right after the verb and its space.
      api.fragment(s, bytes, bytes, verbLen + 1, verbLen + 1 + firstLen)
    }
    api.endSplit()
  }

  private growServers(size: number): void {
    const head = new Int32Array(size).fill(-1)
    head.set(this.serverHead)
    this.serverHead = head
    const tail = new Int32Array(size)
    tail.set(this.serverTail)
    this.serverTail = tail
    const bytes = new Float64Array(size)
    bytes.set(this.serverBytes)
    this.serverBytes = bytes
  }

  private growTouched(): void {
    const t = new Int32Array(this.touched.length * 2)
    t.set(this.touched)
    this.touched = t
  }
}

/**
 * Merges the replies to a multi-get's fragments into one `VALUE ... END`
 * reply, built from the buffer holding each fragment's reply (values are not copied
 * unless a reply spans socket chunks).
 *
 * M5: items come out in request order. For each requested key, in order, the
 * next unused item of its fragment's reply is taken if that item's key equals
 * the requested key (memcached answers in request order, skipping misses, and
 * repeats duplicates), so misses leave no hole and duplicates appear as often
 * as requested and found. Items a server sent out of order are dropped.
 * M6: a fragment that fails at connection level → `SERVER_ERROR <reason>\r\n`
 * for the whole request; M7: a fragment answered with an error line →
 * `SERVER_ERROR <the server's line>` (see docs/memcache.md). Either way the
 * client connection stays usable; with several failures the lowest fragment
 * index wins (deterministic).
 *
 * Per request it holds two small arrays and the hook itself, nothing per key:
 * the requested keys are read back from the fragments' request bytes.
 */
export class GetMerge implements SplitHook {
  /**
   * Per requested key j (request order), filled by the session: `3j` its
   * fragment; then `3j+1`, `3j+2` its item's bounds in `reps[fragment]`, or -1
   * at `3j+1` while it has none.
   */
  readonly slots: number[]
  /** Per fragment: its request bytes (`get k1 k2 \r\n`, set by the session), and its reply. */
  readonly reqs: Buffer[]
  private readonly reps: Buffer[]
  /** Length of the verb (`get`, `gets`) that starts every fragment's request. */
  private readonly verbLen: number
  private failedFrag = -1
  private failure: Buffer | null = null

  constructor(nkeys: number, nfrags: number, verbLen: number) {
    this.slots = new Array<number>(3 * nkeys)
    this.reqs = new Array<Buffer>(nfrags)
    this.reps = new Array<Buffer>(nfrags)
    this.verbLen = verbLen
  }

  fragmentReply(i: number, frame: ReplyFrame): void {
    const kind = frame.kind
    if (kind === MC_VALUE) {
      // Our server sessions hand over ReplyParser frames, which carry key bounds.
      this.match(i, frame as MemcacheReplyFrame)
    } else if (kind === MC_END) {
      // No item: every key of this fragment stays missing.
    } else if (kind === MC_SERVER_ERROR || kind === MC_CLIENT_ERROR || kind === MC_ERROR) {
      if (this.first(i)) this.fail(i, errorLine(frame))
    } else if (this.first(i)) {
      // A well-formed reply that no get can have (STORED, a number, ...).
      this.fail(i, serverError(INVALID_ARGUMENT))
    }
  }

  fragmentError(i: number, reason: string): void {
    if (this.first(i)) this.fail(i, serverError(reason))
  }

  finish(out: PieceSink): void {
    const failure = this.failure
    if (failure !== null) {
      out.piece(failure, 0, failure.length)
      return
    }
    const slots = this.slots
    const reps = this.reps
    for (let k = 0; k < slots.length; k += 3) {
      const s = slots[k + 1]!
      if (s >= 0) out.piece(reps[slots[k]!]!, s, slots[k + 2]!)
    }
    out.piece(END, 0, END.length)
  }

  private match(f: number, frame: MemcacheReplyFrame): void {
    const count = frame.count
    // The whole reply in one buffer: its chunk, or a copy if it spans chunks.
    const stream = frame.stream
    const rep = stream.hold(frame.start, frame.end)
    // Item offsets in `rep` are the stream's less `base`.
    const base = frame.start - stream.rs
    this.reps[f] = rep
    const req = this.reqs[f]!
    const slots = this.slots
    // Walks this fragment's keys in the request bytes: `<verb> k1 k2 ... \r\n`.
    let at = this.verbLen
    let item = 0
    for (let k = 0; k < slots.length && item < count; k += 3) {
      if (slots[k] !== f) continue
      // The requested key is req[ks..) up to a space: compare it with the item's key.
      const ks = at + 1
      // Offsets inside one reply are small: `| 0` keeps the loop on integer indices.
      const rs = (frame.keyStart(item) - base) | 0
      const len = (frame.keyEnd(item) - base - rs) | 0
      let d = 0
      while (d < len && rep[rs + d] === req[ks + d]) d++
      if (d !== len || req[ks + len] !== SP) {
        // Missing at the server: skip the requested key.
        let ke = ks + d
        while (req[ke] !== SP) ke++
        at = ke
        continue
      }
      at = ks + len
      slots[k + 1] = frame.elemStart(item) - base
      slots[k + 2] = frame.elemEnd(item) - base
      item++
    }
  }

  /** True when fragment `i` would be the failure reported: only the first one is built. */
  private first(i: number): boolean {
    return this.failedFrag === -1 || i < this.failedFrag
  }

  private fail(i: number, reply: Buffer): void {
    this.failedFrag = i
    this.failure = reply
  }
}

/**
 * M7: the client's reply for a fragment answered with an error line. A
 * `SERVER_ERROR ...` line is passed on as is; `CLIENT_ERROR ...` and
 * `ERROR ...` become `SERVER_ERROR ` + the server's whole line, so
 * `ERROR\r\n` → `SERVER_ERROR ERROR\r\n`.
 */
function errorLine(frame: ReplyFrame): Buffer {
  const line = Buffer.allocUnsafe(frame.end - frame.start)
  frame.stream.copyOut(frame.start, frame.end, line, 0)
  if (frame.kind === MC_SERVER_ERROR) return line
  return Buffer.concat([SERVER_ERROR, line])
}

export class MemcacheServerSession implements ServerSession {
  private readonly stream = new InputStream()
  private readonly parser: ReplyParser
  private readonly api: ServerApi
  private failed = false

  constructor(api: ServerApi) {
    this.api = api
    this.parser = new ReplyParser(this.stream)
  }

  feed(chunk: Buffer): void {
    if (this.failed) return
    const stream = this.stream
    const p = this.parser
    stream.push(chunk)
    for (;;) {
      const st = p.next()
      if (st === RP_FRAME) {
        // memcached's own error lines are plain replies: no failure flag.
        this.api.reply(p, 0)
        stream.release(p.end)
      } else if (st === RP_ERROR) {
        this.failed = true
        this.api.fail(INVALID_ARGUMENT)
        return
      } else {
        stream.release(p.consumed)
        return
      }
    }
  }
}
