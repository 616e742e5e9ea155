/**
 * The memcache (ASCII) protocol object of a pool: nutcracker's memcache proto
 * table (parse request, parse reply, fragment, coalesce, error reply) behind
 * the core's Protocol interface (src/proto/types.ts). No handshake: memcached
 * needs no AUTH or SELECT.
 */

import type { PoolConfig } from '../../config/types.js'
import type { HandshakeStep, Protocol } from '../types.js'
import type { RequestParserOptions } from './request-parser.js'
import { MemcacheClientSession, MemcacheServerSession, serverError } from './session.js'

export { COMMANDS } from './commands.js'
export * from './reply-parser.js'
export {
  DEFAULT_MAX_REQUEST_SIZE,
  MAX_KEY_LENGTH,
  REJECT_TEXT,
  RequestParser,
} from './request-parser.js'
export { GetMerge, MemcacheClientSession, MemcacheServerSession } from './session.js'

export interface MemcacheOptions {
  /** Largest request accepted (command line + data block). Default: the pool's `max_request_size`. */
  readonly maxRequestSize?: number
}

const NO_STEPS: readonly HandshakeStep[] = []

export function createMemcacheProtocol(pool: PoolConfig, options: MemcacheOptions = {}): Protocol {
  // The pool's max_request_size unless the caller overrides it (test doubles may lack it).
  const max = options.maxRequestSize ?? pool.maxRequestSize
  const parserOptions: RequestParserOptions = max === undefined ? {} : { maxRequestSize: max }
  return {
    name: 'memcache',
    newClientSession: (api) => new MemcacheClientSession(api, parserOptions, pool.servers.length),
    newServerSession: (api) => new MemcacheServerSession(api),
    handshake: () => NO_STEPS,
    errorReply: serverError,
  }
}
