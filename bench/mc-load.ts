/**
 * Closed-loop load generator for the memcached ASCII protocol, the memcache counterpart of
 * redis-benchmark in `npm run bench` (memcslap has fixed 400-byte values, one blocking
 * thread per connection and no percentiles).
 *
 *   node dist/bench/mc-load.js --port P --op get|set|mget [--host 127.0.0.1] [--conns 50]
 *       [--requests 100000] [--time-limit 60] [--keys 100000] [--size 100] [--mget 10]
 *
 * Each connection keeps exactly one request in flight. Keys are key:%012d drawn uniformly
 * from [0, keys) by a seeded xorshift; values are 'x' × size. Every request is a
 * preformatted Buffer per connection whose 12 key digits are rewritten in place, and each
 * latency goes into a fixed histogram, so the client allocates almost nothing per request.
 * Rewriting the buffer is safe: the next request is built only after the reply to the
 * previous one, by which time the kernel has taken all of its bytes.
 *
 * The last line printed is `RESULT {json}` with opsPerSec, p50Ms, p99Ms, done, errors,
 * misses, seconds. Exit status: 0 every request answered; 2 time limit reached; 1 error.
 */
import { connect, type Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
import { Histogram } from './histogram.js'
import { McReplyScanner, REPLY_ERROR } from './mc-reply.js'

interface Options {
  host: string
  port: number
  op: 'get' | 'set' | 'mget'
  conns: number
  requests: number
  timeLimit: number
  keys: number
  size: number
  mget: number
  seed: number
}

function parseOptions(argv: readonly string[]): Options {
  const o: Options = {
    host: '127.0.0.1',
    port: 0,
    op: 'get',
    conns: 50,
    requests: 100_000,
    timeLimit: 60,
    keys: 100_000,
    size: 100,
    mget: 10,
    seed: 0x2545f491,
  }
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!
    const raw = argv[++i]
    if (raw === undefined) throw new Error(`${flag} needs a value`)
    const n = Number(raw)
    switch (flag) {
      case '--host':
        o.host = raw
        break
      case '--op':
        if (raw !== 'get' && raw !== 'set' && raw !== 'mget') throw new Error(`bad --op ${raw}`)
        o.op = raw
        break
      case '--port':
      case '--conns':
      case '--requests':
      case '--time-limit':
      case '--keys':
      case '--size':
      case '--mget':
      case '--seed': {
        if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} needs a positive integer`)
        const key = flag === '--time-limit' ? 'timeLimit' : (flag.slice(2) as keyof Options)
        ;(o as unknown as Record<string, number>)[key] = n
        break
      }
      default:
        throw new Error(`unknown argument ${flag}`)
    }
  }
  if (o.port === 0) throw new Error('--port is required')
  return o
}

const KEY_DIGITS = 12

/** A request buffer and the offsets of its key digits. */
function buildRequest(o: Options): { buf: Buffer; digits: number[] } {
  const key = `key:${'0'.repeat(KEY_DIGITS)}`
  let text: string
  const digits: number[] = []
  if (o.op === 'set') {
    text = `set ${key} 0 0 ${o.size}\r\n${'x'.repeat(o.size)}\r\n`
    digits.push(4 + 4)
  } else {
    const n = o.op === 'mget' ? o.mget : 1
    text = 'get'
    for (let k = 0; k < n; k++) {
      digits.push(text.length + 1 + 4)
      text += ` ${key}`
    }
    text += '\r\n'
  }
  return { buf: Buffer.from(text, 'latin1'), digits }
}

function main(): void {
  const o = parseOptions(process.argv.slice(2))
  const conns = Math.min(o.conns, o.requests)
  const hist = new Histogram()
  const keysPerRequest = o.op === 'mget' ? o.mget : 1
  let seed = o.seed | 0 || 1
  let sent = 0
  let done = 0
  let errors = 0
  let misses = 0
  let connected = 0
  let t0 = 0
  let finished = false

  interface Conn {
    sock: Socket
    req: Buffer
    digits: number[]
    start: number
  }
  const all: Conn[] = []

  function randomKey(): number {
    seed ^= seed << 13
    seed ^= seed >>> 17
    seed ^= seed << 5
    return (seed >>> 0) % o.keys
  }

  function send(c: Conn): void {
    if (sent >= o.requests) return
    sent++
    const req = c.req
    for (const off of c.digits) {
      let k = randomKey()
      for (let d = off + KEY_DIGITS - 1; d >= off; d--) {
        req[d] = 48 + (k % 10)
        k = (k / 10) | 0
      }
    }
    c.start = performance.now()
    c.sock.write(req)
  }

  function finish(code: number, why?: string): void {
    if (finished) return
    finished = true
    clearTimeout(limit)
    if (why) process.stderr.write(`mc-load: ${why}\n`)
    const seconds = t0 > 0 ? (performance.now() - t0) / 1000 : 0
    const result = {
      opsPerSec: seconds > 0 ? done / seconds : 0,
      p50Ms: hist.quantile(0.5) / 1e6,
      p99Ms: hist.quantile(0.99) / 1e6,
      done,
      errors,
      misses,
      seconds,
    }
    process.stdout.write(`RESULT ${JSON.stringify(result)}\n`)
    for (const c of all) c.sock.destroy()
    process.exitCode = code
  }

  const limit = setTimeout(() => finish(2, 'time limit reached'), o.timeLimit * 1000)

  for (let i = 0; i < conns; i++) {
    const { buf, digits } = buildRequest(o)
    const sock = connect({ host: o.host, port: o.port })
    sock.setNoDelay(true)
    const c: Conn = { sock, req: buf, digits, start: 0 }
    all.push(c)
    const scanner = new McReplyScanner((kind, values, line) => {
      hist.record(Math.round((performance.now() - c.start) * 1e6))
      done++
      if (kind === REPLY_ERROR) {
        if (errors < 3) process.stderr.write(`mc-load: server said: ${line}\n`)
        errors++
      } else if (o.op !== 'set') misses += keysPerRequest - values
      if (done >= o.requests) {
        finish(0)
        return false
      }
      send(c)
      return true
    })
    sock.on('data', (d: Buffer) => scanner.feed(d))
    sock.on('connect', () => {
      if (++connected === conns) {
        t0 = performance.now()
        for (const x of all) send(x)
      }
    })
    sock.on('error', (e) => finish(1, e.message))
    sock.on('close', () => finish(1, 'connection closed by the server'))
  }
}

try {
  main()
} catch (e) {
  process.stderr.write(`mc-load: ${(e as Error).message}\n`)
  process.exitCode = 1
}
