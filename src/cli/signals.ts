/**
 * The signal handling and shutdown that a single proxy process (start.ts) and
 * the primary of --workers (workers.ts) share, with nutcracker's log wording
 * (../shared/spec/cli-config.md §6): SIGHUP reopens the log, SIGTTIN/SIGTTOU
 * step the level, SIGUSR1/SIGUSR2 are logged, the first SIGINT/SIGTERM drains
 * (deviation P4) and a second one during the drain closes everything and makes
 * the exit status 1. What differs (draining one proxy or N workers, telling
 * workers about a new level) comes in as hooks.
 */
import type { ProxyServer } from '../core/index.js'
import { LOG_LEVEL_MAX, LOG_LEVEL_MIN, type Logger } from '../log/logger.js'
import { removePidFile } from './daemon.js'

/** After the shutdown, the process ends within this even if a handle is left open. */
export const EXIT_GRACE_MS = 2000

export interface ShutdownHooks {
  /** The first SIGINT/SIGTERM: drain; `forced()` turns true if a second one arrives meanwhile. */
  drain(forced: () => boolean): Promise<void>
  /** A second SIGINT/SIGTERM during the drain: close everything now. */
  force(): void
  /** After the drain: close the listeners, remove files. */
  cleanup(): Promise<void>
  /** After SIGHUP reopened the log. */
  reopened?(): void
  /** After SIGTTIN/SIGTTOU changed the log level. */
  levelChanged?(): void
  /** SIGUSR1 (after its line), unless a stop signal came first. */
  usr1?(): void
}

/** Handles the signals until a drain has finished; resolves with the exit status. */
export function serveSignals(logger: Logger, hooks: ShutdownHooks): Promise<number> {
  return new Promise<number>((resolve) => {
    let stopping = false
    let forced = false
    const stop = (name: string, num: number) => {
      if (stopping) {
        logger.always('signal', `signal ${num} (${name}) received again, closing all connections`)
        forced = true
        hooks.force()
        return
      }
      stopping = true
      logger.always('signal', `signal ${num} (${name}) received, exiting`)
      void finish()
    }
    const finish = async () => {
      await hooks.drain(() => forced)
      await hooks.cleanup()
      for (const [sig, fn] of handlers) process.off(sig, fn)
      logger.always('cli', 'done, exiting')
      // Every handle is closed by now; this only guards against one left open by mistake.
      const code = forced ? 1 : 0
      setTimeout(() => process.exit(code), EXIT_GRACE_MS).unref()
      resolve(code)
    }
    const handlers: [NodeJS.Signals, () => void][] = [
      ['SIGINT', () => stop('SIGINT', 2)],
      ['SIGTERM', () => stop('SIGTERM', 15)],
      [
        'SIGHUP',
        () => {
          logger.always('signal', 'signal 1 (SIGHUP) received, reopening log file')
          logger.reopen()
          hooks.reopened?.()
        },
      ],
      [
        'SIGTTIN',
        () => {
          logger.always('signal', 'signal 21 (SIGTTIN) received, up logging level')
          // nutcracker: at the maximum the level stays and only the first line is logged.
          if (logger.level < LOG_LEVEL_MAX) {
            logger.always('signal', `up log level to ${logger.levelUp()}`)
            hooks.levelChanged?.()
          }
        },
      ],
      [
        'SIGTTOU',
        () => {
          logger.always('signal', 'signal 22 (SIGTTOU) received, down logging level')
          if (logger.level > LOG_LEVEL_MIN) {
            logger.always('signal', `down log level to ${logger.levelDown()}`)
            hooks.levelChanged?.()
          }
        },
      ],
      [
        'SIGUSR1',
        () => {
          logger.always('signal', 'signal 10 (SIGUSR1) received')
          if (!stopping) hooks.usr1?.()
        },
      ],
      ['SIGUSR2', () => logger.always('signal', 'signal 12 (SIGUSR2) received')],
    ]
    for (const [sig, fn] of handlers) process.on(sig, fn)
  })
}

/**
 * Drains one proxy (deviation P4): stop accepting, let the clients finish for at
 * most `boundMs`, log how it ended. `forced()` true at the start closes at once.
 */
export async function drainProxy(
  proxy: ProxyServer,
  boundMs: number,
  logger: Logger,
  forced: () => boolean,
): Promise<void> {
  const t0 = Date.now()
  // Closed before it is logged: once the line is out, connections are refused.
  proxy.stopAccepting()
  logger.notice(
    'cli',
    `stopped accepting; draining ${proxy.clientCount} clients for at most ${boundMs} ms`,
  )
  if (forced()) void proxy.close()
  const cut = await proxy.drain(boundMs)
  const ms = Date.now() - t0
  if (forced()) logger.notice('cli', `drain cut short after ${ms} ms`)
  else if (cut > 0) logger.notice('cli', `drain timed out after ${ms} ms: closed ${cut} clients`)
  else logger.notice('cli', `drained in ${ms} ms`)
}

/** Removes our pid file at exit, or says why it is left (another process's pid in it). */
export function releasePidFile(pidFile: string, logger: Logger): void {
  if (removePidFile(pidFile)) logger.notice('cli', `removed pid file '${pidFile}'`)
  else logger.warn('cli', `pid file '${pidFile}' no longer holds pid ${process.pid}: left`)
}
