/**
 * The RESP2 → RESP3 reply conversion (src/proto/redis/resp3.ts), exact bytes: the hook each
 * request gets, and what it makes of a server reply fed whole, byte by byte and split in two
 * at every offset. The expected bytes are what redis-server 7.0.15 sends a RESP3 client for
 * the same command (test/integration/redis-resp3.test.ts checks them against the real server).
 * Also: unchanged runs go out as views of the server's chunks, the shared slab never
 * rewrites bytes already handed out, and docs/redis.md lists the shape table.
 */
import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import { join as joinPath } from 'node:path'
import { describe, it } from 'node:test'
import { COMMANDS, type CommandName, lookupCommand } from '../../../src/proto/redis/commands.js'
import { FRAME, NEED_MORE, ReplyParser } from '../../../src/proto/redis/reply-parser.js'
import { RequestParser } from '../../../src/proto/redis/request-parser.js'
import { RESP3_SHAPES, resp3Hook, SHAPE_TEXT } from '../../../src/proto/redis/resp3.js'
import { InputStream } from '../../../src/proto/stream.js'
import type { ReplyHook } from '../../../src/proto/types.js'
import { REPO_ROOT } from '../../helpers/shared.js'
import { forEverySplit } from '../../helpers/split.js'

const CRLF = '\r\n'
/** `⏎` stands for CRLF in the fixtures below. */
const r = (s: string) => s.replaceAll('⏎', CRLF)

function cmd(...args: string[]): Buffer {
  return Buffer.from(
    `*${args.length}${CRLF}${args.map((a) => `$${a.length}${CRLF}${a}${CRLF}`).join('')}`,
  )
}

/** The hook a RESP3 client's request gets (null: the reply passes unchanged). */
function hookFor(...args: string[]): ReplyHook | null {
  const stream = new InputStream()
  const p = new RequestParser(stream)
  stream.push(cmd(...args))
  assert.equal(p.next(), FRAME)
  const name = p.arg(0)
  const command = lookupCommand(name, p.rs, p.re)
  assert.ok(command >= 0, args[0])
  return resp3Hook(command, p)
}

interface Piece {
  buf: Buffer
  start: number
  end: number
}

/** Feeds the reply in `chunks` and runs the hook on it; returns the pieces pushed. */
function convertChunks(hook: ReplyHook, chunks: readonly Buffer[]): Piece[] {
  const stream = new InputStream()
  const parser = new ReplyParser(stream)
  const pieces: Piece[] = []
  let frames = 0
  for (const c of chunks) {
    stream.push(c)
    for (;;) {
      const got = parser.next()
      if (got === NEED_MORE) break
      assert.equal(got, FRAME, 'fixture: a valid RESP2 reply')
      frames++
      hook.reply(parser, { piece: (buf, start, end) => pieces.push({ buf, start, end }) })
    }
  }
  assert.equal(frames, 1, 'fixture: one reply')
  return pieces
}

const join = (pieces: readonly Piece[]) =>
  Buffer.concat(pieces.map((p) => p.buf.subarray(p.start, p.end))).toString('latin1')

/** The converted reply, the same for every split of the server's bytes. */
function convert(args: string[], reply: string): string {
  const hook = hookFor(...args)
  assert.ok(hook !== null, `${args.join(' ')}: a hook`)
  return forEverySplit(Buffer.from(r(reply), 'latin1'), (chunks) =>
    join(convertChunks(hook, chunks)),
  )
}

