/**
 * Redis client and server sessions against a fake ClientApi / ServerApi that
 * records every call (exact bytes). Client inputs run whole, byte by byte and
 * split in two at every offset; the recorded calls must not change.
 * Covers every command class, split/merge, spec §6 AUTH sequences and
 * deviations R1-R7, R9-R11, R13, R14.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { PoolConfig } from '../../../src/config/types.js'
import { createRedisProtocol } from '../../../src/proto/redis/index.js'
import { FRAME, ReplyParser } from '../../../src/proto/redis/reply-parser.js'
import { InputStream, type PieceSink, type PieceSource } from '../../../src/proto/stream.js'
import {
  type ClientApi,
  F_FAILURE,
  type Protocol,
  type ProtoLog,
  type ReplyFrame,
  type ReplyHook,
  type SplitHook,
} from '../../../src/proto/types.js'
import { testPoolConfig } from '../../helpers/pool-config.js'
import { forEverySplit } from '../../helpers/split.js'

function pool(over: Partial<PoolConfig> = {}, servers = 3): PoolConfig {
  return testPoolConfig(22121, {
    redis: true,
    servers: Array.from({ length: servers }, (_, i) => ({
      text: `127.0.0.1:${6379 + i}:1`,
      index: i,
      name: `127.0.0.1:${6379 + i}`,
      weight: 1,
      address: { kind: 'tcp' as const, host: '127.0.0.1', port: 6379 + i },
    })),
    ...over,
  })
}

/** Key placement of the fake: a key's server is the digit it ends with (mod 3), else 0. */
function placement(key: string): number {
  if (key === 'placeholder') return 2
  const last = key.charCodeAt(key.length - 1)
  return last >= 48 && last <= 57 ? (last - 48) % 3 : 0
}

/** A reply a fake server sends to a fragment: bytes, or a connection-level failure. */
type FragmentReply = string | { fail: string }

type Call =
  | { forward: number; bytes: string }
  | { forwardBytes: number; bytes: string }
  | { split: [number, string][]; merged: string }
  | { reply: string }
  | { close: string | null; clean: boolean }

const silentLog: ProtoLog = { enabled: () => false, log: () => {} }

/** Frames `bytes` as a server reply, fed one byte per chunk (so replies span many chunks). */
function frameOf(bytes: string): ReplyFrame {
  const stream = new InputStream()
  const p = new ReplyParser(stream)
  const input = Buffer.from(bytes, 'latin1')
  for (let i = 0; i < input.length; i++) {
    stream.push(input.subarray(i, i + 1))
    if (p.next() === FRAME) {
      assert.equal(i, input.length - 1, 'fixture: one complete reply')
      return p
    }
  }
  throw new Error(`fixture: incomplete reply ${JSON.stringify(bytes)}`)
}

/** The bytes a source pushes into a sink, as text. */
function pushedText(push: (sink: PieceSink) => void): string {
  const parts: Buffer[] = []
  push({ piece: (buf, s, e) => parts.push(Buffer.from(buf.subarray(s, e))) })
  return Buffer.concat(parts).toString('latin1')
}

function collect(hook: SplitHook): string {
  return pushedText((sink) => hook.finish(sink))
}

/** A fragment's request, given as bytes or as pieces. */
function requestText(request: Buffer | PieceSource): string {
  return request instanceof Uint8Array
    ? request.toString('latin1')
    : pushedText((sink) => request.pushTo(sink))
}

class FakeClient implements ClientApi {
  readonly calls: Call[] = []
  readonly log = silentLog
  private splitHook: SplitHook | null = null
  private fragments: [number, string][] = []
  private splits = 0
  closed = false

  constructor(private readonly fragmentReplies: FragmentReply[][]) {}

  serverFor(buf: Uint8Array, start: number, end: number): number {
    return placement(Buffer.from(buf.subarray(start, end)).toString('latin1'))
  }

  forward(
    server: number,
    stream: InputStream,
    start: number,
    end: number,
    flags: number,
    hook: ReplyHook | null,
  ): void {
    this.check(flags, hook)
    this.calls.push({ forward: server, bytes: stream.view(start, end).toString('latin1') })
  }

  forwardBytes(server: number, bytes: Buffer, flags: number, hook: ReplyHook | null): void {
    this.check(flags, hook)
    this.calls.push({ forwardBytes: server, bytes: bytes.toString('latin1') })
  }

  beginSplit(hook: SplitHook): void {
    assert.equal(this.splitHook, null)
    this.splitHook = hook
    this.fragments = []
  }

  fragment(server: number, request: Buffer | PieceSource): void {
    assert.ok(this.splitHook !== null)
    this.fragments.push([server, requestText(request)])
  }

  endSplit(): void {
    const hook = this.splitHook!
    const replies = this.fragmentReplies[this.splits++] ?? []
    assert.equal(replies.length, this.fragments.length, 'fixture: one reply per fragment')
    replies.forEach((r, i) => {
      if (typeof r === 'string') hook.fragmentReply(i, frameOf(r))
      else hook.fragmentError(i, r.fail)
    })
    this.calls.push({ split: this.fragments, merged: collect(hook) })
    this.splitHook = null
  }

  reply(bytes: Buffer): void {
    this.calls.push({ reply: bytes.toString('latin1') })
  }

  close(bytes: Buffer | null, clean: boolean): void {
    assert.equal(this.closed, false, 'close called twice')
    this.closed = true
    this.calls.push({ close: bytes === null ? null : bytes.toString('latin1'), clean })
  }

