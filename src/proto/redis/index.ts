/**
 * The redis protocol object of a pool (`redis: true`): session factories, the
 * handshake a new server connection gets, and the error reply format.
 *
 * Handshake (spec §7, deviation R10): `AUTH <redis_auth>` (`AUTH <redis_auth_user>
 * <redis_auth>` with an ACL user, docs/tls.md) first, then
 * `SELECT <redis_db>` when redis_db > 0, on TCP and unix-socket servers alike
 * (nutcracker 0.5.0 sends SELECT before AUTH, and none at all to unix sockets).
 * Their replies are swallowed; an error reply is logged.
 */

import { readFileSync } from 'node:fs'
import type { PoolConfig } from '../../config/types.js'
import type {
  ClientApi,
  ClientSession,
  HandshakeStep,
  Protocol,
  ReplyFrame,
  ServerApi,
  ServerSession,
} from '../types.js'
import { errorBytes } from './merge.js'
import { KIND_ERROR } from './reply-parser.js'
import { DEFAULT_MAX_REQUEST_SIZE } from './request-parser.js'
import { RedisClientSession, RedisServerSession, type RedisSettings } from './session.js'

export { DEFAULT_MAX_REQUEST_SIZE } from './request-parser.js'
export { REDIS_VERSION } from './session.js'

export interface RedisOptions {
  /** Cap on one request's size in bytes (R12). Default: the pool's `max_request_size`. */
  readonly maxRequestSize?: number
}

/** walnut's version for INFO, from package.json (dist/src/proto/redis → the package root). */
function walnutVersion(): string {
  try {
    const pkg: unknown = JSON.parse(
      readFileSync(new URL('../../../../package.json', import.meta.url), 'utf8'),
    )
    const version = (pkg as { version?: unknown }).version
    return typeof version === 'string' ? version : 'unknown'
  } catch {
    return 'unknown'
  }
}

const STARTED_AT = Date.now()
let cachedVersion: string | undefined

/** `*<n>\r\n` then each argument as a bulk string. */
function command(...args: string[]): Buffer {
  let s = `*${args.length}\r\n`
  for (const a of args) s += `$${Buffer.byteLength(a)}\r\n${a}\r\n`
  return Buffer.from(s)
}

/** The error text of an error reply (`-ERR x\r\n` → `ERR x`), else null. */
function refusal(frame: ReplyFrame): string | null {
  if (frame.kind !== KIND_ERROR) return null
  return frame.stream.view(frame.start + 1, frame.end - 2).toString('latin1')
}

class AuthStep implements HandshakeStep {
  readonly bytes: Buffer

  /** `user`: `redis_auth_user`, for redis 6+ ACLs (`AUTH <user> <password>`). */
  constructor(
    password: string,
    private readonly pool: string,
    user?: string,
  ) {
    this.bytes = user === undefined ? command('AUTH', password) : command('AUTH', user, password)
  }

  /**
   * `where` (e.g. `pool | server`) names the connection in the log line. An
   * arrow property: the core may call it detached from the step.
   */
  readonly check = (frame: ReplyFrame, where: string = this.pool): string | null => {
    const msg = refusal(frame)
    return msg === null ? null : `AUTH failed on ${where}: ${msg}`
  }
}

class SelectStep implements HandshakeStep {
  readonly bytes: Buffer

  constructor(
    private readonly db: number,
    private readonly pool: string,
  ) {
    this.bytes = command('SELECT', String(db))
  }

  /** nutcracker's line: `SELECT N failed on <pool> | <server>: <msg>` (an arrow property, as AUTH's). */
  readonly check = (frame: ReplyFrame, where: string = this.pool): string | null => {
    const msg = refusal(frame)
    return msg === null ? null : `SELECT ${this.db} failed on ${where}: ${msg}`
  }
}

class RedisProtocol implements Protocol {
  readonly name = 'redis' as const
  private readonly settings: RedisSettings
  private readonly steps: readonly HandshakeStep[]

  constructor(pool: PoolConfig, options: RedisOptions) {
    cachedVersion ??= walnutVersion()
    const auth = pool.redisAuth
    // What clients send (docs/tls.md): `client_auth` when set; else the backend's
    // credentials, `redis_auth` (nutcracker) with `redis_auth_user` as the user if set.
    const clientPassword = pool.clientAuth ?? auth
    const clientUser = pool.clientAuth === undefined ? pool.redisAuthUser : undefined
    this.settings = {
      password:
        clientPassword !== undefined && clientPassword.length > 0
          ? Buffer.from(clientPassword)
          : null,
      ...(clientUser !== undefined ? { user: Buffer.from(clientUser) } : {}),
      servers: pool.servers.length,
      // The pool's max_request_size unless the caller overrides it.
      maxRequestSize: options.maxRequestSize ?? pool.maxRequestSize ?? DEFAULT_MAX_REQUEST_SIZE,
      walnutVersion: cachedVersion,
      startedAt: STARTED_AT,
    }
    const steps: HandshakeStep[] = []
    if (auth !== undefined && auth.length > 0) {
      steps.push(new AuthStep(auth, pool.name, pool.redisAuthUser))
    }
    if (pool.redisDb > 0) steps.push(new SelectStep(pool.redisDb, pool.name))
    this.steps = steps
  }

  newClientSession(api: ClientApi): ClientSession {
    return new RedisClientSession(api, this.settings)
  }

  newServerSession(api: ServerApi): ServerSession {
    return new RedisServerSession(api)
  }

  /** R10: the same steps, AUTH then SELECT, whatever the socket kind. */
  handshake(_unixSocket: boolean): readonly HandshakeStep[] {
    return this.steps
  }

  errorReply(reason: string): Buffer {
    return errorBytes(reason)
  }
}

/** The redis protocol object of `pool`. */
export function createRedisProtocol(pool: PoolConfig, options: RedisOptions = {}): Protocol {
  return new RedisProtocol(pool, options)
}
