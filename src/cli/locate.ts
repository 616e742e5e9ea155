/**
 * `walnut locate -c FILE [--pool NAME] [--hex] [KEY ...]`: where nutcracker would
 * send each key (issue 2 §5). One line per key, in input order:
 *
 *   KEY<TAB>INDEX<TAB>SERVER
 *
 * KEY as given, INDEX the 0-based position of the server in the pool's `servers:`
 * list as written, SERVER that entry as written. Keys from the arguments, else one
 * per line on stdin. Placement is the proxy's own (src/hash/placement.ts) with every
 * server live; nothing touches the network. The per-server `\tINDEX\tSERVER\n` tails
 * are built once, so a key costs one hash and two buffer copies.
 */
import { Placement } from '../hash/placement.js'
import { invalidConfigText, loadForCli } from './conf-check.js'
import type { CliIO } from './io.js'
import { forEachKey, KeyInputError, OutputBuffer } from './keys.js'
import { parseToolArgs, type ToolFlag } from './tool-args.js'

const FLAGS: readonly ToolFlag[] = [
  { short: 'h', long: 'help', hasArg: false },
  { short: 'c', long: 'conf-file', hasArg: true },
  { short: undefined, long: 'pool', hasArg: true },
  { short: undefined, long: 'hex', hasArg: false },
]

const DEFAULT_CONF = 'conf/walnut.yml'

export const LOCATE_USAGE =
  'Usage: walnut locate [-c conf file] [--pool name] [--hex] [--] [key ...]\n' +
  `  -c, --conf-file=S : configuration file (default: ${DEFAULT_CONF})\n` +
  '  --pool=S          : pool to place keys in (default: the first pool in the file)\n' +
  '  --hex             : keys are given as hex of their bytes (on stdin an empty line is the empty key)\n' +
  '  keys come from the arguments, else one per line on stdin; output: key, index in servers:, server\n'

export async function runLocate(argv: readonly string[], io: CliIO): Promise<number> {
  const args = parseToolArgs(argv, FLAGS)
  if (!args.ok) {
    io.stderr.write(`walnut locate: ${args.message}\n${LOCATE_USAGE}`)
    return 1
  }
  if (args.values.has('help')) {
    io.stderr.write(LOCATE_USAGE)
    return 0
  }
  const confValue = args.values.get('conf-file')
  const path = typeof confValue === 'string' ? confValue : DEFAULT_CONF
  const poolValue = args.values.get('pool')
  const poolName = typeof poolValue === 'string' ? poolValue : undefined

  const loaded = await loadForCli(path)
  if (!loaded.ok) {
    io.stderr.write(invalidConfigText(path, loaded.reason))
    return 1
  }
  // Without --pool: the pool written first in the file (pools are held in nutcracker's order).
  const pool = loaded.config.pools.find((p) =>
    poolName === undefined ? p.index === 0 : p.name === poolName,
  )
  if (pool === undefined) {
    io.stderr.write(`walnut locate: no pool '${poolName}' in '${path}'\n`)
    return 1
  }
  if (pool.distribution === 'random') {
    io.stderr.write(
      `walnut locate: pool '${pool.name}' uses distribution random: keys have no fixed server\n`,
    )
    return 1
  }

  const placement = new Placement(pool)
  // Index: internal (sorted) server position → `\t<index as written>\t<entry as written>\n`.
  const tails = pool.servers.map((s) => Buffer.from(`\t${s.index}\t${s.text}\n`))
  const out = new OutputBuffer(io.stdout)
  try {
    await forEachKey(
      args.positionals,
      io.stdin,
      args.values.has('hex'),
      out,
      (key, ks, ke, echo, es, ee) => {
        const tail = tails[placement.serverFor(key, ks, ke)] as Buffer
        out.bytes(echo, es, ee)
        out.bytes(tail, 0, tail.length)
      },
    )
  } catch (err) {
    await out.flush()
    if (err instanceof KeyInputError) {
      io.stderr.write(`walnut locate: ${err.message}\n`)
      return 1
    }
    throw err
  }
  await out.flush()
  return 0
}
