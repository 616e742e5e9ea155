/**
 * Flag parsing for the operator subcommands (`walnut locate`, `walnut hash`), on the
 * same getopt engine as the main command line: `--pool=a` / `--pool a`, unique
 * prefixes, keys anywhere, `--` before keys that start with `-`.
 */
import { type GetoptDef, getopt } from './getopt.js'

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
  if (error !== undefined) {
    const name = (i: number): string => {
      const f = flags[i] as ToolFlag
      return f.short === undefined ? `--${f.long}` : `-${f.short}`
    }
    switch (error.kind) {
      case 'unknown':
        return { ok: false, message: `invalid option -- '${error.text}'` }
      case 'ambiguous':
        return {
          ok: false,
          message: `option '${error.text}' is ambiguous; possibilities: ${error.candidates.map((c) => `'${c}'`).join(' ')}`,
        }
      case 'missing':
        return { ok: false, message: `option ${name(error.def)} requires a value` }
      case 'unexpected':
        return {
          ok: false,
          message: `option '--${(flags[error.def] as ToolFlag).long}' doesn't allow an argument`,
        }
    }
  }
  const values = new Map<string, string | true>()
  for (const ev of events) values.set((flags[ev.def] as ToolFlag).long, ev.value ?? true)
  return { ok: true, values, positionals }
}