/** [request, RESP2 reply from the server, RESP3 reply redis 7.0.15 sends]. */
const CASES: [string[], string, string][] = [
  [['GET', 'k'], '$-1⏎', '_⏎'],
  [['GET', 'k'], '$3⏎a\r\n⏎', '$3⏎a\r\n⏎'],
  [
    ['GET', 'k'],
    '-WRONGTYPE Operation against a key holding the wrong kind of value⏎',
    '-WRONGTYPE Operation against a key holding the wrong kind of value⏎',
  ],
  [['SET', 'k', 'v', 'NX'], '$-1⏎', '_⏎'],
  [['SET', 'k', 'v'], '+OK⏎', '+OK⏎'],
  [['MGET', 'k'], '*1⏎$-1⏎', '*1⏎_⏎'],
  [['HMGET', 'h', 'a', 'q'], '*2⏎$1⏎1⏎$-1⏎', '*2⏎$1⏎1⏎_⏎'],
  [['LPOP', 'k', '2'], '*-1⏎', '_⏎'],
  [['BITFIELD', 's', 'INCRBY', 'u2', '100', '1'], '*2⏎:1⏎$-1⏎', '*2⏎:1⏎_⏎'],
  [['SORT', 'l', 'GET', 'x*'], '*3⏎$-1⏎$1⏎a⏎$-1⏎', '*3⏎_⏎$1⏎a⏎_⏎'],
  [['EVAL', 's', '1', 'k'], '*3⏎:1⏎*2⏎$-1⏎*-1⏎$1⏎a⏎', '*3⏎:1⏎*2⏎_⏎_⏎$1⏎a⏎'],
  [['EVAL', 's', '1', 'k'], '*2⏎-ERR x⏎+OK⏎', '*2⏎-ERR x⏎+OK⏎'],
  [['HGETALL', 'h'], '*4⏎$1⏎a⏎$1⏎1⏎$1⏎b⏎$1⏎2⏎', '%2⏎$1⏎a⏎$1⏎1⏎$1⏎b⏎$1⏎2⏎'],
  [['HGETALL', 'h'], '*0⏎', '%0⏎'],
  [['SMEMBERS', 's'], '*2⏎$1⏎y⏎$1⏎x⏎', '~2⏎$1⏎y⏎$1⏎x⏎'],
  [['SINTER', 's', 't'], '*0⏎', '~0⏎'],
  [['SUNION', 's', 't'], '*1⏎$1⏎y⏎', '~1⏎$1⏎y⏎'],
  [['SDIFF', 's', 't'], '*1⏎$1⏎x⏎', '~1⏎$1⏎x⏎'],
  [['SPOP', 's', '1'], '*1⏎$1⏎x⏎', '~1⏎$1⏎x⏎'],
  [['SPOP', 's'], '$-1⏎', '_⏎'],
  [['SRANDMEMBER', 's'], '$-1⏎', '_⏎'],
  [['ZSCORE', 'z', 'b'], '$3⏎2.5⏎', ',2.5⏎'],
  [['ZSCORE', 'z', 'i'], '$4⏎-inf⏎', ',-inf⏎'],
  [['ZSCORE', 'z', 'q'], '$-1⏎', '_⏎'],
  [['ZINCRBY', 'z', '0.1', 'a'], '$18⏎1.1000000000000001⏎', ',1.1000000000000001⏎'],
  [['ZADD', 'z', 'INCR', '1', 'a'], '$1⏎2⏎', ',2⏎'],
  [['ZADD', 'z', 'NX', 'incr', '1', 'a'], '$-1⏎', '_⏎'],
  [['ZMSCORE', 'z', 'a', 'q'], '*2⏎$1⏎1⏎$-1⏎', '*2⏎,1⏎_⏎'],
  [
    ['ZRANGE', 'z', '0', '-1', 'WITHSCORES'],
    '*4⏎$1⏎a⏎$1⏎1⏎$1⏎b⏎$3⏎2.5⏎',
    '*2⏎*2⏎$1⏎a⏎,1⏎*2⏎$1⏎b⏎,2.5⏎',
  ],
  [['ZRANGE', 'z', '0', '-1', 'withscores'], '*0⏎', '*0⏎'],
  [
    ['ZRANGE', 'z', '+inf', '0', 'BYSCORE', 'REV', 'LIMIT', '0', '1', 'WITHSCORES'],
    '*2⏎$1⏎b⏎$3⏎inf⏎',
    '*1⏎*2⏎$1⏎b⏎,inf⏎',
  ],
  [['ZREVRANGE', 'z', '0', '-1', 'WITHSCORES'], '*2⏎$1⏎b⏎$3⏎2.5⏎', '*1⏎*2⏎$1⏎b⏎,2.5⏎'],
  [
    ['ZRANGEBYSCORE', 'z', '-inf', '+inf', 'WITHSCORES', 'LIMIT', '0', '1'],
    '*2⏎$1⏎a⏎$1⏎1⏎',
    '*1⏎*2⏎$1⏎a⏎,1⏎',
  ],
  [['ZREVRANGEBYSCORE', 'z', '+inf', '-inf', 'WITHSCORES'], '*2⏎$1⏎a⏎$1⏎1⏎', '*1⏎*2⏎$1⏎a⏎,1⏎'],
  [['ZRANGE', 'z', '0', '-1', 'WITHSCORES'], '-ERR syntax error⏎', '-ERR syntax error⏎'],
  // A reply of another shape than the request implies: only its nulls change.
  [['ZRANGE', 'z', '0', '-1', 'WITHSCORES'], '*3⏎$1⏎a⏎$1⏎1⏎$-1⏎', '*3⏎$1⏎a⏎$1⏎1⏎_⏎'],
  [['ZUNION', '2', 'a', 'b', 'WITHSCORES'], '*2⏎$1⏎a⏎$1⏎1⏎', '*1⏎*2⏎$1⏎a⏎,1⏎'],
  [
    ['ZINTER', '1', 'a', 'WEIGHTS', '2', 'AGGREGATE', 'MAX', 'WITHSCORES'],
    '*2⏎$1⏎a⏎$1⏎2⏎',
    '*1⏎*2⏎$1⏎a⏎,2⏎',
  ],
  [['ZDIFF', '1', 'z', 'WITHSCORES'], '*0⏎', '*0⏎'],
  [['ZRANDMEMBER', 'z'], '$-1⏎', '_⏎'],
  [
    ['ZRANDMEMBER', 'z', '-2', 'WITHSCORES'],
    '*4⏎$1⏎a⏎$1⏎1⏎$1⏎a⏎$1⏎1⏎',
    '*2⏎*2⏎$1⏎a⏎,1⏎*2⏎$1⏎a⏎,1⏎',
  ],
  [['ZPOPMIN', 'z'], '*2⏎$1⏎a⏎$1⏎1⏎', '*2⏎$1⏎a⏎,1⏎'],
  [['ZPOPMIN', 'z'], '*0⏎', '*0⏎'],
  [['ZPOPMAX', 'z', '1'], '*2⏎$1⏎a⏎$1⏎1⏎', '*1⏎*2⏎$1⏎a⏎,1⏎'],
  [['ZPOPMAX', 'z', '5'], '*4⏎$1⏎b⏎$3⏎2.5⏎$1⏎a⏎$1⏎1⏎', '*2⏎*2⏎$1⏎b⏎,2.5⏎*2⏎$1⏎a⏎,1⏎'],
  [['ZRANK', 'z', 'q'], '$-1⏎', '_⏎'],
  [['ZREVRANK', 'z', 'a'], ':0⏎', ':0⏎'],
  [['HRANDFIELD', 'h'], '$-1⏎', '_⏎'],
  [
    ['HRANDFIELD', 'h', '-2', 'WITHVALUES'],
    '*4⏎$1⏎a⏎$1⏎1⏎$1⏎a⏎$1⏎1⏎',
    '*2⏎*2⏎$1⏎a⏎$1⏎1⏎*2⏎$1⏎a⏎$1⏎1⏎',
  ],
  [['HGET', 'h', 'q'], '$-1⏎', '_⏎'],
  [['LINDEX', 'l', '9'], '$-1⏎', '_⏎'],
  [['LPOS', 'l', 'q'], '$-1⏎', '_⏎'],
  [['LMOVE', 'a', 'b', 'LEFT', 'LEFT'], '$-1⏎', '_⏎'],
  [['RPOPLPUSH', 'a', 'b'], '$-1⏎', '_⏎'],
  [['RPOP', 'a'], '$-1⏎', '_⏎'],
  [['GETDEL', 'a'], '$-1⏎', '_⏎'],
  [['GETEX', 'a'], '$-1⏎', '_⏎'],
  [['GETSET', 'a', 'b'], '$-1⏎', '_⏎'],
  [['DUMP', 'a'], '$-1⏎', '_⏎'],
  [['EVALSHA', 's', '1', 'k'], '$-1⏎', '_⏎'],
  [['GEODIST', 'g', 'a', 'b'], '$11⏎166274.1516⏎', '$11⏎166274.1516⏎'],
  [['GEODIST', 'g', 'a', 'q'], '$-1⏎', '_⏎'],
  [['GEOHASH', 'g', 'a', 'q'], '*2⏎$11⏎sqc8b49rny0⏎$-1⏎', '*2⏎$11⏎sqc8b49rny0⏎_⏎'],
  [
    ['GEOPOS', 'g', 'Palermo', 'Nowhere'],
    '*2⏎*2⏎$20⏎13.36138933897018433⏎$20⏎38.11555639549629859⏎*-1⏎',
    '*2⏎*2⏎,13.36138933897018433⏎,38.11555639549629859⏎_⏎',
  ],
  [
    ['GEORADIUS', 'g', '15', '37', '200', 'km', 'WITHDIST', 'WITHCOORD', 'WITHHASH'],
    '*1⏎*4⏎$7⏎Catania⏎$7⏎56.4413⏎:3479447370796909⏎*2⏎$20⏎15.08726745843887329⏎$20⏎37.50266842333162032⏎',
    '*1⏎*4⏎$7⏎Catania⏎$7⏎56.4413⏎:3479447370796909⏎*2⏎,15.08726745843887329⏎,37.50266842333162032⏎',
  ],
  [
    ['GEOSEARCH', 'g', 'FROMMEMBER', 'p', 'BYRADIUS', '9', 'km', 'WITHCOORD'],
    '*1⏎*2⏎$1⏎p⏎*2⏎$1⏎1⏎$1⏎2⏎',
    '*1⏎*2⏎$1⏎p⏎*2⏎,1⏎,2⏎',
  ],
  [['GEORADIUSBYMEMBER', 'g', 'p', '9', 'km', 'WITHCOORD', 'STORE', 'x'], ':2⏎', ':2⏎'],
  [['LOLWUT', 'VERSION', '5'], '$3⏎a\nb⏎', '=7⏎txt:a\nb⏎'],
  [['LOLWUT'], '$0⏎⏎', '=4⏎txt:⏎'],
  [
    ['COMMAND', 'GETKEYSANDFLAGS', 'set', 'a', 'b'],
    '*1⏎*2⏎$1⏎a⏎*2⏎+OW⏎+update⏎',
    '*1⏎*2⏎$1⏎a⏎~2⏎+OW⏎+update⏎',
  ],
  [['COMMAND', 'INFO', 'nosuch'], '*1⏎$-1⏎', '*1⏎_⏎'],
  [
    ['COMMAND', 'INFO', 'get'],
    '*1⏎*10⏎$3⏎get⏎:2⏎*2⏎+readonly⏎+fast⏎:1⏎:1⏎:1⏎*3⏎+@read⏎+@string⏎+@fast⏎*0⏎*1⏎*6⏎' +
      '$5⏎flags⏎*2⏎+RO⏎+access⏎$12⏎begin_search⏎*4⏎$4⏎type⏎$5⏎index⏎$4⏎spec⏎*2⏎$5⏎index⏎:1⏎' +
      '$9⏎find_keys⏎*4⏎$4⏎type⏎$5⏎range⏎$4⏎spec⏎*6⏎$7⏎lastkey⏎:0⏎$7⏎keystep⏎:1⏎$5⏎limit⏎:0⏎*0⏎',
    '*1⏎*10⏎$3⏎get⏎:2⏎~2⏎+readonly⏎+fast⏎:1⏎:1⏎:1⏎~3⏎+@read⏎+@string⏎+@fast⏎~0⏎~1⏎%3⏎' +
      '$5⏎flags⏎~2⏎+RO⏎+access⏎$12⏎begin_search⏎%2⏎$4⏎type⏎$5⏎index⏎$4⏎spec⏎%1⏎$5⏎index⏎:1⏎' +
      '$9⏎find_keys⏎%2⏎$4⏎type⏎$5⏎range⏎$4⏎spec⏎%3⏎$7⏎lastkey⏎:0⏎$7⏎keystep⏎:1⏎$5⏎limit⏎:0⏎~0⏎',
  ],
  [
    ['COMMAND', 'DOCS', 'get'],
    '*2⏎$3⏎get⏎*10⏎$7⏎summary⏎$22⏎Get the value of a key⏎$5⏎since⏎$5⏎1.0.0⏎$5⏎group⏎$6⏎string⏎' +
      '$10⏎complexity⏎$4⏎O(1)⏎$9⏎arguments⏎*1⏎*6⏎$4⏎name⏎$3⏎key⏎$4⏎type⏎$3⏎key⏎$14⏎key_spec_index⏎:0⏎',
    '%1⏎$3⏎get⏎%5⏎$7⏎summary⏎$22⏎Get the value of a key⏎$5⏎since⏎$5⏎1.0.0⏎$5⏎group⏎$6⏎string⏎' +
      '$10⏎complexity⏎$4⏎O(1)⏎$9⏎arguments⏎*1⏎%3⏎$4⏎name⏎$3⏎key⏎$4⏎type⏎$3⏎key⏎$14⏎key_spec_index⏎:0⏎',
  ],
  [['COMMAND', 'DOCS', 'nosuch'], '*0⏎', '%0⏎'],
]