  private check(flags: number, hook: ReplyHook | null): void {
    assert.equal(flags, 0)
    assert.equal(hook, null)
  }
}

function run(protocol: Protocol, input: string | Buffer, replies: FragmentReply[][] = []): Call[] {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'latin1') : input
  return forEverySplit(bytes, (chunks) => {
    const api = new FakeClient(replies)
    const session = protocol.newClientSession(api)
    for (const c of chunks) session.feed(c)
    return api.calls.map((c) => {
      // Client ids differ per session: normalise them where they appear.
      if ('reply' in c)
        return { reply: c.reply.replace(/:\d+\r\n\$4\r\nmode/, ':ID\r\n$4\r\nmode') }
      return c
    })
  })
}

function cmd(...args: string[]): string {
  return `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a, 'latin1')}\r\n${a}\r\n`).join('')}`
}

const plain = createRedisProtocol(pool())
const withAuth = createRedisProtocol(pool({ redisAuth: 's3cret' }))

const NOAUTH = '-NOAUTH Authentication required\r\n'

describe('redis session: routing', () => {
  it('forwards single-key commands verbatim to the key server (argv[1])', () => {
    const input =
      cmd('GET', 'a1') + cmd('set', 'k2', 'v') + cmd('gEt', '') + cmd('SUNION', 'x', 'y1')
    assert.deepEqual(run(plain, input), [
      { forward: 1, bytes: cmd('GET', 'a1') },
      { forward: 2, bytes: cmd('set', 'k2', 'v') },
      { forward: 0, bytes: cmd('gEt', '') },
      { forward: 0, bytes: cmd('SUNION', 'x', 'y1') },
    ])
  })

  it('R13: ZDIFF/ZINTER/ZUNION route by their first key (argv[2]); *STORE by argv[1]', () => {
    const input =
      cmd('ZUNION', '10', 'k1', 'k2') +
      cmd('zinter', '1', 'k2') +
      cmd('ZUNIONSTORE', 'd2', '1', 'k1')
    assert.deepEqual(run(plain, input), [
      { forward: 1, bytes: cmd('ZUNION', '10', 'k1', 'k2') },
      { forward: 2, bytes: cmd('zinter', '1', 'k2') },
      { forward: 2, bytes: cmd('ZUNIONSTORE', 'd2', '1', 'k1') },
    ])
  })

  it('COMMAND (every form) and LOLWUT go to the server of `placeholder`', () => {
    const input =
      cmd('COMMAND') +
      cmd('COMMAND', 'DOCS') +
      cmd('command', 'info', 'get') +
      cmd('LOLWUT', 'a', 'b')
    assert.deepEqual(run(plain, input), [
      { forward: 2, bytes: cmd('COMMAND') },
      { forward: 2, bytes: cmd('COMMAND', 'DOCS') },
      { forward: 2, bytes: cmd('command', 'info', 'get') },
      { forward: 2, bytes: cmd('LOLWUT', 'a', 'b') },
    ])
  })

  it('R4: inline commands are forwarded re-encoded as RESP', () => {
    assert.deepEqual(run(plain, "GET a1\r\nset \"k 2\" 'v\\'x'\n\r\n"), [
      { forwardBytes: 1, bytes: cmd('GET', 'a1') },
      { forwardBytes: 2, bytes: cmd('set', 'k 2', "v'x") },
    ])
  })

  it('EVAL/EVALSHA go to the first key (argv[3]); R14: at any chunk boundary', () => {
    const script = `return 1 --${'x'.repeat(40)}`
    const input = cmd('EVAL', script, '2', 'a2', 'b1', 'arg') + cmd('evalsha', 'abc', '1', 'k1')
    assert.deepEqual(run(plain, input), [
      { forward: 2, bytes: cmd('EVAL', script, '2', 'a2', 'b1', 'arg') },
      { forward: 1, bytes: cmd('evalsha', 'abc', '1', 'k1') },
    ])
  })

  it('R14: numkeys ending at a 16 KiB chunk boundary (nutcracker 0.5.0 closed there)', () => {
    for (const numkeys of ['1', '10', '100']) {
      const keys = Array.from({ length: Number(numkeys) }, (_, i) => `k${i}1`)
      // Place the numkeys digits so that they end exactly at offset 16336.
      let script = `return 1 --${'x'.repeat(16000)}`
      let input = cmd('EVAL', script, numkeys, ...keys)
      let at = input.indexOf(`\r\n$${numkeys.length}\r\n${numkeys}\r\n`) + 6 + numkeys.length
      script += 'x'.repeat(16336 - at)
      input = cmd('EVAL', script, numkeys, ...keys)
      at = input.indexOf(`\r\n$${numkeys.length}\r\n${numkeys}\r\n`) + 6 + numkeys.length
      assert.equal(at, 16336, 'fixture: numkeys ends at the boundary')
      const offsets = [at - 3, at - 2, at - 1, at, at + 1, at + 2]
      const got = forEverySplit(
        Buffer.from(input, 'latin1'),
        (chunks) => {
          const api = new FakeClient([])
          const session = plain.newClientSession(api)
          for (const c of chunks) session.feed(c)
          return api.calls
        },
        { byteByByte: false, offsets },
      )
      assert.deepEqual(got, [{ forward: 1, bytes: input }])
    }
  })

  it('EVAL numkeys errors are replies, the connection stays usable', () => {
    const e = (...a: string[]) => cmd('EVAL', 'return 1', ...a)
    const input =
      e('0') +
      e('0', 'x') +
      e('-1', 'a') +
      e('x', 'a') +
      e('', 'a') +
      e('01', 'a') +
      e('1') +
      e('2', 'a') +
      cmd('PING')
    assert.deepEqual(run(plain, input), [
      { reply: '-ERR EVAL with numkeys 0 is not supported by walnut: no key to route by\r\n' },
      { reply: '-ERR EVAL with numkeys 0 is not supported by walnut: no key to route by\r\n' },
      { reply: "-ERR Number of keys can't be negative\r\n" },
      { reply: '-ERR value is not an integer or out of range\r\n' },
      { reply: '-ERR value is not an integer or out of range\r\n' },
      { reply: '-ERR value is not an integer or out of range\r\n' },
      { reply: "-ERR Number of keys can't be greater than number of args\r\n" },
      { reply: "-ERR Number of keys can't be greater than number of args\r\n" },
      { reply: '+PONG\r\n' },
    ])
  })
})

describe('redis session: split and merge (R8, R11)', () => {
  it('one key is forwarded verbatim', () => {
    const input =
      cmd('MGET', 'a1') + cmd('DEL', 'a2') + cmd('MSET', 'a1', 'v') + cmd('EXISTS', 'k2')
    assert.deepEqual(run(plain, input), [
      { forward: 1, bytes: cmd('MGET', 'a1') },
      { forward: 2, bytes: cmd('DEL', 'a2') },
      { forward: 1, bytes: cmd('MSET', 'a1', 'v') },
      { forward: 2, bytes: cmd('EXISTS', 'k2') },
    ])
  })

  it('MGET: sub-requests in server order, keys in request order; merged array in key order', () => {
    const input = cmd('MGET', 'k1', 'a', 'k2', 'b', 'k4', 'a')
    assert.deepEqual(
      run(plain, input, [
        [
          '*3\r\n$1\r\nA\r\n$-1\r\n$1\r\nA\r\n',
          '*2\r\n$2\r\nK1\r\n$2\r\nK4\r\n',
          '*1\r\n$0\r\n\r\n',
        ],
      ]),
      [
        {
          split: [
            [0, cmd('mget', 'a', 'b', 'a')],
            [1, cmd('mget', 'k1', 'k4')],
            [2, cmd('mget', 'k2')],
          ],
          merged: '*6\r\n$2\r\nK1\r\n$1\r\nA\r\n$0\r\n\r\n$-1\r\n$2\r\nK4\r\n$1\r\nA\r\n',
        },
      ],
    )
  })

  it('a split reaching servers added after the session started (config reload)', () => {
    // The session was built for a one-server pool; the fake places keys on 0..2.
    const grown = createRedisProtocol(pool({}, 1))
    const input = cmd('MGET', 'k1', 'a', 'k2')
    assert.deepEqual(
      run(grown, input, [['*1\r\n$1\r\nA\r\n', '*1\r\n$2\r\nK1\r\n', '*1\r\n$2\r\nK2\r\n']]),
      [
        {
          split: [
            [0, cmd('mget', 'a')],
            [1, cmd('mget', 'k1')],
            [2, cmd('mget', 'k2')],
          ],
          merged: '*3\r\n$2\r\nK1\r\n$1\r\nA\r\n$2\r\nK2\r\n',
        },
      ],
    )
  })

  it('MGET split even when every key is on one server; nested elements pass through', () => {
    const input = cmd('mget', 'a', 'b')
    assert.deepEqual(run(plain, input, [['*2\r\n*1\r\n:1\r\n$2\r\nxy\r\n']]), [
      { split: [[0, cmd('mget', 'a', 'b')]], merged: '*2\r\n*1\r\n:1\r\n$2\r\nxy\r\n' },
    ])
  })

  it('DEL/UNLINK/TOUCH/EXISTS: the sum of the integer replies', () => {
    const input =
      cmd('DEL', 'a', 'k1', 'b') +
      cmd('unlink', 'k1', 'k2') +
      cmd('TOUCH', 'a', 'k2') +
      cmd('EXISTS', 'k1', 'a', 'k2', 'b')
    assert.deepEqual(
      run(plain, input, [
        [':2\r\n', ':1\r\n'],
        [':0\r\n', ':12345678901\r\n'],
        [':1\r\n', ':-1\r\n'],
        [':2\r\n', ':1\r\n', ':0\r\n'],
      ]),
      [
        {
          split: [
            [0, cmd('del', 'a', 'b')],
            [1, cmd('del', 'k1')],
          ],
          merged: ':3\r\n',
        },
        {
          split: [
            [1, cmd('unlink', 'k1')],
            [2, cmd('unlink', 'k2')],
          ],
          merged: ':12345678901\r\n',
        },
        {
          split: [
            [0, cmd('touch', 'a')],
            [2, cmd('touch', 'k2')],
          ],
          merged: ':0\r\n',
        },
        {
          split: [
            [0, cmd('exists', 'a', 'b')],
            [1, cmd('exists', 'k1')],
            [2, cmd('exists', 'k2')],
          ],
          merged: ':3\r\n',
        },
      ],
    )
  })

  it('MSET: pairs go with their key; merged +OK', () => {
    const input = cmd('MSET', 'k1', 'x', 'a', 'y', 'k2', 'z', 'k4', '')
    assert.deepEqual(run(plain, input, [['+OK\r\n', '+OK\r\n', '+OK\r\n']]), [
      {
        split: [
          [0, cmd('mset', 'a', 'y')],
          [1, cmd('mset', 'k1', 'x', 'k4', '')],
          [2, cmd('mset', 'k2', 'z')],
        ],
        merged: '+OK\r\n',
      },
    ])
  })

  it('a fragment reply of the wrong type gives -ERR Invalid argument', () => {
    const input =
      cmd('MGET', 'a', 'k1') +
      cmd('MGET', 'a', 'k1') +
      cmd('MGET', 'a', 'k1') +
      cmd('DEL', 'a', 'k1') +
      cmd('MSET', 'a', '1', 'k1', '2') +
      cmd('PING')
    const invalid = '-ERR Invalid argument\r\n'
    const calls = run(plain, input, [
      ['*1\r\n$1\r\nA\r\n', "-READONLY You can't write\r\n"],
      ['*1\r\n$1\r\nA\r\n', ':1\r\n'],
      ['*2\r\n$1\r\nA\r\n$1\r\nB\r\n', '*1\r\n$1\r\nA\r\n'],
      [':1\r\n', '+OK\r\n'],
      ['-ERR x\r\n', '+OK\r\n'],
    ])
    assert.deepEqual(
      calls.map((c) => ('merged' in c ? c.merged : c)),
      [invalid, invalid, invalid, invalid, invalid, { reply: '+PONG\r\n' }],
    )
  })

  it('connection-level failure: -ERR <reason> of the first failed fragment in server order; no close (R11)', () => {
    const input = cmd('MGET', 'k2', 'a', 'k1') + cmd('DEL', 'k2', 'k1') + cmd('GET', 'a')
    const calls = run(plain, input, [
      ['*1\r\n$1\r\nA\r\n', '-ERR wrong\r\n', { fail: 'Connection refused' }],
      [{ fail: 'Connection timed out' }, { fail: 'unknown' }],
    ])
    assert.deepEqual(calls, [
      {
        split: [
          [0, cmd('mget', 'a')],
          [1, cmd('mget', 'k1')],
          [2, cmd('mget', 'k2')],
        ],
        merged: '-ERR Invalid argument\r\n',
      },
      {
        split: [
          [1, cmd('del', 'k1')],
          [2, cmd('del', 'k2')],
        ],
        merged: '-ERR Connection timed out\r\n',
      },
      { forward: 0, bytes: cmd('GET', 'a') },
    ])
  })

  it('10 000 keys, and inline split requests', () => {
    const keys = Array.from({ length: 10_000 }, (_, i) => `key${i}`)
    const api = new FakeClient([
      [0, 1, 2].map((s) => {
        const mine = keys.filter((k) => placement(k) === s)
        return `*${mine.length}\r\n${mine.map((k) => `$${k.length}\r\n${k}\r\n`).join('')}`
      }),
    ])
    const session = plain.newClientSession(api)
    session.feed(Buffer.from(cmd('MGET', ...keys)))
    const call = api.calls[0] as { split: [number, string][]; merged: string }
    assert.deepEqual(
      call.split,
      [0, 1, 2].map((s) => [s, cmd('mget', ...keys.filter((k) => placement(k) === s))]),
    )
    assert.equal(call.merged, `*10000\r\n${keys.map((k) => `$${k.length}\r\n${k}\r\n`).join('')}`)
    assert.deepEqual(run(plain, 'DEL a k1\r\n', [[':1\r\n', ':1\r\n']]), [
      {
        split: [
          [0, cmd('del', 'a')],
          [1, cmd('del', 'k1')],
        ],
        merged: ':2\r\n',
      },
    ])
    // Key-value pairs, quoting: an inline request's arguments are not its bytes.
    assert.deepEqual(run(plain, 'MSET a 1 k1 "x y"\r\n', [['+OK\r\n', '+OK\r\n']]), [
      {
        split: [
          [0, cmd('mset', 'a', '1')],
          [1, cmd('mset', 'k1', 'x y')],
        ],
        merged: '+OK\r\n',
      },
    ])
  })
})

describe('redis session: local commands (R5, R6, R7)', () => {
  it('PING, PING msg, ECHO msg', () => {
    assert.deepEqual(
      run(plain, cmd('PING') + cmd('ping', 'hello') + cmd('ECHO', 'a\r\nb') + 'PING ""\r\n'),
      [
        { reply: '+PONG\r\n' },
        { reply: '$5\r\nhello\r\n' },
        { reply: '$4\r\na\r\nb\r\n' },
        { reply: '$0\r\n\r\n' },
      ],
    )
  })

  it('R5: QUIT replies +OK and closes cleanly; later input is ignored', () => {
    assert.deepEqual(run(plain, cmd('GET', 'a') + cmd('QUIT') + cmd('GET', 'b')), [
      { forward: 0, bytes: cmd('GET', 'a') },
      { close: '+OK\r\n', clean: true },
    ])
    assert.deepEqual(run(plain, 'quit extra\r\nPING\r\n'), [{ close: '+OK\r\n', clean: true }])
  })

  it('HELLO / HELLO 2: the redis HELLO map in RESP2', () => {
    const hello =
      '*14\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$5\r\n7.0.0\r\n$5\r\nproto\r\n:2\r\n' +
      '$2\r\nid\r\n:ID\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n' +
      '$7\r\nmodules\r\n*0\r\n'
    assert.deepEqual(
      run(
        plain,
        cmd('HELLO') +
          cmd('hello', '2') +
          cmd('HELLO', '2', 'SETNAME', 'conn1') +
          cmd('CLIENT', 'GETNAME'),
      ),
      [{ reply: hello }, { reply: hello }, { reply: hello }, { reply: '$5\r\nconn1\r\n' }],
    )
  })

  it('HELLO errors are redis texts (HELLO 3: test/proto/redis/resp3-session.test.ts)', () => {
    assert.deepEqual(
      run(
        plain,
        cmd('HELLO', '4') +
          cmd('HELLO', '1') +
          cmd('HELLO', 'x') +
          cmd('HELLO', '2', 'FOO') +
          cmd('HELLO', '2', 'AUTH', 'default') +
          cmd('HELLO', '2', 'SETNAME', 'a b'),
      ),
      [
        { reply: '-NOPROTO unsupported protocol version\r\n' },
        { reply: '-NOPROTO unsupported protocol version\r\n' },
        { reply: '-ERR Protocol version is not an integer or out of range\r\n' },
        { reply: "-ERR Syntax error in HELLO option 'FOO'\r\n" },
        { reply: "-ERR Syntax error in HELLO option 'AUTH'\r\n" },
        { reply: '-ERR Client names cannot contain spaces, newlines or special characters.\r\n' },
      ],
    )
  })

  it('CLIENT SETNAME / GETNAME / SETINFO / ID', () => {
    const input =
      cmd('CLIENT', 'GETNAME') +
      cmd('client', 'setname', 'app-1') +
      cmd('CLIENT', 'GETNAME') +
      cmd('CLIENT', 'SETNAME', 'bad name') +
      cmd('CLIENT', 'GETNAME') +
      cmd('CLIENT', 'SETNAME', '') +
      cmd('CLIENT', 'GETNAME') +
      cmd('CLIENT', 'SETINFO', 'LIB-NAME', 'ioredis') +
      cmd('CLIENT', 'SETINFO', 'lib-ver', '5.4.1')
    assert.deepEqual(run(plain, input), [
      { reply: '$-1\r\n' },
      { reply: '+OK\r\n' },
      { reply: '$5\r\napp-1\r\n' },
      { reply: '-ERR Client names cannot contain spaces, newlines or special characters.\r\n' },
      { reply: '$5\r\napp-1\r\n' },
      { reply: '+OK\r\n' },
      { reply: '$-1\r\n' },
      { reply: '+OK\r\n' },
      { reply: '+OK\r\n' },
    ])
  })

  it('CLIENT ID: a per-process increasing id, the same as HELLO shows', () => {
    const ids: number[] = []
    for (let i = 0; i < 3; i++) {
      const api = new FakeClient([])
      const session = plain.newClientSession(api)
      session.feed(Buffer.from(cmd('CLIENT', 'ID') + cmd('HELLO')))
      const id = Number(/^:(\d+)\r\n$/.exec((api.calls[0] as { reply: string }).reply)![1])
      assert.ok((api.calls[1] as { reply: string }).reply.includes(`$2\r\nid\r\n:${id}\r\n`))
      ids.push(id)
    }
    assert.ok(ids[0]! > 0 && ids[1]! > ids[0]! && ids[2]! > ids[1]!)
  })

  it('CLIENT: other subcommands are unsupported or unknown; subcommand arity', () => {
    const input =
      cmd('CLIENT', 'LIST') +
      cmd('client', 'kill', 'x') +
      cmd('CLIENT', 'FOO') +
      cmd('CLIENT', 'SETNAME') +
      cmd('CLIENT', 'ID', 'x') +
      cmd('CLIENT')
    assert.deepEqual(run(plain, input), [
      { reply: "-ERR unsupported command 'CLIENT LIST': not available through walnut\r\n" },
      { reply: "-ERR unsupported command 'client kill': not available through walnut\r\n" },
      { reply: "-ERR unknown subcommand 'FOO'. Try CLIENT HELP.\r\n" },
      { reply: "-ERR wrong number of arguments for 'client|setname' command\r\n" },
      { reply: "-ERR wrong number of arguments for 'client|id' command\r\n" },
      { reply: "-ERR wrong number of arguments for 'client' command\r\n" },
    ])
  })

  it('SELECT 0 only', () => {
    const input =
      cmd('SELECT', '0') +
      cmd('select', '1') +
      cmd('SELECT', '-1') +
      cmd('SELECT', 'x') +
      cmd('SELECT', '00') +
      cmd('SELECT', '99999999999') +
      cmd('SELECT', '-2147483649') +
      cmd('SELECT', '2147483647') +
      cmd('SELECT', '99999999999999999999')
    const range = '-ERR value is out of range, value must between -2147483648 and 2147483647\r\n'
    assert.deepEqual(run(plain, input), [
      { reply: '+OK\r\n' },
      { reply: '-ERR DB index is out of range\r\n' },
      { reply: '-ERR DB index is out of range\r\n' },
      { reply: '-ERR value is not an integer or out of range\r\n' },
      { reply: '-ERR value is not an integer or out of range\r\n' },
      { reply: range },
      { reply: range },
      { reply: '-ERR DB index is out of range\r\n' },
      { reply: '-ERR value is not an integer or out of range\r\n' },
    ])
  })

  it('numkeys is read as redis reads a long long (range edges)', () => {
    const e = (n: string) => cmd('EVAL', 'x', n, 'a')
    const input =
      e('9223372036854775807') +
      e('9223372036854775808') +
      e('-9223372036854775808') +
      e('-9223372036854775809') +
      e('-9323372036854775807')
    assert.deepEqual(run(plain, input), [
      { reply: "-ERR Number of keys can't be greater than number of args\r\n" },
      { reply: '-ERR value is not an integer or out of range\r\n' },
      { reply: "-ERR Number of keys can't be negative\r\n" },
      { reply: '-ERR value is not an integer or out of range\r\n' },
      { reply: '-ERR value is not an integer or out of range\r\n' },
    ])
  })

  it('INFO describes the proxy; sections select; unknown section is empty', () => {
    const api = new FakeClient([])
    const session = plain.newClientSession(api)
    session.feed(
      Buffer.from(
        cmd('INFO') +
          cmd('INFO', 'Replication') +
          cmd('INFO', 'nothing') +
          cmd('INFO', 'server', 'keyspace'),
      ),
    )
    const [all, repl, none, two] = api.calls.map((c) => (c as { reply: string }).reply)
    const body = (bulk: string) => {
      const m = /^\$(\d+)\r\n([\s\S]*)\r\n$/.exec(bulk)!
      assert.equal(Number(m[1]), Buffer.byteLength(m[2]!))
      return m[2]!
    }
    const text = body(all!)
    for (const line of [
      '# Server',
      'redis_version:7.0.0',
      'redis_mode:standalone',
      'loading:0',
      'role:master',
      '# Keyspace',
    ]) {
      assert.ok(text.split('\r\n').includes(line), `INFO lacks ${line}`)
    }
    assert.match(text, /^# Server\r\nredis_version:7\.0\.0\r\nwalnut_version:\d+\.\d+\.\d+/)
    assert.equal(body(repl!), '# Replication\r\nrole:master\r\nconnected_slaves:0\r\n')
    assert.equal(none, '$0\r\n\r\n')
    assert.match(body(two!), /^# Server\r\n[\s\S]*\r\n\r\n# Keyspace\r\n$/)
  })
})

describe('redis session: AUTH (spec §6)', () => {
  it('no redis_auth: AUTH <pass> is refused (nutcracker); AUTH default <any> is +OK, another user WRONGPASS (redis 7)', () => {
    assert.deepEqual(
      run(
        plain,
        cmd('AUTH', 'x') +
          cmd('AUTH', 'default', 'x') +
          cmd('AUTH', 'other', 'x') +
          cmd('AUTH', 'a', 'b', 'c') +
          cmd('AUTH') +
          cmd('GET', 'a'),
      ),
      [
        { reply: '-ERR Client sent AUTH, but no password is set\r\n' },
        { reply: '+OK\r\n' },
        { reply: '-WRONGPASS invalid username-password pair or user is disabled.\r\n' },
        { reply: '-ERR syntax error\r\n' },
        { reply: "-ERR wrong number of arguments for 'auth' command\r\n" },
        { forward: 0, bytes: cmd('GET', 'a') },
      ],
    )
  })

  it('the E6 sequence, applied in pipeline order', () => {
    const input =
      cmd('GET', 'a') +
      cmd('PING') +
      cmd('MGET', 'a', 'k1') +
      cmd('COMMAND') +
      cmd('AUTH', 'nope') +
      cmd('GET', 'a') +
      cmd('AUTH', 's3cret') +
      cmd('SET', 'a', '1') +
      cmd('PING') +
      cmd('AUTH', 'bad') +
      cmd('GET', 'a') +
      cmd('auth', 's3cret') +
      cmd('GET', 'a') +
      cmd('AUTH', '') +
      cmd('GET', 'a')
    assert.deepEqual(run(withAuth, input), [
      { reply: NOAUTH },
      { reply: NOAUTH },
      { reply: NOAUTH },
      { reply: NOAUTH },
      { reply: '-ERR invalid password\r\n' },
      { reply: NOAUTH },
      { reply: '+OK\r\n' },
      { forward: 0, bytes: cmd('SET', 'a', '1') },
      { reply: '+PONG\r\n' },
      { reply: '-ERR invalid password\r\n' },
      { reply: NOAUTH },
      { reply: '+OK\r\n' },
      { forward: 0, bytes: cmd('GET', 'a') },
      { reply: '-ERR invalid password\r\n' },
      { reply: NOAUTH },
    ])
  })

  it('AUTH default <password> (redis 6 form); another user or password is WRONGPASS', () => {
    const input =
      cmd('AUTH', 'admin', 's3cret') +
      cmd('AUTH', 'default', 'S3CRET') +
      cmd('GET', 'a') +
      cmd('AUTH', 'default', 's3cret') +
      cmd('GET', 'a')
    const wrong = '-WRONGPASS invalid username-password pair or user is disabled.\r\n'
    assert.deepEqual(run(withAuth, input), [
      { reply: wrong },
      { reply: wrong },
      { reply: NOAUTH },
      { reply: '+OK\r\n' },
      { forward: 0, bytes: cmd('GET', 'a') },
    ])
  })

  it('before AUTH: unknown and wrong-arity commands get their own errors; QUIT works; HELLO needs AUTH', () => {
    const input =
      cmd('FOOBAR') +
      cmd('GET') +
      cmd('HELLO') +
      cmd('HELLO', '2', 'AUTH', 'default', 's3cret', 'SETNAME', 'n') +
      cmd('CLIENT', 'GETNAME') +
      cmd('QUIT')
    const calls = run(withAuth, input)
    assert.deepEqual(calls.slice(0, 3), [
      { reply: "-ERR unknown command 'FOOBAR', with args beginning with: \r\n" },
      { reply: "-ERR wrong number of arguments for 'get' command\r\n" },
      {
        reply:
          '-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time\r\n',
      },
    ])
    assert.match((calls[3] as { reply: string }).reply, /^\*14\r\n/)
    assert.deepEqual(calls.slice(4), [{ reply: '$1\r\nn\r\n' }, { close: '+OK\r\n', clean: true }])
    assert.deepEqual(run(withAuth, cmd('QUIT')), [{ close: '+OK\r\n', clean: true }])
  })
})

describe('redis session: errors (R1, R2, R3)', () => {
  it('R1: unknown command, redis 7 wording and truncation; the connection stays usable', () => {
    const long = 'x'.repeat(200)
    const input =
      cmd('FOO', 'a', 'b') +
      cmd('foo') +
      cmd('bar', 'a\r\nb', 'c\0d') +
      cmd(long, long) +
      cmd('x', '1'.repeat(100), '2'.repeat(100), '3') +
      cmd('') +
      'nope arg\r\n' +
      cmd('PING')
    assert.deepEqual(run(plain, input), [
      { reply: "-ERR unknown command 'FOO', with args beginning with: 'a' 'b' \r\n" },
      { reply: "-ERR unknown command 'foo', with args beginning with: \r\n" },
      { reply: "-ERR unknown command 'bar', with args beginning with: 'a  b' 'c' \r\n" },
      {
        reply: `-ERR unknown command '${'x'.repeat(128)}', with args beginning with: '${'x'.repeat(128)}' \r\n`,
      },
      {
        reply: `-ERR unknown command 'x', with args beginning with: '${'1'.repeat(100)}' '${'2'.repeat(25)}' \r\n`,
      },
      { reply: "-ERR unknown command '', with args beginning with: \r\n" },
      { reply: "-ERR unknown command 'nope', with args beginning with: 'arg' \r\n" },
      { reply: '+PONG\r\n' },
    ])
  })

  it('R1: known but unsupported commands (MOVE included) say walnut does not support them', () => {
    assert.deepEqual(
      run(
        plain,
        cmd('KEYS', '*') +
          cmd('move', 'a', '1') +
          cmd('BLPOP', 'l', '0') +
          cmd('MULTI') +
          cmd('GET', 'a'),
      ),
      [
        { reply: "-ERR unsupported command 'KEYS': not available through walnut\r\n" },
        { reply: "-ERR unsupported command 'move': not available through walnut\r\n" },
        { reply: "-ERR unsupported command 'BLPOP': not available through walnut\r\n" },
        { reply: "-ERR unsupported command 'MULTI': not available through walnut\r\n" },
        { forward: 0, bytes: cmd('GET', 'a') },
      ],
    )
  })

  it('R2: wrong arity, name lowercased', () => {
    const input =
      cmd('GET') +
      cmd('GET', 'a', 'b') +
      cmd('STRLEN', 'a', 'x') +
      cmd('Expire', 'a') +
      cmd('GETRANGE', 'a', '0') +
      cmd('LINSERT', 'l', 'BEFORE', 'x') +
      cmd('MSET', 'a') +
      cmd('MSET', 'a', '1', 'b') +
      cmd('MGET') +
      cmd('DEL') +
      cmd('EXISTS') +
      cmd('PING', 'a', 'b') +
      cmd('ECHO') +
      cmd('EVAL', 's') +
      cmd('ZUNION', '1') +
      cmd('SELECT')
    const names = [
      'get',
      'get',
      'strlen',
      'expire',
      'getrange',
      'linsert',
      'mset',
      'mset',
      'mget',
      'del',
      'exists',
      'ping',
      'echo',
      'eval',
      'zunion',
      'select',
    ]
    assert.deepEqual(
      run(plain, input),
      names.map((n) => ({ reply: `-ERR wrong number of arguments for '${n}' command\r\n` })),
    )
  })

  it('arities nutcracker forwards are still forwarded (the server answers)', () => {
    const input = cmd('SET', 'a') + cmd('EXPIRE', 'a', '10') + cmd('LOLWUT', 'a', 'b', 'c')
    assert.deepEqual(run(plain, input), [
      { forward: 0, bytes: cmd('SET', 'a') },
      { forward: 0, bytes: cmd('EXPIRE', 'a', '10') },
      { forward: 2, bytes: cmd('LOLWUT', 'a', 'b', 'c') },
    ])
  })

  it('R3: a framing error closes after the earlier requests were handed on', () => {
    const input = cmd('GET', 'a1') + cmd('PING') + '*1\r\n$4\r\nPINGxx' + cmd('GET', 'b')
    assert.deepEqual(run(plain, input), [
      { forward: 1, bytes: cmd('GET', 'a1') },
      { reply: '+PONG\r\n' },
      { close: '-ERR Protocol error: expected CRLF after bulk data\r\n', clean: false },
    ])
    assert.deepEqual(run(plain, 'ECHO "x\r\n'), [
      { close: '-ERR Protocol error: unbalanced quotes in request\r\n', clean: false },
    ])
    assert.deepEqual(run(plain, '*1\r\n:1\r\n'), [
      { close: "-ERR Protocol error: expected '$', got ':'\r\n", clean: false },
    ])
  })

  it('R12: an oversized request is refused before its data arrives', () => {
    const small = createRedisProtocol(pool(), { maxRequestSize: 1024 })
    const api = new FakeClient([])
    const session = small.newClientSession(api)
    session.feed(Buffer.from(`${cmd('GET', 'a')}*3\r\n$3\r\nSET\r\n$1\r\na\r\n$2000\r\nxx`))
    assert.deepEqual(api.calls, [
      { forward: 0, bytes: cmd('GET', 'a') },
      { close: '-ERR Protocol error: invalid bulk length\r\n', clean: false },
    ])
    const api2 = new FakeClient([])
    const s2 = small.newClientSession(api2)
    s2.feed(Buffer.from('*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1000\r\n'))
    assert.deepEqual(api2.calls, [
      { close: '-ERR Protocol error: request too large\r\n', clean: false },
    ])
    assert.equal(s2.pending, 0)
  })

  it('pending counts the bytes of an incomplete request', () => {
    const api = new FakeClient([])
    const session = plain.newClientSession(api)
    session.feed(Buffer.from(`${cmd('PING')}*2\r\n$3\r\nGET`))
    assert.equal(session.pending, 11)
    session.feed(Buffer.from('\r\n$1\r\na\r\n'))
    assert.equal(session.pending, 0)
    assert.equal(api.calls.length, 2)
  })
})

describe('redis server session', () => {
  interface Seen {
    replies: [string, number][]
    failed: string | null
  }

  function serve(input: string): Seen {
    return forEverySplit(Buffer.from(input, 'latin1'), (chunks) => {
      const seen: Seen = { replies: [], failed: null }
      const session = plain.newServerSession({
        reply: (frame, flags) => {
          seen.replies.push([frame.stream.view(frame.start, frame.end).toString('latin1'), flags])
        },
        fail: (reason) => {
          assert.equal(seen.failed, null)
          seen.failed = reason
        },
      })
      for (const c of chunks) session.feed(c)
      return seen
    })
  }

  it('frames replies and passes them on unchanged', () => {
    const replies = ['+OK\r\n', '$-1\r\n', '*2\r\n$1\r\na\r\n*-1\r\n', ':-3\r\n', '-ERR x\r\n']
    assert.deepEqual(serve(replies.join('')), {
      replies: replies.map((r) => [r, 0]),
      failed: null,
    })
  })

  it('R9: -OOM, -BUSY, -LOADING are flagged as failures but passed through', () => {
    const flagged = [
      '-OOM command not allowed\r\n',
      '-BUSY Redis is busy\r\n',
      '-LOADING Redis is loading\r\n',
      '-OOM\r\n',
      '-BUSY\r\n',
    ]
    const plainErrors = [
      '-OOMX\r\n',
      '-oom x\r\n',
      '-BUSYKEY Target key name already exists.\r\n',
      '-LOADINGX\r\n',
      '-ERR OOM\r\n',
      '-\r\n',
    ]
    assert.deepEqual(serve([...flagged, ...plainErrors].join('')), {
      replies: [
        ...flagged.map((r): [string, number] => [r, F_FAILURE]),
        ...plainErrors.map((r): [string, number] => [r, 0]),
      ],
      failed: null,
    })
  })

  it('an unparsable reply fails the connection with Invalid argument, after earlier replies', () => {
    assert.deepEqual(serve('+OK\r\n_\r\n+OK\r\n'), {
      replies: [['+OK\r\n', 0]],
      failed: 'Invalid argument',
    })
    assert.deepEqual(serve('%1\r\n+a\r\n:1\r\n'), { replies: [], failed: 'Invalid argument' })
    assert.deepEqual(serve('?what\r\n'), { replies: [], failed: 'Invalid argument' })
  })
})

describe('redis protocol object', () => {
  function frame(bytes: string): ReplyFrame {
    return frameOf(bytes)
  }

  it('handshake: none without redis_auth / redis_db', () => {
    assert.deepEqual(plain.handshake(false), [])
    assert.deepEqual(plain.handshake(true), [])
  })

  it('R10: AUTH then SELECT, also for unix sockets; refusals make a log line', () => {
    const p = createRedisProtocol(pool({ redisAuth: 'pw', redisDb: 3, name: 'authdb' }))
    for (const unix of [false, true]) {
      const steps = p.handshake(unix)
      assert.deepEqual(
        steps.map((s) => s.bytes.toString()),
        ['*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n', '*2\r\n$6\r\nSELECT\r\n$1\r\n3\r\n'],
      )
      assert.equal(steps[0]!.check(frame('+OK\r\n')), null)
      assert.equal(steps[1]!.check(frame('+OK\r\n')), null)
      assert.equal(
        steps[1]!.check(frame('-NOAUTH Authentication required.\r\n')),
        'SELECT 3 failed on authdb: NOAUTH Authentication required.',
      )
      assert.equal(
        steps[0]!.check(frame('-ERR invalid password\r\n')),
        'AUTH failed on authdb: ERR invalid password',
      )
      // The core calls the check detached, naming the connection: nutcracker's line.
      const check = steps[1]!.check
      assert.equal(
        check(frame('-ERR DB index is out of range\r\n'), 'authdb | 127.0.0.1:6379'),
        'SELECT 3 failed on authdb | 127.0.0.1:6379: ERR DB index is out of range',
      )
    }
    const db = createRedisProtocol(pool({ redisDb: 12 }))
    assert.deepEqual(
      db.handshake(true).map((s) => s.bytes.toString()),
      ['*2\r\n$6\r\nSELECT\r\n$2\r\n12\r\n'],
    )
  })

  it('errorReply and name', () => {
    assert.equal(plain.name, 'redis')
    assert.equal(plain.errorReply('Connection refused').toString(), '-ERR Connection refused\r\n')
  })
})
