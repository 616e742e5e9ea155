/**
 * Every key of every vectors/dist/<config>.yml + .tsv pair (black-box runs of
 * nutcracker 0.5.0) must reach the same server through Placement. Indexes in
 * the TSV are YAML positions; Placement answers in nutcracker's internal
 * (sorted) order, so answers are mapped back through the sorted server list.
 * Each key is also routed in place inside a larger buffer whose padding holds
 * hash-tag bytes, to prove that nothing outside [start, end) is read.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import { KetamaContinuum } from '../../src/hash/ketama.js'
import { Placement } from '../../src/hash/placement.js'
import { vectorsDir } from '../helpers/shared.js'
import { distConfigs, hexKey, loadPool, readTsv, type VectorPool } from './vector-files.js'

const PAD_BEFORE = Buffer.from('}{x}$y$ {')
const PAD_AFTER = Buffer.from('}{z} $w$')

function placementFor(pool: VectorPool): Placement {
  return new Placement(
    {
      hash: pool.hash,
      hashTag: pool.hashTag,
      distribution: pool.distribution,
      servers: pool.servers,
    },
    pool.servers.map((s) => s.live),
  )
}

const configs = distConfigs()
let totalRows = 0
let totalChecked = 0

for (const config of configs) {
  test(`dist/${config}`, () => {
    const pool = loadPool(config)
    assert.notEqual(pool.distribution, 'random', 'random placement has no vectors')
    const { header, rows } = readTsv(join(vectorsDir(), 'dist', `${config}.tsv`))
    assert.deepEqual(header, ['key_hex', 'server_index'])
    assert.ok(rows.length > 0, `${config}.tsv has no data rows`)
    totalRows += rows.length

    const placement = placementFor(pool)
    const mismatches: string[] = []
    let checked = 0
    for (const [hex, index] of rows) {
      const key = hexKey(hex!)
      const want = Number(index)
      const internal = placement.serverFor(key, 0, key.length)
      const got = pool.servers[internal]?.yamlIndex ?? -1
      const padded = Buffer.concat([PAD_BEFORE, key, PAD_AFTER])
      const inPlace = placement.serverFor(padded, PAD_BEFORE.length, PAD_BEFORE.length + key.length)
      checked++
      if (got !== want) mismatches.push(`${hex}: server ${got}, nutcracker ${want}`)
      else if (inPlace !== internal) mismatches.push(`${hex}: in place ${inPlace} != ${internal}`)
    }
    totalChecked += checked
    assert.equal(checked, rows.length)
    assert.deepEqual(mismatches.slice(0, 20), [], `${mismatches.length} of ${rows.length} wrong`)
    assert.equal(mismatches.length, 0)
  })
}

test('every dist row was checked', () => {
  assert.ok(configs.length > 0, 'no dist configs found')
  assert.ok(totalRows > 0)
  assert.equal(totalChecked, totalRows)
  assert.ok(configs.includes('ketama_ejected') && configs.includes('modula_ejected'))
})

/** derived/ketama-points.tsv: name strings and point counts per server. */
test('derived/ketama-points.tsv: hashed names and point counts', () => {
  const { header, rows } = readTsv(join(vectorsDir(), 'derived', 'ketama-points.tsv'))
  assert.deepEqual(header, ['config', 'server_index', 'weight', 'live', 'hashed_name', 'points'])
  assert.ok(rows.length > 0)
  const continua = new Map<string, { pool: VectorPool; ketama: KetamaContinuum }>()
  for (const [config, index, weight, live, name, points] of rows) {
    let c = continua.get(config!)
    if (c === undefined) {
      const pool = loadPool(config!)
      c = { pool, ketama: new KetamaContinuum(pool.servers) }
      continua.set(config!, c)
    }
    const internal = c.pool.servers.findIndex((s) => s.yamlIndex === Number(index))
    const s = c.pool.servers[internal]!
    const where = `${config} server ${index}`
    assert.equal(s.name, name, where)
    assert.equal(s.weight, Number(weight), where)
    assert.equal(s.live, live === '1', where)
    assert.equal(c.ketama.pointCounts[internal], Number(points), where)
  }
})

/** derived/continuum-<config>.tsv: the whole sorted continuum. */
for (const config of ['ketama_fnv1a_64_6', 'ketama_weighted']) {
  test(`derived/continuum-${config}.tsv: every point and owner`, () => {
    const { header, rows } = readTsv(join(vectorsDir(), 'derived', `continuum-${config}.tsv`))
    assert.deepEqual(header, ['value', 'server_index'])
    const pool = loadPool(config)
    const ketama = new KetamaContinuum(pool.servers)
    assert.equal(ketama.values.length, rows.length)
    for (let i = 0; i < rows.length; i++) {
      assert.equal(ketama.values[i], Number(rows[i]![0]), `point ${i}`)
      assert.equal(pool.servers[ketama.owners[i]!]!.yamlIndex, Number(rows[i]![1]), `owner ${i}`)
    }
  })
}
