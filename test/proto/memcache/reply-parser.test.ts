/**
 * Reply parser: every reply form memcached sends (memcached protocol.txt;
 * ../shared/spec/memcache.md §3), VALUE blocks of any number and size of items
 * as one frame, and the lines that are not replies. Each case runs whole, byte
 * by byte and split in two at every offset.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  MC_CLIENT_ERROR,
  MC_DELETED,
  MC_END,
  MC_ERROR,
  MC_EXISTS,
  MC_NOT_FOUND,
  MC_NOT_STORED,
  MC_NUMBER,
  MC_SERVER_ERROR,
  MC_STORED,
  MC_TOUCHED,
  MC_VALUE,
  MC_VERSION,
  ReplyParser,
  RP_ERROR,
  RP_FRAME,
  RP_NEED_MORE,
} from '../../../src/proto/memcache/reply-parser.js'
import { InputStream } from '../../../src/proto/stream.js'
import { forEverySplit } from '../../helpers/split.js'
import { b, s } from './harness.js'

interface ReplyEvent {
  readonly kind: number
  readonly frame: string
  readonly items: readonly { readonly item: string; readonly key: string }[]
}

interface ReplyRun {
  readonly frames: readonly ReplyEvent[]
  readonly error: boolean
  /** Bytes held for a partial reply at the end. */
  readonly held: number
}

/** Runs the reply parser over `chunks`, releasing like the server session does. */
function parseReplies(chunks: readonly Buffer[], maxLine?: number): ReplyRun {
  const stream = new InputStream()
  const p = new ReplyParser(stream, maxLine === undefined ? {} : { maxLine })
  const frames: ReplyEvent[] = []
  let error = false
  for (const chunk of chunks) {
    if (error) break
    stream.push(chunk)
    for (;;) {
      const st = p.next()
      if (st === RP_NEED_MORE) {
        stream.release(p.consumed)
        break
      }
      if (st === RP_ERROR) {
        error = true
        assert.equal(p.next(), RP_ERROR, 'RP_ERROR is sticky')
        break
      }
      assert.equal(st, RP_FRAME)
      const items: { item: string; key: string }[] = []
      for (let i = 0; i < p.count; i++) {
        items.push({
          item: s(stream.view(p.elemStart(i), p.elemEnd(i))),
          key: s(stream.view(p.keyStart(i), p.keyEnd(i))),
        })
      }
      frames.push({ kind: p.kind, frame: s(stream.view(p.start, p.end)), items })
      stream.release(p.end)
    }
  }
  return { frames, error, held: error ? 0 : stream.end - p.consumed }
}

function line(kind: number, text: string): ReplyEvent {
  return { kind, frame: text, items: [] }
}

function values(...items: [key: string, item: string][]): ReplyEvent {
  return {
    kind: MC_VALUE,
    frame: `${items.map(([, i]) => i).join('')}END\r\n`,
    items: items.map(([key, item]) => ({ item, key })),
  }
}

interface Case {
  readonly name: string
  readonly input: string
  readonly frames: readonly ReplyEvent[]
  readonly error?: boolean
  readonly held?: number
  readonly maxLine?: number
}

function run(cases: readonly Case[]): void {
  for (const c of cases) {
    it(c.name, () => {
      const expected: ReplyRun = {
        frames: c.frames,
        error: c.error ?? false,
        held: c.held ?? 0,
      }
      forEverySplit(b(c.input), (chunks) => parseReplies(chunks, c.maxLine), { expected })
    })
  }
}

