/**
 * Signals through the built CLI (../shared/spec/cli-config.md §6): SIGHUP reopens the
 * `-o` log (its notice goes to the old file, later lines to a new file after a
 * rename, as logrotate does it); SIGTTIN/SIGTTOU move the level one step, with
 * nutcracker's wording, and the new level shows in what is logged (connection
 * lines at 6, deviation P9); at 11 and at 0 only the first line is logged;
 * SIGUSR1/SIGUSR2 are logged and change nothing.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { freePort } from '../helpers/ports.js'
import { connect, type ProxyProc, startWalnut } from '../helpers/servers.js'

const dir = mkdtempSync(join(tmpdir(), 'walnut-ops-signals-'))
after(() => rmSync(dir, { recursive: true, force: true }))

const STAMP = String.raw`\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\]`

function read(path: string): string {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return ''
  }
}

/** Waits until `path` has at least `n` lines matching `re`; returns the file. */
async function waitLines(path: string, re: RegExp, n = 1, ms = 5000): Promise<string> {
  const deadline = Date.now() + ms
  for (;;) {
    const text = read(path)
    const count = text.split('\n').filter((l) => re.test(l)).length
    if (count >= n) return text
    if (Date.now() > deadline) assert.fail(`${path}: ${n} x ${re} not logged:\n${text}`)
    await sleep(20)
  }
}

/** A log line `[stamp] signal <text>` exactly. */
function signalLine(text: string): RegExp {
  return new RegExp(`^${STAMP} signal ${text.replace(/[()]/g, '\\$&')}$`)
}

async function startLogged(name: string, level: number): Promise<{ w: ProxyProc; log: string }> {
  const log = join(dir, `${name}.log`)
  const port = await freePort()
  const w = await startWalnut(
    `alpha:\n  listen: 127.0.0.1:${port}\n  servers:\n   - 127.0.0.1:1:1\n`,
    { args: ['-o', log, '-v', String(level)] },
  )
  await waitLines(log, /listening on 127\.0\.0\.1:/)
  return { w, log }
}

/** Opens and closes one client, so a level-6 `accepted client` line may be logged. */
async function touch(w: ProxyProc): Promise<void> {
  const c = await connect(w.port)
  await sleep(50)
  await c.close()
  await sleep(50)
}

test('SIGHUP reopens the log file after a rename; SIGUSR1/SIGUSR2 are logged', async () => {
  const { w, log } = await startLogged('hup', 5)
  const rotated = `${log}.1`
  renameSync(log, rotated)
  assert.ok(w.kill('SIGHUP'))
  // The notice is written to the old (renamed) file, before the reopen.
  await waitLines(rotated, signalLine('signal 1 (SIGHUP) received, reopening log file'))
  assert.ok(w.kill('SIGUSR1'))
  const fresh = await waitLines(log, signalLine('signal 10 (SIGUSR1) received'))
  assert.ok(!fresh.includes('SIGHUP'), 'the new file starts after the reopen')
  assert.ok(!read(rotated).includes('SIGUSR1'), 'nothing more goes to the old file')
  assert.ok(w.kill('SIGUSR2'))
  await waitLines(log, signalLine('signal 12 (SIGUSR2) received'))
  assert.equal(w.exitInfo, undefined, 'still running')
  await w.stop()
})

test('SIGTTIN/SIGTTOU: one level up/down, nutcracker wording, visible in what is logged', async () => {
  const { w, log } = await startLogged('ttin', 5)
  await touch(w)
  assert.ok(!read(log).includes('accepted client'), 'level 5 has no connection lines')

  assert.ok(w.kill('SIGTTIN'))
  await waitLines(log, signalLine('signal 21 (SIGTTIN) received, up logging level'))
  await waitLines(log, signalLine('up log level to 6'))
  await touch(w)
  await waitLines(
    log,
    new RegExp(`^${STAMP} client accepted client 127\\.0\\.0\\.1:\\d+ on pool alpha$`),
  )
  await waitLines(
    log,
    /^.* client close client 127\.0\.0\.1:\d+ on pool alpha \(eof\), 0 unanswered$/,
  )

  assert.ok(w.kill('SIGTTOU'))
  await waitLines(log, signalLine('signal 22 (SIGTTOU) received, down logging level'))
  await waitLines(log, signalLine('down log level to 5'))
  const before = read(log).split('accepted client').length
  await touch(w)
  assert.equal(read(log).split('accepted client').length, before, 'back at 5: no connection lines')
  await w.stop()
})

test('at 11 SIGTTIN logs only its first line; at 0 SIGTTOU likewise', async () => {
  const { w, log } = await startLogged('edges', 10)
  const up = signalLine('signal 21 (SIGTTIN) received, up logging level')
  const down = signalLine('signal 22 (SIGTTOU) received, down logging level')
  w.kill('SIGTTIN')
  await waitLines(log, signalLine('up log level to 11'))
  w.kill('SIGTTIN')
  await waitLines(log, up, 2)
  // 11 → 0 takes eleven steps; the twelfth changes nothing.
  for (let i = 1; i <= 12; i++) {
    w.kill('SIGTTOU')
    await waitLines(log, down, i)
  }
  const text = read(log)
  assert.equal(text.split('\n').filter((l) => /up log level to/.test(l)).length, 1)
  const downs = text
    .split('\n')
    .filter((l) => / signal down log level to /.test(l))
    .map((l) => Number(l.slice(l.lastIndexOf(' ') + 1)))
  assert.deepEqual(downs, [10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0])
  await w.stop()
})
