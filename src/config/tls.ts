/**
 * walnut's TLS and auth keys (docs/tls.md) beyond what one value says: which
 * keys need which, duplicate listen addresses, and the certificate files.
 *
 * The files are read and parsed when the config is loaded, so `-t` refuses a
 * missing, unreadable or malformed file, or a private key that does not belong
 * to its certificate, with the file position of the key that names it. The
 * proxy reads them again with the same functions when it starts (src/core/tls.ts).
 * Relative paths are taken from the config file's directory.
 */
import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { strerror } from '../log/strerror.js'
import type { PoolConfig } from './types.js'
import type { DraftServer, DraftValue } from './validate.js'

/** A file a TLS key names cannot be used; `rv` follows `directive "<key>" `. */
export class TlsFileError extends Error {
  readonly rv: string
  readonly detail: string | undefined
  constructor(rv: string, detail?: string, cause?: unknown) {
    super(rv, { cause })
    this.name = 'TlsFileError'
    this.rv = rv
    this.detail = detail
  }
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g

function readPem(path: string): Buffer {
  try {
    return readFileSync(path)
  } catch (err) {
    throw new TlsFileError(`cannot read '${path}': ${strerror(err)}`, undefined, err)
  }
}

/** OpenSSL's text without its `error:0A00...:routines::` prefix. */
function opensslText(err: unknown): string {
  const e = err as { reason?: unknown; message?: unknown }
  if (typeof e.reason === 'string' && e.reason.length > 0) return e.reason
  return String(e.message ?? err)
}

/** Every PEM certificate of the file, each parsed; at least one. */
function certificates(path: string, pem: Buffer): X509Certificate[] {
  const blocks = pem.toString('latin1').match(PEM_CERT)
  if (blocks === null) throw new TlsFileError(`has no PEM certificate in '${path}'`)
  return blocks.map((b) => {
    try {
      return new X509Certificate(b)
    } catch (err) {
      throw new TlsFileError(`has an invalid certificate in '${path}'`, opensslText(err), err)
    }
  })
}

/** A CA bundle: PEM certificates (`tls_ca_file`, `tls_listen_ca_file`). */
export function loadCaFile(path: string): Buffer {
  const pem = readPem(path)
  certificates(path, pem)
  return pem
}

/** A certificate, optionally followed by its chain (`tls_cert_file`, `tls_listen_cert_file`). */
export function loadCertFile(path: string): Buffer {
  const pem = readPem(path)
  certificates(path, pem)
  return pem
}

function privateKey(path: string, pem: Buffer): KeyObject {
  try {
    return createPrivateKey(pem)
  } catch (err) {
    // Node 20 reports a key without its passphrase as `interrupted or cancelled`: look at the PEM.
    const text = pem.toString('latin1')
    const code = (err as { code?: unknown }).code
    if (
      code === 'ERR_MISSING_PASSPHRASE' ||
      text.includes('-----BEGIN ENCRYPTED PRIVATE KEY-----') ||
      text.includes('Proc-Type: 4,ENCRYPTED')
    ) {
      throw new TlsFileError(
        `has an encrypted private key in '${path}'`,
        'walnut reads unencrypted keys only',
        err,
      )
    }
    if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) {
      throw new TlsFileError(`has no PEM private key in '${path}'`, undefined, err)
    }
    throw new TlsFileError(`has an invalid private key in '${path}'`, opensslText(err), err)
  }
}

/** An unencrypted PEM private key (`tls_key_file`, `tls_listen_key_file`). */
export function loadKeyFile(path: string): Buffer {
  const pem = readPem(path)
  privateKey(path, pem)
  return pem
}

/** Throws when `keyPem` is not the private key of the first certificate of `certPem`. */
export function checkKeyPair(certPem: Buffer, certPath: string, keyPem: Buffer, keyPath: string) {
  const [leaf] = certificates(certPath, certPem)
  if (leaf === undefined || !leaf.checkPrivateKey(privateKey(keyPath, keyPem))) {
    throw new TlsFileError(`does not match the certificate in '${certPath}'`)
  }
}

/** Reports a mistake at a file offset, naming the key; throws ConfigError. */
export type Fail = (reason: string, at: number, key: string, detail?: string) => never

/** The pool fields these checks read and the paths they resolve (written back). */
type Fields = Record<string, unknown> & Pick<PoolConfig, 'redis' | 'tls'>

const BACKEND_KEYS = [
  'tls_ca_file',
  'tls_cert_file',
  'tls_key_file',
  'tls_server_name',
  'tls_verify',
]
const LISTEN_KEYS = [
  'tls_listen_cert_file',
  'tls_listen_key_file',
  'tls_listen_ca_file',
  'tls_listen_verify_client',
]

/**
 * The TLS and auth checks of one pool, after nutcracker's own (validate.ts), in
 * this order: redis-only keys → keys that need another key → the files (read,
 * parsed, key against certificate). Resolves the file paths in `fields`.
 */
