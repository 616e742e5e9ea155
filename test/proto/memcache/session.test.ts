/**
 * memcache sessions against a fake ClientApi / ServerApi that record every call
 * with exact bytes: forwarded requests, multi-get fragments (nutcracker's exact
 * bytes), merged replies (M5: request order, misses, duplicates; M6/M7
 * failures), local replies and closes. No sockets.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createMemcacheProtocol } from '../../../src/proto/memcache/index.js'
import { MC_STORED, MC_VALUE } from '../../../src/proto/memcache/reply-parser.js'
import type { InputStream, PieceSink } from '../../../src/proto/stream.js'
import {
  type ClientApi,
  F_NOREPLY,
  type ProtoLog,
  type ReplyFrame,
  type ReplyHook,
  type SplitHook,
} from '../../../src/proto/types.js'
import { testPoolConfig } from '../../helpers/pool-config.js'
import { forEverySplit } from '../../helpers/split.js'
import { b, ERR, s } from './harness.js'

type Call =
  | { op: 'forward'; server: number; bytes: string; flags: number; hook: boolean }
  | { op: 'forwardBytes'; server: number; bytes: string }
  | { op: 'beginSplit' }
  | { op: 'fragment'; server: number; bytes: string }
  | { op: 'endSplit' }
  | { op: 'reply'; bytes: string }
  | { op: 'close'; bytes: string | null; clean: boolean }

class Collect implements PieceSink {
  readonly pieces: Buffer[] = []
  piece(buf: Buffer, start: number, end: number): void {
    this.pieces.push(buf.subarray(start, end))
  }
  get text(): string {
    return s(Buffer.concat(this.pieces))
  }
}

/** Records the session's calls; routes keys by a table (default server 0). */
class FakeClient implements ClientApi {
  readonly calls: Call[] = []
  readonly hooks: SplitHook[] = []
  readonly forwarded: Collect[] = []
  readonly routed: string[] = []
  readonly log: ProtoLog = { enabled: () => false, log: () => {} }
  constructor(private readonly route: (key: string) => number = () => 0) {}

  serverFor(buf: Uint8Array, start: number, end: number): number {
    const key = s(buf.subarray(start, end))
    this.routed.push(key)
    return this.route(key)
  }
  forward(
    server: number,
    stream: InputStream,
    start: number,
    end: number,
    flags: number,
    hook: ReplyHook | null,
  ): void {
    const c = new Collect()
    stream.pieces(start, end, c)
    this.forwarded.push(c)
    this.calls.push({ op: 'forward', server, bytes: c.text, flags, hook: hook !== null })
  }
  forwardBytes(server: number, bytes: Buffer): void {
    this.calls.push({ op: 'forwardBytes', server, bytes: s(bytes) })
  }
  beginSplit(hook: SplitHook): void {
    this.hooks.push(hook)
    this.calls.push({ op: 'beginSplit' })
  }
  fragment(server: number, bytes: Buffer): void {
    this.calls.push({ op: 'fragment', server, bytes: s(bytes) })
  }
  endSplit(): void {
    this.calls.push({ op: 'endSplit' })
  }
  reply(bytes: Buffer): void {
    this.calls.push({ op: 'reply', bytes: s(bytes) })
  }
  close(bytes: Buffer | null, clean: boolean): void {
    this.calls.push({ op: 'close', bytes: bytes === null ? null : s(bytes), clean })
  }
}

const POOL = testPoolConfig(22122, {
  servers: [0, 1, 2].map((index) => ({
    text: `127.0.0.1:${11212 + index}:1`,
    index,
    name: `127.0.0.1:${11212 + index}`,
    weight: 1,
    address: { kind: 'tcp' as const, host: '127.0.0.1', port: 11212 + index },
  })),
})

function session(route?: (key: string) => number, maxRequestSize?: number) {
  const api = new FakeClient(route)
  const proto = createMemcacheProtocol(POOL, maxRequestSize === undefined ? {} : { maxRequestSize })
  return { api, session: proto.newClientSession(api) }
}

/** Feeds `input` in the given chunks; returns the recorded calls. */
function feed(chunks: readonly Buffer[], route?: (key: string) => number): Call[] {
  const { api, session: sess } = session(route)
  for (const c of chunks) sess.feed(c)
  return api.calls
}

