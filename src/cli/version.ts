/**
 * walnut's version, read from package.json at run time (so a release bump needs no
 * code change), and the banner that `-V`, `-h` and `-D` print.
 */
import { readFileSync } from 'node:fs'

function readVersion(): string {
  // Compiled to dist/src/cli/version.js: the package root is three levels up.
  const url = new URL('../../../package.json', import.meta.url)
  const pkg: unknown = JSON.parse(readFileSync(url, 'utf8'))
  const version = (pkg as { version?: unknown }).version
  if (typeof version !== 'string') throw new Error(`${url.pathname}: no "version" string`)
  return version
}

export const VERSION: string = readVersion()

/** `This is walnut-<version>`: nutcracker's banner line with walnut's name. */
export const BANNER = `This is walnut-${VERSION}\n`
