/**
 * `npm run bench`: walnut side by side with nutcracker and with direct backend access, in
 * one run on one machine (method: docs/bench.md).
 *
 *   1. free ports; 2 redis-server + 2 memcached, each preloaded with the whole keyspace
 *      (key:%012d × 100 000, 100-byte values), so any routing and direct access hit;
 *   2. one nutcracker-syntax YAML per proxy target (bench/proxy-config.ts), proxies started,
 *      warmed up (JIT, server connections; not reported);
 *   3. repetitions: every workload runs once per target before the next workload starts,
 *      and the target order rotates each repetition (ABC, BCA, CAB), so slow drift of the
 *      machine spreads over all targets; each run is bounded in requests and in time;
 *   4. per run: ops/s and p50/p99 from the load tool; proxy CPU per request from
 *      /proc/PID/stat (utime+stime of the whole process tree, all threads); backend and
 *      client CPU; noise (machine CPU neither we nor the hypervisor's steal account for);
 *   5. idle connections: proxy RSS with 10 000 idle clients;
 *   6. summary (min/median/max, ratios to nutcracker -v 4), targets of issue 7 met or not,
 *      written to docs/bench-results/DATE.md and docs/bench.md.
 *
 * Every process is started through ProcessRegistry and stopped on exit, error and signals.
 */
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { dirname, join, relative, resolve } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { ArgError, type BenchOptions, parseBenchArgs, USAGE } from './args.js'
import { evaluateGoals } from './goals.js'
import { measureIdle } from './idle.js'
import { describeMachine, isInstalled } from './machine.js'
import { freePorts, preloadMemcached, preloadRedis, waitForPort } from './net-util.js'
import {
  KEYSPACE,
  type LoadWorkload,
  REFERENCE,
  SUBJECT,
  scaledRequests,
  TARGETS,
  type TargetName,
  VALUE_SIZE,
  WARM_UP,
  WORKLOADS,
  type WorkloadName,
} from './plan.js'
import { type Daemon, ProcessRegistry } from './processes.js'
import {
  clockTicksPerSecond,
  readOpenFilesLimit,
  readProcCpu,
  readSystemCpu,
  treeTicks,
} from './procfs.js'
import { renderProxyConfig } from './proxy-config.js'
import { parseRedisBenchmarkCsv, redisBenchmarkArgs } from './redis-benchmark.js'
import {
  LATEST_END,
  LATEST_START,
  renderLatest,
  renderReport,
  renderTsv,
  replaceLatest,
} from './report.js'
import { type LoadRow, type MemoryPhase, type MemoryRow, noisePercent, summarise } from './stats.js'

const HERE = dirname(fileURLToPath(import.meta.url))
/** dist/bench → the repository. */
const ROOT = resolve(HERE, '..', '..')
const WALNUT_MAIN = join(ROOT, 'dist', 'src', 'cli', 'main.js')
const MC_LOAD = join(HERE, 'mc-load.js')
const REEXEC_MARK = 'WALNUT_BENCH_NOFILE_RAISED'

const log = (msg: string): void => {
  process.stderr.write(`bench: ${msg}\n`)
}

/** A target as it runs: its ports (or the first backends for direct) and its process. */
interface RunningTarget {
  readonly name: TargetName
  readonly redisPort: number
  readonly mcPort: number
  readonly daemon: Daemon | undefined
  ok: boolean
}

interface Backends {
  readonly redis: readonly number[]
  readonly mc: readonly number[]
  readonly daemons: readonly Daemon[]
}

interface LoadResult {
  readonly opsPerSec: number
  readonly p50Ms: number | undefined
  readonly p99Ms: number | undefined
  readonly requests: number
  readonly status: string
}

function tail(file: string, lines = 8): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n')
  } catch {
    return '(no log)'
  }
}

class Bench {
  private readonly registry = new ProcessRegistry()
  private readonly hz = clockTicksPerSecond()
  private readonly ncpu = cpus().length
  private readonly notes: string[] = []
  private dir = ''

  constructor(private readonly opts: BenchOptions) {}

  get processes(): ProcessRegistry {
    return this.registry
  }

  removeScratch(): void {
    if (this.dir && !this.opts.keep) rmSync(this.dir, { recursive: true, force: true })
    else if (this.dir) log(`scratch directory kept: ${this.dir}`)
    this.dir = ''
  }

  private checkStop(): void {
    if (this.registry.isStopping) throw new Error('stopped')
  }

