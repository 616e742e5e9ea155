/**
 * Request parser: every accepted form of ../shared/spec/memcache.md §2 and every
 * violation (M1-M4 of deviations.md), each run whole, byte by byte and split in
 * two at every offset, with the exact recorded fields and reply/close decision.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  FATAL,
  NEED_MORE,
  REQUEST,
  RequestParser,
  type RequestParserOptions,
} from '../../../src/proto/memcache/request-parser.js'
import { InputStream } from '../../../src/proto/stream.js'
import { forEverySplit } from '../../helpers/split.js'
import { b, ERR, fatal, parseRequests, type ReqEvent, type ReqRun, reject, req } from './harness.js'

interface Case {
  readonly name: string
  readonly input: string
  readonly events: readonly ReqEvent[]
  /** Bytes still held at the end (a partial frame); default 0. */
  readonly held?: number
  readonly options?: RequestParserOptions
}

function check(c: Case): void {
  const expected: ReqRun = { events: c.events, held: c.held ?? 0 }
  forEverySplit(b(c.input), (chunks) => parseRequests(chunks, c.options), { expected })
}

function run(cases: readonly Case[]): void {
  for (const c of cases) it(c.name, () => check(c))
}

const K250 = 'k'.repeat(250)
const K251 = 'k'.repeat(251)

