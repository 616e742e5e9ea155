/**
 * Every nutcracker config under ../shared/vectors/dist loads unchanged, with the
 * server names and internal order the vectors' README describes (names replace
 * host:port; port 11211 drops the port; sorted shorter-first then bytewise). The
 * expectation is derived here from the file's lines with plain string handling,
 * independently of the loader.
 */
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { loadConfig } from '../../src/config/load.js'
import type { Config } from '../../src/config/types.js'
import { vectorsDir } from '../helpers/shared.js'
import { noResolve } from './support.js'

const DIST = join(vectorsDir(), 'dist')
const FILES = readdirSync(DIST)
  .filter((f) => f.endsWith('.yml'))
  .sort()

interface Expect {
  readonly keys: Map<string, string>
  /** [name, yaml index, weight] in nutcracker's internal order. */
  readonly servers: [string, number, number][]
}

/** What the lines of a vector config say, read without the loader. */
function expectFrom(text: string): Expect {
  const keys = new Map<string, string>()
  const servers: [string, number, number][] = []
  for (const line of text.split('\n')) {
    const item = /^ {3}- (\S+?):(\d+):(\d+)(?: (.+))?$/.exec(line)
    if (item !== null) {
      const [, host, port, weight, name] = item as unknown as [
        string,
        string,
        string,
        string,
        string?,
      ]
      const unnamed = port === '11211' ? host : `${host}:${port}`
      servers.push([name ?? unnamed, servers.length, Number(weight)])
      continue
    }
    const kv = /^ {2}([a-z_]+): *(.*)$/.exec(line)
    if (kv !== null && kv[1] !== 'servers')
      keys.set(kv[1] as string, (kv[2] as string).replace(/^"(.*)"$/, '$1'))
  }
  servers.sort(([a], [b]) => {
    const x = Buffer.from(a)
    const y = Buffer.from(b)
    return x.length - y.length || Buffer.compare(x, y)
  })
  return { keys, servers }
}

describe('shared/vectors/dist configs', () => {
  test('there are vector configs to load', () => {
    assert.ok(FILES.length >= 50, `only ${FILES.length} files in ${DIST}`)
  })

  for (const file of FILES) {
    test(file, async () => {
      const path = join(DIST, file)
      const want = expectFrom(readFileSync(path, 'utf8'))
      // listen is 127.0.0.1 everywhere: nothing needs resolving
      const config: Config = await loadConfig(path, { resolve: noResolve })
      assert.equal(config.path, path)
      assert.equal(config.pools.length, 1)
      const pool = config.pools[0]!
      assert.equal(pool.name, 'pool')
      assert.equal(pool.listen.text, want.keys.get('listen'))
      assert.equal(pool.hash, want.keys.get('hash') ?? 'fnv1a_64')
      assert.equal(pool.distribution, want.keys.get('distribution') ?? 'ketama')
      assert.equal(pool.hashTag?.toString('utf8'), want.keys.get('hash_tag'))
      assert.equal(pool.redis, want.keys.get('redis') === 'true')
      assert.equal(pool.autoEjectHosts, want.keys.get('auto_eject_hosts') === 'true')
      assert.equal(String(pool.timeout), want.keys.get('timeout'))
      assert.deepEqual(
        pool.servers.map((s) => [s.name, s.index, s.weight]),
        want.servers,
      )
    })
  }

  test('modula_named_unsorted: internal order b, mid, zeta, alpha', async () => {
    const config = await loadConfig(join(DIST, 'modula_named_unsorted.yml'))
    assert.deepEqual(
      config.pools[0]!.servers.map((s) => [s.name, s.index]),
      [
        ['b', 3],
        ['mid', 2],
        ['zeta', 0],
        ['alpha', 1],
      ],
    )
  })

  test('mixed_11211: port 11211 servers are named by host alone', async () => {
    const config = await loadConfig(join(DIST, 'mixed_11211.yml'))
    assert.deepEqual(
      config.pools[0]!.servers.map((s) => s.name),
      ['127.0.0.8', '127.0.0.9', '127.0.0.10:21950', '127.0.0.11:21951'],
    )
  })

  test('ketama_named: a node name that looks like host:11211 is kept as written', async () => {
    const config = await loadConfig(join(DIST, 'ketama_named.yml'))
    assert.ok(config.pools[0]!.servers.some((s) => s.name === '10.0.0.4:11211'))
  })

  test('ketama_ejected: auto_eject settings', async () => {
    const pool = (await loadConfig(join(DIST, 'ketama_ejected.yml'))).pools[0]!
    assert.equal(pool.autoEjectHosts, true)
    assert.equal(pool.serverFailureLimit, 1)
    assert.equal(pool.serverRetryTimeout, 600000)
  })
})
