/**
 * TLS for the core (docs/tls.md): a pool's backend connections (`tls: true`)
 * and its TLS listener (`listen_tls`).
 *
 * Each pool reads its files once, at start (with the functions src/config/tls.ts
 * checks them with for `-t`): one SecureContext for its server connections, and
 * the certificate material of its listener, so a new connection parses nothing. A backend connection is a
 * TLSSocket in place of the plain socket; everything above it — the write
 * batching, pipelining, the reply matching — is unchanged.
 *
 * Failure reasons: before the TCP connection is up, errors keep nutcracker's
 * strerror text (`Connection refused`); from then until the handshake is done,
 * every error is `TLS handshake failed: <why>`; afterwards OpenSSL errors are
 * `TLS error: <why>`. The reason is what the waiting requests are answered with
 * (`-ERR <reason>`, `SERVER_ERROR <reason>`).
 */

import { isIP } from 'node:net'
import {
  createSecureContext,
  createServer as createTlsServer,
  type SecureContext,
  type TLSSocket,
  type Server as TlsServer,
  connect as tlsConnect,
} from 'node:tls'
import { loadCaFile, loadCertFile, loadKeyFile, TlsFileError } from '../config/tls.js'
import type { PoolConfig, ServerAddress } from '../config/types.js'
import { ProxyError } from '../errors.js'

/**
 * Reads one file a key names; a file that became unusable since the config was
 * checked stops the start with the key's name (as `-t` would report it).
 */
function load(
  pool: PoolConfig,
  key: string,
  path: string | undefined,
  loader: (path: string) => Buffer,
): Buffer | undefined {
  if (path === undefined) return undefined
  try {
    return loader(path)
  } catch (err) {
    if (!(err instanceof TlsFileError)) throw err
    const detail = err.detail !== undefined ? ` (${err.detail})` : ''
    throw new ProxyError('NC_ERR_CONFIG', `p ${pool.name}: directive "${key}" ${err.rv}${detail}`, {
      cause: err,
    })
  }
}

const backendContexts = new WeakMap<PoolConfig, SecureContext>()
/** The listener's certificate, key and client CA (tls.Server takes them, not a SecureContext). */
interface ListenMaterial {
  readonly cert: Buffer | undefined
  readonly key: Buffer | undefined
  readonly ca: Buffer | undefined
}
const listenMaterial = new WeakMap<PoolConfig, ListenMaterial>()

/**
 * The SecureContext of a pool's server connections (CA, client certificate),
 * built on first use; `prepareTls` builds it at start so a bad file stops the start.
 */
export function backendContext(pool: PoolConfig): SecureContext {
  let ctx = backendContexts.get(pool)
  if (ctx === undefined) {
    ctx = createSecureContext({
      ca: load(pool, 'tls_ca_file', pool.tlsCaFile, loadCaFile),
      cert: load(pool, 'tls_cert_file', pool.tlsCertFile, loadCertFile),
      key: load(pool, 'tls_key_file', pool.tlsKeyFile, loadKeyFile),
    })
    backendContexts.set(pool, ctx)
  }
  return ctx
}

function listenFiles(pool: PoolConfig): ListenMaterial {
  let m = listenMaterial.get(pool)
  if (m === undefined) {
    m = {
      cert: load(pool, 'tls_listen_cert_file', pool.tlsListenCertFile, loadCertFile),
      key: load(pool, 'tls_listen_key_file', pool.tlsListenKeyFile, loadKeyFile),
      ca: load(pool, 'tls_listen_ca_file', pool.tlsListenCaFile, loadCaFile),
    }
    listenMaterial.set(pool, m)
  }
  return m
}

/** Reads a pool's certificate files now (at start); throws ProxyError NC_ERR_CONFIG. */
export function prepareTls(pool: PoolConfig): void {
  if (pool.tls) backendContext(pool)
  if (pool.listenTls !== undefined) listenFiles(pool)
}

/**
 * The name a backend's certificate must carry, also sent as SNI: `tls_server_name`,
 * else the host as configured (an IP address is checked against the certificate's
 * IP entries and not sent as SNI, which RFC 6066 forbids).
 */
export function serverName(pool: PoolConfig, address: ServerAddress): string | undefined {
  if (pool.tlsServerName !== undefined) return pool.tlsServerName
  if (address.kind === 'tcp' && isIP(address.host) === 0) return address.host
  return undefined
}

