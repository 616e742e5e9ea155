/**
 * The redis client session speaking RESP3 (deviation R7), against a fake ClientApi that
 * records every call: HELLO 3 / HELLO 2 switching (redis 7.0's order of effects), which
 * forwarded requests carry a conversion hook, walnut's own replies in RESP3 (HELLO map,
 * CLIENT GETNAME, INFO), the MGET merge with `_`, and AUTH with a user name. Inputs run whole,
 * byte by byte and split in two at every offset.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { FRAME, ReplyParser } from '../../../src/proto/redis/reply-parser.js'
import { RedisClientSession, type RedisSettings } from '../../../src/proto/redis/session.js'
import { InputStream } from '../../../src/proto/stream.js'
import type { ClientApi, ProtoLog, ReplyHook, SplitHook } from '../../../src/proto/types.js'
import { forEverySplit } from '../../helpers/split.js'

function settings(password: string | null = null): RedisSettings {
  return {
    password: password === null ? null : Buffer.from(password),
    servers: 3,
    maxRequestSize: 1 << 20,
    walnutVersion: '0.0.0',
    startedAt: Date.now(),
  }
}

/** One reply, framed by the real reply parser. */
function frameOf(bytes: string): ReplyParser {
  const stream = new InputStream()
  const p = new ReplyParser(stream)
  stream.push(Buffer.from(bytes, 'latin1'))
  assert.equal(p.next(), FRAME)
  return p
}

/** What a hook makes of a server reply (`none` when there is no hook). */
function through(hook: ReplyHook | null, reply: string): string {
  if (hook === null) return 'none'
  const parts: Buffer[] = []
  hook.reply(frameOf(reply), { piece: (b, s, e) => parts.push(Buffer.from(b.subarray(s, e))) })
  return Buffer.concat(parts).toString('latin1')
}

type Call =
  | { forward: number; null: string }
  | { forwardBytes: number; null: string }
  | { merged: string }
  | { reply: string }

const silent: ProtoLog = { enabled: () => false, log: () => {} }

/**
 * Records calls. A forward records what its hook makes of a null bulk (`_\r\n`, or `none`
 * without a hook); a split is answered with `replies` (one per fragment) and records the merge.
 */
class Fake implements ClientApi {
  readonly calls: Call[] = []
  readonly log = silent
  private split: SplitHook | null = null
  private fragments = 0

  constructor(private readonly replies: string[] = []) {}

  serverFor(buf: Uint8Array, start: number, end: number): number {
    // A key's server is its last digit mod 3.
    return end > start ? (buf[end - 1]! - 48 + 30) % 3 : 0
  }

  forward(
    server: number,
    _s: InputStream,
    _a: number,
    _b: number,
    _f: number,
    hook: ReplyHook | null,
  ) {
    this.calls.push({ forward: server, null: through(hook, '$-1\r\n') })
  }

  forwardBytes(server: number, _bytes: Buffer, _flags: number, hook: ReplyHook | null): void {
    this.calls.push({ forwardBytes: server, null: through(hook, '$-1\r\n') })
  }

  beginSplit(hook: SplitHook): void {
    this.split = hook
    this.fragments = 0
  }

  fragment(_server: number, _bytes: Buffer): void {
    this.fragments++
  }

  endSplit(): void {
    const hook = this.split!
    for (let i = 0; i < this.fragments; i++) hook.fragmentReply(i, frameOf(this.replies[i]!))
    const parts: Buffer[] = []
    hook.finish({ piece: (b, s, e) => parts.push(Buffer.from(b.subarray(s, e))) })
    this.calls.push({ merged: Buffer.concat(parts).toString('latin1') })
  }

  reply(bytes: Buffer): void {
    this.calls.push({ reply: bytes.toString('latin1').replace(/id\r\n:\d+\r\n/, 'id\r\n:ID\r\n') })
  }

  close(): void {
    throw new Error('unexpected close')
  }
}

function cmd(...args: string[]): string {
  return `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`
}

function run(input: string, password: string | null = null, replies: string[] = []): Call[] {
  return forEverySplit(Buffer.from(input, 'latin1'), (chunks) => {
    const api = new Fake(replies)
    const session = new RedisClientSession(api, settings(password))
    for (const c of chunks) session.feed(c)
    return api.calls
  })
}

function hello(proto: 2 | 3): string {
  const b = (s: string) => `$${s.length}\r\n${s}\r\n`
  return (
    (proto === 3 ? '%7\r\n' : '*14\r\n') +
    b('server') +
    b('redis') +
    b('version') +
    b('7.0.0') +
    b('proto') +
    `:${proto}\r\n` +
    b('id') +
    ':ID\r\n' +
    b('mode') +
    b('standalone') +
    b('role') +
    b('master') +
    b('modules') +
    '*0\r\n'
  )
}

const WRONGPASS = '-WRONGPASS invalid username-password pair or user is disabled.\r\n'
const NULL3 = '_\r\n'

