/**
 * fast-check arbitraries for protocol byte soup: sequences of plausible
 * frames (valid ones, ones with wrong counts and lengths, odd numbers, RESP3
 * types, binary magic, over-long keys and lines) mixed with garbage, then
 * mutated (bytes replaced, inserted, deleted, the tail cut off). Shared by the
 * parser fuzz tests (test/fuzz) and the walnut fuzz test (test/integration).
 */

import fc from 'fast-check'

const latin1 = (s: string) => Buffer.from(s, 'latin1')
const CRLF = latin1('\r\n')

/** Up to `max` random bytes. */
export const bytes = (max: number) => fc.uint8Array({ maxLength: max }).map((a) => Buffer.from(a))

const crlf = fc.constantFrom('\r\n', '\r\n', '\n', '\r', '').map(latin1)
/** Usually right, sometimes off by a little, sometimes very wrong. */
const delta = fc.constantFrom(0, 0, 0, 0, 0, 0, 1, -1, 2, -3, 1000)
const oddNumber = fc.constantFrom(
  '-1',
  '0',
  '00',
  '1',
  '-0',
  '+1',
  '',
  ' 1',
  '1a',
  '99999999999',
  '2147483647',
  '2147483648',
  '4294967295',
  '4294967296',
  '18446744073709551616',
)

// ---- redis requests ---------------------------------------------------------------------------

const redisWord = fc.oneof(
  fc.constantFrom(
    'GET',
    'SET',
    'MGET',
    'MSET',
    'DEL',
    'EXISTS',
    'INCR',
    'PING',
    'ECHO',
    'EVAL',
    'EVALSHA',
    'HELLO',
    'AUTH',
    'SELECT',
    'CLIENT',
    'INFO',
    'COMMAND',
    'QUIT',
    'ZUNION',
    'get',
    'mget',
    'k',
    'k1',
    '{t}a',
    '3',
    '0',
    '-1',
  ),
  fc.string({ maxLength: 8 }),
)
const redisArg = fc.oneof(redisWord.map(latin1), bytes(40))

const multibulk = fc
  .tuple(
    fc.array(redisArg, { maxLength: 6 }),
    delta,
    fc.array(delta, { minLength: 6, maxLength: 6 }),
  )
  .map(([args, dc, dl]) => {
    const parts: Buffer[] = [latin1(`*${args.length + dc}\r\n`)]
    for (const [i, a] of args.entries()) parts.push(latin1(`$${a.length + dl[i]!}\r\n`), a, CRLF)
    return Buffer.concat(parts)
  })

const inline = fc
  .tuple(
    fc.array(
      fc.oneof(redisWord, fc.constantFrom('"a b"', "'x y'", '"\\x41\\n"', '"open', "'", '\\')),
      { maxLength: 5 },
    ),
    crlf,
  )
  .map(([ws, end]) => Buffer.concat([latin1(ws.join(' ')), end]))

const lengthLine = fc
  .tuple(fc.constantFrom('*', '$'), oddNumber, crlf)
  .map(([c, n, end]) => Buffer.concat([latin1(c + n), end]))

/** Byte soup for a redis client connection. */
export const redisRequestBytes = fc
  .array(
    fc.oneof(
      { weight: 6, arbitrary: multibulk },
      { weight: 2, arbitrary: inline },
      { weight: 1, arbitrary: lengthLine },
      { weight: 1, arbitrary: bytes(20) },
      { weight: 1, arbitrary: crlf },
    ),
    { maxLength: 8 },
  )
  .map((parts) => Buffer.concat(parts))

// ---- redis replies ----------------------------------------------------------------------------

const redisValue: fc.Arbitrary<Buffer> = fc.letrec<{ value: Buffer }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.string({ maxLength: 10 }).map((s) => latin1(`+${s.replace(/[\r\n]/g, '')}\r\n`)),
    fc
      .constantFrom(
        '-ERR bad\r\n',
        '-OOM x\r\n',
        '-BUSY\r\n',
        ':1\r\n',
        ':-5\r\n',
        '$-1\r\n',
        '*-1\r\n',
      )
      .map(latin1),
    fc
      .tuple(bytes(30), delta)
      .map(([d, dl]) => Buffer.concat([latin1(`$${d.length + dl}\r\n`), d, CRLF])),
    fc
      .tuple(fc.array(tie('value'), { maxLength: 4 }), delta)
      .map(([items, dc]) => Buffer.concat([latin1(`*${items.length + dc}\r\n`), ...items])),
    fc
      .constantFrom('_\r\n', ',1.5\r\n', '#t\r\n', '%1\r\n+a\r\n+b\r\n', '~0\r\n', '(12\r\n')
      .map(latin1),
    lengthLine,
    bytes(12),
  ),
})).value

/** Byte soup from a redis server. */
export const redisReplyBytes = fc
  .array(redisValue, { maxLength: 6 })
  .map((parts) => Buffer.concat(parts))

// ---- memcache requests ------------------------------------------------------------------------

const mcKey = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('k', 'a', 'key1', 'x:y', '\xe9') },
  { weight: 2, arbitrary: bytes(12).map((b) => b.toString('latin1')) },
  { weight: 1, arbitrary: fc.constantFrom('k'.repeat(250), 'k'.repeat(251)) },
)
const sp = fc.constantFrom(' ', ' ', '  ')
const mcNumber = fc.oneof(fc.constantFrom('0', '1', '100', '-1'), oddNumber)

