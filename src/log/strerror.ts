/**
 * C-library wording for system errors (`No such file or directory`), as nutcracker
 * prints them with strerror(3). Node's messages use libuv's wording
 * (`ENOENT: no such file or directory, open 'x'`); operators and scripts that grep
 * nutcracker's messages expect glibc's.
 */

const GLIBC_TEXT: Readonly<Record<string, string>> = {
  ENOENT: 'No such file or directory',
  EACCES: 'Permission denied',
  EPERM: 'Operation not permitted',
  EISDIR: 'Is a directory',
  ENOTDIR: 'Not a directory',
  EROFS: 'Read-only file system',
  ENOSPC: 'No space left on device',
  EEXIST: 'File exists',
  ELOOP: 'Too many levels of symbolic links',
  ENAMETOOLONG: 'File name too long',
  EMFILE: 'Too many open files',
  ENFILE: 'Too many open files in system',
  EADDRINUSE: 'Address already in use',
  EADDRNOTAVAIL: 'Cannot assign requested address',
  ECONNREFUSED: 'Connection refused',
  ENOTFOUND: 'Name or service not known',
}

/** strerror-style text for an error thrown by a `node:` API. */
export function strerror(err: unknown): string {
  if (typeof err !== 'object' || err === null) return String(err)
  const code = (err as { code?: unknown }).code
  if (typeof code === 'string' && GLIBC_TEXT[code] !== undefined) return GLIBC_TEXT[code]
  const message = (err as { message?: unknown }).message
  if (typeof message !== 'string') return String(err)
  // libuv form `CODE: text, syscall 'path'`: keep the text, capitalised.
  const m = /^[A-Z0-9_]+: ([^,]*)/.exec(message)
  const text = m?.[1] ?? message
  return text.charAt(0).toUpperCase() + text.slice(1)
}