describe('RESP3 conversion: exact bytes, every split of the server reply', () => {
  for (const [args, resp2, resp3] of CASES) {
    it(`${args.join(' ')}: ${JSON.stringify(resp2)}`, () => {
      assert.equal(convert(args, resp2), r(resp3))
    })
  }

  it('nulls at any depth, without recursion (1000 nested arrays)', () => {
    const depth = 1000
    const resp2 = `${'*2⏎:1⏎'.repeat(depth)}$-1⏎`
    const want = `${'*2⏎:1⏎'.repeat(depth)}_⏎`
    const hook = hookFor('EVAL', 's', '1', 'k')!
    const got = join(convertChunks(hook, [Buffer.from(r(resp2))]))
    assert.equal(got, r(want))
  })
})

describe('RESP3 conversion: which requests get a hook', () => {
  it('none where the RESP2 bytes are already right', () => {
    for (const args of [
      ['INCR', 'k'],
      ['DEL', 'k'],
      ['LRANGE', 'l', '0', '-1'],
      ['HKEYS', 'h'],
      ['INCRBYFLOAT', 'k', '1'],
      ['HINCRBYFLOAT', 'h', 'f', '1'],
      ['ZSCAN', 'z', '0'],
      ['ZRANGE', 'z', '0', '-1'],
      ['ZRANGEBYLEX', 'z', '-', '+'],
      ['ZRANGE', 'z', '0', '-1', 'REV', 'LIMIT', '0', '1'],
      ['ZADD', 'z', '1', 'a'],
      ['ZUNION', '1', 'withscores'],
      ['ZUNION', 'x', 'a', 'WITHSCORES'],
      ['ZRANDMEMBER', 'z', '2'],
      ['HRANDFIELD', 'h', '2'],
      ['SRANDMEMBER', 's', '2'],
      ['SRANDMEMBER', 's', '-2'],
      ['GEORADIUS', 'g', '1', '2', '3', 'km', 'WITHDIST'],
      ['COMMAND', 'COUNT'],
      ['COMMAND', 'LIST'],
      ['COMMAND', 'GETKEYS', 'get', 'a'],
    ]) {
      assert.equal(hookFor(...args), null, args.join(' '))
    }
  })

  it('RESP3_SHAPES names forwarded commands only; every shape has its text', () => {
    for (const [name, shape] of Object.entries(RESP3_SHAPES)) {
      const route = COMMANDS[name as CommandName].route
      assert.ok(route !== 'unsupported' && route !== 'local', `${name}: ${route}`)
      assert.ok(SHAPE_TEXT[shape].length > 0)
    }
    const used = new Set<string>(Object.values(RESP3_SHAPES))
    for (const shape of Object.keys(SHAPE_TEXT)) assert.ok(used.has(shape), `unused ${shape}`)
  })
})