  async run(): Promise<void> {
    const started = new Date()
    const t0 = performance.now()
    const o = this.opts
    for (const tool of ['redis-server', 'redis-benchmark', 'memcached']) {
      if (!isInstalled(tool, tool === 'memcached' ? '-V' : '--version')) {
        throw new Error(`${tool} is not installed (apt-get install redis-server memcached)`)
      }
    }
    let targets = [...o.targets]
    if (targets.some((t) => TARGETS[t].kind === 'nutcracker') && !isInstalled('nutcracker', '-V')) {
      const skipped = targets.filter((t) => TARGETS[t].kind === 'nutcracker')
      targets = targets.filter((t) => TARGETS[t].kind !== 'nutcracker')
      this.notes.push(`nutcracker is not installed: ${skipped.join(', ')} skipped, no ratios.`)
      log(this.notes[this.notes.length - 1]!)
    }
    if (targets.includes('walnut') && !existsSync(WALNUT_MAIN)) {
      throw new Error(`${WALNUT_MAIN} is missing: build first (npm run build)`)
    }
    if (targets.length === 0) throw new Error('no target left to run')

    let idleConns = o.idleConns
    const { soft } = readOpenFilesLimit()
    if (o.workloads.includes('idle_10k') && soft < idleConns + 512) {
      idleConns = Math.max(100, soft - 512)
      this.notes.push(`open-files limit ${soft}: idle connections lowered to ${idleConns}.`)
      log(this.notes[this.notes.length - 1]!)
    }

    this.dir = mkdtempSync(join(tmpdir(), 'walnut-bench-'))
    const proxies = targets.filter((t) => TARGETS[t].kind !== 'direct')
    const ports = await freePorts(4 + 3 * proxies.length)
    const backends = await this.startBackends(ports.slice(0, 2), ports.slice(2, 4))
    const running: RunningTarget[] = []
    for (const name of targets) {
      this.checkStop()
      if (TARGETS[name].kind === 'direct') {
        running.push({
          name,
          redisPort: backends.redis[0]!,
          mcPort: backends.mc[0]!,
          daemon: undefined,
          ok: true,
        })
        continue
      }
      const k = 4 + 3 * proxies.indexOf(name)
      running.push(await this.startProxy(name, ports[k]!, ports[k + 1]!, ports[k + 2]!, backends))
    }
    log(`targets: ${running.map((t) => (t.ok ? t.name : `${t.name} (not running)`)).join(', ')}`)

    // Idle connections first on fresh proxies (clean per-connection growth), and again at
    // the end, after the proxies have carried traffic (steady-state RSS).
    const memory: MemoryRow[] = []
    if (o.workloads.includes('idle_10k'))
      await this.measureMemory('fresh', running, idleConns, memory)

    await this.warmUp(running)

    const loadNames = o.workloads.filter((w) => WORKLOADS[w].kind === 'load')
    const rows: LoadRow[] = []
    for (let rep = 1; rep <= o.reps; rep++) {
      for (const wname of loadNames) {
        const w = WORKLOADS[wname] as LoadWorkload
        for (let j = 0; j < running.length; j++) {
          this.checkStop()
          // Rotate: in repetition r, slot j runs target (j + r - 1) mod n.
          const t = running[(j + rep - 1) % running.length]!
          const row = await this.measure(rep, wname, w, t, backends)
          rows.push(row)
          log(
            `rep ${rep} ${wname.padEnd(15)} ${t.name.padEnd(13)} ${row.opsPerSec.toFixed(0).padStart(7)} ops/s` +
              `  p50 ${row.p50Ms?.toFixed(3) ?? '-'}  p99 ${row.p99Ms?.toFixed(3) ?? '-'}` +
              `  proxy ${row.proxyUs?.toFixed(1) ?? '-'} µs/req  noise ${row.noisePct.toFixed(0)}%  ${row.status}`,
          )
        }
      }
    }

    if (o.workloads.includes('idle_10k'))
      await this.measureMemory('after load', running, idleConns, memory)

    const noisy = rows.filter((r) => r.noisePct > 20).length
    if (noisy > 0) {
      this.notes.push(
        `${noisy} of ${rows.length} runs had noise above 20 % (other work on the machine): ` +
          'trust cpu_x more than ops_x and p99_x, and repeat on a quieter machine.',
      )
    }
    const targetNames = running.map((t) => t.name as string)
    const summaries = summarise(rows, loadNames, targetNames)
    const goals = evaluateGoals(summaries, memory, SUBJECT, REFERENCE)
    const report = {
      startedAt: started.toISOString().replace(/\.\d+Z$/, 'Z'),
      durationSec: (performance.now() - t0) / 1000,
      machine: describeMachine(ROOT),
      reps: o.reps,
      scale: o.scale,
      workloads: o.workloads.map((name) => {
        const w = WORKLOADS[name]
        return {
          name,
          describe:
            w.kind === 'idle' ? `RSS with ${idleConns} idle client connections` : w.describe,
          requests: w.kind === 'load' ? scaledRequests(w, o.scale) : undefined,
        }
      }),
      targets: running.map((t) => ({ name: t.name, describe: TARGETS[t.name].describe })),
      reference: REFERENCE,
      subject: SUBJECT,
      summaries,
      memory,
      goals,
      notes: this.notes,
    }
    const markdown = renderReport(report)
    process.stdout.write(`\n${markdown}`)
    if (o.out) {
      writeFileSync(o.out, renderTsv(rows, memory))
      log(`raw rows: ${o.out}`)
    }
    if (o.docs) this.writeDocs(report, markdown)
  }

