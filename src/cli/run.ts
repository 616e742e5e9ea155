/**
 * What `walnut ...` does, as a function of its arguments: dispatch to a subcommand
 * (`locate`, `hash`: only as the first word), or parse nutcracker's flags and then,
 * in nutcracker's precedence, print help / version / stats description (-h, -V, -D
 * win over everything and never read the config), test the config (-t), or start.
 *
 * Streams: like nutcracker, everything the main command prints (-h, -V, -D, -t,
 * errors) goes to stderr, so scripts written for nutcracker keep working; the
 * subcommands print their results on stdout and errors on stderr.
 */
import { Logger, LogOpenError } from '../log/logger.js'
import { describeStats } from '../stats/metrics.js'
import { parseArgs, usageText } from './args.js'
import { invalidConfigText, loadForCli, testConf } from './conf-check.js'
import { isDaemonChild, launchDaemon, reportToLauncher } from './daemon.js'
import { runHash } from './hash-tool.js'
import type { CliIO } from './io.js'
import { runLocate } from './locate.js'
import { startProxy } from './start.js'
import { BANNER, VERSION } from './version.js'
import { isWorkerProcess, runWorker, startWorkers } from './workers.js'

/** Runs walnut with `argv` (without node and the script path); resolves to the exit status. */
export async function run(argv: readonly string[], io: CliIO): Promise<number> {
  if (argv[0] === 'locate') return runLocate(argv.slice(1), io)
  if (argv[0] === 'hash') return runHash(argv.slice(1), io)

  const parsed = parseArgs(argv)
  if (!parsed.ok) {
    io.stderr.write(`walnut: ${parsed.message}\n${usageText()}`)
    return 1
  }
  const options = parsed.options
  // --workers: a process the primary forked (same command line) only serves (workers.ts).
  if (isWorkerProcess()) return runWorker(options)
  if (options.help || options.version || options.describeStats) {
    let text = BANNER
    if (options.help || options.describeStats) text += '\n'
    if (options.help) text += usageText()
    if (options.describeStats) text += describeStats()
    io.stderr.write(text)
    return 0
  }
  if (options.testConf) return testConf(options.confFile, io)

  // -d: this process only validates and launches; the daemon is a re-spawned copy (daemon.ts).
  const launcher = options.daemonize && !isDaemonChild()
  // nutcracker: the daemon runs with umask 0 (see daemon.ts).
  if (options.daemonize && !launcher) process.umask(0)
  let logger: Logger
  try {
    logger = new Logger({ output: options.output, level: options.verbosity })
  } catch (err) {
    if (!(err instanceof LogOpenError)) throw err
    io.stderr.write(`walnut: ${err.message}\n`)
    return 1
  }
  try {
    if (!launcher) logger.always('cli', `walnut-${VERSION} started on pid ${process.pid}`)
    const loaded = await loadForCli(options.confFile)
    if (!loaded.ok) {
      // The reason goes to stderr with the "invalid" line; a log file gets it too.
      if (logger.output !== '') logger.error('conf', loaded.reason)
      io.stderr.write(invalidConfigText(options.confFile, loaded.reason))
      logger.always('cli', 'done, exiting')
      await reportToLauncher({ ok: false, reason: loaded.reason })
      return 1
    }
    // Deviation P2: detach only once the configuration is known to be good.
    if (launcher) return await launchDaemon({ stderr: (text) => io.stderr.write(text) })
    const config = loaded.config
    logger.always('cli', `configuration '${options.confFile}' loaded: ${config.pools.length} pools`)
    // The single call site of the proxy: src/core's startProxy replaces start.ts here.
    if (options.workers > 1) return await startWorkers(config, options, logger)
    return await startProxy(config, options, logger)
  } finally {
    logger.close()
  }
}