describe('memcache request parser: accepted forms (spec §2)', () => {
  run([
    { name: 'get one key', input: 'get k\r\n', events: [req('get', 'get k\r\n', ['k'])] },
    { name: 'gets one key', input: 'gets k\r\n', events: [req('gets', 'gets k\r\n', ['k'])] },
    {
      name: 'get three keys',
      input: 'get k1 k2 k3\r\n',
      events: [req('get', 'get k1 k2 k3\r\n', ['k1', 'k2', 'k3'])],
    },
    {
      name: 'get: several spaces between keys',
      input: 'get  mk0   mk1\r\n',
      events: [req('get', 'get  mk0   mk1\r\n', ['mk0', 'mk1'])],
    },
    {
      name: 'get: trailing space',
      input: 'get mk0 mk1 \r\n',
      events: [req('get', 'get mk0 mk1 \r\n', ['mk0', 'mk1'])],
    },
    {
      name: 'leading spaces are skipped (and stay in the frame)',
      input: ' get k1\r\n   get k2\r\n',
      events: [req('get', ' get k1\r\n', ['k1']), req('get', '   get k2\r\n', ['k2'])],
    },
    {
      name: 'key bytes: tab, control byte, UTF-8, LF',
      input: 'get k\t1 k\x01y k\xc3\xa9 k\n1\r\n',
      events: [
        req('get', 'get k\t1 k\x01y k\xc3\xa9 k\n1\r\n', ['k\t1', 'k\x01y', 'k\xc3\xa9', 'k\n1'], {
          keyLfNul: true,
        }),
      ],
    },
    {
      name: 'get: noreply is a key',
      input: 'get k noreply\r\n',
      events: [req('get', 'get k noreply\r\n', ['k', 'noreply'])],
    },
    {
      name: 'get: duplicate keys kept',
      input: 'get a a b\r\n',
      events: [req('get', 'get a a b\r\n', ['a', 'a', 'b'])],
    },
    {
      name: '250-byte key in get and set',
      input: `get ${K250}\r\nset ${K250} 0 0 1\r\nx\r\n`,
      events: [
        req('get', `get ${K250}\r\n`, [K250]),
        req('set', `set ${K250} 0 0 1\r\nx\r\n`, [K250], { data: 'x' }),
      ],
    },
    {
      name: 'set',
      input: 'set k 0 0 1\r\nx\r\n',
      events: [req('set', 'set k 0 0 1\r\nx\r\n', ['k'], { data: 'x' })],
    },
    {
      name: 'set: several spaces between fields, trailing spaces',
      input: 'set  k  0  0  1  \r\nx\r\n',
      events: [req('set', 'set  k  0  0  1  \r\nx\r\n', ['k'], { data: 'x' })],
    },
    {
      name: 'set: no range check on flags/exptime',
      input: 'set k 99999999999 99999999999 1\r\nx\r\n',
      events: [req('set', 'set k 99999999999 99999999999 1\r\nx\r\n', ['k'], { data: 'x' })],
    },
    {
      name: 'set: empty data block',
      input: 'set k 0 0 0\r\n\r\n',
      events: [req('set', 'set k 0 0 0\r\n\r\n', ['k'], { data: '' })],
    },
    {
      name: 'M4: negative exptime is accepted',
      input: 'set k 0 -1 1\r\nx\r\n',
      events: [req('set', 'set k 0 -1 1\r\nx\r\n', ['k'], { data: 'x' })],
    },
    {
      name: 'data block holding CRLFs and command text is skipped by length',
      input: 'set k 7 0 11\r\nget x\r\n\r\n\r\n\r\ndelete k\r\n',
      events: [
        req('set', 'set k 7 0 11\r\nget x\r\n\r\n\r\n\r\n', ['k'], { data: 'get x\r\n\r\n\r\n' }),
        req('delete', 'delete k\r\n', ['k']),
      ],
    },
    {
      name: 'set noreply, with spaces after it',
      input: 'set k 0 0 1 noreply\r\nx\r\nset k 0 0 1 noreply  \r\ny\r\n',
      events: [
        req('set', 'set k 0 0 1 noreply\r\nx\r\n', ['k'], { data: 'x', noreply: true }),
        req('set', 'set k 0 0 1 noreply  \r\ny\r\n', ['k'], { data: 'y', noreply: true }),
      ],
    },
    {
      name: 'add replace append prepend',
      input:
        'add a 1 2 3\r\nabc\r\nreplace b 0 0 2\r\nyy\r\nappend c 0 0 1 noreply\r\nz\r\nprepend d 0 0 1\r\na\r\n',
      events: [
        req('add', 'add a 1 2 3\r\nabc\r\n', ['a'], { data: 'abc' }),
        req('replace', 'replace b 0 0 2\r\nyy\r\n', ['b'], { data: 'yy' }),
        req('append', 'append c 0 0 1 noreply\r\nz\r\n', ['c'], { data: 'z', noreply: true }),
        req('prepend', 'prepend d 0 0 1\r\na\r\n', ['d'], { data: 'a' }),
      ],
    },
    {
      name: 'cas, with and without noreply',
      input: 'cas k 0 0 1 12345\r\nx\r\ncas k 5 -3 2 99999999999999999999 noreply\r\nxy\r\n',
      events: [
        req('cas', 'cas k 0 0 1 12345\r\nx\r\n', ['k'], { data: 'x' }),
        req('cas', 'cas k 5 -3 2 99999999999999999999 noreply\r\nxy\r\n', ['k'], {
          data: 'xy',
          noreply: true,
          longNumber: true,
        }),
      ],
    },
    {
      name: 'delete',
      input: 'delete k\r\ndelete k noreply\r\n',
      events: [
        req('delete', 'delete k\r\n', ['k']),
        req('delete', 'delete k noreply\r\n', ['k'], { noreply: true }),
      ],
    },
    {
      name: 'incr/decr: negative and huge values forwarded',
      input:
        'incr k 1\r\nincr k -1\r\nincr k 99999999999999999999999\r\nincr k1 1 \r\ndecr k 5 noreply\r\n',
      events: [
        req('incr', 'incr k 1\r\n', ['k']),
        req('incr', 'incr k -1\r\n', ['k']),
        req('incr', 'incr k 99999999999999999999999\r\n', ['k'], { longNumber: true }),
        req('incr', 'incr k1 1 \r\n', ['k1']),
        req('decr', 'decr k 5 noreply\r\n', ['k'], { noreply: true }),
      ],
    },
    {
      name: 'touch',
      input: 'touch k 100\r\ntouch k -1\r\ntouch k 0 noreply\r\n',
      events: [
        req('touch', 'touch k 100\r\n', ['k']),
        req('touch', 'touch k -1\r\n', ['k']),
        req('touch', 'touch k 0 noreply\r\n', ['k'], { noreply: true }),
      ],
    },
    {
      name: 'version and quit, with trailing spaces',
      input: 'version\r\nversion \r\nquit\r\nquit   \r\n',
      events: [
        req('version', 'version\r\n', []),
        req('version', 'version \r\n', []),
        req('quit', 'quit\r\n', []),
        req('quit', 'quit   \r\n', []),
      ],
    },
    {
      name: 'pipeline set/get/delete',
      input: 'set p1 0 0 1\r\na\r\nget p1\r\ndelete p1\r\n',
      events: [
        req('set', 'set p1 0 0 1\r\na\r\n', ['p1'], { data: 'a' }),
        req('get', 'get p1\r\n', ['p1']),
        req('delete', 'delete p1\r\n', ['p1']),
      ],
    },
    {
      name: 'a bare LF does not end the line: waits for more',
      input: 'get k1\n',
      events: [],
      held: 7,
    },
    {
      name: 'partial data block is held',
      input: 'get a\r\nset k 0 0 5\r\nab',
      events: [req('get', 'get a\r\n', ['a'])],
      held: 15,
    },
  ])
})

