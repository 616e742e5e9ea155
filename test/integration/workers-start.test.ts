/**
 * `--workers` start-up and daemon, through the built CLI: a unix-socket listener is
 * refused with N > 1 (exit 1, the reason logged); a listen port already taken makes
 * the start fail with nutcracker's bind message and leaves no process behind; `-d`
 * with `--workers 2`: the launcher exits 0, the pid file holds the primary, whose
 * children are the workers, it serves, and SIGTERM ends all of them and removes the
 * pid file; `--workers 1` forks nothing.
 */
import assert from 'node:assert/strict'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { freePort } from '../helpers/ports.js'
import {
  connect,
  daemonScratch,
  runWalnut,
  startMemcached,
  startWalnut,
} from '../helpers/servers.js'
import { alive, gone, ppid, read, readyWorkers, STAMP, waitLines } from './workers-kit.js'

/** Daemons started here (children of nothing we track): killed at the end. */
const { dir, daemons } = daemonScratch('walnut-workers-start-')

/** The pids of `pid`'s children (Linux /proc). */
function children(pid: number): number[] {
  const text = read(`/proc/${pid}/task/${pid}/children`).trim()
  return text === '' ? [] : text.split(' ').map(Number)
}

test('a unix-socket listener is refused with --workers 2', async () => {
  const sock = join(dir, 'refused.sock')
  const conf = join(dir, 'unix.yml')
  const port = await freePort()
  writeFileSync(
    conf,
    `alpha:\n  listen: 127.0.0.1:${port}\n  servers:\n   - 127.0.0.1:1:1\n` +
      `beta:\n  listen: ${sock}\n  servers:\n   - 127.0.0.1:1:1\n`,
  )
  const r = await runWalnut(['-c', conf, '-s', String(await freePort()), '--workers', '2'])
  assert.equal(r.code, 1)
  const err = r.stderr.toString()
  assert.match(
    err,
    new RegExp(
      `^${STAMP} cli pool 'beta' listens on unix socket '${sock}': --workers needs TCP listeners$`,
      'm',
    ),
  )
  assert.match(err, new RegExp(`^${STAMP} cli done, exiting$`, 'm'))
  assert.doesNotMatch(err, /worker \d started/)
})

test('a listen port already taken: exit 1 with the bind message, no worker left', async () => {
  const taken = createServer()
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
  const port = (taken.address() as { port: number }).port
  try {
    const conf = join(dir, 'busy.yml')
    writeFileSync(conf, `alpha:\n  listen: 127.0.0.1:${port}\n  servers:\n   - 127.0.0.1:1:1\n`)
    const pidFile = join(dir, 'busy.pid')
    const r = await runWalnut([
      '-c',
      conf,
      '-s',
      String(await freePort()),
      '--workers',
      '2',
      '-p',
      pidFile,
    ])
    assert.equal(r.code, 1)
    const err = r.stderr.toString()
    assert.match(
      err,
      new RegExp(
        `^${STAMP} cli bind on p alpha to addr '127\\.0\\.0\\.1:${port}' failed: Address already in use$`,
        'm',
      ),
    )
    for (const m of err.matchAll(/worker \d started on pid (\d+)/g)) {
      await gone(Number(m[1]), 5000)
    }
    assert.throws(() => readFileSync(pidFile), /ENOENT/, 'pid file removed')
  } finally {
    taken.close()
  }
})

test('-d --workers 2: the launcher exits 0; the pid file holds the primary; SIGTERM ends all', async () => {
  const mc = await startMemcached()
  const work = join(dir, 'daemon')
  mkdirSync(work)
  const port = await freePort()
  const conf = join(work, 'walnut.yml')
  writeFileSync(
    conf,
    `alpha:\n  listen: 127.0.0.1:${port}\n  servers:\n   - 127.0.0.1:${mc.port}:1\n`,
  )
  const pidFile = join(work, 'walnut.pid')
  const log = join(work, 'walnut.log')
  try {
    // biome-ignore format: flag pairs
    const r = await runWalnut([
      '-d', '-c', conf, '-s', String(await freePort()), '-a', '127.0.0.1',
      '-p', pidFile, '-o', log, '--workers', '2',
    ], { timeoutMs: 20_000 })
    assert.equal(r.code, 0, r.stderr.toString())
    const primary = Number(readFileSync(pidFile, 'latin1'))
    daemons.add(primary)
    const workers = await readyWorkers(log, 2)
    for (const pid of workers.values()) {
      daemons.add(pid)
      assert.equal(ppid(pid), primary)
    }
    assert.deepEqual(children(primary).sort(), [...workers.values()].sort())
    const c = await connect(port)
    await c.send('set k 0 0 2\r\nhi\r\nget k\r\n')
    assert.equal(
      (await c.read(8 + 'VALUE k 0 2\r\nhi\r\nEND\r\n'.length)).toString(),
      'STORED\r\nVALUE k 0 2\r\nhi\r\nEND\r\n',
    )
    await c.close()
    process.kill(primary, 'SIGTERM')
    await gone(primary)
    for (const pid of workers.values()) await gone(pid, 2000)
    assert.throws(() => readFileSync(pidFile), /ENOENT/)
    await waitLines(log, new RegExp(`^${STAMP} cli done, exiting$`))
  } finally {
    await mc.stop()
  }
})

test('--workers 1 forks nothing', async () => {
  const port = await freePort()
  const w = await startWalnut(
    `alpha:\n  listen: 127.0.0.1:${port}\n  servers:\n   - 127.0.0.1:1:1\n`,
    { args: ['--workers', '1'] },
  )
  await sleep(300)
  assert.deepEqual(children(w.pid), [])
  assert.doesNotMatch(w.output(), /worker|\/w1/)
  await w.stop()
  assert.ok(!alive(w.pid))
})
