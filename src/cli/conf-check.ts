/**
 * Loading the configuration for the CLI, and nutcracker's `-t` report
 * (../shared/spec/cli-config.md §3, deviation P1):
 *
 *   walnut: configuration file '<path>' syntax is ok                  exit 0
 *   walnut: configuration file '<path>' syntax is invalid             exit 1
 *   <file>:<line>:<col>: pool '<pool>', key '<key>': <reason>
 *
 * nutcracker prints only the "invalid" line; walnut adds the reason on the next line.
 * `<path>` is the -c argument exactly as typed.
 */
import { loadConfig } from '../config/load.js'
import type { Config } from '../config/types.js'
import type { CliIO } from './io.js'

export type LoadResult =
  | { readonly ok: true; readonly config: Config }
  /** `reason`: the ConfigError message (file:line:col, pool, key, reason). */
  | { readonly ok: false; readonly reason: string }

export async function loadForCli(path: string): Promise<LoadResult> {
  try {
    return { ok: true, config: await loadConfig(path) }
  } catch (err) {
    return { ok: false, reason: err instanceof Error ? err.message : String(err) }
  }
}

/** The two stderr lines for a configuration that failed to load. */
export function invalidConfigText(path: string, reason: string): string {
  return `walnut: configuration file '${path}' syntax is invalid\n${reason}\n`
}

/** `-t`: checks the file and reports on stderr (as nutcracker does); returns the exit status. */
export async function testConf(path: string, io: CliIO): Promise<number> {
  const r = await loadForCli(path)
  if (!r.ok) {
    io.stderr.write(invalidConfigText(path, r.reason))
    return 1
  }
  io.stderr.write(`walnut: configuration file '${path}' syntax is ok\n`)
  return 0
}
