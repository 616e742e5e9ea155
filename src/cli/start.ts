/**
 * Running the proxy from the command line, in nutcracker's order: pid file, stats
 * port, (metrics port), each pool's listener; then serve until a signal asks to
 * stop. Resolves with the exit status.
 *
 * Signals (../shared/spec/cli-config.md §6, nutcracker's log wording; signals.ts,
 * shared with the primary of --workers):
 *   SIGHUP           reopen the log file (the notice goes to the old file)
 *   SIGTTIN/SIGTTOU  log level up/down (1 step, 0..11)
 *   SIGUSR1          logged, then the configuration is reloaded (startReloads)
 *   SIGUSR2          logged, nothing else
 *   SIGINT/SIGTERM   graceful drain (deviation P4): stop accepting, answer the
 *                    requests already read, close clients as they finish, wait at
 *                    most --drain-timeout ms, then close the rest; remove the pid
 *                    file and unix socket files; exit 0. A second SIGINT/SIGTERM
 *                    during the drain closes everything at once and exits 1.
 * nutcracker writes its signal lines with a `[.......................]` prefix (it
 * cannot format time in a signal handler); walnut's lines carry the timestamp.
 */
import { statSync, unlinkSync } from 'node:fs'
import type { Config } from '../config/types.js'
import { ProxyServer } from '../core/index.js'
import { Reloader } from '../core/reload.js'
import { resolverFor } from '../core/resolver.js'
import type { Logger } from '../log/logger.js'
import { protocolFor } from '../proto/index.js'
import { type MetricsHttpServer, proxyMetrics, startMetricsServer } from '../stats/prometheus.js'
import { type StatsServer, startStatsServer } from '../stats/server.js'
import { proxyStatsView } from '../stats/snapshot.js'
import type { Options } from './args.js'
import { removePidFile, reportToLauncher, writePidFile } from './daemon.js'
import { drainProxy, releasePidFile, serveSignals } from './signals.js'
import { VERSION } from './version.js'

/** A unix-socket listener, with the inode it was bound as (to remove only our own file). */
interface UnixSocketFile {
  readonly path: string
  readonly ino: number
}

export async function startProxy(
  config: Config,
  options: Options,
  logger: Logger,
): Promise<number> {
  const metricsOn = options.statsMetricsPort !== undefined
  const proxy = new ProxyServer(config, {
    log: logger,
    protocolFor,
    latency: metricsOn,
    resolver: resolverFor(options.dnsServers),
  })
  const startedAt = Date.now()
  const pidFile = options.pidFile
  let pidWritten = false
  let stats: StatsServer | null = null
  let metrics: MetricsHttpServer | null = null
  try {
    if (pidFile !== undefined) {
      writePidFile(pidFile)
      pidWritten = true
    }
    stats = await startStatsServer({
      host: options.statsAddr,
      port: options.statsPort,
      view: proxyStatsView(proxy, { startedAt }),
      log: logger,
    })
    if (options.statsMetricsPort !== undefined) {
      metrics = await startMetricsServer({
        host: options.statsMetricsAddr ?? options.statsAddr,
        port: options.statsMetricsPort,
        render: proxyMetrics(proxy.pools, { version: VERSION, startedAt, latency: true }),
        log: logger,
      })
    }
    await proxy.listen()
  } catch (err) {
    await Promise.all([stats?.close(), metrics?.close()])
    if (pidWritten && pidFile !== undefined) removePidFile(pidFile)
    const reason = err instanceof Error ? err.message : String(err)
    logger.error('proxy', reason)
    logger.always('cli', 'done, exiting')
    await reportToLauncher({ ok: false, reason })
    return 1
  }
  const socketFiles = unixSocketFiles(config)
  await reportToLauncher({ ok: true, pid: process.pid })
  const reloads = startReloads(proxy, options, logger)
  return serveSignals(logger, {
    drain: (forced) => drainProxy(proxy, options.drainTimeout, logger, forced),
    force: () => void proxy.close(),
    cleanup: async () => {
      await reloads.close()
      await Promise.all([stats?.close(), metrics?.close()])
      removeSocketFiles(socketFiles, logger)
      if (pidWritten && pidFile !== undefined) releasePidFile(pidFile, logger)
    },
  })
}

/**
 * Config reload (src/core/reload.ts, docs/dns-and-reload.md) on SIGUSR1 — not
 * SIGHUP, which logrotate sends to reopen the log — and, with --watch-config,
 * when the file changes. A stop signal ends reloading at once.
 */
function startReloads(
  proxy: ProxyServer,
  options: Options,
  logger: Logger,
): { close(): Promise<void> } {
  const reloader = new Reloader(proxy, { path: options.confFile, log: logger })
  const onReload = () => void reloader.reload('SIGUSR1')
  const onStop = () => void reloader.close()
  const hooks: [NodeJS.Signals, () => void][] = [
    ['SIGUSR1', onReload],
    ['SIGINT', onStop],
    ['SIGTERM', onStop],
  ]
  for (const [sig, fn] of hooks) process.on(sig, fn)
  if (options.watchConfig) reloader.watch()
  return {
    close: async () => {
      for (const [sig, fn] of hooks) process.off(sig, fn)
      await reloader.close()
    },
  }
}

/** The unix-socket listeners of `config` as bound now (path and inode). */
function unixSocketFiles(config: Config): UnixSocketFile[] {
  const out: UnixSocketFile[] = []
  for (const pool of config.pools) {
    const l = pool.listen
    if (l.kind !== 'unix') continue
    try {
      out.push({ path: l.path, ino: statSync(l.path).ino })
    } catch {
      // not there: nothing to remove later
    }
  }
  return out
}

/**
 * Removes the unix-socket files still there after the listeners closed (Node
 * usually removes them itself), but only a file that is still the one we bound:
 * a new instance may already listen on the same path.
 */
function removeSocketFiles(files: readonly UnixSocketFile[], logger: Logger): void {
  for (const f of files) {
    let ino: number
    try {
      ino = statSync(f.path).ino
    } catch {
      logger.notice('cli', `removed unix socket '${f.path}'`)
      continue
    }
    if (ino !== f.ino) {
      logger.warn('cli', `unix socket '${f.path}' was replaced by another process: left`)
      continue
    }
    try {
      unlinkSync(f.path)
      logger.notice('cli', `removed unix socket '${f.path}'`)
    } catch (err) {
      logger.warn('cli', `removing unix socket '${f.path}' failed: ${String(err)}`)
    }
  }
}