describe('memcache reply parser: one-line replies', () => {
  run([
    { name: 'STORED', input: 'STORED\r\n', frames: [line(MC_STORED, 'STORED\r\n')] },
    {
      name: 'NOT_STORED',
      input: 'NOT_STORED\r\n',
      frames: [line(MC_NOT_STORED, 'NOT_STORED\r\n')],
    },
    { name: 'EXISTS', input: 'EXISTS\r\n', frames: [line(MC_EXISTS, 'EXISTS\r\n')] },
    { name: 'NOT_FOUND', input: 'NOT_FOUND\r\n', frames: [line(MC_NOT_FOUND, 'NOT_FOUND\r\n')] },
    { name: 'DELETED', input: 'DELETED\r\n', frames: [line(MC_DELETED, 'DELETED\r\n')] },
    { name: 'TOUCHED', input: 'TOUCHED\r\n', frames: [line(MC_TOUCHED, 'TOUCHED\r\n')] },
    {
      name: 'numbers',
      input: '15\r\n0\r\n18446744073709551615\r\n',
      frames: [
        line(MC_NUMBER, '15\r\n'),
        line(MC_NUMBER, '0\r\n'),
        line(MC_NUMBER, '18446744073709551615\r\n'),
      ],
    },
    {
      name: 'VERSION',
      input: 'VERSION 1.6.18\r\n',
      frames: [line(MC_VERSION, 'VERSION 1.6.18\r\n')],
    },
    {
      name: 'ERROR, bare and with text',
      input: 'ERROR\r\nERROR Too many open connections\r\n',
      frames: [line(MC_ERROR, 'ERROR\r\n'), line(MC_ERROR, 'ERROR Too many open connections\r\n')],
    },
    {
      name: 'CLIENT_ERROR',
      input: 'CLIENT_ERROR cannot increment or decrement non-numeric value\r\n',
      frames: [
        line(MC_CLIENT_ERROR, 'CLIENT_ERROR cannot increment or decrement non-numeric value\r\n'),
      ],
    },
    {
      name: 'SERVER_ERROR, with text and bare',
      input: 'SERVER_ERROR object too large for cache\r\nSERVER_ERROR\r\n',
      frames: [
        line(MC_SERVER_ERROR, 'SERVER_ERROR object too large for cache\r\n'),
        line(MC_SERVER_ERROR, 'SERVER_ERROR\r\n'),
      ],
    },
    { name: 'END alone', input: 'END\r\n', frames: [line(MC_END, 'END\r\n')] },
    {
      name: 'partial line is held',
      input: 'STORED\r\nSTO',
      frames: [line(MC_STORED, 'STORED\r\n')],
      held: 3,
    },
  ])
})

describe('memcache reply parser: VALUE ... END is one frame', () => {
  run([
    {
      name: 'one item',
      input: 'VALUE foo 0 3\r\nbar\r\nEND\r\n',
      frames: [values(['foo', 'VALUE foo 0 3\r\nbar\r\n'])],
    },
    {
      name: 'gets: item with cas',
      input: 'VALUE k1 5 3 2\r\nabc\r\nEND\r\n',
      frames: [values(['k1', 'VALUE k1 5 3 2\r\nabc\r\n'])],
    },
    {
      name: 'several items, empty value, data holding CRLF END CRLF',
      input: 'VALUE a 0 1\r\nx\r\nVALUE b 7 0\r\n\r\nVALUE c 0 13\r\nEND\r\nVALUE \r\n\r\nEND\r\n',
      frames: [
        values(
          ['a', 'VALUE a 0 1\r\nx\r\n'],
          ['b', 'VALUE b 7 0\r\n\r\n'],
          ['c', 'VALUE c 0 13\r\nEND\r\nVALUE \r\n\r\n'],
        ),
      ],
    },
    {
      name: 'duplicate keys (get a a)',
      input: 'VALUE a 0 1\r\nx\r\nVALUE a 0 1\r\nx\r\nEND\r\n',
      frames: [values(['a', 'VALUE a 0 1\r\nx\r\n'], ['a', 'VALUE a 0 1\r\nx\r\n'])],
    },
    {
      name: 'key bytes other than SP (tab, UTF-8)',
      input: 'VALUE k\t\xc3\xa9 0 1\r\nx\r\nEND\r\n',
      frames: [values(['k\t\xc3\xa9', 'VALUE k\t\xc3\xa9 0 1\r\nx\r\n'])],
    },
    {
      name: 'pipelined replies',
      input: 'STORED\r\nVALUE p1 0 1\r\na\r\nEND\r\nDELETED\r\nEND\r\n',
      frames: [
        line(MC_STORED, 'STORED\r\n'),
        values(['p1', 'VALUE p1 0 1\r\na\r\n']),
        line(MC_DELETED, 'DELETED\r\n'),
        line(MC_END, 'END\r\n'),
      ],
    },
    {
      name: 'partial VALUE block is held from its start',
      input: 'STORED\r\nVALUE a 0 1\r\nx\r\nVALUE b 0 2\r\ny',
      frames: [line(MC_STORED, 'STORED\r\n')],
      held: 30,
    },
  ])

  // Whole, the next replies are framed in one pass (fastReply); cut, by the line
  // classifier. run() checks both ways give the same frames.
  run([
    {
      name: 'bytes of 10 digits, then 11 (leading zeros); flags and cas of 20 digits',
      input:
        'VALUE a 0 0000000001\r\nx\r\nVALUE b 18446744073709551615 00000000001 18446744073709551615\r\ny\r\nEND\r\n',
      frames: [
        values(
          ['a', 'VALUE a 0 0000000001\r\nx\r\n'],
          ['b', 'VALUE b 18446744073709551615 00000000001 18446744073709551615\r\ny\r\n'],
        ),
      ],
    },
    {
      name: 'several spaces between fields, a key byte below SP',
      input: 'VALUE  a  0  1\r\nx\r\nVALUE b\x01 0 1\r\ny\r\nEND\r\n',
      frames: [values(['a', 'VALUE  a  0  1\r\nx\r\n'], ['b\x01', 'VALUE b\x01 0 1\r\ny\r\n'])],
    },
    {
      name: 'a VALUE line of exactly maxLine bytes, then one byte over',
      input: `VALUE ${'k'.repeat(20)} 0 1\r\nx\r\nEND\r\nVALUE ${'k'.repeat(21)} 0 1\r\nx\r\nEND\r\n`,
      maxLine: 32,
      frames: [values(['k'.repeat(20), `VALUE ${'k'.repeat(20)} 0 1\r\nx\r\n`])],
      error: true,
    },
    {
      name: 'STORED over a maxLine of 7',
      input: 'STORED\r\n',
      maxLine: 7,
      frames: [],
      error: true,
    },
    {
      name: 'END over a maxLine of 4',
      input: 'END\r\n',
      maxLine: 4,
      frames: [],
      error: true,
    },
    {
      name: 'STORED then END, back to back, and END cut at its LF',
      input: 'STORED\r\nEND\r\nEND\r',
      frames: [line(MC_STORED, 'STORED\r\n'), line(MC_END, 'END\r\n')],
      held: 4,
    },
  ])

  it('1000 items in one frame', () => {
    let input = ''
    const items: [string, string][] = []
    for (let i = 0; i < 1000; i++) {
      const item = `VALUE key:${i} ${i} ${String(i).length}\r\n${i}\r\n`
      items.push([`key:${i}`, item])
      input += item
    }
    input += 'END\r\n'
    forEverySplit(b(input), (chunks) => parseReplies(chunks), {
      byteByByte: true,
      offsets: [1, 5, 100, 1000, 10000, input.length - 3],
      expected: { frames: [values(...items)], error: false, held: 0 },
    })
  })

  it('a 1 MB value (and a 2 MB one) is framed by length', () => {
    for (const size of [1048576, 2 * 1048576]) {
      const data = Buffer.alloc(size, 0x7a)
      data.write('\r\nEND\r\nVALUE x 0 1\r\n', 500, 'latin1')
      const head = b(`VALUE big 3 ${size} 77\r\n`)
      const input = Buffer.concat([head, data, b('\r\nEND\r\nSTORED\r\n')])
      const offsets = [1, head.length - 1, head.length, 65536, input.length - 13, input.length - 1]
      forEverySplit(
        input,
        (chunks) => {
          const r = parseReplies(chunks)
          return r.frames.map((f) => ({
            kind: f.kind,
            frame: f.frame.length,
            items: f.items.map((i) => [i.key, i.item.length]),
          }))
        },
        {
          byteByByte: false,
          offsets,
          expected: [
            {
              kind: MC_VALUE,
              frame: head.length + size + 7,
              items: [['big', head.length + size + 2]],
            },
            { kind: MC_STORED, frame: 8, items: [] },
          ],
        },
      )
    }
  })
})