function fwd(server: number, bytes: string, flags = 0): Call {
  return { op: 'forward', server, bytes, flags, hook: false }
}

/** Routes keys named `<server>:<anything>` to that server. */
const byPrefix = (key: string): number => Number(key.split(':')[0])

describe('memcache client session: forwarding', () => {
  it('single-key commands forward their original bytes to the key server', () => {
    const input =
      ' get 1:a\r\ngets 2:b\r\nset 1:c 0 0 1\r\nx\r\nadd 0:d 1 2 3\r\nabc\r\n' +
      'cas 2:e 0 0 1 9\r\ny\r\ndelete 1:f\r\nincr 2:g 1\r\ndecr 0:h 1\r\ntouch 1:i -1\r\n'
    forEverySplit(b(input), (chunks) => feed(chunks, byPrefix), {
      expected: [
        fwd(1, ' get 1:a\r\n'),
        fwd(2, 'gets 2:b\r\n'),
        fwd(1, 'set 1:c 0 0 1\r\nx\r\n'),
        fwd(0, 'add 0:d 1 2 3\r\nabc\r\n'),
        fwd(2, 'cas 2:e 0 0 1 9\r\ny\r\n'),
        fwd(1, 'delete 1:f\r\n'),
        fwd(2, 'incr 2:g 1\r\n'),
        fwd(0, 'decr 0:h 1\r\n'),
        fwd(1, 'touch 1:i -1\r\n'),
      ],
    })
  })

  it('noreply requests carry F_NOREPLY', () => {
    const input =
      'set 1:a 0 0 1 noreply\r\nx\r\ndelete 2:b noreply\r\nincr 0:c 5 noreply\r\ntouch 1:d 0 noreply\r\n'
    forEverySplit(b(input), (chunks) => feed(chunks, byPrefix), {
      expected: [
        fwd(1, 'set 1:a 0 0 1 noreply\r\nx\r\n', F_NOREPLY),
        fwd(2, 'delete 2:b noreply\r\n', F_NOREPLY),
        fwd(0, 'incr 0:c 5 noreply\r\n', F_NOREPLY),
        fwd(1, 'touch 1:d 0 noreply\r\n', F_NOREPLY),
      ],
    })
  })

  it('version goes to the server of the key `placeholder`', () => {
    const { api, session: sess } = session((k) => (k === 'placeholder' ? 2 : 0))
    sess.feed(b('version\r\nversion \r\n'))
    assert.deepEqual(api.calls, [fwd(2, 'version\r\n'), fwd(2, 'version \r\n')])
    assert.deepEqual(api.routed, ['placeholder', 'placeholder'])
  })

  it('quit closes cleanly, not forwarded; later bytes are ignored', () => {
    forEverySplit(b('get a\r\nquit\r\nget b\r\n'), (chunks) => feed(chunks), {
      expected: [fwd(0, 'get a\r\n'), { op: 'close', bytes: null, clean: true }],
    })
  })

  it('M1/M2: rejected requests are answered locally, the connection stays usable', () => {
    const input =
      'stats\r\nget 1:a\r\nGET x\r\nincr k abc\r\ndelete k 0\r\nset k x 0 1\r\nv\r\nget 2:b\r\n'
    forEverySplit(b(input), (chunks) => feed(chunks, byPrefix), {
      expected: [
        { op: 'reply', bytes: 'ERROR\r\n' },
        fwd(1, 'get 1:a\r\n'),
        { op: 'reply', bytes: 'ERROR\r\n' },
        { op: 'reply', bytes: 'CLIENT_ERROR invalid numeric delta argument\r\n' },
        {
          op: 'reply',
          bytes: 'CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n',
        },
        { op: 'reply', bytes: 'CLIENT_ERROR bad command line format\r\n' },
        fwd(2, 'get 2:b\r\n'),
      ],
    })
  })

  it('a key holding LF or NUL is refused, never forwarded (memcached would frame it otherwise)', () => {
    const input =
      'get a\nset\r\nget 1:a 1:b\x00\r\nset k\x00x 0 0 1\r\nv\r\ndelete k\n noreply\r\nget 2:b\r\n'
    forEverySplit(b(input), (chunks) => feed(chunks, byPrefix), {
      expected: [
        { op: 'reply', bytes: 'CLIENT_ERROR bad command line format\r\n' },
        { op: 'reply', bytes: 'CLIENT_ERROR bad command line format\r\n' },
        { op: 'reply', bytes: 'CLIENT_ERROR bad command line format\r\n' },
        fwd(2, 'get 2:b\r\n'),
      ],
    })
  })

  it('numbers memcached cannot read are refused: it would take the data block for commands', () => {
    const input =
      'set k 18446744073709551616 0 1\r\nx\r\n' +
      'set k 0 9223372036854775808 1\r\nx\r\n' +
      'add k 0 -9223372036854775809 1 noreply\r\nx\r\n' +
      'cas k 0 0 1 18446744073709551616\r\nx\r\n' +
      'set 1:a 00018446744073709551615 -9223372036854775808 1\r\nx\r\n' +
      'cas 2:b 0 9223372036854775807 1 018446744073709551615\r\nx\r\n'
    forEverySplit(b(input), (chunks) => feed(chunks, byPrefix), {
      expected: [
        { op: 'reply', bytes: 'CLIENT_ERROR bad command line format\r\n' },
        { op: 'reply', bytes: 'CLIENT_ERROR bad command line format\r\n' },
        { op: 'reply', bytes: 'CLIENT_ERROR bad command line format\r\n' },
        fwd(1, 'set 1:a 00018446744073709551615 -9223372036854775808 1\r\nx\r\n'),
        fwd(2, 'cas 2:b 0 9223372036854775807 1 018446744073709551615\r\nx\r\n'),
      ],
    })
  })

  it('a command line memcached would drop the connection for (over 2048 bytes) is refused', () => {
    const pad = ' '.repeat(2100)
    const keys = Array.from({ length: 300 }, (_, i) => `1:k${i}`).join(' ')
    const input =
      `set k${pad}0 0 1\r\nx\r\n` +
      `delete 1:a${pad}noreply\r\n` +
      `incr 1:a ${'0'.repeat(2100)}1\r\n` +
      `${pad}get 1:a\r\n` +
      `get 1:a${' '.repeat(2030)}\r\n` +
      `get ${keys}\r\n`
    const calls = feed([b(input)], byPrefix)
    // The noreply delete is refused without a reply.
    assert.deepEqual(calls.slice(0, 3), [
      { op: 'reply', bytes: 'CLIENT_ERROR bad command line format\r\n' },
      { op: 'reply', bytes: 'CLIENT_ERROR bad command line format\r\n' },
      { op: 'reply', bytes: 'CLIENT_ERROR bad command line format\r\n' },
    ])
    // 2048 bytes exactly still go; a multi-key get is rebuilt, so its length does not matter.
    assert.deepEqual(calls[3], fwd(1, `get 1:a${' '.repeat(2030)}\r\n`))
    assert.equal(calls.length, 4 + 3)
  })

  it('a rejected noreply request gets no reply', () => {
    forEverySplit(
      b('incr k abc noreply\r\nset k x 0 1 noreply\r\nv\r\nget 1:a\r\n'),
      (chunks) => feed(chunks, byPrefix),
      { expected: [fwd(1, 'get 1:a\r\n')] },
    )
  })

  it('M3: a broken data block closes after the earlier requests, with bad data chunk', () => {
    forEverySplit(
      b('get 1:a\r\nset k 0 0 1\r\nxy\r\nget 2:b\r\n'),
      (chunks) => feed(chunks, byPrefix),
      {
        expected: [
          fwd(1, 'get 1:a\r\n'),
          { op: 'close', bytes: 'CLIENT_ERROR bad data chunk\r\n', clean: false },
        ],
      },
    )
  })

  it('lost framing and binary protocol: error, then close', () => {
    assert.deepEqual(feed([b('set k 0 0\r\nget a\r\n')]), [
      { op: 'close', bytes: ERR.format, clean: false },
    ])
    assert.deepEqual(feed([b('\x80\x00\x00\x02')]), [
      { op: 'close', bytes: ERR.binary, clean: false },
    ])
  })

  it('a request over maxRequestSize is answered SERVER_ERROR and its data discarded', () => {
    const { api, session: sess } = session(undefined, 64)
    sess.feed(b(`set k 0 0 100\r\n${'v'.repeat(50)}`))
    assert.equal(sess.pending, 0, 'the discarded data block is not held')
    sess.feed(b(`${'v'.repeat(50)}\r\nget k\r\n`))
    assert.deepEqual(api.calls, [
      { op: 'reply', bytes: 'SERVER_ERROR object too large for cache\r\n' },
      fwd(0, 'get k\r\n'),
    ])
  })

  it('pending counts the bytes of an incomplete request', () => {
    const { session: sess } = session()
    sess.feed(b('get a\r\nset k 0 0 10\r\nabc'))
    assert.equal(sess.pending, 17)
    sess.feed(b('defghij\r\n'))
    assert.equal(sess.pending, 0)
  })

  it('a 1 MB value is forwarded as views of the received chunks (no copy)', () => {
    const { api, session: sess } = session()
    const head = b('set big 0 0 1048576\r\n')
    const value = Buffer.alloc(1048576, 0x41)
    const chunks: Buffer[] = [Buffer.concat([head, value.subarray(0, 60000)])]
    for (let at = 60000; at < value.length; at += 65536) {
      chunks.push(Buffer.from(value.subarray(at, Math.min(at + 65536, value.length))))
    }
    chunks.push(b('\r\n'))
    for (const c of chunks) sess.feed(c)
    assert.equal(api.calls.length, 1)
    const pieces = api.forwarded[0]!.pieces
    assert.equal(pieces.length, chunks.length)
    for (let i = 0; i < chunks.length; i++) {
      assert.equal(pieces[i]!.buffer, chunks[i]!.buffer, `piece ${i} is a view of chunk ${i}`)
    }
    assert.equal(Buffer.concat(pieces).length, head.length + value.length + 2)
  })
})

