/**
 * Fuzz drivers: each runs one of the four streaming parsers over an input cut
 * into chunks, exactly as its session drives it (push, next() until it needs
 * more, release what the session releases), checks the invariants every
 * result must keep, and returns a log of what it found. The fuzz tests then
 * require the same log for every chunking of the same bytes.
 *
 * Invariants: nothing throws; every call makes progress (a frame consumes
 * bytes, so a loop of next() ends: no hang); a frame lies inside the bytes
 * received and its bytes, read back from the stream, are the input's bytes at
 * those offsets (a wrong length can neither read past the end nor read chunks
 * already released); every argument, key, element and data block lies inside
 * its frame; after an error the parser stays dead.
 */

import assert from 'node:assert/strict'
import * as mcReply from '../../src/proto/memcache/reply-parser.js'
import * as mcReq from '../../src/proto/memcache/request-parser.js'
import * as redisReply from '../../src/proto/redis/reply-parser.js'
import * as redisReq from '../../src/proto/redis/request-parser.js'
import { InputStream } from '../../src/proto/stream.js'

export type Driver = (input: Buffer, chunks: readonly Buffer[]) => string[]

/** Cuts `input` at `cuts` (any numbers; taken modulo the length, sorted, deduplicated). */
export function cut(input: Buffer, cuts: readonly number[]): Buffer[] {
  if (input.length === 0) return []
  const at = [...new Set(cuts.map((c) => c % input.length).filter((c) => c > 0))].sort(
    (a, b) => a - b,
  )
  const out: Buffer[] = []
  let from = 0
  for (const c of [...at, input.length]) {
    // A copy per chunk: a parser cannot see past its chunk's end.
    out.push(Buffer.from(input.subarray(from, c)))
    from = c
  }
  return out
}

/** Every byte in its own chunk. */
export function bytewise(input: Buffer): Buffer[] {
  return Array.from(input, (_, i) => Buffer.from(input.subarray(i, i + 1)))
}

const hex = (b: Buffer) => b.toString('hex')

/** The stream's bytes at [s, e) must be the input's. */
function sameBytes(stream: InputStream, input: Buffer, s: number, e: number, what: string): void {
  assert.ok(s >= 0 && s <= e && e <= stream.end, `${what}: [${s}, ${e}) outside 0..${stream.end}`)
  assert.ok(
    s >= stream.start,
    `${what}: starts at ${s}, before the oldest byte kept (${stream.start})`,
  )
  const got = stream.view(s, e)
  assert.ok(
    got.equals(input.subarray(s, e)),
    `${what}: bytes at [${s}, ${e}) differ from the input`,
  )
}

/** Redis requests, as RedisClientSession drives the parser. */
export function redisRequests(maxRequestSize: number): Driver {
  return (input, chunks) => {
    const stream = new InputStream()
    const p = new redisReq.RequestParser(stream, maxRequestSize)
    const log: string[] = []
    let last = 0
    for (const chunk of chunks) {
      stream.push(chunk)
      for (let guard = 0; ; guard++) {
        assert.ok(guard <= input.length + 1, 'next() keeps returning frames without progress')
        const r = p.next()
        if (r === redisReq.NEED_MORE) break
        if (r === redisReq.ERROR) {
          log.push(`error ${p.error} at ${p.errorOffset}`)
          assert.equal(p.next(), redisReq.ERROR, 'an error is sticky')
          return log
        }
        assert.equal(r, redisReq.FRAME)
        assert.ok(p.start >= last && p.end > p.start, `frame [${p.start}, ${p.end}) after ${last}`)
        sameBytes(stream, input, p.start, p.end, 'request')
        // Inline lines are bounded by INLINE_MAX here; the session applies max_request_size to them.
        const cap = p.inline ? redisReq.INLINE_MAX + 2 : maxRequestSize
        assert.ok(p.end - p.start <= cap, `a request of ${p.end - p.start} bytes, over ${cap}`)
        const args: string[] = []
        for (let i = 0; i < p.argc; i++) {
          if (!p.inline) {
            assert.ok(p.argStart(i) >= p.start && p.argEnd(i) <= p.end, `argument ${i} outside`)
            sameBytes(stream, input, p.argStart(i), p.argEnd(i), `argument ${i}`)
          }
          const buf = p.arg(i)
          args.push(hex(buf.subarray(p.rs, p.re)))
        }
        log.push(`frame ${p.start}-${p.end} ${p.inline ? 'inline' : 'multibulk'} ${args.join(' ')}`)
        last = p.end
      }
      stream.release(p.mark)
    }
    log.push(`pending from ${p.mark}`)
    return log
  }
}