/** Opens a TLS connection to a backend; `host` is where to connect (maybe re-resolved). */
export function connectBackend(pool: PoolConfig, address: ServerAddress, host: string): TLSSocket {
  const common = {
    secureContext: backendContext(pool),
    servername: serverName(pool, address),
    rejectUnauthorized: pool.tlsVerify,
  }
  if (address.kind === 'unix') return tlsConnect({ ...common, path: address.path })
  // Applied once the TCP connection is up (Node keeps the setting until then).
  return tlsConnect({ ...common, host, port: address.port }).setNoDelay(true)
}

/** A TLS listener for `pool.listenTls`; `accept` gets each client once its handshake is done. */
export function createListener(pool: PoolConfig, accept: (socket: TLSSocket) => void): TlsServer {
  const verify = pool.tlsListenVerifyClient
  return createTlsServer(
    {
      ...listenFiles(pool),
      requestCert: verify,
      rejectUnauthorized: verify,
      allowHalfOpen: true,
    },
    accept,
  )
}

/** No CR or LF in a reason: it becomes a one-line error reply. */
function oneLine(s: string): string {
  return s.replace(/[\r\n]+/g, ' ')
}

/** The text of a TLS error: OpenSSL's reason, or Node's message, with a verify code. */
export function tlsErrorText(err: unknown): string {
  const e = err as { code?: unknown; reason?: unknown; message?: unknown }
  const code = typeof e.code === 'string' ? e.code : ''
  // OpenSSL's errors carry a short `reason`; Node's own (ERR_TLS_CERT_ALTNAME_INVALID) a message.
  const openssl = typeof e.reason === 'string' && e.reason !== '' && !code.startsWith('ERR_TLS_')
  let text = openssl ? (e.reason as string) : String(e.message ?? err)
  // OpenSSL's certificate checks (UNABLE_TO_VERIFY_LEAF_SIGNATURE, CERT_HAS_EXPIRED, ...):
  // name the code too, it is what operators search for.
  if (/^[A-Z][A-Z0-9_]+$/.test(code) && !code.startsWith('ERR_') && !code.startsWith('E')) {
    text += ` (${code})`
  } else if (code === 'ECONNRESET' || code === 'EPIPE') {
    text = 'connection closed by the server'
  }
  return oneLine(text)
}

/** Where a TLS server connection is (ServerConn keeps it): for the failure reason. */
export const TLS_CONNECTING = 0
/** TCP is up, the handshake is under way. */
export const TLS_HANDSHAKE = 1
/**
 * The handshake is done but nothing came from the server yet. With TLS 1.3 the
 * server checks the client's certificate after the client considers the
 * handshake done, so a refusal lands here.
 */
export const TLS_QUIET = 2
/** The server has sent data. */
export const TLS_OPEN = 3

function isSslCode(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' && (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_'))
}

/**
 * The reason a TLS server connection failed with `err` (null: the server closed
 * it) in `phase`, or null when it is not a TLS matter: a TCP connect error keeps
 * nutcracker's strerror text, an EOF after replies its `unknown`.
 */
export function tlsFailureReason(err: unknown, phase: number): string | null {
  if (phase === TLS_CONNECTING) return null
  if (phase === TLS_HANDSHAKE) {
    const why = err === null ? 'connection closed by the server' : tlsErrorText(err)
    return `TLS handshake failed: ${why}`
  }
  if (err !== null && isSslCode(err)) return `TLS error: ${tlsErrorText(err)}`
  if (phase === TLS_QUIET) {
    const code = (err as { code?: unknown } | null)?.code
    if (err === null || code === 'ECONNRESET' || code === 'EPIPE') {
      return 'TLS error: connection closed by the server right after the handshake'
    }
  }
  return null
}

/**
 * Log de-duplication for TLS failures of a server: the first failure (or one
 * with a new reason) is an error line, repeats are info lines, until a handshake
 * succeeds again. Keyed by any per-server object.
 */
const lastFailure = new WeakMap<object, string>()

/** True when this failure should be logged as an error (first, or a new reason). */
export function firstTlsFailure(server: object, reason: string): boolean {
  if (lastFailure.get(server) === reason) return false
  lastFailure.set(server, reason)
  return true
}

/** A handshake with the server succeeded: the next failure is logged as an error again. */
export function tlsRecovered(server: object): void {
  lastFailure.delete(server)
}