export function checkTlsKeys(
  fields: Fields,
  values: ReadonlyMap<string, DraftValue>,
  servers: readonly DraftServer[],
  configPath: string,
  fail: Fail,
): void {
  const at = (key: string): number => values.get(key)?.valueAt ?? 0
  const has = (key: string): boolean => values.has(key)

  for (const key of ['redis_auth_user', 'client_auth']) {
    if (has(key) && !fields.redis) {
      fail(`directive "${key}:" is only valid for a redis pool`, at(key), key)
    }
  }
  if (has('redis_auth_user') && !has('redis_auth')) {
    fail('directive "redis_auth_user" needs "redis_auth"', at('redis_auth_user'), 'redis_auth_user')
  }

  for (const key of BACKEND_KEYS) {
    if (has(key) && !fields.tls) fail(`directive "${key}" needs "tls: true"`, at(key), key)
  }
  if (has('tls_cert_file') !== has('tls_key_file')) {
    const [key, other] = has('tls_cert_file')
      ? ['tls_cert_file', 'tls_key_file']
      : ['tls_key_file', 'tls_cert_file']
    fail(`directive "${key}" needs "${other}"`, at(key), key)
  }
  if (fields.tls && fields.tlsVerify === true && !has('tls_server_name')) {
    const unix = servers.find((s) => s.address.kind === 'unix')
    if (unix !== undefined) {
      fail(
        `directive "tls" needs "tls_server_name" to verify the unix socket server '${unix.name}'`,
        at('tls'),
        'tls',
      )
    }
  }

  for (const key of LISTEN_KEYS) {
    if (has(key) && !has('listen_tls')) fail(`directive "${key}" needs "listen_tls"`, at(key), key)
  }
  if (has('listen_tls') && !(has('tls_listen_cert_file') && has('tls_listen_key_file'))) {
    fail(
      'directive "listen_tls" needs "tls_listen_cert_file" and "tls_listen_key_file"',
      at('listen_tls'),
      'listen_tls',
    )
  }
  if (fields.tlsListenVerifyClient === true && !has('tls_listen_ca_file')) {
    fail(
      'directive "tls_listen_verify_client" needs "tls_listen_ca_file"',
      at('tls_listen_verify_client'),
      'tls_listen_verify_client',
    )
  }
  if (has('tls_listen_ca_file') && fields.tlsListenVerifyClient !== true) {
    fail(
      'directive "tls_listen_ca_file" needs "tls_listen_verify_client: true"',
      at('tls_listen_ca_file'),
      'tls_listen_ca_file',
    )
  }

  const base = dirname(configPath)
  const load = (key: string, field: string, loader: (path: string) => Buffer): Buffer | null => {
    const v = values.get(key)
    if (v === undefined) return null
    const path = resolve(base, v.value as string)
    fields[field] = path
    try {
      return loader(path)
    } catch (err) {
      if (!(err instanceof TlsFileError)) throw err
      fail(`directive "${key}" ${err.rv}`, v.valueAt, key, err.detail)
    }
    return null
  }
  const pair = (certKey: string, keyKey: string, cert: Buffer | null, key: Buffer | null) => {
    if (cert === null || key === null) return
    try {
      checkKeyPair(cert, fields[fieldOf(certKey)] as string, key, fields[fieldOf(keyKey)] as string)
    } catch (err) {
      if (!(err instanceof TlsFileError)) throw err
      fail(`directive "${keyKey}" ${err.rv}`, at(keyKey), keyKey, err.detail)
    }
  }
  load('tls_ca_file', 'tlsCaFile', loadCaFile)
  pair(
    'tls_cert_file',
    'tls_key_file',
    load('tls_cert_file', 'tlsCertFile', loadCertFile),
    load('tls_key_file', 'tlsKeyFile', loadKeyFile),
  )
  pair(
    'tls_listen_cert_file',
    'tls_listen_key_file',
    load('tls_listen_cert_file', 'tlsListenCertFile', loadCertFile),
    load('tls_listen_key_file', 'tlsListenKeyFile', loadKeyFile),
  )
  load('tls_listen_ca_file', 'tlsListenCaFile', loadCaFile)
}

const FIELD_OF: Readonly<Record<string, string>> = {
  tls_cert_file: 'tlsCertFile',
  tls_key_file: 'tlsKeyFile',
  tls_listen_cert_file: 'tlsListenCertFile',
  tls_listen_key_file: 'tlsListenKeyFile',
}

function fieldOf(key: string): string {
  return FIELD_OF[key] ?? key
}

/** One pool's listen addresses as the duplicate check sees them. */
export interface ListenEntry {
  readonly pool: string
  readonly key: 'listen' | 'listen_tls'
  readonly text: string
  readonly at: number
}

/**
 * After nutcracker's check of the `listen:` strings: a `listen_tls` address may
 * repeat no other listen or listen_tls address, in its pool or another (compared
 * as written, like nutcracker's check). Returns the reason and the entry to
 * blame, or null.
 */
export function listenTlsDuplicate(
  entries: readonly ListenEntry[],
): { reason: string; entry: ListenEntry } | null {
  for (const [i, e] of entries.entries()) {
    if (e.key !== 'listen_tls') continue
    for (const [j, o] of entries.entries()) {
      if (i === j || o.text !== e.text || (o.key === 'listen_tls' && j > i)) continue
      return {
        reason: `directive "listen_tls" repeats the ${o.key} address '${o.text}' of pool '${o.pool}'`,
        entry: e,
      }
    }
  }
  return null
}
