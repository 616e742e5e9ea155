/**
 * Config reload under continuous load, end to end (docs/dns-and-reload.md):
 * the built CLI on four real memcached, the config file rewritten and SIGUSR1
 * sent (or, with --watch-config, just written), step by step:
 *
 *   add a server → remove a server → change the hash → add a pool →
 *   remove a pool → break the config
 *
 * Throughout, clients of the surviving pool keep one connection each and send
 * set/get pairs on fresh keys, every reply checked: no error, no wrong value,
 * and their sockets are never closed. After each step, fresh keys are written
 * through walnut and read back from each backend directly: each must sit on
 * the server `walnut locate` names for the new config. The removed pool's
 * client gets its in-flight reply, then is closed; the broken config leaves
 * the running one in place with its reason (file:line:col) in the log.
 */

import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { b, Direct, locate, storage } from '../helpers/memcache.js'
import { canConnect, freePort } from '../helpers/ports.js'
import {
  type Client,
  connect,
  type ProxyProc,
  type ServerProc,
  scrapeMetrics,
  startMemcached,
  startWalnut,
  statsDocument,
} from '../helpers/servers.js'

/** Occurrences of `text` in the process output. */
function count(w: ProxyProc, text: string): number {
  return w.output().split(text).length - 1
}

/** Waits until `text` has appeared `n` times in the output. */
async function seen(w: ProxyProc, text: string, n: number, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms
  while (count(w, text) < n) {
    if (Date.now() > deadline) assert.fail(`'${text}' not seen ${n} times:\n${w.output()}`)
    await sleep(10)
  }
}

/**
 * `n` as a base-36 string of a multiplicative hash: keys that differ in more than their
 * last byte (fnv1a_64 places `k1`..`k60` close together on the ketama circle).
 */
function scramble(n: number): string {
  return `${n}-${(Math.imul(n + 1, 0x9e3779b1) >>> 0).toString(36)}`
}

async function roundTrip(c: Client, req: Buffer): Promise<string> {
  await c.send(req)
  return (await c.readMcReply(5000)).toString('latin1')
}

interface PoolYaml {
  name: string
  listen: number
  servers: readonly ServerProc[]
  extra?: string
}

function yaml(pools: readonly PoolYaml[]): string {
  return pools
    .map(
      (p) =>
        `${p.name}:\n  listen: 127.0.0.1:${p.listen}\n${p.extra ?? ''}  servers:\n` +
        p.servers.map((s) => `   - 127.0.0.1:${s.port}:1 m${s.port}\n`).join(''),
    )
    .join('')
}

/**
 * Writes `count` fresh keys through `c`, then finds each one on the backends
 * directly: it must be on the server `walnut locate` names for `configPath`.
 */
async function checkPlacement(
  c: Client,
  configPath: string,
  pool: string,
  servers: readonly ServerProc[],
  prefix: string,
): Promise<void> {
  const keys = Array.from({ length: 60 }, (_, i) => `${prefix}${scramble(i)}`)
  for (const k of keys) assert.equal(await roundTrip(c, storage('set', k, k)), 'STORED\r\n')
  const want = await locate(configPath, keys.map(b), pool)
  const direct = await Direct.open(servers)
  try {
    assert.deepEqual(await direct.holders(keys), want, `${prefix}: keys not where locate says`)
  } finally {
    await direct.close()
  }
  // More than one server holds keys (the check is not vacuous).
  if (servers.length > 1) assert.ok(new Set(want).size > 1, `${prefix}: all keys on one server`)
}

