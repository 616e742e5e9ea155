/**
 * docs/redis.md cannot drift from the code (fastify-style integrity test): its
 * command matrix must equal the one rendered from src/proto/redis/commands.ts.
 * Run with WALNUT_WRITE_DOCS=1 to rewrite the generated block instead.
 */
import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import {
  arityText,
  CLIENT_SUBCOMMANDS,
  COMMAND_NAMES,
  COMMANDS,
  type CommandSpec,
} from '../../../src/proto/redis/commands.js'
import { INVALID_ARGUMENT } from '../../../src/proto/redis/merge.js'
import { PROTOCOL_ERRORS } from '../../../src/proto/redis/request-parser.js'
import { REPLIES } from '../../../src/proto/redis/session.js'
import { REPO_ROOT } from '../../helpers/shared.js'

const DOC = join(REPO_ROOT, 'docs', 'redis.md')
const BEGIN = '<!-- BEGIN GENERATED COMMAND TABLE: test/proto/redis/docs.test.ts -->'
const END = '<!-- END GENERATED COMMAND TABLE -->'

const ROUTING: Record<CommandSpec['route'], string> = {
  key: 'argv[1]',
  key2: 'argv[2] (first key)',
  eval: 'argv[3] (first key)',
  placeholder: 'key `placeholder`',
  split: 'each key',
  local: 'walnut',
  unsupported: '',
}

const SPLIT: Record<string, string> = {
  mget: 'yes: array in key order',
  sum: 'yes: sum of integers',
  mset: 'yes: `+OK`',
}

function renderTable(): string {
  const lines = ['| command | supported | arity | routing | split |', '|---|---|---|---|---|']
  for (const name of COMMAND_NAMES) {
    const spec: CommandSpec = COMMANDS[name]
    const supported = spec.route === 'unsupported' ? 'no' : 'yes'
    const split = spec.split === undefined ? '' : SPLIT[spec.split]!
    lines.push(
      `| ${name} | ${supported} | ${arityText(spec)} | ${ROUTING[spec.route]} | ${split} |`,
    )
  }
  lines.push('', '| CLIENT subcommand | supported |', '|---|---|')
  for (const [sub, how] of Object.entries(CLIENT_SUBCOMMANDS)) {
    lines.push(`| client ${sub} | ${how === 'local' ? 'yes' : 'no'} |`)
  }
  return lines.join('\n')
}

/** Table rows as trimmed cells (separator rows dropped), so column alignment does not matter. */
function rows(block: string): string[][] {
  return block
    .split('\n')
    .filter((line) => line.startsWith('|'))
    .map((line) =>
      line
        .slice(1, line.endsWith('|') ? -1 : undefined)
        .split('|')
        .map((cell) => cell.trim()),
    )
    .filter((cells) => !cells.every((cell) => /^-+$/.test(cell)))
}

function generatedBlock(doc: string): string {
  const a = doc.indexOf(BEGIN)
  const b = doc.indexOf(END)
  assert.ok(a >= 0 && b > a, `${DOC}: generated-table markers missing`)
  return doc.slice(a + BEGIN.length, b).trim()
}

describe('docs/redis.md', () => {
  it('the command matrix equals the command table', () => {
    const doc = readFileSync(DOC, 'utf8')
    const want = renderTable()
    if (process.env.WALNUT_WRITE_DOCS === '1') {
      const a = doc.indexOf(BEGIN)
      const b = doc.indexOf(END)
      writeFileSync(DOC, `${doc.slice(0, a + BEGIN.length)}\n${want}\n${doc.slice(b)}`)
      return
    }
    assert.deepEqual(
      rows(generatedBlock(doc)),
      rows(want),
      'docs/redis.md is out of date: run the tests with WALNUT_WRITE_DOCS=1',
    )
  })

  it('the reply catalogue lists every fixed reply and protocol error text', () => {
    const doc = readFileSync(DOC, 'utf8')
    const a = doc.indexOf('<!-- BEGIN REPLY CATALOGUE -->')
    const b = doc.indexOf('<!-- END REPLY CATALOGUE -->')
    assert.ok(a >= 0 && b > a, 'reply catalogue markers missing')
    const catalogue = doc.slice(a, b)
    const texts: string[] = [
      ...Object.values(REPLIES),
      ...Object.values(PROTOCOL_ERRORS)
        .filter((t) => !t.endsWith("'"))
        .map((t) => `-ERR ${t}`),
      "-ERR Protocol error: expected '$', got 'X'",
      `-ERR ${INVALID_ARGUMENT}`,
    ]
    for (const text of texts) {
      // A table cell holds the text in backticks, possibly followed by more.
      assert.ok(catalogue.includes(`\`${text}`), `docs/redis.md does not list ${text}`)
    }
  })

  it('covers every redis 7.0 command: 240 names, 135 forwarded as nutcracker does', () => {
    assert.equal(COMMAND_NAMES.length, 240)
    const forwarded = COMMAND_NAMES.filter((n) => {
      const r = COMMANDS[n].route
      return r !== 'unsupported' && r !== 'local'
    })
    // nutcracker's 135 accepted names, less PING and AUTH (local), plus QUIT's 0.
    assert.equal(forwarded.length + 2, 135)
  })
})
