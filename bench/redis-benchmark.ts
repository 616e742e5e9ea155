/**
 * How the benchmark drives redis-benchmark (7.x) and reads its `--csv` output. Pure.
 *
 * redis-benchmark expands every `__rand_int__` in the command line to a 12-digit number
 * drawn anew for each occurrence and each request (checked against redis 7.0.15 with
 * MONITOR), so `MGET key:__rand_int__ ×10` asks for 10 independent random keys of the
 * preloaded `key:%012d` space, which spread over all servers of the pool. Its built-in
 * `-t get` / `-t set` use `key:__rand_int__` too.
 */
import { KEYSPACE, type LoadWorkload, VALUE_SIZE } from './plan.js'

export function redisBenchmarkArgs(w: LoadWorkload, port: number, requests: number): string[] {
  const args = [
    '-h',
    '127.0.0.1',
    '-p',
    String(port),
    '-c',
    String(w.clients),
    '-n',
    String(requests),
    '-r',
    String(KEYSPACE),
    '-d',
    String(VALUE_SIZE),
    '--csv',
  ]
  if (w.pipeline > 1) args.push('-P', String(w.pipeline))
  // One lower-case word is a built-in test (-t); anything else is a command line.
  if (w.op.length === 1 && /^[a-z]+$/.test(w.op[0]!)) args.push('-t', w.op[0]!)
  else args.push(...w.op)
  return args
}

/** Splits one CSV line with double-quoted fields ("" inside quotes is a quote). */
export function splitCsvLine(line: string): string[] {
  const out: string[] = []
  let cur = ''
  let quoted = false
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cur += '"'
        i++
      } else if (c === '"') quoted = false
      else cur += c
    } else if (c === '"') quoted = true
    else if (c === ',') {
      out.push(cur)
      cur = ''
    } else cur += c
  }
  out.push(cur)
  return out
}

export interface RedisBenchmarkResult {
  readonly test: string
  readonly opsPerSec: number
  readonly p50Ms: number
  readonly p99Ms: number
}

/**
 * Reads the result line of `redis-benchmark --csv` (7.x): a header
 * `"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms",
 * "p99_latency_ms","max_latency_ms"` and one line per test. Columns are found by header
 * name. Returns the last test's figures, or undefined when there is none.
 */
export function parseRedisBenchmarkCsv(stdout: string): RedisBenchmarkResult | undefined {
  let header: string[] | undefined
  let last: RedisBenchmarkResult | undefined
  for (const raw of stdout.split('\n')) {
    const line = raw.trim()
    if (!line.startsWith('"')) continue
    const f = splitCsvLine(line)
    if (f[0] === 'test') {
      header = f
      continue
    }
    if (!header) continue
    const col = (name: string): number => {
      const i = header!.indexOf(name)
      return i < 0 ? Number.NaN : Number(f[i])
    }
    const r = {
      test: f[0] ?? '',
      opsPerSec: col('rps'),
      p50Ms: col('p50_latency_ms'),
      p99Ms: col('p99_latency_ms'),
    }
    if (Number.isFinite(r.opsPerSec) && Number.isFinite(r.p50Ms) && Number.isFinite(r.p99Ms)) {
      last = r
    }
  }
  return last
}
