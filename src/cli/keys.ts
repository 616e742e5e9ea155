/**
 * Key input and buffered output for the operator tools (`walnut locate`, `walnut hash`).
 *
 * Keys come from the command line, or else one per line from stdin (LF; one trailing
 * CR is dropped so CRLF files work). stdin is streamed: each chunk is split in place
 * and only a line that spans two chunks is copied. With `--hex` each key is the hex of
 * its bytes (an empty line is the empty key) and is decoded into one reused buffer.
 * Output is gathered into large chunks and written with backpressure, so a million
 * keys cost a few hundred writes, not a million.
 */
import type { Readable, Writable } from 'node:stream'

/** Bad input the tool reports as `walnut: <tool>: <message>`, exit 1. */
export class KeyInputError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'KeyInputError'
  }
}

/**
 * Called once per key, in input order. `key[keyStart..keyEnd)` are the key's bytes;
 * `echo[echoStart..echoEnd)` is the key as given (the hex text with `--hex`). Both
 * are views valid only during the call.
 */
export type KeyHandler = (
  key: Uint8Array,
  keyStart: number,
  keyEnd: number,
  echo: Uint8Array,
  echoStart: number,
  echoEnd: number,
) => void

const LF = 10
const CR = 13
/** Output is written once this many bytes are gathered. */
const OUT_CHUNK = 64 * 1024

/** -1 for a byte that is not a hex digit, else its value. */
const HEX_VALUE = (() => {
  const t = new Int8Array(256).fill(-1)
  for (let i = 0; i < 10; i++) t[48 + i] = i
  for (let i = 0; i < 6; i++) {
    t[65 + i] = 10 + i
    t[97 + i] = 10 + i
  }
  return t
})()

/** Gathers output bytes and writes them in OUT_CHUNK pieces, honouring backpressure. */
export class OutputBuffer {
  readonly #stream: Writable
  #buf: Buffer = Buffer.allocUnsafe(OUT_CHUNK * 2)
  #len = 0

  constructor(stream: Writable) {
    this.#stream = stream
  }

  /** True when enough is gathered that the caller should `await flush()`. */
  get full(): boolean {
    return this.#len >= OUT_CHUNK
  }

  #reserve(n: number): void {
    if (this.#len + n <= this.#buf.length) return
    const next = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#len + n))
    this.#buf.copy(next, 0, 0, this.#len)
    this.#buf = next
  }

  bytes(src: Uint8Array, start: number, end: number): void {
    const n = end - start
    this.#reserve(n)
    this.#buf.set(src.subarray(start, end), this.#len)
    this.#len += n
  }

  byte(b: number): void {
    this.#reserve(1)
    this.#buf[this.#len++] = b
  }

  /** An unsigned integer < 2^32 in decimal, without building a string. */
  uint(n: number): void {
    this.#reserve(10)
    let digits = 1
    for (let p = 10; p <= n && digits < 10; p *= 10) digits++
    let pos = this.#len + digits
    this.#len = pos
    do {
      this.#buf[--pos] = 48 + (n % 10)
      n = Math.floor(n / 10)
    } while (n > 0)
  }

  /** Writes what is gathered; resolves once the stream can take more. */
  async flush(): Promise<void> {
    if (this.#len === 0) return
    // The stream keeps the buffer it is handed, so hand over this one and start a new one.
    const out = this.#buf.subarray(0, this.#len)
    this.#buf = Buffer.allocUnsafe(Math.max(OUT_CHUNK * 2, this.#buf.length))
    this.#len = 0
    await write(this.#stream, out)
  }
}

function write(stream: Writable, data: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err)
    stream.once('error', onError)
    const ok = stream.write(data, (err) => {
      if (err) reject(err)
    })
    const done = (): void => {
      stream.off('error', onError)
      resolve()
    }
    if (ok) done()
    else stream.once('drain', done)
  })
}

/** Decodes hex keys into one growing, reused buffer. */
class HexDecoder {
  #buf = Buffer.allocUnsafe(256)

  /** Decodes src[start..end) into the shared buffer; returns the byte count, or -1 if not hex. */
  decode(src: Uint8Array, start: number, end: number): number {
    const len = end - start
    if ((len & 1) !== 0) return -1
    const n = len >>> 1
    if (n > this.#buf.length) this.#buf = Buffer.allocUnsafe(Math.max(n, this.#buf.length * 2))
    const out = this.#buf
    for (let i = 0, p = start; i < n; i++, p += 2) {
      // p + 1 < end <= src.length: both reads are in bounds.
      const hi = HEX_VALUE[src[p] as number] as number
      const lo = HEX_VALUE[src[p + 1] as number] as number
      if (hi < 0 || lo < 0) return -1
      out[i] = (hi << 4) | lo
    }
    return n
  }

  get buffer(): Buffer {
    return this.#buf
  }
}

/** How an invalid hex key is shown in the error: at most 64 characters of it. */
function showKey(src: Uint8Array, start: number, end: number): string {
  const text = Buffer.from(src.subarray(start, Math.min(end, start + 64))).toString('utf8')
  return JSON.stringify(end - start > 64 ? `${text}...` : text)
}

/**
 * Feeds every key to `onKey`, in order: the `args` keys if there are any, else the
 * lines of `stdin`. Flushes `out` whenever it fills. Throws KeyInputError for a key
 * that is not valid hex (with `hex`), naming the argument or line.
 */
export async function forEachKey(
  args: readonly string[],
  stdin: Readable,
  hex: boolean,
  out: OutputBuffer,
  onKey: KeyHandler,
): Promise<void> {
  const decoder = new HexDecoder()
  const emit = (src: Uint8Array, start: number, end: number, where: () => string): void => {
    if (!hex) {
      onKey(src, start, end, src, start, end)
      return
    }
    const n = decoder.decode(src, start, end)
    if (n < 0) throw new KeyInputError(`${where()}: invalid hex key ${showKey(src, start, end)}`)
    onKey(decoder.buffer, 0, n, src, start, end)
  }

  if (args.length > 0) {
    for (let i = 0; i < args.length; i++) {
      const bytes = Buffer.from(args[i] as string, 'utf8')
      emit(bytes, 0, bytes.length, () => `argument ${i + 1}`)
      if (out.full) await out.flush()
    }
    return
  }

  let line = 0
  const where = (): string => `line ${line}`
  const emitLine = (src: Uint8Array, start: number, end: number): void => {
    line++
    if (end > start && src[end - 1] === CR) end--
    emit(src, start, end, where)
  }
  let carry: Buffer | undefined
  for await (const data of stdin) {
    const chunk: Buffer = typeof data === 'string' ? Buffer.from(data) : (data as Buffer)
    let pos = 0
    if (carry !== undefined) {
      const nl = chunk.indexOf(LF)
      if (nl < 0) {
        carry = Buffer.concat([carry, chunk])
        continue
      }
      const joined = Buffer.concat([carry, chunk.subarray(0, nl)])
      carry = undefined
      emitLine(joined, 0, joined.length)
      pos = nl + 1
    }
    for (;;) {
      const nl = chunk.indexOf(LF, pos)
      if (nl < 0) break
      emitLine(chunk, pos, nl)
      pos = nl + 1
      if (out.full) await out.flush()
    }
    // Copy the unterminated tail: it is all that survives this chunk.
    if (pos < chunk.length) carry = Buffer.from(chunk.subarray(pos))
  }
  // A last line without LF is still a key; an input ending in LF has no extra empty key.
  if (carry !== undefined) emitLine(carry, 0, carry.length)
}