describe('RESP3 conversion: views and the slab', () => {
  it('an unchanged reply goes out as the server chunk itself (no copy)', () => {
    const chunk = Buffer.from(r('*2⏎$1⏎1⏎$1⏎2⏎'))
    const pieces = convertChunks(hookFor('MGET', 'a')!, [chunk])
    assert.equal(pieces.length, 1)
    assert.equal(pieces[0]!.buf, chunk)
  })

  it('HGETALL / SMEMBERS: a new header, then the elements as views of the chunk', () => {
    const chunk = Buffer.from(r('*4⏎$1⏎a⏎$1⏎1⏎$1⏎b⏎$1⏎2⏎'))
    const pieces = convertChunks(hookFor('HGETALL', 'h')!, [chunk])
    assert.equal(join(pieces), r('%2⏎$1⏎a⏎$1⏎1⏎$1⏎b⏎$1⏎2⏎'))
    assert.equal(pieces.at(-1)!.buf, chunk)
    assert.equal(pieces.at(-1)!.start, 4)
  })

  it('long members go out as views; short runs and new bytes are copied', () => {
    const big = 'm'.repeat(5000)
    const text = r(`*4⏎$5000⏎${big}⏎$1⏎1⏎$5001⏎${big}n⏎$1⏎2⏎`)
    // A chunk with memory of its own (not Buffer's shared pool), to tell views from copies.
    const chunk = Buffer.allocUnsafeSlow(text.length)
    chunk.write(text, 'latin1')
    const pieces = convertChunks(hookFor('ZRANGE', 'z', '0', '-1', 'WITHSCORES')!, [chunk])
    assert.equal(join(pieces), r(`*2⏎*2⏎$5000⏎${big}⏎,1⏎*2⏎$5001⏎${big}n⏎,2⏎`))
    const views = pieces.filter((p) => p.buf.buffer === chunk.buffer)
    assert.equal(views.length, 2)
    assert.ok(views.every((p) => p.end - p.start >= 5000))
  })

  it('bytes already handed out are never rewritten by later conversions', () => {
    const hook = hookFor('ZRANGE', 'z', '0', '-1', 'WITHSCORES')!
    const kept: Piece[][] = []
    const wants: string[] = []
    for (let i = 0; i < 3000; i++) {
      const m = `member${i}`
      const score = String(i % 997)
      const reply = `*2⏎$${m.length}⏎${m}⏎$${score.length}⏎${score}⏎`
      kept.push(convertChunks(hook, [Buffer.from(r(reply))]))
      wants.push(r(`*1⏎*2⏎$${m.length}⏎${m}⏎,${score}⏎`))
    }
    assert.deepEqual(kept.map(join), wants)
  })
})

