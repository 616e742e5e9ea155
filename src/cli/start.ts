/**
 * PLACEHOLDER for the proxy start-up. The core issue replaces the body of
 * `startProxy` (or main.ts's single call site) with src/core's startProxy: bind the
 * pools, serve, and resolve with the exit status on shutdown. Until then walnut
 * stops after loading the configuration, as issue 2 §1 allows.
 */
import type { Config } from '../config/types.js'
import type { Logger } from '../log/logger.js'
import type { Options } from './args.js'

export async function startProxy(
  _config: Config,
  _options: Options,
  logger: Logger,
): Promise<number> {
  logger.always('cli', 'proxying is not built yet; exiting')
  return 0
}
