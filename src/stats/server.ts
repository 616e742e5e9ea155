/**
 * The stats port (`-a`/`-s`, default 0.0.0.0:22222): on accept it writes the stats
 * document and closes, like nutcracker 0.5.0 (../shared/spec/stats.md §1). The
 * client needs to send nothing; `nc host 22222` prints the JSON at once.
 *
 *   accept → view() → statsJson → end(doc) → close (client's FIN, or after LINGER)
 *
 * Decisions:
 *  - The document is written on accept, never after waiting for client bytes. The
 *    Prometheus endpoint will be a separate `--metrics-port` HTTP listener, so this
 *    server never looks at what a client sends and has no protocol to sniff: a
 *    short wait for `GET /metrics` would delay every plain connect.
 *  - Bytes a client does send are discarded (read and dropped, never parsed), and
 *    after the document the socket waits briefly for the client's close. nutcracker
 *    closes with those bytes unread, which turns its close into an RST that can cut
 *    the document short (E-16: "sometimes ECONNRESET"); here the client gets the
 *    whole document and a clean EOF.
 *  - Bounded: a client that does not read the document is dropped after
 *    STATS_SEND_TIMEOUT_MS (nutcracker's blocking write would wait forever), one
 *    that does not close after STATS_LINGER_MS.
 *  - Stats-port connections are not counted in total/curr_connections.
 *  - Errors keep nutcracker's text. The bind message drops nutcracker's `m <fd>`
 *    number, which has no meaning here: `bind on m to stats server addr ...`.
 */

import { lookup } from 'node:dns/promises'
import { type AddressInfo, createServer, type Socket } from 'node:net'
import { ProxyError } from '../errors.js'
import { LOG_ERR, LOG_INFO, LOG_NOTICE, LOG_VERB } from '../log/logger.js'
import { gaiText, NAME_NOT_KNOWN, strerror } from '../log/strerror.js'
import { type StatsView, statsJson } from './json.js'
import { bindListener, closeListener } from './listener.js'

/** Longest time from accept until the whole document is handed to the kernel. */
export const STATS_SEND_TIMEOUT_MS = 30_000
/** Longest wait for the client's close once the document is sent. */
export const STATS_LINGER_MS = 1_000

const MODULE = 'stats'

/** The logger as this module uses it (src/log/logger.ts's Logger fits). */
export interface StatsLog {
  enabled(level: number): boolean
  log(level: number, module: string, message: string | (() => string)): void
}

export interface StatsServerOptions {
  /** `-a`: a host name or address, resolved once at start. */
  readonly host: string
  /** `-s`; 0 picks a free port (tests). */
  readonly port: number
  /**
   * Called on every accept; returns what the document reports at that moment. A
   * promise (--workers: the primary asks each worker first) delays the document.
   */
  readonly view: () => StatsView | Promise<StatsView>
  readonly log: StatsLog
}

export interface StatsServer {
  /** Where the listener is bound (the real port when 0 was asked for). */
  readonly address: AddressInfo
  /** Stats connections open now (they are not counted in curr_connections). */
  openConnections(): number
  /** Stops listening and drops any stats connection still open. */
  close(): Promise<void>
}

function resolutionError(host: string, port: number, cause?: unknown): ProxyError {
  // No code (an empty host) or one gai_strerror does not name: getaddrinfo's EAI_NONAME text.
  const text = gaiText(cause) ?? NAME_NOT_KNOWN
  return new ProxyError(
    'NC_ERR_LISTEN',
    `address resolution of node '${host}' service '${port}' failed: ${text}`,
    { cause },
  )
}

/** Resolves `host` (first address, as getaddrinfo orders them). */
async function resolve(host: string, port: number): Promise<string> {
  // getaddrinfo("") fails; Node would instead warn and return no address.
  if (host === '') throw resolutionError(host, port)
  try {
    const { address } = await lookup(host)
    return address
  } catch (err) {
    throw resolutionError(host, port, err)
  }
}

/**
 * Resolves and binds the stats listener. Rejects with a ProxyError carrying
 * nutcracker's message when the address does not resolve or cannot be bound.
 */
export async function startStatsServer(options: StatsServerOptions): Promise<StatsServer> {
  const { host, port, view, log } = options
  const address = await resolve(host, port)
  const sockets = new Set<Socket>()

  const server = createServer({ allowHalfOpen: false }, (socket) => {
    sockets.add(socket)
    const who = `${socket.remoteAddress}:${socket.remotePort}`
    // Bounds the whole exchange; replaced by the linger bound once the document is out.
    let timer = setTimeout(() => socket.destroy(), STATS_SEND_TIMEOUT_MS).unref()
    socket.on('error', (err) => {
      log.log(LOG_INFO, MODULE, () => `send stats to ${who} failed: ${strerror(err)}`)
    })
    socket.on('close', () => {
      clearTimeout(timer)
      sockets.delete(socket)
    })
    // Discard anything the client sends (see the file comment); never parsed.
    socket.resume()
    const failed = (err: unknown) => {
      log.log(LOG_ERR, MODULE, () => `stats document failed: ${String(err)}`)
      socket.destroy()
    }
    const send = (v: StatsView) => {
      if (socket.destroyed) return
      let doc: string
      try {
        doc = statsJson(v)
      } catch (err) {
        return failed(err)
      }
      socket.end(doc, () => {
        if (socket.destroyed) return
        if (log.enabled(LOG_VERB)) {
          log.log(LOG_VERB, MODULE, `send stats to ${who} ${Buffer.byteLength(doc)} bytes`)
        }
        clearTimeout(timer)
        timer = setTimeout(() => socket.destroy(), STATS_LINGER_MS).unref()
      })
    }
    let v: StatsView | Promise<StatsView>
    try {
      v = view()
    } catch (err) {
      return failed(err)
    }
    if (v instanceof Promise) v.then(send, failed)
    else send(v)
  })

  const bound = await bindListener(server, {
    address,
    port,
    bindWhat: `bind on m to stats server addr '${host}:${port}'`,
    acceptWhat: `accept on m ${host}:${port}`,
    module: MODULE,
    log,
  })
  log.log(LOG_NOTICE, MODULE, `m listening on '${host}:${bound.port}'`)

  return {
    address: bound,
    openConnections: () => sockets.size,
    close: () => closeListener(server, sockets),
  }
}