  private async measureMemory(
    phase: MemoryPhase,
    running: readonly RunningTarget[],
    conns: number,
    into: MemoryRow[],
  ): Promise<void> {
    for (const t of running) {
      if (!t.daemon) continue
      this.checkStop()
      const m: MemoryRow = t.ok
        ? await measureIdle(phase, t.name, t.daemon.pid, t.redisPort, conns)
        : { phase, target: t.name, conns, rssBeforeKb: 0, rssAfterKb: 0, status: 'NOT_RUNNING' }
      into.push(m)
      log(
        `idle ${phase} ${t.name}: RSS ${(m.rssBeforeKb / 1024).toFixed(1)} → ${(m.rssAfterKb / 1024).toFixed(1)} MiB with ${m.conns} connections  ${m.status}`,
      )
    }
  }

  private writeDocs(report: Parameters<typeof renderLatest>[0], markdown: string): void {
    const docs = join(ROOT, 'docs')
    const resultsDir = join(docs, 'bench-results')
    mkdirSync(resultsDir, { recursive: true })
    const file = join(resultsDir, `${report.startedAt.slice(0, 10)}.md`)
    writeFileSync(file, markdown)
    const benchMd = join(docs, 'bench.md')
    const doc = existsSync(benchMd)
      ? readFileSync(benchMd, 'utf8')
      : `# Benchmark\n\n${LATEST_START}\n${LATEST_END}\n`
    const link = relative(docs, file).split('\\').join('/')
    writeFileSync(benchMd, replaceLatest(doc, renderLatest(report, link)))
    log(`results: ${relative(ROOT, file)}; docs/bench.md updated`)
  }

  private async startBackends(redisPorts: number[], mcPorts: number[]): Promise<Backends> {
    const daemons: Daemon[] = []
    const isRoot = process.getuid?.() === 0
    for (const p of redisPorts) {
      daemons.push(
        this.registry.startDaemon(
          `redis-${p}`,
          'redis-server',
          [
            '--port',
            String(p),
            '--bind',
            '127.0.0.1',
            '--save',
            '',
            '--appendonly',
            'no',
            '--protected-mode',
            'no',
            '--daemonize',
            'no',
            '--maxclients',
            '12000',
          ],
          join(this.dir, `redis-${p}.log`),
        ),
      )
    }
    for (const p of mcPorts) {
      const args = [
        '-p',
        String(p),
        '-l',
        '127.0.0.1',
        '-U',
        '0',
        '-t',
        '2',
        '-m',
        '256',
        '-c',
        '12000',
      ]
      if (isRoot) args.push('-u', 'root')
      daemons.push(
        this.registry.startDaemon(
          `memcached-${p}`,
          'memcached',
          args,
          join(this.dir, `memcached-${p}.log`),
        ),
      )
    }
    const all = [...redisPorts, ...mcPorts]
    for (let i = 0; i < all.length; i++) {
      const d = daemons[i]!
      if (!(await waitForPort(all[i]!, 10_000, () => d.exit !== undefined))) {
        throw new Error(`${d.name} did not start:\n${tail(d.logFile)}`)
      }
    }
    log(`backends up; preloading ${KEYSPACE} keys × ${VALUE_SIZE} B into each`)
    await Promise.all([
      ...redisPorts.map((p) => preloadRedis(p, KEYSPACE, VALUE_SIZE, 60_000)),
      ...mcPorts.map((p) => preloadMemcached(p, KEYSPACE, VALUE_SIZE, 60_000)),
    ])
    return { redis: redisPorts, mc: mcPorts, daemons }
  }

