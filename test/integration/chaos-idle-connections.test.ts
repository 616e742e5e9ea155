/**
 * 10 000 idle client connections held open at once against walnut, on a
 * memcache pool and then on a redis pool: walnut accepts them all, still
 * answers a new client meanwhile, lets them all go, and its RSS grows by a
 * bounded amount per connection (printed: docs/failures.md quotes it).
 *
 * walnut and the process holding the client sockets each need more than
 * 10 000 file descriptors: both are started by a shell that raises its limit
 * with `ulimit -n` first; if that fails the test fails, saying so.
 */
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { freePort, waitForPort } from '../helpers/ports.js'
import {
  connect,
  type ServerProc,
  startMemcached,
  startRedis,
  WALNUT_MAIN,
} from '../helpers/servers.js'
import { counter, MiB, rssOf, stats } from './chaos-kit.js'

const N = 10_000
const FD_LIMIT = 12_000

/** Opens `n` connections to a port in batches, prints `ready <errors>`, closes them all on stdin `close`. */
const HOLDER = `
const net = require('node:net')
const [port, n] = process.argv.slice(1).map(Number)
const socks = []
let errors = 0
async function main() {
  for (let i = 0; i < n; i += 200) {
    const batch = []
    for (let j = i; j < Math.min(n, i + 200); j++) {
      batch.push(new Promise((resolve) => {
        const s = net.connect(port, '127.0.0.1')
        s.on('error', () => { errors++; resolve() })
        s.on('connect', resolve)
        socks.push(s)
      }))
    }
    await Promise.all(batch)
  }
  process.stdout.write('ready ' + errors + '\\n')
}
process.stdin.on('data', (d) => {
  if (String(d).includes('close')) {
    for (const s of socks) s.destroy()
    process.stdout.write('closed\\n')
    setTimeout(() => process.exit(0), 100)
  }
})
main()
`

const children: ChildProcess[] = []
const dirs: string[] = []
const backends: ServerProc[] = []
after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
  for (const b of backends) await b.stop()
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

/** Runs `argv` under `sh` after `ulimit -n FD_LIMIT`; exit code 97 means the limit could not be raised. */
function withFdLimit(argv: string[]): ChildProcess {
  const child = spawn('sh', ['-c', `ulimit -n ${FD_LIMIT} || exit 97; exec "$@"`, 'sh', ...argv], {
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  children.push(child)
  return child
}

function exitCode(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode)
    else child.once('exit', (code) => resolve(code))
  })
}

/** Resolves with the first stdout line matching `re`; fails loudly on exit 97 or a timeout. */
function line(child: ChildProcess, re: RegExp, what: string, ms = 20_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = ''
    let err = ''
    const timer = setTimeout(() => reject(new Error(`${what}: timed out; stderr: ${err}`)), ms)
    child.stderr?.on('data', (d: Buffer) => {
      err += d.toString()
    })
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString()
      const m = re.exec(out)
      if (m !== null) {
        clearTimeout(timer)
        resolve(m[0])
      }
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(
        new Error(
          code === 97
            ? `${what}: could not raise the open file limit to ${FD_LIMIT} (ulimit -n); this test needs it`
            : `${what}: exited with ${code}; stderr: ${err}`,
        ),
      )
    })
  })
}

async function statsCounter(port: number, pool: string, name: string): Promise<number> {
  return counter(await stats(port), pool, name)
}

async function waitCounter(port: number, pool: string, want: number, ms: number): Promise<void> {
  const end = Date.now() + ms
  let got = -1
  while (Date.now() < end) {
    got = await statsCounter(port, pool, 'client_connections')
    if (got === want) return
    await sleep(100)
  }
  assert.fail(`pool ${pool}: client_connections ${got}, expected ${want}`)
}

test(`${N} idle client connections on a memcache pool, then on a redis pool`, async () => {
  const [mc, rd] = await Promise.all([startMemcached(), startRedis()])
  backends.push(mc, rd)
  const [mport, rport, sport] = [await freePort(), await freePort(), await freePort()]
  const dir = mkdtempSync(join(tmpdir(), 'walnut-idle-'))
  dirs.push(dir)
  const cfg = join(dir, 'walnut.yml')
  writeFileSync(
    cfg,
    [
      'mc:',
      `  listen: 127.0.0.1:${mport}`,
      '  backlog: 1024',
      '  servers:',
      `   - 127.0.0.1:${mc.port}:1`,
      'rd:',
      `  listen: 127.0.0.1:${rport}`,
      '  redis: true',
      '  backlog: 1024',
      '  servers:',
      `   - 127.0.0.1:${rd.port}:1`,
      '',
    ].join('\n'),
  )
  const walnut = withFdLimit([
    process.execPath,
    WALNUT_MAIN,
    '-c',
    cfg,
    '-s',
    String(sport),
    '-a',
    '127.0.0.1',
  ])
  const walnutExit = exitCode(walnut)
  const early = walnutExit.then((code) => {
    throw new Error(
      code === 97
        ? `walnut: could not raise the open file limit to ${FD_LIMIT} (ulimit -n); this test needs it`
        : `walnut exited early with ${code}`,
    )
  })
  await Promise.race([
    Promise.all([waitForPort(mport), waitForPort(rport), waitForPort(sport)]),
    early,
  ])
  const pid = walnut.pid!

  const results: string[] = []
  for (const [pool, port, probe, answer] of [
    ['mc', mport, 'version\r\n', /^VERSION /],
    ['rd', rport, '*1\r\n$4\r\nPING\r\n', /^\+PONG\r\n$/],
  ] as const) {
    // Warm up: a few hundred connections come and go, so the first ones do not count.
    const warm = withFdLimit([process.execPath, '-e', HOLDER, String(port), '300'])
    assert.equal(await line(warm, /ready \d+/, 'warm-up'), 'ready 0')
    warm.stdin?.write('close\n')
    await exitCode(warm)
    await waitCounter(sport, pool, 0, 5000)
    await sleep(300)
    const before = rssOf(pid)

    const t0 = Date.now()
    const holder = withFdLimit([process.execPath, '-e', HOLDER, String(port), String(N)])
    assert.equal(await line(holder, /ready \d+/, 'holder'), 'ready 0', 'every connect succeeded')
    await waitCounter(sport, pool, N, 10_000)
    const opened = Date.now() - t0
    await sleep(500)
    const held = rssOf(pid)

    // A new client is served while they are all open.
    const c = await connect(port)
    await c.send(probe)
    const reply = (await c.read((b) => (b.includes('\r\n') ? b.length : -1), 5000)).toString()
    assert.match(reply, answer)
    await c.close()

    holder.stdin?.write('close\n')
    await exitCode(holder)
    await waitCounter(sport, pool, 0, 10_000)
    await sleep(300)
    const afterClose = rssOf(pid)
    const perConn = (held - before) / N
    results.push(
      `${pool}: ${N} idle connections opened in ${opened} ms; RSS ${(before / MiB).toFixed(1)} -> ${(held / MiB).toFixed(1)} MiB (${Math.round(perConn)} bytes per connection), ${(afterClose / MiB).toFixed(1)} MiB after they closed`,
    )
    // Bounded: an idle connection must not cost more than a few kilobytes.
    assert.ok(perConn < 16 * 1024, `${Math.round(perConn)} bytes per idle connection`)
  }
  for (const r of results) console.log(`# idle: ${r}`)
  assert.equal(walnut.exitCode, null, 'walnut is still running')
  walnut.kill('SIGTERM')
  await walnutExit
})
