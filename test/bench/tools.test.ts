/**
 * The pure parts of the load tools: the latency histogram, the memcache reply scanner at
 * every split of its input, redis-benchmark's command line and CSV output, and the proxy
 * YAML. No processes, no sockets.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { bucketOf, bucketRange, Histogram } from '../../bench/histogram.js'
import { McReplyScanner, REPLY_END, REPLY_ERROR, REPLY_STORED } from '../../bench/mc-reply.js'
import { WORKLOADS } from '../../bench/plan.js'
import { renderProxyConfig } from '../../bench/proxy-config.js'
import {
  parseRedisBenchmarkCsv,
  redisBenchmarkArgs,
  splitCsvLine,
} from '../../bench/redis-benchmark.js'

describe('histogram', () => {
  test('buckets: exact below 64, 32 per power of two above', () => {
    assert.equal(bucketOf(0), 0)
    assert.equal(bucketOf(63), 63)
    assert.equal(bucketOf(64), 64)
    assert.equal(bucketOf(65), 64) // [64, 66) is one bucket of width 2
    assert.equal(bucketOf(66), 65)
    assert.equal(bucketOf(127), 95)
    assert.equal(bucketOf(128), 96)
    assert.equal(bucketOf(2 ** 32 - 1), 64 + 26 * 32 - 1)
    assert.equal(bucketOf(1e12), 64 + 26 * 32 - 1)
    assert.deepEqual(bucketRange(65), { low: 66, width: 2 })
    assert.deepEqual(bucketRange(96), { low: 128, width: 4 })
  })

  test('every value falls inside its bucket, bucket width <= 1/32 of its values', () => {
    for (let v = 1; v < 2 ** 31; v = Math.floor(v * 1.37) + 1) {
      const { low, width } = bucketRange(bucketOf(v))
      assert.ok(low <= v && v < low + width, `${v} in [${low}, ${low + width})`)
      assert.ok(width === 1 || width / low <= 1 / 32)
    }
  })

  test('quantiles', () => {
    const h = new Histogram()
    assert.equal(h.quantile(0.5), 0)
    for (let i = 1; i <= 50; i++) h.record(i)
    h.record(1_000_000)
    h.record(1_000_000)
    assert.equal(h.count, 52)
    assert.equal(h.quantile(0.5), 26)
    assert.equal(h.quantile(0.01), 1)
    // rank ceil(0.99 × 52) = 52: the 1e6 bucket [999424, 1015808), midpoint 1007616.
    assert.equal(h.quantile(0.99), 1_007_616)
    assert.equal(h.max, 1_000_000)
  })

  test('merge', () => {
    const a = new Histogram()
    const b = new Histogram()
    a.record(10)
    b.record(20)
    b.record(30)
    a.merge(b)
    assert.equal(a.count, 3)
    assert.equal(a.quantile(0.5), 20)
    assert.equal(a.max, 30)
  })
})

describe('memcache reply scanner', () => {
  const wire = Buffer.from(
    'VALUE key:000000000001 0 5\r\nab\r\nc\r\nVALUE k 7 0\r\n\r\nEND\r\n' +
      'STORED\r\nEND\r\nSERVER_ERROR out of memory\r\nNOT_STORED\r\nENDX\r\n',
    'latin1',
  )
  const expected = [
    [REPLY_END, 2, undefined],
    [REPLY_STORED, 0, undefined],
    [REPLY_END, 0, undefined],
    [REPLY_ERROR, 0, 'SERVER_ERROR out of memory'],
    [REPLY_ERROR, 0, 'NOT_STORED'],
    [REPLY_ERROR, 0, 'ENDX'],
  ]

  function scan(chunks: Buffer[]): unknown[] {
    const got: unknown[] = []
    const sc = new McReplyScanner((kind, values, line) => {
      got.push([kind, values, line])
      return true
    })
    for (const c of chunks) sc.feed(c)
    return got
  }

  test('one chunk', () => {
    assert.deepEqual(scan([wire]), expected)
  })

  test('split in two at every byte', () => {
    for (let i = 1; i < wire.length; i++) {
      assert.deepEqual(scan([wire.subarray(0, i), wire.subarray(i)]), expected, `split at ${i}`)
    }
  })

  test('byte by byte', () => {
    const chunks = Array.from({ length: wire.length }, (_, i) => wire.subarray(i, i + 1))
    assert.deepEqual(scan(chunks), expected)
  })

  test('returning false stops the chunk', () => {
    let n = 0
    const sc = new McReplyScanner(() => ++n < 2)
    sc.feed(Buffer.from('END\r\nEND\r\nEND\r\n'))
    assert.equal(n, 2)
  })
})

describe('redis-benchmark', () => {
  test('command lines', () => {
    assert.deepEqual(redisBenchmarkArgs(WORKLOADS.redis_get_p1, 7001, 100000), [
      ...['-h', '127.0.0.1', '-p', '7001', '-c', '50', '-n', '100000', '-r', '100000'],
      ...['-d', '100', '--csv', '-t', 'get'],
    ])
    assert.deepEqual(redisBenchmarkArgs(WORKLOADS.redis_set_p16, 7001, 400000).slice(-5), [
      '--csv',
      '-P',
      '16',
      '-t',
      'set',
    ])
    const mget = redisBenchmarkArgs(WORKLOADS.redis_mget10, 7001, 40000)
    assert.deepEqual(mget.slice(-11), ['MGET', ...Array(10).fill('key:__rand_int__')])
    assert.ok(!mget.includes('-t') && !mget.includes('-P'))
    assert.deepEqual(redisBenchmarkArgs(WORKLOADS.redis_get_c1000, 1, 5).slice(4, 6), [
      '-c',
      '1000',
    ])
  })

  test('CSV lines with quotes', () => {
    assert.deepEqual(splitCsvLine('"a","b,c","d""e",7'), ['a', 'b,c', 'd"e', '7'])
  })

  test('--csv output of redis-benchmark 7.0', () => {
    const out =
      '"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"\n' +
      '"MGET key:__rand_int__ key:__rand_int__","28089.89","1.524","0.216","0.975","4.119","5.023","11.407"\n'
    assert.deepEqual(parseRedisBenchmarkCsv(out), {
      test: 'MGET key:__rand_int__ key:__rand_int__',
      opsPerSec: 28089.89,
      p50Ms: 0.975,
      p99Ms: 5.023,
    })
  })

  test('several tests: the last; columns by header name; nothing usable: undefined', () => {
    const out =
      '"test","rps","p99_latency_ms","p50_latency_ms"\n"SET","10.5","3","2"\n"GET","20","4.5","1.5"\n'
    assert.deepEqual(parseRedisBenchmarkCsv(out), {
      test: 'GET',
      opsPerSec: 20,
      p50Ms: 1.5,
      p99Ms: 4.5,
    })
    assert.equal(parseRedisBenchmarkCsv(''), undefined)
    assert.equal(parseRedisBenchmarkCsv('"GET","1","2"\n'), undefined) // no header
    assert.equal(
      parseRedisBenchmarkCsv('"test","rps","p50_latency_ms","p99_latency_ms"\n"GET","x","1","2"\n'),
      undefined,
    )
  })
})

describe('proxy config', () => {
  test('two pools, ketama + fnv1a_64, named servers, production settings', () => {
    const yml = renderProxyConfig({
      redisListen: 30001,
      mcListen: 30002,
      redisServers: [31001, 31002],
      mcServers: [32001, 32002],
    })
    const pool = (name: string, listen: number, redis: boolean, servers: string[]) => [
      `${name}:`,
      `  listen: 127.0.0.1:${listen}`,
      '  hash: fnv1a_64',
      '  distribution: ketama',
      ...(redis ? ['  redis: true'] : []),
      '  timeout: 2000',
      '  auto_eject_hosts: true',
      '  server_failure_limit: 3',
      '  server_retry_timeout: 30000',
      '  server_connections: 1',
      '  preconnect: true',
      '  servers:',
      ...servers,
    ]
    assert.equal(
      yml,
      [
        '# written by npm run bench',
        ...pool('bench_redis', 30001, true, [
          '   - 127.0.0.1:31001:1 redis1',
          '   - 127.0.0.1:31002:1 redis2',
        ]),
        ...pool('bench_mc', 30002, false, [
          '   - 127.0.0.1:32001:1 mc1',
          '   - 127.0.0.1:32002:1 mc2',
        ]),
        '',
      ].join('\n'),
    )
  })
})