  private async startProxy(
    name: TargetName,
    redisPort: number,
    mcPort: number,
    statsPort: number,
    b: Backends,
  ): Promise<RunningTarget> {
    const conf = join(this.dir, `${name}.yml`)
    writeFileSync(
      conf,
      renderProxyConfig({
        redisListen: redisPort,
        mcListen: mcPort,
        redisServers: b.redis,
        mcServers: b.mc,
      }),
    )
    const logFile = join(this.dir, `${name}.log`)
    const target = TARGETS[name]
    const common = ['-c', conf, '-s', String(statsPort), '-a', '127.0.0.1']
    let daemon: Daemon
    if (target.kind === 'nutcracker') {
      const args = [...common, '-o', logFile]
      if ('verbosity' in target) args.push('-v', String(target.verbosity))
      daemon = this.registry.startDaemon(name, 'nutcracker', args, logFile)
    } else {
      // walnut as a user would run it: default flags, log on stderr (into the log file).
      daemon = this.registry.startDaemon(name, process.execPath, [WALNUT_MAIN, ...common], logFile)
    }
    const gone = () => daemon.exit !== undefined
    const ok =
      (await waitForPort(redisPort, 15_000, gone)) && (await waitForPort(mcPort, 15_000, gone))
    if (!ok) {
      log(`${name} did not listen on both pool ports:\n${tail(logFile)}`)
      this.notes.push(`${name} did not start; its rows are NOT_RUNNING.`)
    } else if (!(await waitForPort(statsPort, 3000, gone))) {
      log(`warning: ${name} has no stats listener on ${statsPort}`)
    }
    return { name, redisPort, mcPort, daemon, ok }
  }

  private async warmUp(running: readonly RunningTarget[]): Promise<void> {
    log('warm-up (JIT, server connections; not reported)')
    for (const t of running) {
      if (!t.daemon || !t.ok) continue
      for (const [wname, n] of WARM_UP) {
        this.checkStop()
        const r = await this.runLoad(WORKLOADS[wname] as LoadWorkload, t, n)
        if (r.status !== 'ok' && !this.registry.isStopping) {
          log(`warm-up ${wname} on ${t.name}: ${r.status}`)
        }
      }
    }
  }

  private async runLoad(w: LoadWorkload, t: RunningTarget, n: number): Promise<LoadResult> {
    const port = w.proto === 'redis' ? t.redisPort : t.mcPort
    const limitMs = this.opts.timeLimit * 1000
    const failed = (status: string): LoadResult => ({
      opsPerSec: 0,
      p50Ms: undefined,
      p99Ms: undefined,
      requests: 0,
      status,
    })
    if (w.tool === 'redis-benchmark') {
      const r = await this.registry.runTool(
        'redis-benchmark',
        redisBenchmarkArgs(w, port, n),
        limitMs,
      )
      if (r.timedOut) return failed('TIMEOUT')
      const res = parseRedisBenchmarkCsv(r.stdout)
      if (r.code !== 0 || !res) {
        const why = r.stderr.split('\n').find((l) => l.trim() && !l.includes('CONFIG')) ?? ''
        if (why) log(`redis-benchmark: ${why.trim()}`)
        return failed('FAIL')
      }
      return {
        opsPerSec: res.opsPerSec,
        p50Ms: res.p50Ms,
        p99Ms: res.p99Ms,
        requests: n,
        status: 'ok',
      }
    }
    const args = [
      MC_LOAD,
      '--port',
      String(port),
      '--op',
      w.op[0]!,
      '--conns',
      String(w.clients),
      '--requests',
      String(n),
      '--keys',
      String(KEYSPACE),
      '--size',
      String(VALUE_SIZE),
      '--mget',
      '10',
      '--time-limit',
      String(Math.max(1, this.opts.timeLimit - 5)),
    ]
    const r = await this.registry.runTool(process.execPath, args, limitMs)
    const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '))
    if (r.stderr.trim()) log(`mc-load: ${r.stderr.trim().split('\n')[0]}`)
    if (r.timedOut || r.code === 2) return failed('TIMEOUT')
    if (r.code !== 0 || !line) return failed('FAIL')
    const res = JSON.parse(line.slice(7)) as {
      opsPerSec: number
      p50Ms: number
      p99Ms: number
      done: number
      errors: number
      misses: number
    }
    const status =
      res.errors || res.misses ? `ERR(errors=${res.errors},misses=${res.misses})` : 'ok'
    return {
      opsPerSec: res.opsPerSec,
      p50Ms: res.p50Ms,
      p99Ms: res.p99Ms,
      requests: res.done,
      status,
    }
  }

