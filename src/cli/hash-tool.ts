/**
 * `walnut hash [--hash NAME] [--hex] [KEY ...]`: the unsigned 32-bit value of each
 * key under nutcracker's hash functions (issue 2 §5). With --hash, one line per key,
 * `KEY<TAB>VALUE`; without it, one line per key and function, `KEY<TAB>NAME<TAB>VALUE`,
 * functions in the HASHES table order. Keys from the arguments, else one per line on stdin.
 *
 * The value is the function's own result over the whole key, as in the vectors'
 * hash.tsv: no hash_tag, and the empty key gets the function's raw value (routing
 * never hashes an empty key; `walnut locate` answers where a key goes).
 */
import { HASH_NAMES, type HashName } from '../config/types.js'
import { HASHES } from '../hash/index.js'
import type { CliIO } from './io.js'
import { forEachKey, KeyInputError, OutputBuffer } from './keys.js'
import { parseToolArgs, type ToolFlag } from './tool-args.js'

const TAB = 9
const LF = 10

const FLAGS: readonly ToolFlag[] = [
  { short: 'h', long: 'help', hasArg: false },
  { short: undefined, long: 'hash', hasArg: true },
  { short: undefined, long: 'hex', hasArg: false },
]

export const HASH_USAGE =
  'Usage: walnut hash [--hash name] [--hex] [--] [key ...]\n' +
  '  --hash=S : print only this function (one of: ' +
  HASH_NAMES.join(' ') +
  ')\n' +
  '  --hex    : keys are given as hex of their bytes (on stdin an empty line is the empty key)\n' +
  '  keys come from the arguments, else one per line on stdin\n'

function isHashName(s: string): s is HashName {
  return (HASH_NAMES as readonly string[]).includes(s)
}

export async function runHash(argv: readonly string[], io: CliIO): Promise<number> {
  const args = parseToolArgs(argv, FLAGS)
  if (!args.ok) {
    io.stderr.write(`walnut hash: ${args.message}\n${HASH_USAGE}`)
    return 1
  }
  if (args.values.has('help')) {
    io.stderr.write(HASH_USAGE)
    return 0
  }
  const only = args.values.get('hash')
  if (typeof only === 'string' && !isHashName(only)) {
    io.stderr.write(`walnut hash: unknown hash '${only}' (one of: ${HASH_NAMES.join(' ')})\n`)
    return 1
  }
  const out = new OutputBuffer(io.stdout)
  let onKey: Parameters<typeof forEachKey>[4]
  if (typeof only === 'string') {
    const fn = HASHES[only]
    onKey = (key, ks, ke, echo, es, ee) => {
      out.bytes(echo, es, ee)
      out.byte(TAB)
      out.uint(fn(key, ks, ke))
      out.byte(LF)
    }
  } else {
    // One label per function, in the HASHES table's order.
    const fns = Object.entries(HASHES).map(
      ([name, fn]) => [Buffer.from(`\t${name}\t`), fn] as const,
    )
    onKey = (key, ks, ke, echo, es, ee) => {
      for (const [label, fn] of fns) {
        out.bytes(echo, es, ee)
        out.bytes(label, 0, label.length)
        out.uint(fn(key, ks, ke))
        out.byte(LF)
      }
    }
  }
  try {
    await forEachKey(args.positionals, io.stdin, args.values.has('hex'), out, onKey)
  } catch (err) {
    await out.flush()
    if (err instanceof KeyInputError) {
      io.stderr.write(`walnut hash: ${err.message}\n`)
      return 1
    }
    throw err
  }
  await out.flush()
  return 0
}