// ---------------------------------------------------------------------------
// Multi-get split and merge

interface SplitResult {
  readonly calls: Call[]
  readonly hook: SplitHook
}

function splitOf(line: string, route: (key: string) => number): SplitResult {
  const { api, session: sess } = session(route)
  sess.feed(b(line))
  assert.equal(api.hooks.length, 1, 'one split')
  return { calls: api.calls, hook: api.hooks[0]! }
}

/**
 * Delivers each fragment's reply bytes through a real server session (so the
 * hook sees real ReplyParser frames), in `chunks` pieces, then finishes.
 */
function merge(
  hook: SplitHook,
  replies: readonly (string | { error: string })[],
  order?: readonly number[],
  cut?: number,
): string {
  const proto = createMemcacheProtocol(POOL)
  for (const i of order ?? replies.map((_, k) => k)) {
    const r = replies[i]!
    if (typeof r !== 'string') {
      hook.fragmentError(i, r.error)
      continue
    }
    const server = proto.newServerSession({
      reply: (frame: ReplyFrame, flags: number) => {
        assert.equal(flags, 0)
        hook.fragmentReply(i, frame)
      },
      fail: (reason: string) => assert.fail(`fragment ${i} reply rejected: ${reason}`),
    })
    const bytes = b(r)
    if (cut === undefined || cut <= 0 || cut >= bytes.length) server.feed(bytes)
    else {
      server.feed(Buffer.from(bytes.subarray(0, cut)))
      server.feed(Buffer.from(bytes.subarray(cut)))
    }
  }
  const out = new Collect()
  hook.finish(out)
  return out.text
}