describe('config reload (SIGUSR1) under load', () => {
  test('add/remove a server, change the hash, add/remove a pool, a broken config; no client of a surviving pool is dropped', async (t) => {
    const [m1, m2, m3, m4] = [
      await startMemcached(),
      await startMemcached(),
      await startMemcached(),
      await startMemcached(),
    ]
    const [la, lb, lc] = [await freePort(), await freePort(), await freePort()]
    const alpha = (servers: ServerProc[], extra?: string) => ({
      name: 'alpha',
      listen: la,
      servers,
      ...(extra !== undefined ? { extra } : {}),
    })
    const beta = { name: 'beta', listen: lb, servers: [m4!] }
    const gamma = { name: 'gamma', listen: lc, servers: [m1!] }
    const mport = await freePort()
    const w = await startWalnut(yaml([alpha([m1!, m2!]), beta]), {
      args: ['--stats-metrics-port', String(mport), '--stats-metrics-addr', '127.0.0.1'],
    })
    const path = w.configPath
    const RELOADED = `reload configuration '${path}' reloaded`
    let reloads = 0
    const reload = async (pools: PoolYaml[]) => {
      writeFileSync(path, yaml(pools))
      w.kill('SIGUSR1')
      await seen(w, RELOADED, ++reloads)
    }

    // The load: clients of alpha, each with one connection, set/get on fresh keys.
    const CLIENTS = 4
    const clients: Client[] = []
    for (let i = 0; i < CLIENTS; i++) clients.push(await connect(la))
    const errors: string[] = []
    const wrong: string[] = []
    let misses = 0
    let ops = 0
    let running = true
    const loop = async (ci: number) => {
      const c = clients[ci]!
      for (let seq = 0; running; seq++) {
        const key = `load-${ci}-${scramble(seq)}`
        const value = `${seq}${'v'.repeat(seq % 50)}`
        const stored = await roundTrip(c, storage('set', key, value)).catch((e) => String(e))
        if (stored !== 'STORED\r\n') errors.push(`${key} set: ${stored}`)
        const got = await roundTrip(c, b(`get ${key}\r\n`)).catch((e) => String(e))
        // A reload between the set and the get may move the key: a miss, never another value.
        if (got === 'END\r\n') misses++
        else if (got !== `VALUE ${key} 0 ${value.length}\r\n${value}\r\nEND\r\n`) {
          if (got.startsWith('VALUE')) wrong.push(`${key}: ${JSON.stringify(got)}`)
          else errors.push(`${key} get: ${got}`)
        }
        ops += 2
        if (errors.length > 0) return
      }
    }
    const loops = clients.map((_, i) => loop(i))
    // beta's client: one request at a time, until the pool is removed.
    const bc = await connect(lb)
    assert.equal(await roundTrip(bc, storage('set', 'bk', 'x')), 'STORED\r\n')
    const probe = await connect(la)
    await sleep(200)
    await checkPlacement(probe, path, 'alpha', [m1!, m2!], 'v1-')

    // 1. Add a server.
    await reload([alpha([m1!, m2!, m3!]), beta])
    await checkPlacement(probe, path, 'alpha', [m1!, m2!, m3!], 'v2-')
    // 2. Remove a server.
    await reload([alpha([m2!, m3!]), beta])
    await checkPlacement(probe, path, 'alpha', [m2!, m3!], 'v3-')
    // 3. Change the hash (and the distribution's input with it).
    await reload([alpha([m2!, m3!], '  hash: murmur\n'), beta])
    await checkPlacement(probe, path, 'alpha', [m2!, m3!], 'v4-')
    // 4. Add a pool: its listen port answers.
    assert.equal(await canConnect(lc), false)
    await reload([alpha([m2!, m3!], '  hash: murmur\n'), beta, gamma])
    const gc = await connect(lc)
    assert.equal(await roundTrip(gc, storage('set', 'gk', 'g')), 'STORED\r\n')
    assert.equal(
      (
        await Direct.open([m1!]).then(async (d) => {
          const r = await d.call(0, 'get gk\r\n')
          await d.close()
          return r
        })
      ).toString('latin1'),
      'VALUE gk 0 1\r\ng\r\nEND\r\n',
    )
    // 5. Remove a pool: beta's client is drained and closed; its port refuses.
    await bc.send(b('get bk\r\n'))
    await reload([alpha([m2!, m3!], '  hash: murmur\n'), gamma])
    assert.equal((await bc.readMcReply(5000)).toString('latin1'), 'VALUE bk 0 1\r\nx\r\nEND\r\n')
    await bc.readUntilClose(5000)
    assert.equal(bc.ended, true)
    assert.equal(await canConnect(lb), false)
    await seen(w, 'reload p beta removed: 1 clients drained', 1)
    // 6. A broken config: the running one stays; the reason is logged with file:line:col.
    writeFileSync(path, yaml([alpha([m1!], '  hash: nope\n'), gamma]))
    w.kill('SIGUSR1')
    const REFUSED = `reload configuration '${path}' not reloaded, the running one stays: ${path}:3:9: pool 'alpha', key 'hash': directive "hash" is not a valid hash`
    await seen(w, REFUSED, 1)
    // Counted: walnut-only, in the Prometheus exposition (never in the nutcracker JSON).
    const metrics = await scrapeMetrics(mport)
    assert.match(metrics, /^walnut_config_reloads_total 5$/m)
    assert.match(metrics, /^walnut_config_reload_failures_total 1$/m)
    assert.match(metrics, /^walnut_config_last_reload_success 0$/m)
    // The running config is still v5: put v5 back on disk (no reload) for `walnut locate`.
    writeFileSync(path, yaml([alpha([m2!, m3!], '  hash: murmur\n'), gamma]))
    await checkPlacement(probe, path, 'alpha', [m2!, m3!], 'v6-')
    assert.equal(await roundTrip(gc, b('get gk\r\n')), 'VALUE gk 0 1\r\ng\r\nEND\r\n')

    // The stats document lists the pools and servers of the running config.
    const doc = await statsDocument<Record<string, Record<string, unknown>>>(w.statsPort)
    assert.deepEqual(
      Object.keys(doc).filter((k) => typeof doc[k] === 'object'),
      ['alpha', 'gamma'],
    )
    assert.deepEqual(
      Object.keys(doc.alpha!).filter((k) => typeof doc.alpha![k] === 'object'),
      [`m${m2!.port}`, `m${m3!.port}`].sort((x, y) => x.length - y.length || (x < y ? -1 : 1)),
    )
    assert.equal(doc.alpha!.client_connections, CLIENTS + 1)

    await sleep(200)
    running = false
    await Promise.all(loops)
    t.diagnostic(`${ops} requests under load across ${reloads} reloads; ${misses} misses`)
    assert.deepEqual(errors, [])
    assert.deepEqual(wrong, [])
    assert.ok(ops > 500, `too little load: ${ops}`)
    // A miss needs a reload between a set and its get: at most one per client per moving reload.
    assert.ok(misses <= CLIENTS * 3, `misses: ${misses}`)
    for (const c of [...clients, probe, gc]) assert.equal(c.ended, false, 'a client was closed')
    for (const c of [...clients, probe, gc]) await c.close()
  })

  test('--watch-config: writing the file reloads it', async () => {
    const [m1, m2] = [await startMemcached(), await startMemcached()]
    const la = await freePort()
    const w = await startWalnut(yaml([{ name: 'alpha', listen: la, servers: [m1!] }]), {
      args: ['--watch-config'],
    })
    const c = await connect(la)
    assert.equal(await roundTrip(c, storage('set', 'k', 'v')), 'STORED\r\n')
    writeFileSync(w.configPath, yaml([{ name: 'alpha', listen: la, servers: [m1!, m2!] }]))
    await seen(w, `reload reloading configuration '${w.configPath}' (file changed)`, 1)
    await seen(
      w,
      `reload configuration '${w.configPath}' reloaded: 1 pools (0 unchanged, 1 updated, 0 added, 0 removed)`,
      1,
    )
    await checkPlacement(c, w.configPath, 'alpha', [m1!, m2!], 'w-')
    assert.equal(c.ended, false)
    await c.close()
  })
})
