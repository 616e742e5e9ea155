/**
 * Starting the proxy from the command line, in nutcracker's order: build the
 * pools, bind the stats port, bind each pool's listener, then serve until a
 * signal asks to stop; resolves with the exit status.
 */
import type { Config } from '../config/types.js'
import { ProxyServer } from '../core/index.js'
import type { Logger } from '../log/logger.js'
import { protocolFor } from '../proto/index.js'
import { type StatsServer, startStatsServer } from '../stats/server.js'
import { proxyStatsView } from '../stats/snapshot.js'
import type { Options } from './args.js'

export async function startProxy(
  config: Config,
  options: Options,
  logger: Logger,
): Promise<number> {
  const proxy = new ProxyServer(config, { log: logger, protocolFor })
  let stats: StatsServer | null = null
  try {
    stats = await startStatsServer({
      host: options.statsAddr,
      port: options.statsPort,
      view: proxyStatsView(proxy),
      log: logger,
    })
    await proxy.listen()
  } catch (err) {
    await stats?.close()
    logger.error('proxy', err instanceof Error ? err.message : String(err))
    logger.always('cli', 'done, exiting')
    return 1
  }
  return new Promise<number>((resolve) => {
    const stop = (name: string, num: number) => {
      logger.always('signal', `signal ${num} (${name}) received, exiting`)
      for (const [sig, fn] of handlers) process.off(sig, fn)
      Promise.all([proxy.close(), stats?.close()]).then(
        () => resolve(0),
        () => resolve(1),
      )
    }
    const handlers: [NodeJS.Signals, () => void][] = [
      ['SIGINT', () => stop('SIGINT', 2)],
      ['SIGTERM', () => stop('SIGTERM', 15)],
      [
        'SIGHUP',
        () => {
          logger.always('signal', 'signal 1 (SIGHUP) received, reopening log file')
          logger.reopen()
        },
      ],
      [
        'SIGTTIN',
        () => {
          logger.always('signal', 'signal 21 (SIGTTIN) received, up logging level')
          logger.always('signal', `up log level to ${logger.levelUp()}`)
        },
      ],
      [
        'SIGTTOU',
        () => {
          logger.always('signal', 'signal 22 (SIGTTOU) received, down logging level')
          logger.always('signal', `down log level to ${logger.levelDown()}`)
        },
      ],
    ]
    for (const [sig, fn] of handlers) process.on(sig, fn)
  })
}