const retrieval = fc
  .tuple(
    fc.constantFrom('get', 'gets', 'GET'),
    fc.array(fc.tuple(sp, mcKey), { maxLength: 4 }),
    crlf,
  )
  .map(([n, ks, end]) => Buffer.concat([latin1(n + ks.map(([s, k]) => s + k).join('')), end]))

const storage = fc
  .tuple(
    fc.constantFrom('set', 'add', 'replace', 'append', 'prepend', 'cas'),
    mcKey,
    mcNumber,
    mcNumber,
    bytes(30),
    delta,
    fc.boolean(),
    crlf,
  )
  .map(([n, k, flags, exp, data, dl, noreply, end]) => {
    const cas = n === 'cas' ? ' 12' : ''
    const line = `${n} ${k} ${flags} ${exp} ${data.length + dl}${cas}${noreply ? ' noreply' : ''}`
    return Buffer.concat([latin1(line), end, data, CRLF])
  })

const keyed = fc
  .tuple(
    fc.constantFrom('delete', 'incr', 'decr', 'touch'),
    mcKey,
    fc.option(mcNumber, { nil: undefined }),
    fc.boolean(),
    crlf,
  )
  .map(([n, k, v, noreply, end]) =>
    Buffer.concat([
      latin1(`${n} ${k}${v === undefined ? '' : ` ${v}`}${noreply ? ' noreply' : ''}`),
      end,
    ]),
  )

const bare = fc
  .tuple(
    fc.constantFrom('version', 'quit', 'stats', 'flush_all', 'verbosity 1', 'gat 0 k', '', 'SET k'),
    crlf,
  )
  .map(([w, end]) => Buffer.concat([latin1(w), end]))

/** Command lines padded past memcached's 2048-byte line limit. */
const padded = fc
  .constantFrom(
    `set k${' '.repeat(2100)}0 0 1\r\nx\r\n`,
    `delete k${' '.repeat(3000)}\r\n`,
    `delete k${' '.repeat(20_000)}\r\n`,
    `${' '.repeat(150)}get k${' '.repeat(2000)}\r\n`,
    `incr k ${'0'.repeat(2500)}1\r\n`,
    `get ${Array.from({ length: 400 }, (_, i) => `k${i}`).join(' ')}\r\n`,
  )
  .map(latin1)

/** Byte soup for a memcache client connection. */
export const memcacheRequestBytes = fc
  .array(
    fc.oneof(
      { weight: 1, arbitrary: padded },
      { weight: 4, arbitrary: retrieval },
      { weight: 4, arbitrary: storage },
      { weight: 2, arbitrary: keyed },
      { weight: 1, arbitrary: bare },
      { weight: 1, arbitrary: bytes(20) },
      { weight: 1, arbitrary: fc.constant(Buffer.from([0x80, 0x01, 0x00, 0x00])) },
    ),
    { maxLength: 8 },
  )
  .map((parts) => Buffer.concat(parts))

// ---- memcache replies -------------------------------------------------------------------------

const valueItem = fc
  .tuple(mcKey, mcNumber, bytes(30), delta, fc.boolean())
  .map(([k, flags, data, dl, cas]) =>
    Buffer.concat([
      latin1(`VALUE ${k} ${flags} ${data.length + dl}${cas ? ' 99' : ''}\r\n`),
      data,
      CRLF,
    ]),
  )
const valueReply = fc
  .tuple(fc.array(valueItem, { maxLength: 3 }), fc.constantFrom('END\r\n', 'END\r\n', 'EN', ''))
  .map(([items, end]) => Buffer.concat([...items, latin1(end)]))
const lineReply = fc
  .tuple(
    fc.constantFrom(
      'STORED',
      'NOT_STORED',
      'EXISTS',
      'NOT_FOUND',
      'DELETED',
      'TOUCHED',
      'END',
      '42',
      'VERSION 1.6.18',
      'ERROR',
      'CLIENT_ERROR bad command line format',
      'SERVER_ERROR out of memory',
      'HELLO WORLD',
      'x'.repeat(100),
    ),
    crlf,
  )
  .map(([l, end]) => Buffer.concat([latin1(l), end]))

/** Byte soup from a memcached server. */
export const memcacheReplyBytes = fc
  .array(
    fc.oneof(
      { weight: 3, arbitrary: valueReply },
      { weight: 3, arbitrary: lineReply },
      { weight: 1, arbitrary: bytes(20) },
    ),
    { maxLength: 6 },
  )
  .map((parts) => Buffer.concat(parts))

// ---- mutation ---------------------------------------------------------------------------------

/** [position, operation, byte]: 0 replace, 1 insert, 2 delete, 3 cut the tail off. */
export const mutations = fc.array(
  fc.tuple(fc.nat(), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 255 })),
  { maxLength: 4 },
)

export function mutate(input: Buffer, ops: readonly (readonly [number, number, number])[]): Buffer {
  let b = input
  for (const [pos, op, byte] of ops) {
    if (b.length === 0 && op !== 1) continue
    const at = pos % (b.length + (op === 1 ? 1 : 0))
    if (op === 0) {
      b = Buffer.from(b)
      b[at] = byte
    } else if (op === 1) {
      b = Buffer.concat([b.subarray(0, at), Buffer.from([byte]), b.subarray(at)])
    } else if (op === 2) {
      b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1)])
    } else {
      b = b.subarray(0, at)
    }
  }
  return b
}

/** Cut positions (taken modulo the input's length). */
export const cuts = fc.array(fc.nat(), { maxLength: 10 })