describe('redis session: RESP3 (R7)', () => {
  it('HELLO 3 switches: a map reply, then hooks on the commands whose reply changes; HELLO 2 back', () => {
    assert.deepEqual(
      run(
        cmd('GET', 'k1') +
          cmd('HELLO', '3') +
          cmd('GET', 'k1') +
          cmd('INCR', 'k2') +
          'GET k0\r\n' +
          cmd('MGET', 'k2') +
          cmd('HELLO') +
          cmd('hello', '2') +
          cmd('GET', 'k1'),
      ),
      [
        { forward: 1, null: 'none' },
        { reply: hello(3) },
        { forward: 1, null: NULL3 },
        { forward: 2, null: 'none' },
        { forwardBytes: 0, null: NULL3 },
        { forward: 2, null: NULL3 },
        { reply: hello(3) },
        { reply: hello(2) },
        { forward: 1, null: 'none' },
      ],
    )
  })

  it("walnut's own replies in RESP3: CLIENT GETNAME null, INFO verbatim; the rest as in RESP2", () => {
    const info = '# Persistence\r\nloading:0\r\n'
    assert.deepEqual(
      run(
        cmd('HELLO', '3') +
          cmd('CLIENT', 'GETNAME') +
          cmd('INFO', 'persistence') +
          cmd('CLIENT', 'SETNAME', 'me') +
          cmd('CLIENT', 'GETNAME') +
          cmd('PING') +
          cmd('ECHO', 'x') +
          cmd('SELECT', '1') +
          cmd('HELLO', '2') +
          cmd('INFO', 'persistence'),
      ),
      [
        { reply: hello(3) },
        { reply: NULL3 },
        { reply: `=${info.length + 4}\r\ntxt:${info}\r\n` },
        { reply: '+OK\r\n' },
        { reply: '$2\r\nme\r\n' },
        { reply: '+PONG\r\n' },
        { reply: '$1\r\nx\r\n' },
        { reply: '-ERR DB index is out of range\r\n' },
        { reply: hello(2) },
        { reply: `$${info.length}\r\n${info}\r\n` },
      ],
    )
  })

  it('MGET split over servers: missing keys are `_` in RESP3, `$-1` in RESP2', () => {
    const replies = ['*1\r\n$-1\r\n', '*2\r\n$1\r\na\r\n$-1\r\n']
    const input = cmd('MGET', 'k0', 'k1', 'k4')
    assert.deepEqual(run(cmd('HELLO', '3') + input, null, replies), [
      { reply: hello(3) },
      { merged: '*3\r\n_\r\n$1\r\na\r\n_\r\n' },
    ])
    assert.deepEqual(run(input, null, replies), [{ merged: '*3\r\n$-1\r\n$1\r\na\r\n$-1\r\n' }])
  })

  it('HELLO options act in order, as redis 7.0: a failure leaves the protocol as it was', () => {
    assert.deepEqual(
      run(
        cmd('HELLO', '3', 'AUTH', 'other', 'x') +
          cmd('GET', 'k1') +
          cmd('HELLO', '3', 'SETNAME', 'good', 'FOO') +
          cmd('CLIENT', 'GETNAME') +
          cmd('GET', 'k1') +
          cmd('HELLO', '3', 'SETNAME', 'a b') +
          cmd('HELLO', '4') +
          cmd('GET', 'k1') +
          cmd('HELLO', '3', 'AUTH', 'default', 'anything', 'SETNAME', 'n') +
          cmd('CLIENT', 'GETNAME'),
      ),
      [
        { reply: WRONGPASS },
        { forward: 1, null: 'none' },
        { reply: "-ERR Syntax error in HELLO option 'FOO'\r\n" },
        { reply: '$4\r\ngood\r\n' },
        { forward: 1, null: 'none' },
        { reply: '-ERR Client names cannot contain spaces, newlines or special characters.\r\n' },
        { reply: '-NOPROTO unsupported protocol version\r\n' },
        { forward: 1, null: 'none' },
        { reply: hello(3) },
        { reply: '$1\r\nn\r\n' },
      ],
    )
  })

  it('redis_auth: HELLO needs AUTH; HELLO 3 AUTH default <pass> authenticates and switches', () => {
    const noauth =
      '-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO ' +
      'AUTH <user> <pass> option can be used to authenticate the client and select the RESP ' +
      'protocol version at the same time\r\n'
    assert.deepEqual(
      run(
        cmd('HELLO', '3') +
          cmd('HELLO', '3', 'SETNAME', 'early') +
          cmd('HELLO', '3', 'AUTH', 'default', 'wrong') +
          cmd('HELLO', '3', 'AUTH', 'admin', 's3cret') +
          cmd('GET', 'k1') +
          cmd('HELLO', '3', 'AUTH', 'default', 's3cret') +
          cmd('CLIENT', 'GETNAME') +
          cmd('GET', 'k1'),
        's3cret',
      ),
      [
        { reply: noauth },
        { reply: noauth },
        { reply: WRONGPASS },
        { reply: WRONGPASS },
        { reply: '-NOAUTH Authentication required\r\n' },
        { reply: hello(3) },
        // SETNAME took effect although its HELLO was refused, as in redis 7.0.
        { reply: '$5\r\nearly\r\n' },
        { forward: 1, null: NULL3 },
      ],
    )
  })

  it('AUTH with a user name: without redis_auth, default takes any password (redis 7)', () => {
    assert.deepEqual(
      run(
        cmd('AUTH', 'default', 'x') +
          cmd('AUTH', 'other', 'x') +
          cmd('AUTH', 'x') +
          cmd('GET', 'k1'),
      ),
      [
        { reply: '+OK\r\n' },
        { reply: WRONGPASS },
        { reply: '-ERR Client sent AUTH, but no password is set\r\n' },
        { forward: 1, null: 'none' },
      ],
    )
    assert.deepEqual(
      run(
        cmd('AUTH', 'other', 's3cret') +
          cmd('AUTH', 'default', 's3cret') +
          cmd('GET', 'k1') +
          cmd('AUTH', 'default', 'bad') +
          cmd('GET', 'k1'),
        's3cret',
      ),
      [
        { reply: WRONGPASS },
        { reply: '+OK\r\n' },
        { forward: 1, null: 'none' },
        { reply: WRONGPASS },
        { reply: '-NOAUTH Authentication required\r\n' },
      ],
    )
  })
})