const SPLIT = { op: 'beginSplit' } as const
const END_SPLIT = { op: 'endSplit' } as const
function frag(server: number, bytes: string): Call {
  return { op: 'fragment', server, bytes }
}

// The spec's placement (E-31): key:0..99 on server 1, key:100..199 on server 0.
const spec = (key: string): number => (Number(key.split(':')[1]) >= 100 ? 0 : 1)

describe('memcache multi-get: fragments (nutcracker bytes)', () => {
  it('E-31: one sub-request per server, request order, duplicates, trailing space', () => {
    const line = 'get key:100 key:0 key:110 key:10 key:100\r\n'
    forEverySplit(
      b(line),
      (chunks) => {
        const { api, session: sess } = session(spec)
        for (const c of chunks) sess.feed(c)
        return api.calls
      },
      {
        expected: [
          SPLIT,
          frag(0, 'get key:100 key:110 key:100 \r\n'),
          frag(1, 'get key:0 key:10 \r\n'),
          END_SPLIT,
        ],
      },
    )
  })

  it('gets keeps its verb; server-index order whatever the key order', () => {
    const { calls } = splitOf('gets 2:a 0:b 1:c 2:d\r\n', byPrefix)
    assert.deepEqual(calls, [
      SPLIT,
      frag(0, 'gets 0:b \r\n'),
      frag(1, 'gets 1:c \r\n'),
      frag(2, 'gets 2:a 2:d \r\n'),
      END_SPLIT,
    ])
  })

  it('two keys on one server are still split (one fragment)', () => {
    const { calls } = splitOf('get a b\r\n', () => 0)
    assert.deepEqual(calls, [SPLIT, frag(0, 'get a b \r\n'), END_SPLIT])
  })

  it('every server ejected (serverFor -1): the fragment goes to -1 for the core to fail', () => {
    const { calls, hook } = splitOf('get a b\r\n', () => -1)
    assert.deepEqual(calls, [SPLIT, frag(-1, 'get a b \r\n'), END_SPLIT])
    assert.equal(
      merge(hook, [{ error: 'Connection refused' }]),
      'SERVER_ERROR Connection refused\r\n',
    )
  })

  it('keys with odd bytes are copied exactly into the fragments', () => {
    const { calls } = splitOf('get k\t1  k\xc3\xa9 k\x011 \r\n', (k) => (k === 'k\xc3\xa9' ? 1 : 0))
    assert.deepEqual(calls, [
      SPLIT,
      frag(0, 'get k\t1 k\x011 \r\n'),
      frag(1, 'get k\xc3\xa9 \r\n'),
      END_SPLIT,
    ])
  })
})

