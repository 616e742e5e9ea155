/**
 * `-d` and `-p` through the built CLI (../shared/spec/cli-config.md §7, deviations P2,
 * P3): the launcher exits 0 once the daemon listens; the daemon's pid is in the pid
 * file, it is not a child of the launcher or of the test, its stdin/stdout/stderr are
 * /dev/null, its working directory is the launcher's (a relative -c works), it runs
 * with umask 0 (a unix listener without a permission is 0777, like nutcracker's); on
 * SIGTERM it removes the pid file and the socket and exits. A bad config with -d exits
 * 1 with the reason and spawns nothing; so does a daemon that cannot bind (its reason
 * is relayed). `-p` without -d writes the pid file and removes it on exit.
 */
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { test } from 'node:test'
import { canConnect, freePort } from '../helpers/ports.js'
import {
  alive,
  connect,
  daemonScratch,
  gone,
  ppid,
  runWalnut,
  startWalnut,
} from '../helpers/servers.js'

/** Daemons started by the tests (not children of anything we track): killed at the end. */
const { dir, daemons } = daemonScratch('walnut-ops-daemon-')

function config(port: number, sock: string): string {
  return (
    `alpha:\n  listen: 127.0.0.1:${port}\n  servers:\n   - 127.0.0.1:1:1\n` +
    `beta:\n  listen: ${sock}\n  servers:\n   - 127.0.0.1:1:1\n`
  )
}

test('-d -p: the launcher exits 0; a detached daemon with its pid in the file serves, then cleans up', async () => {
  const work = join(dir, 'd1')
  mkdirSync(work)
  const port = await freePort()
  const stats = await freePort()
  const sock = join(work, 'beta.sock')
  writeFileSync(join(work, 'walnut.yml'), config(port, sock))
  const pidFile = join(work, 'walnut.pid')
  const log = join(work, 'walnut.log')
  const t0 = Date.now()
  // Relative -c: the daemon keeps the launcher's working directory.
  const r = await runWalnut(
    ['-d', '-c', 'walnut.yml', '-p', pidFile, '-o', log, '-s', String(stats), '-a', '127.0.0.1'],
    { cwd: work },
  )
  assert.equal(r.code, 0, r.stderr.toString())
  assert.equal(r.stderr.toString(), '')
  assert.equal(r.stdout.toString(), '')
  assert.ok(Date.now() - t0 < 8000)

  const text = readFileSync(pidFile, 'latin1')
  assert.match(text, /^[1-9][0-9]*$/, 'the decimal pid, no newline')
  const pid = Number(text)
  daemons.add(pid)
  assert.ok(alive(pid), 'the daemon runs')
  assert.equal(statSync(pidFile).mode & 0o777, 0o644)
  // Listening already when the launcher returned.
  assert.ok(await canConnect(port))
  const c = await connect(stats)
  assert.match((await c.readUntilClose()).toString(), /^\{"service":"nutcracker", /)
  // Detached: adopted by init (or a subreaper), not the test's or the launcher's child.
  const parent = ppid(pid)
  assert.notEqual(parent, process.pid)
  assert.notEqual(readFileSync(`/proc/${parent}/comm`, 'utf8').trim(), 'node')
  for (const fd of [0, 1, 2]) assert.equal(readlinkSync(`/proc/${pid}/fd/${fd}`), '/dev/null')
  assert.equal(readlinkSync(`/proc/${pid}/cwd`), work)
  // umask 0, as nutcracker: a unix listener without a permission is 0777.
  assert.equal(statSync(sock).mode & 0o777, 0o777)
  const logText = readFileSync(log, 'utf8')
  assert.match(logText, new RegExp(`started on pid ${pid}\\n`))
  assert.equal(logText.match(/started on pid/g)?.length, 1, 'the launcher logs no banner')

  process.kill(pid, 'SIGTERM')
  await gone(pid, 5000)
  daemons.delete(pid)
  assert.ok(!existsSync(pidFile), 'pid file removed')
  assert.ok(!existsSync(sock), 'unix socket removed')
  const end = readFileSync(log, 'utf8')
  assert.match(end, /signal 15 \(SIGTERM\) received, exiting\n/)
  assert.match(end, /removed pid file '.*walnut\.pid'\n/)
  assert.match(end, /done, exiting\n$/)
})

test('-d with a bad config: exit 1 with the reason, nothing spawned', async () => {
  const work = join(dir, 'd2')
  mkdirSync(work)
  writeFileSync(
    join(work, 'bad.yml'),
    'alpha:\n  listen: 127.0.0.1:1\n  hash: sha1\n  servers:\n   - 127.0.0.1:1:1\n',
  )
  const pidFile = join(work, 'walnut.pid')
  const r = await runWalnut(['-d', '-c', 'bad.yml', '-p', pidFile], { cwd: work })
  assert.equal(r.code, 1)
  const err = r.stderr.toString()
  assert.match(err, /^walnut: configuration file 'bad.yml' syntax is invalid\n/)
  assert.match(err, /directive "hash" is not a valid hash/)
  assert.ok(!existsSync(pidFile), 'no daemon wrote a pid file')
})

test('-d when the daemon cannot bind: the launcher exits 1 with the daemon`s reason', async () => {
  const work = join(dir, 'd3')
  mkdirSync(work)
  const busy = createServer()
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve))
  const port = (busy.address() as { port: number }).port
  try {
    writeFileSync(
      join(work, 'w.yml'),
      `alpha:\n  listen: 127.0.0.1:${port}\n  servers:\n   - 127.0.0.1:1:1\n`,
    )
    const pidFile = join(work, 'walnut.pid')
    const r = await runWalnut(
      ['-d', '-c', 'w.yml', '-p', pidFile, '-s', String(await freePort()), '-a', '127.0.0.1'],
      { cwd: work },
    )
    assert.equal(r.code, 1)
    assert.equal(
      r.stderr.toString(),
      `walnut: bind on p alpha to addr '127.0.0.1:${port}' failed: Address already in use\n`,
    )
    assert.ok(!existsSync(pidFile), 'the pid file is removed when start-up fails')
  } finally {
    busy.close()
  }
})

test('-p without -d: the pid file is written (P3) and removed on exit; a missing dir fails', async () => {
  const port = await freePort()
  const pidFile = join(dir, 'fg.pid')
  const w = await startWalnut(
    `alpha:\n  listen: 127.0.0.1:${port}\n  servers:\n   - 127.0.0.1:1:1\n`,
    {
      args: ['-p', pidFile],
    },
  )
  assert.equal(readFileSync(pidFile, 'latin1'), String(w.pid))
  w.kill('SIGTERM')
  assert.deepEqual(await w.exited, { code: 0, signal: null })
  assert.ok(!existsSync(pidFile))

  const missing = join(dir, 'no-such-dir', 'w.pid')
  writeFileSync(
    join(dir, 'p.yml'),
    `alpha:\n  listen: 127.0.0.1:${await freePort()}\n  servers:\n   - 127.0.0.1:1:1\n`,
  )
  const r = await runWalnut([
    '-c',
    join(dir, 'p.yml'),
    '-p',
    missing,
    '-s',
    String(await freePort()),
  ])
  assert.equal(r.code, 1)
  assert.match(
    r.stderr.toString(),
    new RegExp(`proxy opening pid file '${missing}' failed: No such file or directory\\n`),
  )
})
