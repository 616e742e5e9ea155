/**
 * Command-line flags of `npm run bench` (dist/bench/run.js). Pure: argv in, frozen options
 * or an error message out, so it is tested without starting anything.
 */
import {
  DEFAULT_TARGETS,
  TARGET_NAMES,
  type TargetName,
  WORKLOAD_GROUPS,
  WORKLOAD_NAMES,
  type WorkloadName,
} from './plan.js'

export interface BenchOptions {
  /** Interleaved repetitions; the target order rotates each one. */
  readonly reps: number
  /** Multiplies every request count. */
  readonly scale: number
  readonly workloads: readonly WorkloadName[]
  readonly targets: readonly TargetName[]
  /** Whether --targets was given (otherwise missing optional targets are skipped quietly). */
  readonly targetsGiven: boolean
  /** Raw rows as TSV. */
  readonly out: string | undefined
  /** Idle client connections of the memory workload. */
  readonly idleConns: number
  /** Upper bound of one load run, seconds. */
  readonly timeLimit: number
  /** Write docs/bench-results/DATE.md and update docs/bench.md. */
  readonly docs: boolean
  /** Keep the scratch directory (configs, logs). */
  readonly keep: boolean
  readonly help: boolean
}

export const USAGE = `Usage: npm run bench -- [options]   (or: node dist/bench/run.js [options])

  --reps N          interleaved repetitions, target order rotating (default 3, at least 1)
  --scale F         multiply every request count (default 1; keep >= 0.3 for CPU figures)
  --workloads LIST  comma list of workloads or groups (default all)
                    workloads: ${WORKLOAD_NAMES.join(' ')}
                    groups: ${Object.keys(WORKLOAD_GROUPS).join(' ')}
  --targets LIST    comma list from: ${TARGET_NAMES.join(' ')}
                    (default ${DEFAULT_TARGETS.join(',')}; nutcracker targets are skipped
                    when nutcracker is not installed)
  --out FILE.tsv    also write every raw measurement as TSV
  --idle-conns N    idle connections of idle_10k (default 10000)
  --time-limit S    upper bound of one load run in seconds (default 60)
  --no-docs         do not write docs/bench-results/DATE.md nor update docs/bench.md
  --keep            keep the scratch directory (configs and logs)
  -h, --help        this text
`

export class ArgError {
  readonly message: string
  constructor(message: string) {
    this.message = message
  }
}

function positiveInt(raw: string, flag: string, max: number): number | ArgError {
  if (!/^[0-9]+$/.test(raw)) return new ArgError(`${flag} needs a whole number, got '${raw}'`)
  const n = Number(raw)
  if (n < 1 || n > max) return new ArgError(`${flag} must be between 1 and ${max}, got ${n}`)
  return n
}

function list<T extends string>(
  raw: string,
  flag: string,
  names: readonly T[],
  groups: Readonly<Record<string, readonly T[]>>,
): T[] | ArgError {
  const out: T[] = []
  for (const word of raw.split(',')) {
    const w = word.trim()
    if (w === '') continue
    const group = Object.hasOwn(groups, w) ? groups[w] : undefined
    const items = group ?? (names.includes(w as T) ? [w as T] : undefined)
    if (items === undefined) {
      return new ArgError(`${flag}: unknown name '${w}' (choose from ${names.join(', ')})`)
    }
    for (const i of items) if (!out.includes(i)) out.push(i)
  }
  if (out.length === 0) return new ArgError(`${flag} needs at least one name`)
  return out
}

/** Parses argv (without node and the script). `--flag value` and `--flag=value` both work. */
export function parseBenchArgs(argv: readonly string[]): BenchOptions | ArgError {
  let reps = 3
  let scale = 1
  let workloads: readonly WorkloadName[] = WORKLOAD_NAMES
  let targets: readonly TargetName[] = DEFAULT_TARGETS
  let targetsGiven = false
  let out: string | undefined
  let idleConns = 10_000
  let timeLimit = 60
  let docs = true
  let keep = false
  let help = false

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1
    const flag = eq > 0 ? arg.slice(0, eq) : arg
    const value = (): string | ArgError => {
      if (eq > 0) return arg.slice(eq + 1)
      const v = argv[i + 1]
      if (v === undefined) return new ArgError(`${flag} needs a value`)
      i++
      return v
    }
    const noValue = (): ArgError | undefined =>
      eq > 0 ? new ArgError(`${flag} takes no value`) : undefined

    switch (flag) {
      case '--reps': {
        const v = value()
        const n = v instanceof ArgError ? v : positiveInt(v, flag, 99)
        if (n instanceof ArgError) return n
        reps = n
        break
      }
      case '--scale': {
        const v = value()
        if (v instanceof ArgError) return v
        const n = /^[0-9]*\.?[0-9]+$/.test(v) ? Number(v) : Number.NaN
        if (!(n > 0 && n <= 100))
          return new ArgError(`--scale must be a number in (0, 100], got '${v}'`)
        scale = n
        break
      }
      case '--workloads': {
        const v = value()
        const l = v instanceof ArgError ? v : list(v, flag, WORKLOAD_NAMES, WORKLOAD_GROUPS)
        if (l instanceof ArgError) return l
        workloads = l
        break
      }
      case '--targets': {
        const v = value()
        const l = v instanceof ArgError ? v : list(v, flag, TARGET_NAMES, {})
        if (l instanceof ArgError) return l
        targets = l
        targetsGiven = true
        break
      }
      case '--out': {
        const v = value()
        if (v instanceof ArgError) return v
        if (v === '') return new ArgError('--out needs a file name')
        out = v
        break
      }
      case '--idle-conns': {
        const v = value()
        const n = v instanceof ArgError ? v : positiveInt(v, flag, 100_000)
        if (n instanceof ArgError) return n
        idleConns = n
        break
      }
      case '--time-limit': {
        const v = value()
        const n = v instanceof ArgError ? v : positiveInt(v, flag, 3600)
        if (n instanceof ArgError) return n
        timeLimit = n
        break
      }
      case '--no-docs':
      case '--keep':
      case '--help':
      case '-h': {
        const bad = noValue()
        if (bad) return bad
        if (flag === '--no-docs') docs = false
        else if (flag === '--keep') keep = true
        else help = true
        break
      }
      default:
        return new ArgError(`unknown argument '${arg}'`)
    }
  }
  // Workloads keep table order whatever order they were named in, so runs compare.
  const ordered = WORKLOAD_NAMES.filter((w) => workloads.includes(w))
  return Object.freeze({
    reps,
    scale,
    workloads: ordered,
    targets,
    targetsGiven,
    out,
    idleConns,
    timeLimit,
    docs,
    keep,
    help,
  })
}
