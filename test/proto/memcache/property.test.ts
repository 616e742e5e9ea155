/**
 * Property tests (fast-check, bounded in time): random sequences of valid
 * requests, cut into chunks at random points, parse to exactly the generated
 * requests; and any byte soup built from protocol fragments gives the same
 * results however it is chunked.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { parseRequests, type ReqEvent, req } from './harness.js'

interface Gen {
  readonly bytes: string
  readonly event: ReqEvent
}

/** A key: 1..30 bytes of anything but SP and CR (latin1 string), sometimes 250 bytes. */
const key = fc
  .oneof(
    { weight: 9, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 30 }) },
    { weight: 1, arbitrary: fc.uint8Array({ minLength: 250, maxLength: 250 }) },
  )
  .map((a) => Buffer.from(a.map((c) => (c === 0x20 || c === 0x0d ? c + 1 : c))).toString('latin1'))
const sp = fc.integer({ min: 1, max: 3 }).map((n) => ' '.repeat(n))
const lead = fc.integer({ min: 0, max: 2 }).map((n) => ' '.repeat(n))
const trail = fc.integer({ min: 0, max: 2 }).map((n) => ' '.repeat(n))
const digits = fc.bigInt({ min: 0n, max: 99999999999999999999n }).map(String)
const signed = fc.tuple(fc.boolean(), digits).map(([neg, d]) => (neg ? `-${d}` : d))
const data = fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a).toString('latin1'))
const noreply = fc.boolean()

/** The parser's flags for these keys and number tokens (LF or NUL in a key; 19+ digits). */
function flagsOf(keys: readonly string[], nums: readonly string[]) {
  return {
    ...(keys.some((k) => /[\n\0]/.test(k)) ? { keyLfNul: true as const } : {}),
    ...(nums.some((n) => n.replace('-', '').length >= 19) ? { longNumber: true as const } : {}),
  }
}

const retrieval: fc.Arbitrary<Gen> = fc
  .tuple(
    fc.constantFrom('get', 'gets'),
    lead,
    fc.array(fc.tuple(sp, key), { minLength: 1, maxLength: 6 }),
    trail,
  )
  .map(([name, l, keys, t]) => {
    const bytes = `${l}${name}${keys.map(([s, k]) => s + k).join('')}${t}\r\n`
    const ks = keys.map(([, k]) => k)
    return { bytes, event: req(name, bytes, ks, flagsOf(ks, [])) }
  })

const storage: fc.Arbitrary<Gen> = fc
  .tuple(
    fc.constantFrom('set', 'add', 'replace', 'append', 'prepend', 'cas'),
    lead,
    fc.tuple(sp, key, sp, digits, sp, signed, sp),
    data,
    fc.tuple(sp, digits),
    fc.option(sp, { nil: undefined }),
    noreply,
    trail,
  )
  .map(([name, l, [s1, k, s2, flags, s3, exptime, s4], d, [s5, cas], nrSp, nr, t]) => {
    const casPart = name === 'cas' ? s5 + cas : ''
    const nrPart = nr ? `${nrSp ?? ' '}noreply` : ''
    const line = `${l}${name}${s1}${k}${s2}${flags}${s3}${exptime}${s4}${d.length}${casPart}${nrPart}${t}\r\n`
    const bytes = `${line}${d}\r\n`
    const nums = [flags, exptime, ...(name === 'cas' ? [cas] : [])]
    return { bytes, event: req(name, bytes, [k], { data: d, noreply: nr, ...flagsOf([k], nums) }) }
  })

const keyed: fc.Arbitrary<Gen> = fc
  .tuple(
    fc.constantFrom('delete', 'incr', 'decr', 'touch'),
    lead,
    sp,
    key,
    sp,
    signed,
    noreply,
    sp,
    trail,
  )
  .map(([name, l, s1, k, s2, n, nr, s3, t]) => {
    const arg = name === 'delete' ? '' : s2 + n
    const bytes = `${l}${name}${s1}${k}${arg}${nr ? `${s3}noreply` : ''}${t}\r\n`
    const nums = name === 'delete' ? [] : [n]
    return { bytes, event: req(name, bytes, [k], { noreply: nr, ...flagsOf([k], nums) }) }
  })

const bare: fc.Arbitrary<Gen> = fc
  .tuple(fc.constantFrom('version', 'quit'), lead, trail)
  .map(([name, l, t]) => {
    const bytes = `${l}${name}${t}\r\n`
    return { bytes, event: req(name, bytes, []) }
  })

const request = fc.oneof(retrieval, storage, keyed, bare)

/** Cuts `input` at the given points (sorted, deduplicated, inside the input). */
function cut(input: Buffer, points: readonly number[]): Buffer[] {
  const at = [...new Set(points.map((p) => p % (input.length + 1)))].sort((x, y) => x - y)
  const chunks: Buffer[] = []
  let prev = 0
  for (const p of [...at, input.length]) {
    if (p > prev) chunks.push(Buffer.from(input.subarray(prev, p)))
    prev = Math.max(prev, p)
  }
  return chunks
}

// Bounded in time: at most 4 s per property.
const LIMIT = { numRuns: 400, interruptAfterTimeLimit: 4000 }

describe('memcache request parser: properties', () => {
  it('random valid request sequences split at random points parse to exactly those requests', () => {
    fc.assert(
      fc.property(
        fc.array(request, { minLength: 1, maxLength: 20 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        (reqs, points) => {
          const input = Buffer.from(reqs.map((r) => r.bytes).join(''), 'latin1')
          const expected = { events: reqs.map((r) => r.event), held: 0 }
          assert.deepStrictEqual(parseRequests([input]), expected)
          assert.deepStrictEqual(parseRequests(cut(input, points)), expected)
        },
      ),
      LIMIT,
    )
  })

  it('any soup of protocol fragments parses the same however it is chunked', () => {
    const piece = fc.constantFrom(
      'get ',
      'gets ',
      'set ',
      'cas ',
      'delete ',
      'incr ',
      'touch ',
      'version',
      'quit',
      'GET ',
      'k',
      'key:1 ',
      ' ',
      '  ',
      '0 ',
      '1 ',
      '-1 ',
      '3 ',
      'x ',
      'noreply',
      '\r\n',
      '\r',
      '\n',
      'abc',
      '\x00',
      '\x80',
      'a'.repeat(251),
    )
    fc.assert(
      fc.property(
        fc.array(piece, { minLength: 1, maxLength: 40 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        (pieces, points) => {
          const input = Buffer.from(pieces.join(''), 'latin1')
          const whole = parseRequests([input], { maxRequestSize: 300 })
          assert.deepStrictEqual(parseRequests(cut(input, points), { maxRequestSize: 300 }), whole)
          const bytes = [...input].map((c) => Buffer.from([c]))
          assert.deepStrictEqual(parseRequests(bytes, { maxRequestSize: 300 }), whole)
        },
      ),
      LIMIT,
    )
  })
})
