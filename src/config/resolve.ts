/**
 * Resolving a pool's `listen:` host at load time. nutcracker resolves it with
 * getaddrinfo while reading the config (even under -t) and fails with
 *   address resolution of node '<host>' service '<port>' failed: <gai_strerror>
 *   conf: directive "listen" has an invalid value
 * walnut does the same with node:dns `lookup` (getaddrinfo too), which a test can
 * replace with a fake. Backend hosts are not resolved here (nutcracker 0.5.0
 * resolves them lazily, at connect time).
 */
import { lookup } from 'node:dns/promises'
import { isIP } from 'node:net'
import { gaiText } from '../log/strerror.js'

/** Host name (never empty, never an IP literal) → one address. Rejects when unresolvable. */
export type Resolver = (host: string) => Promise<string>

/** The default resolver: the first address getaddrinfo returns, as nutcracker takes it. */
export const lookupAddress: Resolver = async (host) => (await lookup(host)).address

/** gai_strerror's text for a failed lookup, else what the resolver threw. */
function gaiReason(err: unknown): string {
  const text = gaiText(err)
  if (text !== undefined) return text
  if (err instanceof Error) return err.message
  return String(err)
}

/** A failed resolution: nutcracker's detail line, and what the resolver threw. */
export class ResolveError extends Error {
  override readonly cause: unknown
  constructor(host: string, port: number, cause: unknown) {
    super(`address resolution of node '${host}' service '${port}' failed: ${gaiReason(cause)}`)
    this.name = 'ResolveError'
    this.cause = cause
  }
}

/**
 * The address for `host`: IP literals as they are, names through `resolve`.
 * An empty host fails without asking (getaddrinfo refuses it too).
 */
export async function resolveHost(host: string, port: number, resolve: Resolver): Promise<string> {
  if (isIP(host) !== 0) return host
  if (host === '') throw new ResolveError(host, port, { code: 'ENOTFOUND' })
  try {
    return await resolve(host)
  } catch (cause) {
    throw new ResolveError(host, port, cause)
  }
}
