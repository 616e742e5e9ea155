/**
 * Graceful drain on SIGTERM / SIGINT (deviation P4), through the built CLI, in front of
 * a fake memcached that answers `get` late: a request in flight when the signal comes
 * gets its real reply, then its client is closed; a request sent after the signal is
 * not forwarded; an idle client is closed at once; new connections are refused at
 * once (TCP and unix socket); the pid file and the socket file are removed; exit 0.
 * With a backend that never answers, the drain ends at --drain-timeout (still exit 0);
 * a second signal during the drain closes everything at once (exit 1).
 */
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer, connect as netConnect, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { canConnect, freePort } from '../helpers/ports.js'
import { connect, type ProxyProc, startWalnut } from '../helpers/servers.js'

const dir = mkdtempSync(join(tmpdir(), 'walnut-ops-drain-'))
after(() => rmSync(dir, { recursive: true, force: true }))

/** A memcached stand-in: `get <k>` is answered `VALUE <k> 0 5 / slow! / END` after `delayMs` (never if Infinity). */
class SlowBackend {
  readonly lines: string[] = []
  port = 0
  private readonly server: Server
  private readonly sockets = new Set<Socket>()
  constructor(readonly delayMs: number) {
    this.server = createServer((s) => {
      this.sockets.add(s)
      s.on('close', () => this.sockets.delete(s))
      s.on('error', () => {})
      let pending = ''
      s.on('data', (chunk) => {
        pending += chunk.toString('latin1')
        for (let i = pending.indexOf('\r\n'); i >= 0; i = pending.indexOf('\r\n')) {
          const line = pending.slice(0, i)
          pending = pending.slice(i + 2)
          this.lines.push(line)
          const key = line.split(' ')[1] ?? ''
          if (Number.isFinite(this.delayMs)) {
            setTimeout(() => s.write(`VALUE ${key} 0 5\r\nslow!\r\nEND\r\n`), this.delayMs)
          }
        }
      })
    })
  }
  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve))
    this.port = (this.server.address() as { port: number }).port
    return this
  }
  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }
}

async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`)
    await sleep(10)
  }
}

async function start(
  backend: SlowBackend,
  name: string,
  drainMs: number,
): Promise<{ w: ProxyProc; sock: string; pidFile: string }> {
  const sock = join(dir, `${name}.sock`)
  const pidFile = join(dir, `${name}.pid`)
  const yaml =
    `alpha:\n  listen: 127.0.0.1:${await freePort()}\n  servers:\n   - 127.0.0.1:${backend.port}:1\n` +
    `beta:\n  listen: ${sock}\n  servers:\n   - 127.0.0.1:${backend.port}:1\n`
  const w = await startWalnut(yaml, { args: ['-p', pidFile, '--drain-timeout', String(drainMs)] })
  return { w, sock, pidFile }
}

function unixClient(path: string): Promise<{ socket: Socket; ended: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ path })
    socket.once('error', reject)
    socket.once('connect', () => {
      const ended = new Promise<void>((done) => socket.once('close', () => done()))
      socket.resume()
      resolve({ socket, ended })
    })
  })
}

function stderr(w: ProxyProc): string {
  return w.stderr().toString('utf8')
}

test('SIGTERM: the request in flight gets its reply, later ones are not taken, files removed, exit 0', async () => {
  const backend = await new SlowBackend(1200).start()
  try {
    const { w, sock, pidFile } = await start(backend, 'term', 5000)
    assert.equal(readFileSync(pidFile, 'latin1'), String(w.pid))
    const idle = await unixClient(sock)
    const c = await connect(w.port)
    await c.send('get slow\r\n')
    await until(() => backend.lines.includes('get slow'), 'the request at the backend')
    const t0 = Date.now()
    assert.ok(w.kill('SIGTERM'))
    await w.waitForOutput('stopped accepting; draining 2 clients for at most 5000 ms')
    // Refused at once: the listeners are closed, the socket file is gone.
    assert.equal(await canConnect(w.port, '127.0.0.1', 300), false)
    assert.ok(!existsSync(sock), 'unix socket removed when the listener closed')
    await idle.ended // an idle client is closed right away
    // A request sent after the signal is not read.
    await c.send('get late\r\n')
    assert.equal(
      (await c.readMcReply(5000)).toString('latin1'),
      'VALUE slow 0 5\r\nslow!\r\nEND\r\n',
    )
    assert.equal((await c.readUntilClose(5000)).toString('latin1'), '', 'then closed, nothing more')
    assert.deepEqual(await w.exited, { code: 0, signal: null })
    assert.ok(Date.now() - t0 >= 1000, 'the drain waited for the slow reply')
    assert.ok(!backend.lines.includes('get late'), 'the late request was never forwarded')
    assert.ok(!existsSync(pidFile), 'pid file removed')
    const log = stderr(w)
    for (const line of [
      'signal signal 15 (SIGTERM) received, exiting',
      'cli drained in ',
      `cli removed unix socket '${sock}'`,
      `cli removed pid file '${pidFile}'`,
      'cli done, exiting',
    ]) {
      assert.ok(log.includes(line), `${line}\n${log}`)
    }
  } finally {
    await backend.close()
  }
})

test('SIGINT with a backend that never answers: the drain ends at --drain-timeout, exit 0', async () => {
  const backend = await new SlowBackend(Number.POSITIVE_INFINITY).start()
  try {
    const { w, pidFile } = await start(backend, 'bound', 400)
    const c = await connect(w.port)
    await c.send('get never\r\n')
    await until(() => backend.lines.includes('get never'), 'the request at the backend')
    const t0 = Date.now()
    w.kill('SIGINT')
    assert.equal((await c.readUntilClose(5000)).toString('latin1'), '', 'closed without a reply')
    assert.deepEqual(await w.exited, { code: 0, signal: null })
    const took = Date.now() - t0
    assert.ok(took >= 350 && took < 4000, `${took} ms`)
    assert.match(stderr(w), /signal signal 2 \(SIGINT\) received, exiting\n/)
    assert.match(stderr(w), /cli drain timed out after \d+ ms: closed 1 clients\n/)
    assert.ok(!existsSync(pidFile))
  } finally {
    await backend.close()
  }
})

test('a second signal during the drain closes everything at once: exit 1', async () => {
  const backend = await new SlowBackend(Number.POSITIVE_INFINITY).start()
  try {
    const { w, pidFile } = await start(backend, 'twice', 60_000)
    const c = await connect(w.port)
    await c.send('get never\r\n')
    await until(() => backend.lines.includes('get never'), 'the request at the backend')
    w.kill('SIGTERM')
    await w.waitForOutput('stopped accepting')
    const t0 = Date.now()
    w.kill('SIGTERM')
    assert.deepEqual(await w.exited, { code: 1, signal: null })
    assert.ok(Date.now() - t0 < 3000)
    assert.match(stderr(w), /signal 15 \(SIGTERM\) received again, closing all connections\n/)
    assert.match(stderr(w), /drain cut short after \d+ ms\n/)
    assert.ok(!existsSync(pidFile), 'cleaned up all the same')
    await c.close()
  } finally {
    await backend.close()
  }
})
