/**
 * walnut's error catalogue. Every error the program raises on purpose carries a
 * stable `code` (documented in docs/errors.md) and, where there is one, a `cause`.
 *  - Config and CLI errors are thrown at start-up; the process exits non-zero.
 *  - Client protocol errors become an error reply (and maybe a close), never a throw.
 *  - Backend errors become error replies to the waiting requests and count failures.
 */

export const ERROR_CODES = {
  NC_ERR_CONFIG: 'invalid configuration file',
  NC_ERR_CONFIG_OPEN: 'configuration file cannot be read',
  NC_ERR_ARGS: 'invalid command-line arguments',
  NC_ERR_LISTEN: 'cannot listen on an address',
} as const
export type ErrorCode = keyof typeof ERROR_CODES

export class ProxyError extends Error {
  readonly code: ErrorCode
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    this.name = 'ProxyError'
  }
}

/** Where in a config file a mistake sits. Line and column are 1-based. */
export interface ConfigLocation {
  readonly file: string
  readonly line?: number
  readonly column?: number
  readonly pool?: string
  readonly key?: string
}

/**
 * A configuration mistake. `reason` is nutcracker's own log text (e.g.
 * `directive "hash" is not a valid hash`), so operators can grep for it;
 * `message` adds file, line:column, pool and key (deviation P1), and `detail`
 * when there is one: what nutcracker logs on a line of its own before the reason
 * (`address resolution of node 'x' service '1' failed: ...`) or the YAML parser's
 * own description of a syntax error.
 */
export class ConfigError extends ProxyError {
  readonly reason: string
  readonly location: ConfigLocation
  readonly detail: string | undefined
  constructor(
    reason: string,
    location: ConfigLocation,
    options?: { cause?: unknown; detail?: string },
  ) {
    const cause = options?.cause !== undefined ? { cause: options.cause } : undefined
    super('NC_ERR_CONFIG', formatConfigError(reason, location, options?.detail), cause)
    this.name = 'ConfigError'
    this.reason = reason
    this.location = location
    this.detail = options?.detail
  }
}

function formatConfigError(reason: string, loc: ConfigLocation, detail?: string): string {
  let where = loc.file
  if (loc.line !== undefined) where += `:${loc.line}:${loc.column ?? 1}`
  const ctx: string[] = []
  if (loc.pool !== undefined) ctx.push(`pool '${loc.pool}'`)
  if (loc.key !== undefined) ctx.push(`key '${loc.key}'`)
  const tail = detail !== undefined ? ` (${detail})` : ''
  return `${where}: ${ctx.length > 0 ? `${ctx.join(', ')}: ` : ''}${reason}${tail}`
}