describe('memcache reply parser: not a reply → error', () => {
  const bad = [
    'HELLO WORLD\r\n',
    'stored\r\n',
    'STORED \r\n',
    'OK\r\n',
    'VERSIONX\r\n',
    'ERRORS\r\n',
    'END \r\n',
    '\r\n',
    '-1\r\n',
    '1 2\r\n',
    'STORED\n',
    'STORED\rX\r\n',
    'VALUE k 0\r\n',
    'VALUE k 0 x\r\nx\r\nEND\r\n',
    'VALUE k 0 1 2 3\r\nx\r\nEND\r\n',
    'VALUE  0 1\r\n',
    'VALUE k 0 99999999999\r\n',
    'VALUE k 0 1\r\nxy\r\nEND\r\n',
    'VALUE k 0 1\r\nx\r\nSTORED\r\n',
    'VALUE k 0 1\r\nx\r\nVALUE\r\n',
  ]
  for (const input of bad) {
    it(JSON.stringify(input), () => {
      forEverySplit(b(input), (chunks) => parseReplies(chunks), {
        expected: { frames: [], error: true, held: 0 },
      })
    })
  }
  run([
    {
      name: 'frames before the bad line are delivered',
      input: 'STORED\r\nHELLO WORLD\r\nSTORED\r\n',
      frames: [line(MC_STORED, 'STORED\r\n')],
      error: true,
    },
    {
      name: 'line longer than maxLine',
      input: `SERVER_ERROR ${'x'.repeat(20)}\r\n`,
      maxLine: 32,
      frames: [],
      error: true,
    },
    {
      name: 'line of exactly maxLine bytes',
      input: `SERVER_ERROR ${'x'.repeat(17)}\r\n`,
      maxLine: 32,
      frames: [line(MC_SERVER_ERROR, `SERVER_ERROR ${'x'.repeat(17)}\r\n`)],
    },
    {
      name: 'unterminated line over maxLine fails without waiting',
      input: 'x'.repeat(40),
      maxLine: 32,
      frames: [],
      error: true,
    },
  ])
})