// ---------------------------------------------------------------------------------------------
// docs/redis.md lists the table (WALNUT_WRITE_DOCS=1 rewrites it).

const DOC = joinPath(REPO_ROOT, 'docs', 'redis.md')
const BEGIN = '<!-- BEGIN GENERATED RESP3 TABLE: test/proto/redis/resp3.test.ts -->'
const END = '<!-- END GENERATED RESP3 TABLE -->'

function renderTable(): string {
  const lines = ['| command | RESP3 reply |', '|---|---|']
  for (const [name, shape] of Object.entries(RESP3_SHAPES)) {
    lines.push(`| ${name} | ${SHAPE_TEXT[shape]} |`)
  }
  return lines.join('\n')
}

/** Table rows as trimmed cells (separator rows dropped), so alignment does not matter. */
function cells(block: string): string[][] {
  return block
    .split('\n')
    .filter((l) => l.startsWith('|'))
    .map((l) =>
      l
        .slice(1, -1)
        .split('|')
        .map((c) => c.trim()),
    )
    .filter((row) => !row.every((c) => /^-+$/.test(c)))
}

describe('docs/redis.md', () => {
  it('the RESP3 table equals RESP3_SHAPES', () => {
    const doc = readFileSync(DOC, 'utf8')
    const a = doc.indexOf(BEGIN)
    const b = doc.indexOf(END)
    if (process.env.WALNUT_WRITE_DOCS === '1') {
      assert.ok(a >= 0 && b > a, 'markers missing')
      writeFileSync(DOC, `${doc.slice(0, a + BEGIN.length)}\n${renderTable()}\n${doc.slice(b)}`)
      return
    }
    assert.ok(a >= 0 && b > a, `${DOC}: RESP3 table markers missing`)
    assert.deepEqual(
      cells(doc.slice(a + BEGIN.length, b)),
      cells(renderTable()),
      'docs/redis.md is out of date: run the tests with WALNUT_WRITE_DOCS=1',
    )
  })
})
