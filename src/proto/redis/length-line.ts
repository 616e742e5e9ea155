/**
 * The `<digits>\r\n` that follows a RESP `*` or `$`, read in one pass by the
 * fast paths of both redis parsers (request-parser.ts, reply-parser.ts). It
 * accepts only what every fast path accepts: 1 to 9 digits, then CRLF, all in
 * the chunk. Whatever else a caller refuses (a leading zero) it checks itself;
 * everything refused here is left to the parsers' state machines.
 */

const CR = 13
const LF = 10
const ZERO = 48
const NINE = 57

/** The number the last successful lengthLine read. */
export const lengthRead = { value: 0 }

/** Index past the LF of the length line at `chunk[i]` (its first digit), or -1. */
export function lengthLine(chunk: Buffer, i: number): number {
  const len = chunk.length
  const first = i
  let n = 0
  while (i < len) {
    const c = chunk[i]!
    if (c < ZERO || c > NINE) break
    n = n * 10 + (c - ZERO)
    i++
  }
  const digits = i - first
  if (digits === 0 || digits > 9 || i + 1 >= len || chunk[i] !== CR || chunk[i + 1] !== LF) {
    return -1
  }
  lengthRead.value = n
  return i + 2
}