describe('memcache request parser: M1 unknown commands → ERROR, connection kept', () => {
  const unknown = [
    'stats',
    'stats items',
    'flush_all',
    'flush_all 0',
    'verbosity 1',
    'cache_memlimit 100',
    'shutdown',
    'slabs reassign 1 2',
    'lru_crawler metadump all',
    'watch',
    'misbehave',
    'foo',
    'mg k1 v',
    'ms k1 1',
    'md k1',
    'mn',
    'ma k1',
    'me k1',
    'gat 100 k1',
    'gats 100 k1',
    'GET k1',
    'Get k1',
    'get\tk1',
    '\x00get k1',
    'getx k',
    'prepends k 0 0 1',
    'versionx',
  ]
  for (const line of unknown) {
    it(JSON.stringify(line), () =>
      check({
        name: line,
        input: `${line}\r\nget k\r\n`,
        events: [reject('', ERR.unknown, 0, 0, line.length + 2), req('get', 'get k\r\n', ['k'])],
      }),
    )
  }
  run([
    {
      name: 'empty line and blank line',
      input: '\r\n   \r\n',
      events: [reject('', ERR.unknown, 0, 0, 2), reject('', ERR.unknown, 5, 2, 7)],
    },
    {
      name: 'leading spaces before an unknown name: errorAt is the name',
      input: '  foo bar\r\n',
      events: [reject('', ERR.unknown, 2, 0, 11)],
    },
    {
      name: 'a bare LF after a name is part of it: version\\n is unknown',
      input: 'version\nget k\r\n',
      events: [reject('', ERR.unknown, 0, 0, 15)],
    },
    {
      name: 'CR inside an unknown line does not end it',
      input: 'foo\rbar\r\r\n',
      events: [reject('', ERR.unknown, 0, 0, 10)],
    },
    {
      name: 'meta set: only its line is skipped; the data is read as a command',
      input: 'ms k1 1\r\nx\r\n',
      events: [reject('', ERR.unknown, 0, 0, 9), reject('', ERR.unknown, 9, 9, 12)],
    },
    {
      name: 'valid requests before and after are kept',
      input: 'get k1\r\nbogus\r\nget k2\r\n',
      events: [
        req('get', 'get k1\r\n', ['k1']),
        reject('', ERR.unknown, 8, 8, 15),
        req('get', 'get k2\r\n', ['k2']),
      ],
    },
  ])
})

