/**
 * A small GNU getopt_long work-alike, as nutcracker's command line uses it
 * (../shared/spec/cli-config.md §1). Pure: argv in, events out; no process access.
 *
 * Behaviour copied from GNU getopt_long (with opterr = 0, so it prints nothing):
 *  - short flags bundle (`-tc file`); a value-taking short flag takes the rest of its
 *    word (`-cfile`) or else the next word, even one that starts with `-`;
 *  - long flags take `--name=value` or `--name value` and may be abbreviated to any
 *    unique prefix (an exact name always wins over longer names it prefixes);
 *  - arguments are permuted: non-option words may appear anywhere and are collected
 *    as positionals; `--` ends option parsing, and a lone `-` is a positional.
 * Parsing stops at the first error; the events seen before it are still returned so
 * the caller can validate values in command-line order (nutcracker reports whichever
 * problem comes first).
 */

export interface GetoptDef {
  /** One character, or undefined for a long-only flag. */
  readonly short: string | undefined
  readonly long: string
  readonly hasArg: boolean
}

/** One flag occurrence. `def` is an index into the definition list. */
export interface GetoptEvent {
  readonly def: number
  /** The value for a value-taking flag; undefined for a plain flag. */
  readonly value: string | undefined
}

export type GetoptError =
  /** Not a known flag; `text` is the character (`x`) or the long word (`--bogus`). */
  | { readonly kind: 'unknown'; readonly text: string }
  /** A long prefix matching several flags. */
  | { readonly kind: 'ambiguous'; readonly text: string; readonly candidates: readonly string[] }
  /** A value-taking flag at the end of the command line. */
  | { readonly kind: 'missing'; readonly def: number }
  /** `--flag=value` for a flag that takes no value. */
  | { readonly kind: 'unexpected'; readonly def: number }

export interface GetoptResult {
  readonly events: readonly GetoptEvent[]
  readonly positionals: readonly string[]
  /** The first error, if any; `events` then holds only the flags before it. */
  readonly error: GetoptError | undefined
}

export function getopt(argv: readonly string[], defs: readonly GetoptDef[]): GetoptResult {
  const events: GetoptEvent[] = []
  const positionals: string[] = []
  const done = (error: GetoptError | undefined): GetoptResult => ({ events, positionals, error })

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1))
      break
    }
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=')
      const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq)
      const found = matchLong(name, defs)
      if (typeof found !== 'number') {
        if (found.length === 0) return done({ kind: 'unknown', text: `--${name}` })
        return done({
          kind: 'ambiguous',
          text: `--${name}`,
          candidates: found.map((d) => `--${(defs[d] as GetoptDef).long}`),
        })
      }
      const def = defs[found] as GetoptDef
      if (!def.hasArg) {
        if (eq >= 0) return done({ kind: 'unexpected', def: found })
        events.push({ def: found, value: undefined })
      } else if (eq >= 0) {
        events.push({ def: found, value: arg.slice(eq + 1) })
      } else if (i + 1 < argv.length) {
        events.push({ def: found, value: argv[++i] })
      } else {
        return done({ kind: 'missing', def: found })
      }
      continue
    }
    if (arg.length < 2 || arg[0] !== '-') {
      positionals.push(arg)
      continue
    }
    // A bundle of short flags: -tdc file, -v5, -c-t.
    for (let j = 1; j < arg.length; j++) {
      const ch = arg[j] as string
      const found = defs.findIndex((d) => d.short === ch)
      if (found < 0) return done({ kind: 'unknown', text: ch })
      const def = defs[found] as GetoptDef
      if (!def.hasArg) {
        events.push({ def: found, value: undefined })
        continue
      }
      if (j + 1 < arg.length) {
        events.push({ def: found, value: arg.slice(j + 1) })
      } else if (i + 1 < argv.length) {
        events.push({ def: found, value: argv[++i] })
      } else {
        return done({ kind: 'missing', def: found })
      }
      break
    }
  }
  return done(undefined)
}

/** The index of the flag `--name` means, or the list of candidates (empty: none). */
function matchLong(name: string, defs: readonly GetoptDef[]): number | number[] {
  if (name.length === 0) return []
  const candidates: number[] = []
  for (let d = 0; d < defs.length; d++) {
    const long = (defs[d] as GetoptDef).long
    if (long === name) return d
    if (long.startsWith(name)) candidates.push(d)
  }
  return candidates.length === 1 ? (candidates[0] as number) : candidates
}

/** How messages name a flag: its short letter if it has one. */
export function flagName(def: Pick<GetoptDef, 'short' | 'long'>): string {
  return def.short === undefined ? `--${def.long}` : `-${def.short}`
}

/**
 * `error` in getopt_long's words, as nutcracker's command line prints them.
 * `missing` says what a value-taking flag at the end requires (`a value` unless told).
 */
export function getoptMessage(
  error: GetoptError,
  defs: readonly GetoptDef[],
  missing: (def: number) => string = () => 'a value',
): string {
  switch (error.kind) {
    case 'unknown':
      return `invalid option -- '${error.text}'`
    case 'ambiguous':
      return `option '${error.text}' is ambiguous; possibilities: ${error.candidates.map((c) => `'${c}'`).join(' ')}`
    case 'missing':
      return `option ${flagName(defs[error.def] as GetoptDef)} requires ${missing(error.def)}`
    case 'unexpected':
      return `option '--${(defs[error.def] as GetoptDef).long}' doesn't allow an argument`
  }
}