describe('memcache multi-get: merged reply (M5)', () => {
  const item = (key: string, data: string, cas?: number | string) =>
    `VALUE ${key} 0 ${data.length}${cas === undefined ? '' : ` ${cas}`}\r\n${data}\r\n`

  it('all found: request order, whatever order the fragments complete in', () => {
    const { hook } = splitOf('get 1:a 0:b 1:c\r\n', byPrefix)
    const replies = [`${item('0:b', 'B')}END\r\n`, `${item('1:a', 'A')}${item('1:c', 'C')}END\r\n`]
    const want = `${item('1:a', 'A')}${item('0:b', 'B')}${item('1:c', 'C')}END\r\n`
    assert.equal(merge(hook, replies, [1, 0]), want)
  })

  it('replies split at every offset merge identically', () => {
    const replies = [
      `${item('0:b', 'B')}END\r\n`,
      `${item('1:a', 'A\r\nEND\r\n')}${item('1:c', 'C')}END\r\n`,
    ]
    const want = `${item('1:a', 'A\r\nEND\r\n')}${item('0:b', 'B')}${item('1:c', 'C')}END\r\n`
    for (let cut = 1; cut < replies[1]!.length; cut++) {
      const { hook } = splitOf('get 1:a 0:b 1:c\r\n', byPrefix)
      assert.equal(merge(hook, replies, [0, 1], cut), want, `cut ${cut}`)
    }
  })

  it('E-31 with key:100 missing: request order (nutcracker would put key:110 first)', () => {
    const { hook } = splitOf('get key:100 key:0 key:110\r\n', spec)
    const out = merge(hook, [`${item('key:110', '1')}END\r\n`, `${item('key:0', '1')}END\r\n`])
    assert.equal(out, `${item('key:0', '1')}${item('key:110', '1')}END\r\n`)
  })

  it('missing keys are absent; all missing → END', () => {
    const { hook } = splitOf('get 0:a 1:b 0:c 1:d\r\n', byPrefix)
    assert.equal(
      merge(hook, [`${item('0:c', 'C')}END\r\n`, 'END\r\n']),
      `${item('0:c', 'C')}END\r\n`,
    )
    const h2 = splitOf('get 0:a 1:b\r\n', byPrefix).hook
    assert.equal(merge(h2, ['END\r\n', 'END\r\n']), 'END\r\n')
  })

  it('duplicates appear as often as requested and found', () => {
    const { hook } = splitOf('get 0:a 0:a 1:b 1:b 0:a\r\n', byPrefix)
    const a = item('0:a', 'A')
    const bb = item('1:b', 'B')
    assert.equal(
      merge(hook, [`${a}${a}${a}END\r\n`, `${bb}${bb}END\r\n`]),
      `${a}${a}${bb}${bb}${a}END\r\n`,
    )
  })

  it('a key missing between duplicates of another', () => {
    const { hook } = splitOf('get 0:a 0:x 0:a\r\n', byPrefix)
    const a = item('0:a', 'A')
    assert.equal(merge(hook, [`${a}${a}END\r\n`]), `${a}${a}END\r\n`)
  })

  it('gets items keep their cas unique', () => {
    const { hook } = splitOf('gets 1:a 0:b\r\n', byPrefix)
    const out = merge(hook, [
      `${item('0:b', 'bb', 7)}END\r\n`,
      `${item('1:a', 'a', '18446744073709551615')}END\r\n`,
    ])
    assert.equal(out, `${item('1:a', 'a', '18446744073709551615')}${item('0:b', 'bb', 7)}END\r\n`)
  })

  it('items a server sent out of request order are dropped, never misplaced', () => {
    const { hook } = splitOf('get 0:a 0:b 1:c\r\n', byPrefix)
    const out = merge(hook, [
      `${item('0:b', 'B')}${item('0:a', 'A')}END\r\n`,
      `${item('1:c', 'C')}END\r\n`,
    ])
    assert.equal(out, `${item('0:b', 'B')}${item('1:c', 'C')}END\r\n`)
  })

  it('1000 keys over 3 servers with misses: request order, values as views', () => {
    const keys = Array.from({ length: 1000 }, (_, i) => `${i % 3}:k${i}`)
    const { calls, hook } = splitOf(`get ${keys.join(' ')}\r\n`, byPrefix)
    assert.equal(calls.length, 5)
    for (let srv = 0; srv < 3; srv++) {
      const own = keys.filter((k) => byPrefix(k) === srv)
      assert.deepEqual(calls[srv + 1], frag(srv, `get ${own.join(' ')} \r\n`))
    }
    const found = (k: string) => Number(k.split(':k')[1]) % 7 !== 0
    const replies = [0, 1, 2].map(
      (srv) =>
        `${keys
          .filter((k) => byPrefix(k) === srv && found(k))
          .map((k) => item(k, k.repeat(3)))
          .join('')}END\r\n`,
    )
    const want = `${keys
      .filter(found)
      .map((k) => item(k, k.repeat(3)))
      .join('')}END\r\n`
    assert.equal(merge(hook, replies, [2, 0, 1]), want)
  })

  it('a 1 MB value is passed as views of the server chunks', () => {
    const { hook } = splitOf('get 0:a 1:b\r\n', byPrefix)
    const value = 'v'.repeat(1048576)
    const chunk = b(`${item('0:a', value)}END\r\n`)
    const proto = createMemcacheProtocol(POOL)
    const srv = proto.newServerSession({
      reply: (f) => hook.fragmentReply(0, f),
      fail: () => assert.fail('rejected'),
    })
    srv.feed(chunk)

    const srv1 = proto.newServerSession({
      reply: (f) => hook.fragmentReply(1, f),
      fail: () => assert.fail('rejected'),
    })
    srv1.feed(b('END\r\n'))
    const out = new Collect()
    hook.finish(out)
    assert.equal(out.pieces.length, 2)
    assert.equal(out.pieces[0]!.buffer, chunk.buffer, 'the item is a view of the reply chunk')
    assert.equal(out.pieces[0]!.length, chunk.length - 5)
    assert.equal(s(out.pieces[1]!), 'END\r\n')
  })
})

