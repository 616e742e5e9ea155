/**
 * Every-split runner for streaming parser tests (STYLE.md §1.4): a case is run
 * on its input whole, byte by byte, and split in two at every offset, and every
 * run must give the same result. A parser that keeps state across chunks wrong
 * (a CRLF torn between chunks, a length prefix cut in the middle, a key that
 * straddles two buffers) fails here even when the whole-input run passes.
 *
 * Generic: `run` gets the chunks and returns whatever the test compares
 * (frames, recorded calls, bytes); results are compared with deepStrictEqual.
 * Each chunk is a fresh copy, so a parser cannot read past its chunk's end.
 */
import assert from 'node:assert/strict'

/** One way to cut an input into chunks. */
export interface Split {
  /** `whole`, `byte-by-byte`, or `split@<offset>`; used in failure messages. */
  readonly label: string
  readonly chunks: readonly Buffer[]
}

export interface SplitOptions {
  /** Feed the input one byte per chunk as well (default true). Turn off for very large inputs. */
  readonly byteByByte?: boolean
  /**
   * Where to cut the input in two. Default: every offset 1..length-1. Large
   * inputs pass a few chosen offsets (around headers, data edges, CRLFs).
   */
  readonly offsets?: Iterable<number>
}

function copy(input: Uint8Array, start: number, end: number): Buffer {
  return Buffer.from(input.subarray(start, end))
}

/** The splits of `input`: whole, then byte by byte, then in two at each offset. */
export function* splitsOf(input: Uint8Array, options: SplitOptions = {}): Generator<Split> {
  const len = input.length
  yield { label: 'whole', chunks: len > 0 ? [copy(input, 0, len)] : [] }
  if (options.byteByByte !== false && len > 1) {
    const bytes: Buffer[] = []
    for (let i = 0; i < len; i++) bytes.push(copy(input, i, i + 1))
    yield { label: 'byte-by-byte', chunks: bytes }
  }
  const offsets = options.offsets ?? everyOffset(len)
  for (const at of offsets) {
    if (at <= 0 || at >= len) continue
    yield { label: `split@${at}`, chunks: [copy(input, 0, at), copy(input, at, len)] }
  }
}

function* everyOffset(len: number): Generator<number> {
  for (let at = 1; at < len; at++) yield at
}

/**
 * Runs `run` on every split of `input` and asserts that each run returns the
 * same as the whole-input run, and that equals `expected` when given. Returns
 * the whole-input result so the caller can make further assertions.
 */
export function forEverySplit<T>(
  input: Uint8Array,
  run: (chunks: readonly Buffer[], label: string) => T,
  options: SplitOptions & { readonly expected?: T } = {},
): T {
  let first: T | undefined
  let have = false
  for (const split of splitsOf(input, options)) {
    const got = run(split.chunks, split.label)
    if (!have) {
      first = got
      have = true
      if (options.expected !== undefined) {
        assert.deepStrictEqual(got, options.expected, `${split.label}: unexpected result`)
      }
    } else {
      assert.deepStrictEqual(got, first, `${split.label}: differs from the whole-input run`)
    }
  }
  return first as T
}
