/**
 * Key input for the tools without a process: stdin split at every byte boundary
 * gives the same keys, lines spanning chunks, CRLF, hex decoding, and the output
 * buffer's number formatting and backpressure.
 */
import assert from 'node:assert/strict'
import { Readable, Writable } from 'node:stream'
import { describe, test } from 'node:test'
import { forEachKey, KeyInputError, OutputBuffer } from '../../src/cli/keys.js'

/** A Writable that collects everything, optionally slow to drain. */
function sink(highWaterMark = 16 * 1024) {
  const parts: Buffer[] = []
  let writes = 0
  const stream = new Writable({
    highWaterMark,
    write(chunk: Buffer, _enc, cb) {
      writes++
      parts.push(Buffer.from(chunk))
      setImmediate(cb)
    },
  })
  return { stream, text: () => Buffer.concat(parts).toString('latin1'), writes: () => writes }
}

/** Runs forEachKey over stdin chunks; returns `key-hex|echo` per key. */
async function keysOf(chunks: Buffer[], hex: boolean, args: string[] = []): Promise<string[]> {
  const got: string[] = []
  const out = new OutputBuffer(sink().stream)
  await forEachKey(args, Readable.from(chunks), hex, out, (k, ks, ke, e, es, ee) => {
    got.push(
      `${Buffer.from(k.subarray(ks, ke)).toString('hex')}|${Buffer.from(e.subarray(es, ee)).toString('latin1')}`,
    )
  })
  return got
}

describe('forEachKey', () => {
  const input = Buffer.from('alpha\n\nbeta\r\n\xff\x00z\ngamma-without-lf', 'latin1')
  const want = [
    `${Buffer.from('alpha').toString('hex')}|alpha`,
    '|',
    `${Buffer.from('beta').toString('hex')}|beta`,
    'ff007a|\xff\x00z',
    `${Buffer.from('gamma-without-lf').toString('hex')}|gamma-without-lf`,
  ]

  test('raw lines, whole input', async () => {
    assert.deepEqual(await keysOf([input], false), want)
  })

  test('raw lines, split in two at every offset and byte by byte', async () => {
    for (let i = 0; i <= input.length; i++) {
      assert.deepEqual(
        await keysOf([input.subarray(0, i), input.subarray(i)], false),
        want,
        `split ${i}`,
      )
    }
    const bytes = [...input].map((b) => Buffer.from([b]))
    assert.deepEqual(await keysOf(bytes, false), want)
  })

  test('an input ending in LF has no extra empty key; an empty input has no key', async () => {
    assert.deepEqual(await keysOf([Buffer.from('a\n')], false), ['61|a'])
    assert.deepEqual(await keysOf([], false), [])
    assert.deepEqual(await keysOf([Buffer.from('\n')], false), ['|'])
  })

  test('hex lines: decoded, echoed as given, empty line is the empty key', async () => {
    const hexInput = Buffer.from('6162\n\nFF00\r\n0a0D\n')
    const hexWant = ['6162|6162', '|', 'ff00|FF00', '0a0d|0a0D']
    for (let i = 0; i <= hexInput.length; i++) {
      assert.deepEqual(
        await keysOf([hexInput.subarray(0, i), hexInput.subarray(i)], true),
        hexWant,
        `split ${i}`,
      )
    }
  })

  test('a long hex key grows the decode buffer', async () => {
    const long = 'ab'.repeat(5000)
    assert.deepEqual(await keysOf([Buffer.from(`01\n${long}\n02\n`)], true), [
      '01|01',
      `${long}|${long}`,
      '02|02',
    ])
  })

  test('invalid hex names the line or the argument', async () => {
    await assert.rejects(
      keysOf([Buffer.from('61\n6\n')], true),
      (e: unknown) => e instanceof KeyInputError && e.message === 'line 2: invalid hex key "6"',
    )
    await assert.rejects(
      keysOf([Buffer.from('61\r\n\r\nxx\r\n')], true),
      (e: unknown) => e instanceof KeyInputError && e.message === 'line 3: invalid hex key "xx"',
    )
    const long = `${'0'.repeat(70)}g`
    await assert.rejects(
      keysOf([], true, ['61', long]),
      (e: unknown) =>
        e instanceof KeyInputError &&
        e.message === `argument 2: invalid hex key "${'0'.repeat(64)}..."`,
    )
  })

  test('arguments win over stdin', async () => {
    assert.deepEqual(await keysOf([Buffer.from('zz\n')], false, ['a', '']), ['61|a', '|'])
  })
})

describe('OutputBuffer', () => {
  test('uint writes every magnitude exactly', async () => {
    const s = sink()
    const out = new OutputBuffer(s.stream)
    const values = [0, 1, 9, 10, 99, 100, 65535, 999999999, 1000000000, 3662830516, 4294967295]
    for (const v of values) {
      out.uint(v)
      out.byte(10)
    }
    await out.flush()
    assert.equal(s.text(), values.map((v) => `${v}\n`).join(''))
  })

  test('large output is written in big chunks, in order, through backpressure', async () => {
    const s = sink(1024)
    const out = new OutputBuffer(s.stream)
    const line = Buffer.from('0123456789abcdef\n')
    let want = ''
    for (let i = 0; i < 50_000; i++) {
      out.bytes(line, 0, line.length)
      out.uint(i)
      out.byte(10)
      want += `0123456789abcdef\n${i}\n`
      if (out.full) await out.flush()
    }
    await out.flush()
    assert.equal(s.text(), want)
    assert.ok(s.writes() < 50, `${s.writes()} writes`)
  })
})