describe('memcache request parser: M2 malformed lines, framing known → CLIENT_ERROR, kept', () => {
  run([
    {
      name: 'get with an empty key list',
      input: 'get \r\nget\r\n',
      events: [reject('get', ERR.format, 4, 0, 6), reject('get', ERR.format, 9, 6, 11)],
    },
    {
      name: 'get: 251-byte key',
      input: `get ${K251}\r\n`,
      events: [reject('get', ERR.format, 4, 0, 257)],
    },
    {
      name: 'multi-get: 251-byte key in the middle',
      input: `get a ${K251} b\r\nget c\r\n`,
      events: [reject('get', ERR.format, 6, 0, 261), req('get', 'get c\r\n', ['c'])],
    },
    {
      name: 'CR not followed by LF: the line runs to the next CRLF',
      input: 'get k1\rx\r\nget k2\r\n',
      events: [reject('get', ERR.format, 7, 0, 10), req('get', 'get k2\r\n', ['k2'])],
    },
    {
      name: 'delete: extra or wrong tokens (memcached wording)',
      input: 'delete k1 0\r\ndelete k1 x\r\ndelete\r\ndelete k noreply x\r\ndelete k norepl\r\n',
      events: [
        reject('delete', ERR.deleteFormat, 10, 0, 13),
        reject('delete', ERR.deleteFormat, 23, 13, 26),
        reject('delete', ERR.deleteFormat, 32, 26, 34),
        reject('delete', ERR.deleteFormat, 51, 34, 54, true),
        reject('delete', ERR.deleteFormat, 63, 54, 71),
      ],
    },
    {
      name: 'delete: 251-byte key',
      input: `delete ${K251}\r\n`,
      events: [reject('delete', ERR.format, 7, 0, 260)],
    },
    {
      name: 'incr/decr: bad value → invalid numeric delta argument',
      input: 'incr k1 abc\r\nincr k1 1-2\r\ndecr k -\r\nincr k --1\r\n',
      events: [
        reject('incr', ERR.delta, 8, 0, 13),
        reject('incr', ERR.delta, 21, 13, 26),
        reject('decr', ERR.delta, 33, 26, 36),
        reject('incr', ERR.delta, 43, 36, 48),
      ],
    },
    {
      name: 'incr: missing or extra tokens',
      input: 'incr k1\r\nincr k 1 x\r\nincr\r\n',
      events: [
        reject('incr', ERR.format, 7, 0, 9),
        reject('incr', ERR.format, 18, 9, 21),
        reject('incr', ERR.format, 25, 21, 27),
      ],
    },
    {
      name: 'touch: bad or missing exptime',
      input: 'touch k abc\r\ntouch k1\r\n',
      events: [reject('touch', ERR.exptime, 8, 0, 13), reject('touch', ERR.format, 21, 13, 23)],
    },
    {
      name: 'version and quit take no argument',
      input: 'version x\r\nquit now\r\n',
      events: [reject('version', ERR.format, 8, 0, 11), reject('quit', ERR.format, 16, 11, 21)],
    },
    {
      name: 'rejected noreply request is flagged (the session stays silent)',
      input: 'incr k abc noreply\r\n',
      events: [reject('incr', ERR.delta, 7, 0, 20, true)],
    },
    {
      name: 'storage: bad flags, data block discarded by length',
      input: 'set k a 0 1\r\nx\r\nget k\r\n',
      events: [reject('set', ERR.format, 6, 0, 13), req('get', 'get k\r\n', ['k'])],
    },
    {
      name: 'storage: negative flags, bad exptime',
      input: 'set k -1 0 1\r\nx\r\nset k 0 1x 1\r\nx\r\n',
      events: [reject('set', ERR.format, 6, 0, 14), reject('set', ERR.format, 25, 17, 31)],
    },
    {
      name: 'storage: junk after bytes, misspelt noreply, junk after noreply',
      input:
        'set k 0 0 1 junk\r\nx\r\nset k 0 0 1 norepl\r\nx\r\nset k 0 0 1 noreply x\r\nx\r\nget k\r\n',
      events: [
        reject('set', ERR.format, 12, 0, 18),
        reject('set', ERR.format, 33, 21, 41),
        reject('set', ERR.format, 64, 44, 67, true),
        req('get', 'get k\r\n', ['k']),
      ],
    },
    {
      name: 'storage: 251-byte key, data discarded',
      input: `set ${K251} 0 0 1\r\nx\r\nget k\r\n`,
      events: [reject('set', ERR.format, 4, 0, 263), req('get', 'get k\r\n', ['k'])],
    },
    {
      name: 'cas: missing unique; noreply in the unique position',
      input: 'cas k 0 0 1\r\nx\r\ncas k 0 0 1 noreply\r\nx\r\n',
      events: [reject('cas', ERR.format, 11, 0, 13), reject('cas', ERR.format, 28, 16, 37)],
    },
    {
      name: 'CR inside a storage line: framing still known from bytes',
      input: 'set k 0 0 1\rz\r\nx\r\nget k\r\n',
      events: [reject('set', ERR.format, 12, 0, 15), req('get', 'get k\r\n', ['k'])],
    },
    {
      name: 'a large data block of a rejected command is discarded without being held',
      input: `set k x 0 100\r\n${'v'.repeat(100)}\r\n`,
      events: [reject('set', ERR.format, 6, 0, 15)],
    },
  ])
})

