/**
 * Flag parsing for the operator subcommands (`walnut locate`, `walnut hash`), on the
 * same getopt engine as the main command line: `--pool=a` / `--pool a`, unique
 * prefixes, keys anywhere, `--` before keys that start with `-`.
 */
import { type GetoptDef, getopt, getoptMessage } from './getopt.js'

export interface ToolFlag {
  readonly short: string | undefined
  readonly long: string
  readonly hasArg: boolean
}

export type ToolArgs =
  | {
      readonly ok: true
      /** By long name: the last value given, or true for a plain flag. */
      readonly values: ReadonlyMap<string, string | true>
      readonly positionals: readonly string[]
    }
  | { readonly ok: false; readonly message: string }

export function parseToolArgs(argv: readonly string[], flags: readonly ToolFlag[]): ToolArgs {
  const defs: readonly GetoptDef[] = flags
  const { events, positionals, error } = getopt(argv, defs)
  if (error !== undefined) return { ok: false, message: getoptMessage(error, defs) }
  const values = new Map<string, string | true>()
  for (const ev of events) values.set((flags[ev.def] as ToolFlag).long, ev.value ?? true)
  return { ok: true, values, positionals }
}