describe('memcache multi-get: failures (M6, M7)', () => {
  const ok = 'VALUE 0:a 0 1\r\nA\r\nEND\r\n'

  it('M6: a fragment failing at connection level → one SERVER_ERROR <reason>', () => {
    const { hook } = splitOf('get 0:a 1:b\r\n', byPrefix)
    assert.equal(
      merge(hook, [ok, { error: 'Connection refused' }]),
      'SERVER_ERROR Connection refused\r\n',
    )
  })

  it('M6: the connection stays usable (no close) and later requests go on', () => {
    const { api, session: sess } = session(byPrefix)
    sess.feed(b('get 0:a 1:b\r\nget 2:c\r\n'))
    assert.deepEqual(api.calls, [
      SPLIT,
      frag(0, 'get 0:a \r\n'),
      frag(1, 'get 1:b \r\n'),
      END_SPLIT,
      fwd(2, 'get 2:c\r\n'),
    ])
  })

  it('M7: SERVER_ERROR from a server is passed on as is', () => {
    const { hook } = splitOf('get 0:a 1:b\r\n', byPrefix)
    assert.equal(
      merge(hook, [ok, 'SERVER_ERROR out of memory writing get response\r\n']),
      'SERVER_ERROR out of memory writing get response\r\n',
    )
  })

  it('M7: ERROR and CLIENT_ERROR become SERVER_ERROR + the server line', () => {
    let { hook } = splitOf('get 0:a 1:b\r\n', byPrefix)
    assert.equal(merge(hook, [ok, 'ERROR\r\n']), 'SERVER_ERROR ERROR\r\n')
    ;({ hook } = splitOf('get 0:a 1:b\r\n', byPrefix))
    assert.equal(
      merge(hook, ['CLIENT_ERROR bad command line format\r\n', ok]),
      'SERVER_ERROR CLIENT_ERROR bad command line format\r\n',
    )
  })

  it('a reply no get can have (STORED) → SERVER_ERROR Invalid argument', () => {
    const { hook } = splitOf('get 0:a 1:b\r\n', byPrefix)
    assert.equal(merge(hook, [ok, 'STORED\r\n']), 'SERVER_ERROR Invalid argument\r\n')
  })

  it('several failures: the lowest fragment index wins, whatever the completion order', () => {
    const { hook } = splitOf('get 0:a 1:b 2:c\r\n', byPrefix)
    const out = merge(
      hook,
      [ok, 'SERVER_ERROR first\r\n', { error: 'Connection timed out' }],
      [2, 0, 1],
    )
    assert.equal(out, 'SERVER_ERROR first\r\n')
  })
})