describe('memcache request parser: framing lost → error then close', () => {
  run([
    {
      name: 'storage: bytes missing',
      input: 'set k 0 0\r\nx\r\n',
      events: [fatal(ERR.format, 9)],
    },
    { name: 'set alone', input: 'set\r\n', events: [fatal(ERR.format, 3)] },
    {
      name: 'storage: bytes not a number',
      input: 'set k 0 0 abc\r\nabc\r\n',
      events: [fatal(ERR.format, 10)],
    },
    { name: 'storage: bytes negative', input: 'set k 0 0 -1\r\n', events: [fatal(ERR.format, 10)] },
    {
      name: 'storage: bytes above 2^32-1',
      input: 'set k 0 0 4294967296\r\n',
      events: [fatal(ERR.format, 10)],
    },
    {
      name: 'storage: bad flags and no bytes',
      input: 'set k x 0\r\n',
      events: [fatal(ERR.format, 6)],
    },
    { name: 'cas: bytes missing', input: 'cas k 0 0\r\n', events: [fatal(ERR.format, 9)] },
    {
      name: 'M3: data block too long',
      input: 'get a\r\nset k 0 0 1\r\nxy\r\nget b\r\n',
      events: [req('get', 'get a\r\n', ['a']), fatal(ERR.data, 21)],
    },
    {
      name: 'M3: data block too short',
      input: 'set k 0 0 3\r\nx\r\nget k1\r\n',
      events: [fatal(ERR.data, 16)],
    },
    {
      name: 'M3: CR then not LF',
      input: 'set k 0 0 1\r\nx\rz',
      events: [fatal(ERR.data, 15)],
    },
    {
      name: 'M3: discarded data block of a rejected command is checked too',
      input: 'set k a 0 1\r\nxy\r\n',
      events: [reject('set', ERR.format, 6, 0, 13), fatal(ERR.data, 14)],
    },
    {
      name: 'binary protocol magic byte',
      input: '\x80\x00\x00\x02\x00\x00\x00\x00',
      events: [fatal(ERR.binary, 0)],
    },
    {
      name: 'binary magic after a valid request',
      input: 'get a\r\n\x80\x00\x00\x02',
      events: [req('get', 'get a\r\n', ['a']), fatal(ERR.binary, 7)],
    },
    {
      name: 'nothing is parsed after FATAL',
      input: 'set k 0 0\r\nget a\r\nget b\r\n',
      events: [fatal(ERR.format, 9)],
    },
  ])
})

const D18 = '9'.repeat(18)
const D19 = '9'.repeat(19)

