/**
 * Runs the built CLI (`node dist/src/cli/main.js ...`) as a child process and
 * collects its exit status and raw output bytes.
 */
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { REPO_ROOT } from '../helpers/shared.js'

export const CLI = join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js')

export interface CliRun {
  readonly status: number | null
  readonly stdout: Buffer
  readonly stderr: Buffer
  /** stdout / stderr as UTF-8, for text assertions. */
  readonly out: string
  readonly err: string
}

export function runCli(
  args: readonly string[],
  options: { input?: string | Uint8Array; cwd?: string } = {},
): CliRun {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    input: options.input ?? '',
    cwd: options.cwd ?? REPO_ROOT,
    maxBuffer: 512 * 1024 * 1024,
    timeout: 60_000,
  })
  if (r.error) throw r.error
  return {
    status: r.status,
    stdout: r.stdout,
    stderr: r.stderr,
    out: r.stdout.toString('utf8'),
    err: r.stderr.toString('utf8'),
  }
}
