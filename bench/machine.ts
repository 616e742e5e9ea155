/**
 * Describes the machine and the programs a run used, for the results page: CPU model and
 * count, kernel, Node.js, and the versions redis-server, redis-benchmark, memcached and
 * nutcracker print about themselves, plus walnut's git commit.
 */
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { cpus, release } from 'node:os'
import type { MachineInfo } from './report.js'

/** stdout + stderr of a short command, or undefined when it cannot run. */
export function probe(cmd: string, args: readonly string[], cwd?: string): string | undefined {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 5000, cwd })
  if (r.error) return undefined
  return `${r.stdout ?? ''}${r.stderr ?? ''}`
}

/** First match of a version-looking token after a marker, e.g. 'v=7.0.15' → '7.0.15'. */
function versionIn(text: string | undefined, re: RegExp): string {
  if (text === undefined) return 'not installed'
  return re.exec(text)?.[1] ?? text.trim().split('\n', 1)[0] ?? '?'
}

export function isInstalled(cmd: string, versionFlag: string): boolean {
  return probe(cmd, [versionFlag]) !== undefined
}

export function describeMachine(repoRoot: string): MachineInfo {
  let model = 'unknown CPU'
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))
    if (m?.[1]) model = m[1].trim()
  } catch {
    // not Linux; keep the placeholder
  }
  const commit = probe('git', ['rev-parse', '--short', 'HEAD'], repoRoot)?.trim()
  const dirty = probe('git', ['status', '--porcelain', '--', 'src'], repoRoot)?.trim()
  const walnut =
    commit && /^[0-9a-f]+$/.test(commit) ? `${commit}${dirty ? ' (src modified)' : ''}` : '?'
  return {
    cpuModel: model,
    cpus: cpus().length,
    kernel: release(),
    node: process.version,
    versions: {
      walnut,
      'redis-server': versionIn(probe('redis-server', ['--version']), /v=([0-9.]+)/),
      'redis-benchmark': versionIn(probe('redis-benchmark', ['--version']), /([0-9]+\.[0-9.]+)/),
      memcached: versionIn(probe('memcached', ['-V']), /memcached ([0-9.]+)/),
      nutcracker: versionIn(probe('nutcracker', ['-V']), /nutcracker-([0-9.]+)/),
    },
  }
}
