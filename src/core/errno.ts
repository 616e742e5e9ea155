/**
 * nutcracker answers a failed request with the C strerror() text of the
 * failure's errno (`-ERR Connection refused`, `SERVER_ERROR Connection timed
 * out`), or `unknown` when there is none (a server's EOF). Node reports errno
 * names; this maps them to glibc's texts (the table in src/log/strerror.ts).
 */
import { glibcText } from '../log/strerror.js'

export const REASON_UNKNOWN = 'unknown'
export const REASON_TIMEDOUT = 'Connection timed out'
export const REASON_REFUSED = 'Connection refused'
export const REASON_INVALID = 'Invalid argument'
export const REASON_HOST_DOWN = 'Host is down'

/**
 * nutcracker: a backend name that does not resolve fails its requests with
 * EHOSTDOWN (`Host is down`), where a log line says getaddrinfo's `Name or
 * service not known` (src/log/strerror.ts); these codes override that table.
 */
const REQUEST_OVERRIDES: ReadonlyMap<string, string> = new Map([
  ['ENOTFOUND', REASON_HOST_DOWN],
  ['EAI_AGAIN', REASON_HOST_DOWN],
  ['EAI_NONAME', REASON_HOST_DOWN],
  ['EAI_FAIL', REASON_HOST_DOWN],
])

/** The strerror text for a Node system error, or `unknown`. */
export function reasonOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code
  if (typeof code !== 'string') return REASON_UNKNOWN
  return REQUEST_OVERRIDES.get(code) ?? glibcText(code) ?? REASON_UNKNOWN
}
