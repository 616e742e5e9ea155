/**
 * C-library wording for system errors (`No such file or directory`), as nutcracker
 * prints them with strerror(3). Node's messages use libuv's wording
 * (`ENOENT: no such file or directory, open 'x'`); operators and scripts that grep
 * nutcracker's messages expect glibc's. Name lookups get gai_strerror(3)'s texts.
 */

/** gai_strerror(EAI_NONAME): a name that does not resolve. */
export const NAME_NOT_KNOWN = 'Name or service not known'

/**
 * glibc's strerror(3) text by Node's errno name: the one table for log lines
 * (strerror below) and for failed requests' replies (src/core/errno.ts, which
 * overrides the name-resolution codes as nutcracker does).
 */
const GLIBC_TEXT: ReadonlyMap<string, string> = new Map([
  ['ENOENT', 'No such file or directory'],
  ['EACCES', 'Permission denied'],
  ['EPERM', 'Operation not permitted'],
  ['EISDIR', 'Is a directory'],
  ['ENOTDIR', 'Not a directory'],
  ['EROFS', 'Read-only file system'],
  ['ENOSPC', 'No space left on device'],
  ['EEXIST', 'File exists'],
  ['ELOOP', 'Too many levels of symbolic links'],
  ['ENAMETOOLONG', 'File name too long'],
  ['EMFILE', 'Too many open files'],
  ['ENFILE', 'Too many open files in system'],
  ['ENOBUFS', 'No buffer space available'],
  ['ENOMEM', 'Cannot allocate memory'],
  ['EINVAL', 'Invalid argument'],
  ['EADDRINUSE', 'Address already in use'],
  ['EADDRNOTAVAIL', 'Cannot assign requested address'],
  ['ECONNREFUSED', 'Connection refused'],
  ['ECONNRESET', 'Connection reset by peer'],
  ['ECONNABORTED', 'Software caused connection abort'],
  ['ETIMEDOUT', 'Connection timed out'],
  ['EHOSTUNREACH', 'No route to host'],
  ['EHOSTDOWN', 'Host is down'],
  ['ENETUNREACH', 'Network is unreachable'],
  ['ENETDOWN', 'Network is down'],
  ['EPIPE', 'Broken pipe'],
  // getaddrinfo's EAI_NONAME (gai_strerror), which Node names ENOTFOUND.
  ['ENOTFOUND', NAME_NOT_KNOWN],
])

/** glibc's text for errno name `code`, or undefined when the table does not have it. */
export function glibcText(code: string): string | undefined {
  return GLIBC_TEXT.get(code)
}

/** glibc's gai_strerror(3) text by the code node:dns reports for a failed getaddrinfo. */
const GAI_TEXT: ReadonlyMap<string, string> = new Map([
  ['ENOTFOUND', NAME_NOT_KNOWN],
  ['EAI_NONAME', NAME_NOT_KNOWN],
  ['EAI_AGAIN', 'Temporary failure in name resolution'],
  ['EAI_FAIL', 'Non-recoverable failure in name resolution'],
  ['ENODATA', 'No address associated with hostname'],
  ['EAI_NODATA', 'No address associated with hostname'],
  ['EAI_FAMILY', 'ai_family not supported'],
  ['EAI_MEMORY', 'Memory allocation failure'],
])

/** gai_strerror's text for the code of a failed lookup, or undefined when the table does not have it. */
export function gaiText(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null | undefined)?.code
  return typeof code === 'string' ? GAI_TEXT.get(code) : undefined
}

/** strerror-style text for an error thrown by a `node:` API. */
export function strerror(err: unknown): string {
  if (typeof err !== 'object' || err === null) return String(err)
  const code = (err as { code?: unknown }).code
  const known = typeof code === 'string' ? GLIBC_TEXT.get(code) : undefined
  if (known !== undefined) return known
  const message = (err as { message?: unknown }).message
  if (typeof message !== 'string') return String(err)
  // libuv form `CODE: text, syscall 'path'`: keep the text, capitalised.
  const m = /^[A-Z0-9_]+: ([^,]*)/.exec(message)
  const text = m?.[1] ?? message
  return text.charAt(0).toUpperCase() + text.slice(1)
}
