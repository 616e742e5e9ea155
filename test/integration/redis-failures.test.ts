/**
 * Server failures with real redis-servers behind walnut (spec §8, R9, R11): a backend's own
 * OOM and BUSY errors pass through unchanged; a stalled backend times out every request
 * waiting on it while the other server's replies still arrive in order; a killed backend gets
 * `-ERR Connection refused` for its keys only, a split request touching it fails without
 * closing the client (R11) and without undoing the other fragments; once the backend is back
 * on its port, walnut reconnects and its keys work again.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { freePort } from '../helpers/ports.js'
import {
  assertBytes,
  bulk,
  bulks,
  int,
  keysOn,
  type Locator,
  line,
  locator,
  NIL,
  OK,
  poolYaml,
  Resp,
} from '../helpers/redis.js'
import { type ProxyProc, type ServerProc, startRedis, startWalnut } from '../helpers/servers.js'

const TIMEOUT_MS = 300
/** CLIENT PAUSE on the stalled server: long enough that a loaded machine still sees it. */
const PAUSE_MS = 1500
const REFUSED = line('-ERR Connection refused')
const TIMED_OUT = line('-ERR Connection timed out')

let backends: ServerProc[] = []
let walnut: ProxyProc
let where: Locator
let direct: Resp[] = []
let a: string
let b: string
/** A second key on server 0. */
let a2: string

before(async () => {
  backends = await Promise.all(
    [1, 2].map(() => startRedis({ args: ['--busy-reply-threshold', '100'] })),
  )
  const port = await freePort()
  const yaml = poolYaml({
    name: 'fail',
    port,
    servers: backends.map((s) => s.port),
    extra: { timeout: TIMEOUT_MS },
  })
  ;[walnut, where] = await Promise.all([startWalnut(yaml), locator(yaml, 'fail')])
  direct = await Promise.all(backends.map((s) => Resp.open(s.port)))
  ;[a, a2] = keysOn(where, 0, 2, 'fa') as [string, string]
  b = keysOn(where, 1, 1, 'fb')[0]!
})

after(async () => {
  for (const d of direct) await d.close()
  await walnut?.stop()
  await Promise.all(backends.map((s) => s.stop()))
})

describe('backend errors and failures', () => {
  test('-OOM and -BUSY from a backend pass through unchanged, connection usable (R9)', async () => {
    const c = await Resp.open(walnut.port)
    await c.expect(['SET', a, 'before'], OK)
    await direct[0]!.expect(['CONFIG', 'SET', 'maxmemory', '1'], OK)
    try {
      await c.expect(
        ['SET', a, 'x'],
        "-OOM command not allowed when used memory > 'maxmemory'.\r\n",
      )
      await c.expect(['MSET', a, '1', b, '2'], '-ERR Invalid argument\r\n')
    } finally {
      await direct[0]!.expect(['CONFIG', 'SET', 'maxmemory', '0'], OK)
    }
    await c.expect(['GET', a], bulk('before'))
    // A script keeps server 0 busy for 1 s (busy-reply-threshold is 100 ms); walnut's requests
    // go out once another connection finds the server busy, so a loaded machine cannot reorder.
    const busy = direct[0]!.call(
      'EVAL',
      "local t = redis.call('time') local s = t[1] * 1000000 + t[2] " +
        'repeat t = redis.call("time") until t[1] * 1000000 + t[2] - s > 1000000 return 1',
      '0',
    )
    const probe = await Resp.open(backends[0]!.port)
    let during: Buffer | undefined
    let other: Buffer | undefined
    try {
      const deadline = Date.now() + 5000
      while (!(await probe.call('PING')).toString().startsWith('-BUSY')) {
        if (Date.now() > deadline) assert.fail('server 0 never became busy')
        await sleep(10)
      }
      ;[during, other] = await c.pipeline([
        ['GET', a],
        ['GET', b],
      ])
    } finally {
      await probe.close()
      // Whatever happened, the next test must not find server 0 still busy.
      assertBytes(await busy, int(1), 'script')
    }
    assertBytes(
      during!,
      '-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n',
      'BUSY',
    )
    // b was set by the MSET above: its fragment on server 1 succeeded.
    assertBytes(other!, bulk('2'), 'the other server')
    await c.expect(['GET', a], bulk('before'))
    await c.close()
  })

  test('a stalled backend: its requests time out, the other server`s replies keep their turn', async () => {
    const c = await Resp.open(walnut.port)
    await c.expect(['MSET', a, 'va', b, 'vb'], OK)
    await direct[1]!.expect(['CLIENT', 'PAUSE', String(PAUSE_MS), 'ALL'], OK)
    const t0 = Date.now()
    const replies = await c.pipeline([['GET', b], ['GET', a], ['MGET', a, b], ['PING']])
    const took = Date.now() - t0
    assertBytes(
      Buffer.concat(replies),
      Buffer.concat([TIMED_OUT, bulk('va'), TIMED_OUT, line('+PONG')]),
      'stalled server 1',
    )
    // After the timeout, well before the pause ends.
    assert.ok(took >= TIMEOUT_MS - 20 && took < PAUSE_MS - 100, `answered after ${took} ms`)
    // The pause ends; server 1 answers again on a new connection.
    await sleep(PAUSE_MS + 50 - took)
    await c.expect(['MGET', a, b], bulks('va', 'vb'))
    await c.close()
  })

  test('a killed backend: refused for its keys only, splits fail but the client stays (R11); back after a restart', async () => {
    const c = await Resp.open(walnut.port)
    await c.expect(['MSET', a, '1', b, '2', a2, '3'], OK)
    const port = backends[1]!.port
    await direct[1]!.close()
    await backends[1]!.stop()
    await c.expect(['GET', b], REFUSED)
    await c.expect(['GET', a], bulk('1'))
    await c.expect(['MGET', a, b], REFUSED)
    await c.expect(['PING'], '+PONG\r\n')
    // The fragment on the live server is applied, not rolled back (spec §2.4).
    await c.expect(['DEL', a, b], REFUSED)
    assertBytes(await direct[0]!.call('EXISTS', a), int(0), 'deleted on server 0')
    await c.expect(['GET', a2], bulk('3'))

    backends[1] = await startRedis({ port, args: ['--busy-reply-threshold', '100'] })
    direct[1] = await Resp.open(port)
    // Reconnected lazily on the next request; the restarted server is empty.
    await c.expect(['GET', b], NIL)
    await c.expect(['MSET', a, 'x', b, 'y'], OK)
    await c.expect(['MGET', b, a], bulks('y', 'x'))
    assertBytes(await direct[1]!.call('GET', b), bulk('y'), 'on the restarted server')
    await c.close()
  })
})