describe('memcache request parser: edges of the one-pass path', () => {
  // Whole, these get and set requests are framed in one pass (fastRequest); cut, by the
  // state machine. run() checks both ways give the same events, flags included.
  run([
    {
      name: 'numbers of 18 digits, then 19 (longNumber)',
      input: `set k ${D18} -${D18} 1\r\nx\r\nset k ${D19} 0 1\r\nx\r\nset k 0 -${D19} 1\r\nx\r\n`,
      events: [
        req('set', `set k ${D18} -${D18} 1\r\nx\r\n`, ['k'], { data: 'x' }),
        req('set', `set k ${D19} 0 1\r\nx\r\n`, ['k'], { data: 'x', longNumber: true }),
        req('set', `set k 0 -${D19} 1\r\nx\r\n`, ['k'], { data: 'x', longNumber: true }),
      ],
    },
    {
      name: 'bytes of 10 digits, then 11 (leading zeros)',
      input: 'set k 0 0 0000000001\r\nx\r\nset k 0 0 00000000001\r\nx\r\n',
      events: [
        req('set', 'set k 0 0 0000000001\r\nx\r\n', ['k'], { data: 'x' }),
        req('set', 'set k 0 0 00000000001\r\nx\r\n', ['k'], { data: 'x' }),
      ],
    },
    {
      name: 'bytes above 2^32-1: no length, framing lost',
      input: 'set k 0 0 4294967296\r\nx\r\n',
      events: [fatal(ERR.format, 10)],
    },
    {
      name: 'noreply, a near miss, and noreply with a trailing space',
      input:
        'set k 0 0 1 noreply\r\nx\r\nset k 0 0 1 noreplx\r\nx\r\nset k 0 0 1 noreply \r\nx\r\n',
      events: [
        req('set', 'set k 0 0 1 noreply\r\nx\r\n', ['k'], { data: 'x', noreply: true }),
        reject('set', ERR.format, 36, 24, 45),
        req('set', 'set k 0 0 1 noreply \r\nx\r\n', ['k'], { data: 'x', noreply: true }),
      ],
    },
    {
      name: 'gets of several keys; bytes 0x7f and above are key bytes, 0x1f too',
      input: 'gets a bb\x7f ccc\r\nget a\xff\x1fb c\r\n',
      events: [
        req('gets', 'gets a bb\x7f ccc\r\n', ['a', 'bb\x7f', 'ccc']),
        req('get', 'get a\xff\x1fb c\r\n', ['a\xff\x1fb', 'c']),
      ],
    },
    {
      name: 'a set whose data block is cut at its CR',
      input: 'set k 0 0 1\r\nx\r',
      events: [],
      held: 15,
    },
  ])
})