/** memcache requests, as MemcacheClientSession drives the parser. */
export function memcacheRequests(maxRequestSize: number): Driver {
  return (input, chunks) => {
    const stream = new InputStream()
    const p = new mcReq.RequestParser(stream, { maxRequestSize })
    const log: string[] = []
    let last = 0
    for (const chunk of chunks) {
      stream.push(chunk)
      for (let guard = 0; ; guard++) {
        assert.ok(guard <= input.length + 1, 'next() keeps returning without progress')
        const r = p.next()
        if (r === mcReq.NEED_MORE) {
          stream.release(p.consumed)
          break
        }
        if (r === mcReq.FATAL) {
          log.push(`fatal ${p.error} at ${p.errorAt}`)
          assert.equal(p.next(), mcReq.FATAL, 'FATAL is sticky')
          return log
        }
        if (r === mcReq.REJECT) {
          assert.ok(p.lineEnd > last && p.lineEnd <= stream.end, `reject line end ${p.lineEnd}`)
          log.push(`reject ${p.error} at ${p.errorAt} line ${p.lineEnd} noreply ${p.noreply}`)
          last = p.lineEnd
          stream.release(p.lineEnd)
          continue
        }
        assert.equal(r, mcReq.REQUEST)
        assert.ok(
          p.start >= last && p.end > p.start,
          `request [${p.start}, ${p.end}) after ${last}`,
        )
        sameBytes(stream, input, p.start, p.end, 'request')
        assert.ok(p.lineEnd > p.start && p.lineEnd <= p.end, 'line end outside the request')
        assert.ok(p.end - p.start <= maxRequestSize, 'a request over max_request_size')
        const keys: string[] = []
        for (let i = 0; i < p.nkeys; i++) {
          assert.ok(p.keyStart(i) > p.start && p.keyEnd(i) < p.lineEnd, `key ${i} outside its line`)
          assert.ok(p.keyEnd(i) - p.keyStart(i) <= mcReq.MAX_KEY_LENGTH, `key ${i} too long`)
          sameBytes(stream, input, p.keyStart(i), p.keyEnd(i), `key ${i}`)
          keys.push(hex(input.subarray(p.keyStart(i), p.keyEnd(i))))
        }
        if (p.dataStart >= 0) {
          assert.ok(p.dataStart === p.lineEnd && p.dataEnd + 2 === p.end, 'data block bounds')
        }
        log.push(
          `request ${p.kind} ${p.start}-${p.end} line ${p.lineEnd} data ${p.dataStart}-${p.dataEnd} noreply ${p.noreply} long ${p.longNumber} lfnul ${p.keyLfNul} ${keys.join(' ')}`,
        )
        last = p.end
        stream.release(p.end)
      }
    }
    return log
  }
}

/** Redis replies, as RedisServerSession drives the parser. */
export const redisReplies: Driver = (input, chunks) => {
  const stream = new InputStream()
  const p = new redisReply.ReplyParser(stream)
  const log: string[] = []
  let last = 0
  for (const chunk of chunks) {
    stream.push(chunk)
    for (let guard = 0; ; guard++) {
      assert.ok(guard <= input.length + 1, 'next() keeps returning frames without progress')
      const r = p.next()
      if (r === redisReply.NEED_MORE) break
      if (r === redisReply.ERROR) {
        log.push(`error ${p.error} at ${p.errorOffset}`)
        assert.equal(p.next(), redisReply.ERROR, 'an error is sticky')
        return log
      }
      assert.equal(r, redisReply.FRAME)
      assert.ok(p.start === last && p.end > p.start, `reply [${p.start}, ${p.end}) after ${last}`)
      sameBytes(stream, input, p.start, p.end, 'reply')
      assert.equal(p.kind, input[p.start], 'kind is the type byte')
      const elems: string[] = []
      for (let i = 0; i < p.count; i++) {
        assert.ok(p.elemStart(i) > p.start && p.elemEnd(i) <= p.end, `element ${i} outside`)
        elems.push(`${p.elemStart(i)}-${p.elemEnd(i)}`)
      }
      log.push(`reply ${p.kind} ${p.start}-${p.end} ${elems.join(' ')}`)
      last = p.end
    }
    stream.release(p.mark)
  }
  return log
}

/** memcache replies, as MemcacheServerSession drives the parser. */
export function memcacheReplies(maxLine: number): Driver {
  return (input, chunks) => {
    const stream = new InputStream()
    const p = new mcReply.ReplyParser(stream, { maxLine })
    const log: string[] = []
    let last = 0
    for (const chunk of chunks) {
      stream.push(chunk)
      for (let guard = 0; ; guard++) {
        assert.ok(guard <= input.length + 1, 'next() keeps returning frames without progress')
        const r = p.next()
        if (r === mcReply.RP_NEED_MORE) {
          stream.release(p.consumed)
          break
        }
        if (r === mcReply.RP_ERROR) {
          log.push('error')
          assert.equal(p.next(), mcReply.RP_ERROR, 'an error is sticky')
          return log
        }
        assert.equal(r, mcReply.RP_FRAME)
        assert.ok(p.start === last && p.end > p.start, `reply [${p.start}, ${p.end}) after ${last}`)
        sameBytes(stream, input, p.start, p.end, 'reply')
        const items: string[] = []
        for (let i = 0; i < p.count; i++) {
          assert.ok(p.elemStart(i) >= p.start && p.elemEnd(i) <= p.end, `item ${i} outside`)
          assert.ok(
            p.keyStart(i) > p.elemStart(i) && p.keyEnd(i) < p.elemEnd(i),
            `key ${i} outside its item`,
          )
          items.push(`${p.elemStart(i)}-${p.elemEnd(i)}:${p.keyStart(i)}-${p.keyEnd(i)}`)
        }
        log.push(`reply ${p.kind} ${p.start}-${p.end} ${items.join(' ')}`)
        last = p.end
        stream.release(p.end)
      }
    }
    return log
  }
}
