/**
 * nutcracker answers a failed request with the C strerror() text of the
 * failure's errno (`-ERR Connection refused`, `SERVER_ERROR Connection timed
 * out`), or `unknown` when there is none (a server's EOF). Node reports errno
 * names; this maps them to glibc's texts.
 */

const STRERROR: Record<string, string> = {
  ECONNREFUSED: 'Connection refused',
  ECONNRESET: 'Connection reset by peer',
  ETIMEDOUT: 'Connection timed out',
  EHOSTUNREACH: 'No route to host',
  EHOSTDOWN: 'Host is down',
  ENETUNREACH: 'Network is unreachable',
  ENETDOWN: 'Network is down',
  EPIPE: 'Broken pipe',
  ENOENT: 'No such file or directory',
  EACCES: 'Permission denied',
  EPERM: 'Operation not permitted',
  EADDRNOTAVAIL: 'Cannot assign requested address',
  EADDRINUSE: 'Address already in use',
  ECONNABORTED: 'Software caused connection abort',
  EMFILE: 'Too many open files',
  ENFILE: 'Too many open files in system',
  ENOBUFS: 'No buffer space available',
  ENOMEM: 'Cannot allocate memory',
  EINVAL: 'Invalid argument',
  // A name that does not resolve: nutcracker reports EHOSTDOWN.
  ENOTFOUND: 'Host is down',
  EAI_AGAIN: 'Host is down',
  EAI_NONAME: 'Host is down',
  EAI_FAIL: 'Host is down',
}

export const REASON_UNKNOWN = 'unknown'
export const REASON_TIMEDOUT = 'Connection timed out'
export const REASON_REFUSED = 'Connection refused'
export const REASON_INVALID = 'Invalid argument'
export const REASON_HOST_DOWN = 'Host is down'

/** The strerror text for a Node system error, or `unknown`. */
export function reasonOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code
  if (typeof code === 'string') return STRERROR[code] ?? REASON_UNKNOWN
  return REASON_UNKNOWN
}