describe('memcache request parser: size limits', () => {
  const small = { maxRequestSize: 32 }
  run([
    {
      name: 'line of exactly maxRequestSize bytes is accepted',
      input: `get ${'a'.repeat(26)}\r\n`,
      options: small,
      events: [req('get', `get ${'a'.repeat(26)}\r\n`, ['a'.repeat(26)])],
    },
    {
      name: 'line longer than maxRequestSize: error then close',
      input: `get ${'a'.repeat(27)}\r\n`,
      options: small,
      events: [fatal(ERR.lineTooLong, 32)],
    },
    {
      name: 'unterminated line over the cap: error then close without waiting',
      input: `get ${'a '.repeat(40)}`,
      options: small,
      events: [fatal(ERR.lineTooLong, 32)],
    },
    {
      name: 'unknown command line over the cap',
      input: `${'x'.repeat(40)}`,
      options: small,
      events: [fatal(ERR.lineTooLong, 32)],
    },
    {
      name: 'request over maxRequestSize: SERVER_ERROR, data discarded, kept',
      input: `set k 0 0 20\r\n${'v'.repeat(20)}\r\nget k\r\n`,
      options: small,
      events: [reject('set', ERR.tooLarge, 14, 0, 14), req('get', 'get k\r\n', ['k'])],
    },
    {
      name: 'request of exactly maxRequestSize bytes is accepted',
      input: `set k 0 0 16\r\n${'v'.repeat(16)}\r\n`,
      options: small,
      events: [
        req('set', `set k 0 0 16\r\n${'v'.repeat(16)}\r\n`, ['k'], { data: 'v'.repeat(16) }),
      ],
    },
    {
      name: 'too large with noreply: flagged, silent',
      input: `set k 0 0 40 noreply\r\n${'v'.repeat(40)}\r\n`,
      options: small,
      events: [reject('set', ERR.tooLarge, 22, 0, 22, true)],
    },
  ])

  it('a multi-get of 3000 keys parses (45 kB line)', () => {
    const keys = Array.from({ length: 3000 }, (_, i) => `bigmulti:${String(i).padStart(5, '0')}`)
    const line = `get ${keys.join(' ')}\r\n`
    assert.equal(line.length, 45005)
    const offsets = [1, 4, 5, 100, 16384, 30000, 45003, 45004]
    forEverySplit(b(line), (chunks) => parseRequests(chunks), {
      byteByByte: true,
      offsets,
      expected: { events: [req('get', line, keys)], held: 0 },
    })
  })

  it('a 1 MB value is skipped by length and held as the original chunks', () => {
    const value = Buffer.alloc(1024 * 1024, 0x61)
    value.write('\r\nEND\r\nget x\r\n', 1000, 'latin1')
    const head = b('set big 0 0 1048576\r\n')
    const input = Buffer.concat([head, value, b('\r\nget k\r\n')])
    const offsets = [1, head.length - 1, head.length, head.length + 1, input.length - 10]
    for (const at of [...offsets, 65536, 131072 + 7]) assert.ok(at < input.length)
    forEverySplit(
      input,
      (chunks) => {
        const run = parseRequests(chunks)
        return run.events.map((e) =>
          e.st === 'REQUEST' ? { ...e, frame: e.frame.length, data: e.data?.length } : e,
        )
      },
      {
        byteByByte: false,
        offsets: [...offsets, 65536, 131072 + 7],
        expected: [
          {
            st: 'REQUEST',
            kind: 'set',
            frame: head.length + value.length + 2,
            line: 'set big 0 0 1048576\r\n',
            data: 1048576,
            keys: ['big'],
            noreply: false,
          },
          {
            st: 'REQUEST',
            kind: 'get',
            frame: 7,
            line: 'get k\r\n',
            data: undefined,
            keys: ['k'],
            noreply: false,
          },
        ],
      },
    )
  })

  it('data is not scanned: scanning stops at the frame and resumes, never restarting', () => {
    // Feed a set in 1-byte steps after the line; the parser must not hold
    // anything beyond the frame start and must report the exact frame.
    const stream = new InputStream()
    const p = new RequestParser(stream)
    stream.push(b('set k 0 0 3\r\n'))
    assert.equal(p.next(), NEED_MORE)
    assert.equal(p.consumed, 0)
    for (const c of ['a', 'b', 'c', '\r']) {
      stream.push(b(c))
      assert.equal(p.next(), NEED_MORE)
    }
    stream.push(b('\n'))
    assert.equal(p.next(), REQUEST)
    assert.deepEqual([p.start, p.lineEnd, p.dataStart, p.dataEnd, p.end], [0, 13, 13, 16, 18])
  })

  it('a rejected line is not held while it is skipped', () => {
    const stream = new InputStream()
    const p = new RequestParser(stream)
    stream.push(b('bogus '))
    assert.equal(p.next(), NEED_MORE)
    stream.release(p.consumed)
    stream.push(b('x'.repeat(1000)))
    assert.equal(p.next(), NEED_MORE)
    stream.release(p.consumed)
    assert.equal(stream.retained, 0)
    stream.push(b('\r\n'))
    assert.equal(p.next(), 2)
    assert.equal(p.next(), NEED_MORE)
  })

  it('FATAL is sticky', () => {
    const stream = new InputStream()
    const p = new RequestParser(stream)
    stream.push(b('\x80get a\r\n'))
    assert.equal(p.next(), FATAL)
    stream.push(b('get b\r\n'))
    assert.equal(p.next(), FATAL)
  })
})