  private async measure(
    rep: number,
    workload: WorkloadName,
    w: LoadWorkload,
    t: RunningTarget,
    b: Backends,
  ): Promise<LoadRow> {
    const base = {
      rep,
      workload,
      target: t.name,
      backendUs: 0,
      clientUs: 0,
      seconds: 0,
      noisePct: 0,
    }
    if (!t.ok) {
      return {
        ...base,
        opsPerSec: 0,
        p50Ms: undefined,
        p99Ms: undefined,
        proxyUs: undefined,
        requests: 0,
        status: 'NOT_RUNNING',
      }
    }
    const pid = t.daemon?.pid
    const backendTicks = () => b.daemons.reduce((s, d) => s + treeTicks(d.pid), 0)
    const n = scaledRequests(w, this.opts.scale)

    const p0 = pid === undefined ? 0 : treeTicks(pid)
    const b0 = backendTicks()
    const self0 = readProcCpu('self')!
    const s0 = readSystemCpu()
    const w0 = performance.now()
    const r = await this.runLoad(w, t, n)
    const seconds = (performance.now() - w0) / 1000
    const s1 = readSystemCpu()
    const self1 = readProcCpu('self')!
    const b1 = backendTicks()
    const p1 = pid === undefined ? 0 : treeTicks(pid)

    const usPerTick = 1e6 / this.hz
    const perReq = (ticks: number) => (r.requests > 0 ? (ticks * usPerTick) / r.requests : 0)
    const dProxy = p1 - p0
    const dClient = self1.children - self0.children
    let status = r.status
    if (t.daemon?.exit !== undefined) {
      status = 'DIED'
      t.ok = false
      log(`${t.name} exited:\n${tail(t.daemon.logFile)}`)
    }
    return {
      ...base,
      opsPerSec: r.opsPerSec,
      p50Ms: r.p50Ms,
      p99Ms: r.p99Ms,
      proxyUs: pid === undefined || r.requests === 0 ? undefined : perReq(dProxy),
      backendUs: perReq(b1 - b0),
      clientUs: perReq(dClient),
      requests: r.requests,
      seconds,
      noisePct: noisePercent({
        busy: s1.busy - s0.busy,
        steal: s1.steal - s0.steal,
        ours: dProxy + (b1 - b0) + dClient + (self1.self - self0.self),
        seconds,
        ticksPerSecond: this.hz,
        cpus: this.ncpu,
      }),
      status,
    }
  }
}

/**
 * Runs this script again under a raised soft open-files limit when the idle-connections
 * workload needs more descriptors than the current soft limit allows (and the hard one does).
 */
function reexecWithMoreFiles(opts: BenchOptions): Promise<number> | undefined {
  if (process.env[REEXEC_MARK] || !opts.workloads.includes('idle_10k')) return undefined
  const { soft, hard } = readOpenFilesLimit()
  const need = opts.idleConns + 512
  if (soft >= need || hard < need) return undefined
  const child = spawn(
    '/bin/sh',
    ['-c', `ulimit -S -n ${hard}; exec "$@"`, 'sh', process.execPath, ...process.argv.slice(1)],
    { stdio: 'inherit', env: { ...process.env, [REEXEC_MARK]: '1' } },
  )
  // Ctrl-C reaches the child too (same process group); TERM is passed on.
  process.on('SIGINT', () => {})
  process.on('SIGTERM', () => child.kill('SIGTERM'))
  return new Promise((res) => child.on('exit', (code, sig) => res(code ?? (sig ? 128 : 1))))
}

async function main(): Promise<number> {
  const opts = parseBenchArgs(process.argv.slice(2))
  if (opts instanceof ArgError) {
    process.stderr.write(`bench: ${opts.message}\n\n${USAGE}`)
    return 2
  }
  if (opts.help) {
    process.stdout.write(USAGE)
    return 0
  }
  const again = reexecWithMoreFiles(opts)
  if (again) return await again

  const bench = new Bench(opts)
  let stopping = false
  const onSignal = (sig: NodeJS.Signals) => {
    if (stopping) return
    stopping = true
    log(`${sig}: stopping every process`)
    void bench.processes.stopAll().finally(() => {
      bench.removeScratch()
      process.exit(sig === 'SIGINT' ? 130 : 143)
    })
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  process.on('exit', () => {
    bench.processes.killAllSync()
    bench.removeScratch()
  })
  try {
    await bench.run()
    return 0
  } catch (e) {
    if (!stopping) log(`failed: ${(e as Error).message}`)
    return 1
  } finally {
    if (!stopping) {
      await bench.processes.stopAll()
      bench.removeScratch()
    }
  }
}

process.exitCode = await main()
