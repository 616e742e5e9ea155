/**
 * Test-side readers for ../shared/vectors (see its README): TSV files and the
 * nutcracker pool configs of dist/*.yml. Server strings are parsed here, in the
 * test, on purpose: the config module has its own parser, and the vectors must
 * check placement independently of it.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'yaml'
import {
  DISTRIBUTION_NAMES,
  type DistributionName,
  HASH_NAMES,
  type HashName,
} from '../../src/config/types.js'
import { compareNutcrackerNames } from '../../src/hash/placement.js'
import { vectorsDir } from '../helpers/shared.js'

export interface Tsv {
  readonly header: string[]
  readonly rows: string[][]
}

/** Reads a TSV file: header row, then data rows (no trailing empty line). */
export function readTsv(path: string): Tsv {
  const text = readFileSync(path, 'utf8')
  if (!text.endsWith('\n')) throw new Error(`${path}: does not end with a newline`)
  const lines = text.slice(0, -1).split('\n')
  const header = lines[0]!.split('\t')
  const rows = lines.slice(1).map((l, i) => {
    const f = l.split('\t')
    if (f.length !== header.length) throw new Error(`${path}:${i + 2}: ${f.length} fields`)
    return f
  })
  return { header, rows }
}

/** Decodes lowercase hex, refusing anything else (a bad row must not become a short key). */
export function hexKey(hex: string): Buffer {
  if (!/^(?:[0-9a-f]{2})*$/.test(hex)) throw new Error(`bad key hex: ${hex}`)
  return Buffer.from(hex, 'hex')
}

export interface VectorServer {
  /** Position in the YAML `servers:` list. */
  readonly yamlIndex: number
  readonly name: string
  readonly weight: number
  readonly live: boolean
}

export interface VectorPool {
  readonly file: string
  readonly hash: HashName
  readonly distribution: DistributionName
  readonly hashTag: Buffer | undefined
  /** In nutcracker's internal (sorted) order; yamlIndex maps back to the TSV's indexes. */
  readonly servers: VectorServer[]
  /** YAML indexes of the servers named as ejected by the file's leading comment. */
  readonly ejected: number[]
}

/**
 * The name string of `host:port:weight [name]`: the name after the last space
 * if any, else `host:port` as written, or `host` alone when the port is 11211.
 */
export function serverName(entry: string): { name: string; weight: number } {
  const space = entry.lastIndexOf(' ')
  const addr = space < 0 ? entry : entry.slice(0, space)
  const node = space < 0 ? undefined : entry.slice(space + 1)
  const m = /^(.+):(\d+):(\d+)$/.exec(addr)
  if (m === null) throw new Error(`unsupported server entry: ${entry}`)
  const [, host, port, weight] = m as unknown as [string, string, string, string]
  const name = node ?? (port === '11211' ? host : `${host}:${port}`)
  return { name, weight: Number(weight) }
}

/** Names of the dist/*.yml configs, sorted; each has a matching .tsv. */
export function distConfigs(): string[] {
  const all = readdirSync(join(vectorsDir(), 'dist')).sort()
  const yml = all.filter((f) => f.endsWith('.yml')).map((f) => f.slice(0, -4))
  const tsv = all.filter((f) => f.endsWith('.tsv')).map((f) => f.slice(0, -4))
  if (yml.join() !== tsv.join()) throw new Error('dist/: .yml and .tsv files do not pair up')
  return yml
}

/** Reads dist/<config>.yml: the `pool` mapping's hash, distribution, hash_tag and servers. */
export function loadPool(config: string): VectorPool {
  const file = join(vectorsDir(), 'dist', `${config}.yml`)
  const text = readFileSync(file, 'utf8')
  const doc = parse(text) as { pool?: Record<string, unknown> }
  const pool = doc.pool
  if (pool === undefined) throw new Error(`${file}: no pool named 'pool'`)
  const entries = pool.servers
  if (!Array.isArray(entries) || entries.length === 0) throw new Error(`${file}: no servers`)

  // e.g. "# server(s) at index 2 have no backend listening; nutcracker ejected them"
  const ejected: number[] = []
  const comment = /^#.*\bat index(?:es)? ([0-9][0-9, and]*)/m.exec(text)
  if (comment !== null) {
    for (const d of comment[1]!.split(/\D+/)) if (d !== '') ejected.push(Number(d))
  }
  if (config.includes('ejected') && ejected.length === 0) {
    throw new Error(`${file}: no ejected server named in the leading comment`)
  }

  const servers = entries.map((e: unknown, yamlIndex: number): VectorServer => {
    if (typeof e !== 'string') throw new Error(`${file}: server ${yamlIndex} is not a string`)
    return { yamlIndex, ...serverName(e), live: !ejected.includes(yamlIndex) }
  })
  servers.sort((a, b) => compareNutcrackerNames(a.name, b.name))

  const tag = pool.hash_tag
  let hashTag: Buffer | undefined
  if (tag !== undefined) {
    if (typeof tag !== 'string') throw new Error(`${file}: hash_tag is not a string`)
    hashTag = Buffer.from(tag, 'utf8')
  }
  // nutcracker's defaults when the keys are missing (defaults_6).
  const hash = pool.hash ?? 'fnv1a_64'
  const distribution = pool.distribution ?? 'ketama'
  if (!(HASH_NAMES as readonly unknown[]).includes(hash)) throw new Error(`${file}: hash ${hash}`)
  if (!(DISTRIBUTION_NAMES as readonly unknown[]).includes(distribution)) {
    throw new Error(`${file}: distribution ${distribution}`)
  }
  return {
    file,
    hash: hash as HashName,
    distribution: distribution as DistributionName,
    hashTag,
    servers,
    ejected,
  }
}