describe('memcache protocol object and server session', () => {
  it('name, handshake, errorReply', () => {
    const proto = createMemcacheProtocol(POOL)
    assert.equal(proto.name, 'memcache')
    assert.deepEqual(proto.handshake(false), [])
    assert.deepEqual(proto.handshake(true), [])
    assert.equal(s(proto.errorReply('Connection refused')), 'SERVER_ERROR Connection refused\r\n')
    assert.equal(s(proto.errorReply('unknown')), 'SERVER_ERROR unknown\r\n')
  })

  it('server session reports each reply with flags 0, error lines included', () => {
    const proto = createMemcacheProtocol(POOL)
    const seen: [number, string, number][] = []
    const input = 'STORED\r\nVALUE k 0 1\r\nx\r\nEND\r\nSERVER_ERROR boom\r\n'
    forEverySplit(
      b(input),
      (chunks) => {
        seen.length = 0
        const srv = proto.newServerSession({
          reply: (f, flags) => seen.push([f.kind, s(f.stream.view(f.start, f.end)), flags]),
          fail: (r) => seen.push([-1, r, 0]),
        })
        for (const c of chunks) srv.feed(c)
        return [...seen]
      },
      {
        expected: [
          [MC_STORED, 'STORED\r\n', 0],
          [MC_VALUE, 'VALUE k 0 1\r\nx\r\nEND\r\n', 0],
          [13, 'SERVER_ERROR boom\r\n', 0],
        ],
      },
    )
  })

  it('server session fails the connection on a non-reply (HELLO WORLD), once', () => {
    const proto = createMemcacheProtocol(POOL)
    const seen: string[] = []
    const srv = proto.newServerSession({
      reply: (f) => seen.push(s(f.stream.view(f.start, f.end))),
      fail: (r) => seen.push(`fail:${r}`),
    })
    srv.feed(b('STORED\r\nHELLO WORLD\r\n'))
    srv.feed(b('STORED\r\n'))
    assert.deepEqual(seen, ['STORED\r\n', 'fail:Invalid argument'])
  })
})
