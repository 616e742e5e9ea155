/**
 * Test drivers for the memcache parsers: feed chunks into an InputStream the way
 * the sessions do (release what the parser no longer needs after every call),
 * and record each result as a plain object that deepStrictEqual can compare
 * across every split of the input (test/helpers/split.ts).
 */
import { COMMANDS } from '../../../src/proto/memcache/commands.js'
import {
  FATAL,
  NEED_MORE,
  REJECT,
  REJECT_TEXT,
  REQUEST,
  RequestParser,
  type RequestParserOptions,
} from '../../../src/proto/memcache/request-parser.js'
import { InputStream } from '../../../src/proto/stream.js'

/** Latin-1 string → bytes, so tests can spell any byte as `\xNN`. */
export function b(s: string): Buffer {
  return Buffer.from(s, 'latin1')
}

export function s(buf: Uint8Array): string {
  return Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).toString('latin1')
}

const NAME_OF = new Map(COMMANDS.map((c) => [c.kind, c.name]))

export type ReqEvent =
  | {
      readonly st: 'REQUEST'
      readonly kind: string
      readonly frame: string
      readonly line: string
      readonly data: string | null
      readonly keys: readonly string[]
      readonly noreply: boolean
      /** Present only when set: the parser's `longNumber` and `keyLfNul` flags. */
      readonly longNumber?: true
      readonly keyLfNul?: true
    }
  | {
      readonly st: 'REJECT'
      readonly kind: string
      readonly reply: string
      readonly at: number
      readonly noreply: boolean
      readonly start: number
      readonly lineEnd: number
    }
  | { readonly st: 'FATAL'; readonly reply: string; readonly at: number }

export interface ReqRun {
  readonly events: readonly ReqEvent[]
  /** Bytes the parser still holds after the last chunk (a partial frame). */
  readonly held: number
}

/** Runs the request parser over `chunks`, releasing like the session does. */
export function parseRequests(
  chunks: readonly Buffer[],
  options: RequestParserOptions = {},
): ReqRun {
  const stream = new InputStream()
  const p = new RequestParser(stream, options)
  const events: ReqEvent[] = []
  let dead = false
  for (const chunk of chunks) {
    stream.push(chunk)
    for (;;) {
      if (dead) break
      const st = p.next()
      if (st === NEED_MORE) {
        stream.release(p.consumed)
        break
      }
      if (st === REQUEST) {
        const keys: string[] = []
        for (let i = 0; i < p.nkeys; i++) keys.push(s(stream.view(p.keyStart(i), p.keyEnd(i))))
        events.push({
          st: 'REQUEST',
          kind: NAME_OF.get(p.kind) ?? `?${p.kind}`,
          frame: s(stream.view(p.start, p.end)),
          line: s(stream.view(p.start, p.lineEnd)),
          data: p.dataStart < 0 ? null : s(stream.view(p.dataStart, p.dataEnd)),
          keys,
          noreply: p.noreply,
          ...(p.longNumber ? { longNumber: true as const } : {}),
          ...(p.keyLfNul ? { keyLfNul: true as const } : {}),
        })
        stream.release(p.end)
      } else if (st === REJECT) {
        events.push({
          st: 'REJECT',
          kind: NAME_OF.get(p.kind) ?? '',
          reply: s(p.rejectReply),
          at: p.errorAt,
          noreply: p.noreply,
          start: p.start,
          lineEnd: p.lineEnd,
        })
        stream.release(p.lineEnd)
      } else if (st === FATAL) {
        events.push({ st: 'FATAL', reply: s(p.rejectReply), at: p.errorAt })
        dead = true
        // FATAL is sticky.
        if (p.next() !== FATAL) throw new Error('FATAL is not sticky')
      }
    }
  }
  return { events, held: dead ? 0 : stream.end - p.consumed }
}

/** Expected REQUEST event for a whole frame; the line is the frame up to its first CRLF. */
export function req(
  kind: string,
  frame: string,
  keys: readonly string[],
  opts: { noreply?: boolean; data?: string; longNumber?: true; keyLfNul?: true } = {},
): ReqEvent {
  const line = frame.slice(0, frame.indexOf('\r\n') + 2)
  return {
    st: 'REQUEST',
    kind,
    frame,
    line,
    data: opts.data ?? null,
    keys,
    noreply: opts.noreply ?? false,
    ...(opts.longNumber ? { longNumber: opts.longNumber } : {}),
    ...(opts.keyLfNul ? { keyLfNul: opts.keyLfNul } : {}),
  }
}

export const ERR = {
  unknown: REJECT_TEXT[1]!,
  format: REJECT_TEXT[2]!,
  deleteFormat: REJECT_TEXT[3]!,
  delta: REJECT_TEXT[4]!,
  exptime: REJECT_TEXT[5]!,
  data: REJECT_TEXT[6]!,
  tooLarge: REJECT_TEXT[7]!,
  lineTooLong: REJECT_TEXT[8]!,
  binary: REJECT_TEXT[9]!,
} as const

export function reject(
  kind: string,
  reply: string,
  at: number,
  start: number,
  lineEnd: number,
  noreply = false,
): ReqEvent {
  return { st: 'REJECT', kind, reply, at, noreply, start, lineEnd }
}

export function fatal(reply: string, at: number): ReqEvent {
  return { st: 'FATAL', reply, at }
}
