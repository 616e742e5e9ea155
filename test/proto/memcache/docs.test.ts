/**
 * docs/memcache.md cannot drift from the code: its support matrix must list
 * exactly the parser's command table (same routing text), every command it
 * marks unsupported must really be answered `ERROR`, and its reply catalogue
 * must list exactly the parser's reply texts with the right kept/closed verdict.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { COMMANDS } from '../../../src/proto/memcache/commands.js'
import {
  DEFAULT_MAX_REQUEST_SIZE,
  E_BINARY,
  E_DATA,
  E_DELETE_FORMAT,
  E_DELTA,
  E_EXPTIME,
  E_FORMAT,
  E_LINE_TOO_LONG,
  E_TOO_LARGE,
  E_UNKNOWN,
  REJECT_TEXT,
} from '../../../src/proto/memcache/request-parser.js'
import { REPO_ROOT } from '../../helpers/shared.js'
import { b, ERR, parseRequests } from './harness.js'

const DOC = readFileSync(join(REPO_ROOT, 'docs', 'memcache.md'), 'utf8')

/** Rows (trimmed cells) of the table between `<!-- BEGIN name -->` and `<!-- END name -->`. */
function table(name: string): string[][] {
  const begin = DOC.indexOf(`<!-- BEGIN ${name} -->`)
  const end = DOC.indexOf(`<!-- END ${name} -->`)
  assert.ok(begin >= 0 && end > begin, `docs/memcache.md has the ${name} block`)
  return DOC.slice(begin, end)
    .split('\n')
    .filter((l) => l.startsWith('|'))
    .map((l) =>
      l
        .slice(1, -1)
        .split(' | ')
        .map((c) => c.trim()),
    )
    .filter((cells) => !cells.every((c) => /^-+$/.test(c)))
    .slice(1) // header
}

/** `name` from a cell spelt `` `name` ``. */
function code(cell: string): string {
  const m = /^`([^`]+)`$/.exec(cell)
  assert.ok(m, `cell ${cell} is one code span`)
  return m[1]!
}

/** Reply bytes as the doc spells them: CR LF as `\r\n`. */
function spelt(text: string): string {
  return text.replace(/\r/g, '\\r').replace(/\n/g, '\\n')
}

describe('docs/memcache.md', () => {
  const matrix = table('SUPPORT MATRIX')

  it('lists exactly the supported commands, in table order, with their routing', () => {
    const yes = matrix.filter((r) => r[1] === 'yes')
    assert.deepEqual(
      yes.map((r) => [code(r[0]!), r[2]]),
      COMMANDS.map((c) => [c.name, c.routing]),
    )
    for (const r of matrix) assert.ok(r[1] === 'yes' || r[1] === 'no', `row ${r[0]}: yes or no`)
  })

  it('every command marked unsupported is answered ERROR, the connection kept', () => {
    const no = matrix.filter((r) => r[1] === 'no').map((r) => code(r[0]!))
    assert.ok(no.length >= 18)
    for (const name of no) {
      assert.ok(!COMMANDS.some((c) => c.name === name), `${name} is not in the command table`)
      for (const line of [`${name}\r\n`, `${name} k1 1\r\n`]) {
        const run = parseRequests([b(`${line}get k\r\n`)])
        assert.equal(run.events.length, 2, line)
        assert.deepEqual(
          run.events.map((e) => e.st),
          ['REJECT', 'REQUEST'],
          line,
        )
        const e = run.events[0]!
        assert.ok(e.st === 'REJECT' && e.reply === ERR.unknown, line)
      }
    }
  })

  it('the reply catalogue lists exactly the parser replies with the right verdict', () => {
    const rows = table('REPLY CATALOGUE')
    const listed = rows.map((r) => code(r[0]!))
    const texts = REJECT_TEXT.filter((t) => t !== '').map(spelt)
    assert.deepEqual([...listed].sort(), [...texts].sort())
    // One input per reason, with the verdict the catalogue states.
    const samples: [number, string, string][] = [
      [E_UNKNOWN, 'stats\r\n', 'kept'],
      [E_FORMAT, 'get \r\n', 'kept'],
      [E_DELETE_FORMAT, 'delete k 0\r\n', 'kept'],
      [E_DELTA, 'incr k x\r\n', 'kept'],
      [E_EXPTIME, 'touch k x\r\n', 'kept'],
      [E_DATA, 'set k 0 0 1\r\nxy\r\n', 'closed'],
      [E_TOO_LARGE, 'set k 0 0 4294967295\r\n', 'kept'],
      [E_LINE_TOO_LONG, `get ${'a'.repeat(40)}\r\n`, 'closed'],
      [E_BINARY, '\x80\x00', 'closed'],
    ]
    assert.equal(samples.length, texts.length)
    for (const [reason, input, verdict] of samples) {
      const text = REJECT_TEXT[reason]!
      const row = rows.find((r) => code(r[0]!) === spelt(text))!
      assert.ok(row[2]!.startsWith(verdict), `${spelt(text)}: catalogue says ${verdict}`)
      const options = reason === E_LINE_TOO_LONG ? { maxRequestSize: 32 } : {}
      const ev = parseRequests([b(input)], options).events[0]!
      assert.equal(ev.st, verdict === 'kept' ? 'REJECT' : 'FATAL', input)
      assert.ok('reply' in ev && ev.reply === text, input)
    }
    // The framing-lost case of a bad command line closes, as the catalogue says.
    assert.equal(parseRequests([b('set k 0 0 x\r\n')]).events[0]!.st, 'FATAL')
    assert.ok(rows.find((r) => code(r[0]!) === spelt(ERR.format))![2]!.includes('closed'))
  })

  it('states the default request cap', () => {
    assert.equal(DEFAULT_MAX_REQUEST_SIZE, 512 * 1024 * 1024)
    assert.ok(DOC.includes('512 MiB'))
  })
})
