/**
 * What the stats port (server.ts) and the metrics port (prometheus.ts) do alike
 * with their listener: bind, failing with a ProxyError in nutcracker's words;
 * log the errors the listener meets afterwards; close, dropping the
 * connections still open. Each server keeps its own messages.
 */
import type { AddressInfo, Server, Socket } from 'node:net'
import { ProxyError } from '../errors.js'
import { LOG_ERR } from '../log/logger.js'
import { strerror } from '../log/strerror.js'
import type { StatsLog } from './server.js'

export interface BindOptions {
  /** The resolved address to bind, and the port (0: a free one). */
  readonly address: string
  readonly port: number
  /** The failure's message up to ` failed: <strerror>`, e.g. `bind on metrics addr 'h:p'`. */
  readonly bindWhat: string
  /** Logged as `<acceptWhat> failed: <strerror>` when the listener errs later. */
  readonly acceptWhat: string
  readonly module: string
  readonly log: StatsLog
}

/** Listens; rejects with NC_ERR_LISTEN when the address cannot be bound. */
export async function bindListener(server: Server, o: BindOptions): Promise<AddressInfo> {
  await new Promise<void>((done, fail) => {
    const onError = (err: Error) =>
      fail(
        new ProxyError('NC_ERR_LISTEN', `${o.bindWhat} failed: ${strerror(err)}`, { cause: err }),
      )
    server.once('error', onError)
    server.listen({ host: o.address, port: o.port }, () => {
      server.off('error', onError)
      done()
    })
  })
  server.on('error', (err) => {
    o.log.log(LOG_ERR, o.module, `${o.acceptWhat} failed: ${strerror(err)}`)
  })
  return server.address() as AddressInfo
}

/** Destroys the connections still open, then stops listening. */
export function closeListener(server: Server, sockets: ReadonlySet<Socket>): Promise<void> {
  return new Promise<void>((done) => {
    for (const s of sockets) s.destroy()
    if (!server.listening) return done()
    server.close(() => done())
  })
}
