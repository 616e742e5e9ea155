/**
 * The YAML half of the config loader: bytes in, a list of pools out, each pool a
 * list of `key: value` entries with their positions. Everything nutcracker 0.5.0
 * checks before it interprets a single key (../shared/spec/cli-config.md §5.1)
 * happens here, in nutcracker's order:
 *
 *   1. reading and YAML syntax   `failed (err N) to get the next yaml document`
 *   2. document count            `'<path>' must contain only 1 document; found N documents`
 *   3. disallowed tokens         `<token> token (N) is disallowed`
 *   4. tree shape                `'<path>' missing sequence directive at depth 2`, ...
 *
 * nutcracker reads the file with libyaml three times (documents, tokens, events);
 * walnut parses once with the `yaml` package and walks its CST (for tokens, with
 * offsets) and its AST (for the shape). The shape check replays the events libyaml
 * would emit through the same state machine nutcracker runs, so odd files fail with
 * the same message. Values are strings (failsafe schema): `true`, `null`, `~` and
 * `0x10` mean nothing special to nutcracker and mean nothing special here.
 */
import {
  Composer,
  type CST,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  Parser,
  type YAMLError,
} from 'yaml'
import { ConfigError, type ConfigLocation } from '../errors.js'

/** A scalar with the offset (in characters) of its first character in the file. */
export interface ScalarNode {
  readonly value: string
  readonly offset: number
}

/** One `key: value` of a pool; a block sequence gives several values (`servers:`). */
export interface EntryNode {
  readonly key: ScalarNode
  /** A scalar value, or the items of a block sequence. Empty values are ''. */
  readonly value: ScalarNode | readonly ScalarNode[]
}

export interface PoolNode {
  readonly name: ScalarNode
  readonly entries: readonly EntryNode[]
}

/** The validated shape of a config file, and a way to turn offsets into line:column. */
export interface YamlConfig {
  readonly path: string
  readonly pools: readonly PoolNode[]
  /** Location of an offset in the file, with optional pool and key. */
  locate(offset: number, pool?: string, key?: string): ConfigLocation
}

/** nutcracker's CONF_ROOT_DEPTH and CONF_MAX_DEPTH. */
const ROOT_DEPTH = 1
const MAX_DEPTH = 2

/**
 * Parses and shape-checks a config file. Throws ConfigError with nutcracker's
 * reason for anything §5.1 rejects.
 */
export function readYaml(input: string | Uint8Array, path: string): YamlConfig {
  const text = typeof input === 'string' ? input : decode(input, path)
  const lines = new LineCounter()
  const locate = (offset: number, pool?: string, key?: string): ConfigLocation => {
    const { line, col } = lines.linePos(offset)
    return { file: path, line, column: col, pool, key }
  }
  checkCharacters(text, path)

  const tokens = [...new Parser(lines.addNewLine).parse(text)]
  const docs = [...new Composer({ schema: 'failsafe', uniqueKeys: false }).compose(tokens, true)]

  // 1. syntax: libyaml loads every document before anything else is looked at.
  const marks = tokenMarks(tokens)
  let syntax: { offset: number; err: number; detail: string } | undefined
  const consider = (offset: number, err: number, detail: string): void => {
    if (syntax === undefined || offset < syntax.offset) syntax = { offset, err, detail }
  }
  for (const doc of docs) {
    for (const e of doc.errors) consider(e.pos[0], libyamlError(e), firstLine(e.message))
    for (const w of doc.warnings) {
      // libyaml knows only %YAML and %TAG; any other directive is a scanner error.
      if (w.code === 'BAD_DIRECTIVE') consider(w.pos[0], 3, firstLine(w.message))
    }
  }
  for (const m of marks) {
    if (m.undefinedAlias) consider(m.offset, 5, `found undefined alias ${m.source}`)
  }
  if (syntax !== undefined) {
    throw new ConfigError(
      `failed (err ${syntax.err}) to get the next yaml document`,
      locate(syntax.offset),
      { detail: syntax.detail },
    )
  }

  // 2. exactly one document with content.
  const counted = tokens.filter(
    (t): t is CST.Document =>
      t.type === 'document' &&
      (t.value !== undefined || t.start.some((s) => s.type === 'doc-start')),
  )
  if (counted.length !== 1) {
    const second = counted[1]
    throw new ConfigError(
      `'${path}' must contain only 1 document; found ${counted.length} documents`,
      second !== undefined ? locate(second.offset) : { file: path },
    )
  }

  // 3. the first token nutcracker refuses, in file order.
  const bad = marks[0]
  if (bad !== undefined) {
    throw new ConfigError(`${bad.label} token (${bad.code}) is disallowed`, locate(bad.offset))
  }

  // 4. the shape, on the one document.
  const doc = docs.find((d) => d.contents !== null)
  const events: ShapeEvent[] = []
  emitEvents(doc?.contents ?? null, { pool: undefined, key: undefined, at: 0 }, events)
  checkShape(events, path, locate)
  return { path, pools: collectPools(doc?.contents ?? null), locate }
}

/** Strict UTF-8 decoding; libyaml fails with a reader error (2) on bad bytes. */
function decode(bytes: Uint8Array, path: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes)
  } catch (cause) {
    const at = firstInvalidUtf8(bytes)
    const before = new TextDecoder('utf-8', { ignoreBOM: true }).decode(bytes.subarray(0, at))
    const line = before.split('\n').length
    const column = before.length - before.lastIndexOf('\n')
    throw new ConfigError(
      'failed (err 2) to get the next yaml document',
      { file: path, line, column },
      { cause, detail: `invalid UTF-8 at byte offset ${at}` },
    )
  }
}

/** Byte offset of the first byte that does not start or continue valid UTF-8. */
function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0
  while (i < b.length) {
    const c = b[i] as number
    let n = 0
    let min = 0
    if (c < 0x80) {
      i++
      continue
    }
    if (c >= 0xc2 && c <= 0xdf) {
      n = 1
      min = 0x80
    } else if (c >= 0xe0 && c <= 0xef) {
      n = 2
      min = 0x800
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 3
      min = 0x10000
    } else return i
    if (i + n >= b.length) return i
    let cp = c & (0x3f >> n)
    for (let k = 1; k <= n; k++) {
      const d = b[i + k] as number
      if ((d & 0xc0) !== 0x80) return i
      cp = (cp << 6) | (d & 0x3f)
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i
    i += n + 1
  }
  return b.length
}

/** libyaml's reader accepts only printable characters (and tab, LF, CR). */
function checkCharacters(text: string, path: string): void {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c >= 0x20 && c <= 0x7e) continue
    if (c === 0x09 || c === 0x0a || c === 0x0d || c === 0x85) continue
    if (c >= 0xa0 && c <= 0xd7ff) continue
    if (c >= 0xe000 && c <= 0xfffd) continue
    if (c >= 0xd800 && c <= 0xdbff) {
      // a surrogate pair is a code point >= 0x10000: printable
      i++
      continue
    }
    // The LineCounter is filled by the parser, which has not run yet: count here.
    const before = text.slice(0, i)
    const line = before.split('\n').length
    const column = i - before.lastIndexOf('\n')
    throw new ConfigError(
      'failed (err 2) to get the next yaml document',
      { file: path, line, column },
      { detail: `control characters are not allowed (U+${c.toString(16).padStart(4, '0')})` },
    )
  }
}

function firstLine(message: string): string {
  const nl = message.indexOf('\n')
  return nl === -1 ? message : message.slice(0, nl)
}

/**
 * The libyaml error class nutcracker prints as `err N` for a `yaml` package error:
 * 3 for what libyaml's scanner catches, 5 for its composer (aliases), else 4 (parser).
 * Approximate by nature; the detail carries the exact description.
 */
function libyamlError(e: YAMLError): number {
  switch (e.code) {
    case 'TAB_AS_INDENT':
    case 'BAD_DQ_ESCAPE':
    case 'BAD_SCALAR_START':
    case 'BLOCK_AS_IMPLICIT_KEY':
    case 'MULTILINE_IMPLICIT_KEY':
    case 'KEY_OVER_1024_CHARS':
      return 3
    case 'MISSING_CHAR':
      return /quote/.test(e.message) ? 3 : 4
    case 'BAD_ALIAS':
      return 5
    default:
      return 4
  }
}

/** A CST token nutcracker refuses; aliases also say whether their anchor exists. */
interface Mark {
  readonly offset: number
  /** libyaml's token type number. */
  readonly code: number
  readonly label: string
  readonly source: string
  readonly undefinedAlias: boolean
}

/** Token types nutcracker's conf_validate_tokens refuses, with libyaml's numbers. */
const DISALLOWED: Readonly<Record<string, readonly [number, string]>> = {
  'doc-start': [5, 'document start'],
  'doc-end': [6, 'document end'],
  'flow-seq-start': [10, 'flow sequence start'],
  'flow-seq-end': [11, 'flow sequence end'],
  'flow-map-start': [12, 'flow mapping start'],
  'flow-map-end': [13, 'flow mapping end'],
  comma: [15, 'flow entry'],
  alias: [18, 'alias'],
  anchor: [19, 'anchor'],
  tag: [20, 'tag'],
}

/** Every disallowed token in the CST, in file order; aliases note a missing anchor. */
function tokenMarks(tokens: readonly CST.Token[]): Mark[] {
  const marks: Mark[] = []
  for (const top of tokens) {
    const found: { offset: number; type: string; source: string }[] = []
    collect(top, found)
    found.sort((a, b) => a.offset - b.offset)
    const anchors = new Set<string>()
    for (const f of found) {
      let code = 0
      let label = ''
      if (f.type === 'directive') {
        if (f.source.startsWith('%YAML')) [code, label] = [3, 'version directive']
        else if (f.source.startsWith('%TAG')) [code, label] = [4, 'tag directive']
        else continue
      } else {
        const d = DISALLOWED[f.type]
        if (d === undefined) continue
        ;[code, label] = d
      }
      let undefinedAlias = false
      if (f.type === 'anchor') anchors.add(f.source.slice(1))
      if (f.type === 'alias') undefinedAlias = !anchors.has(f.source.slice(1))
      marks.push({ offset: f.offset, code, label, source: f.source, undefinedAlias })
    }
  }
  return marks
}

/** Depth-first walk over any CST value, recording tokens that carry a type and an offset. */
function collect(node: unknown, out: { offset: number; type: string; source: string }[]): void {
  if (Array.isArray(node)) {
    for (const n of node) collect(n, out)
    return
  }
  if (node === null || typeof node !== 'object') return
  const t = node as {
    type?: unknown
    offset?: unknown
    source?: unknown
    start?: unknown
    items?: unknown
    key?: unknown
    sep?: unknown
    value?: unknown
    end?: unknown
    props?: unknown
  }
  if (typeof t.type === 'string' && typeof t.offset === 'number') {
    out.push({
      offset: t.offset,
      type: t.type,
      source: typeof t.source === 'string' ? t.source : '',
    })
  }
  collect(t.start, out)
  collect(t.props, out)
  collect(t.items, out)
  collect(t.key, out)
  collect(t.sep, out)
  collect(t.value, out)
  collect(t.end, out)
}

/** The libyaml event stream of a document, with where each event came from. */
interface ShapeEvent {
  readonly type: 'mapping-start' | 'mapping-end' | 'sequence-start' | 'sequence-end' | 'scalar'
  readonly offset: number
  readonly pool: string | undefined
  readonly key: string | undefined
}

interface EventContext {
  readonly pool: string | undefined
  readonly key: string | undefined
  /** Where a node without a position (an omitted value) is reported. */
  readonly at: number
}

function nodeOffset(node: unknown, fallback: number): number {
  const range = (node as { range?: [number, number, number] } | null)?.range
  return range !== undefined ? range[0] : fallback
}

function scalarText(node: unknown): string | undefined {
  return isScalar(node) ? String(node.value ?? '') : undefined
}

/**
 * Replays libyaml's events for a composed node: a missing value is an empty scalar,
 * as libyaml reports it. Pool and key names are attached for error locations.
 */
function emitEvents(node: unknown, ctx: EventContext, out: ShapeEvent[]): void {
  const offset = nodeOffset(node, ctx.at)
  if (isMap(node)) {
    out.push({ type: 'mapping-start', offset, pool: ctx.pool, key: ctx.key })
    for (const pair of node.items) {
      const keyName = scalarText(pair.key)
      const keyAt = nodeOffset(pair.key, offset)
      emitEvents(pair.key, { ...ctx, at: keyAt }, out)
      const child: EventContext =
        ctx.pool === undefined
          ? { pool: keyName, key: undefined, at: keyAt }
          : ctx.key === undefined
            ? { pool: ctx.pool, key: keyName, at: keyAt }
            : { ...ctx, at: keyAt }
      emitEvents(pair.value, child, out)
    }
    // A pool's mapping-end reports "missing sequence": point at `servers:` if
    // present, else at the pool name.
    let endAt = offset
    if (ctx.pool !== undefined && ctx.key === undefined) {
      const servers = node.items.find((p) => scalarText(p.key) === 'servers')
      endAt = servers !== undefined ? nodeOffset(servers.key, ctx.at) : ctx.at
    }
    out.push({ type: 'mapping-end', offset: endAt, pool: ctx.pool, key: ctx.key })
  } else if (isSeq(node)) {
    out.push({ type: 'sequence-start', offset, pool: ctx.pool, key: ctx.key })
    for (const item of node.items) emitEvents(item, { ...ctx, at: offset }, out)
    out.push({ type: 'sequence-end', offset, pool: ctx.pool, key: ctx.key })
  } else {
    out.push({ type: 'scalar', offset, pool: ctx.pool, key: ctx.key })
  }
}

/**
 * nutcracker's conf_validate_structure: the root is a mapping of pool names to
 * mappings, each with scalar `key: value` pairs and exactly one sequence of scalars.
 */
function checkShape(
  events: readonly ShapeEvent[],
  path: string,
  locate: (offset: number, pool?: string, key?: string) => ConfigLocation,
): void {
  const count = [0, 0, 0]
  let depth = 0
  let seq = false
  const fail = (reason: string, ev: ShapeEvent, key = ev.key): never => {
    throw new ConfigError(reason, locate(ev.offset, ev.pool, key))
  }
  for (const ev of events) {
    switch (ev.type) {
      case 'mapping-start':
        if (depth === ROOT_DEPTH && count[depth] !== 1) {
          fail(`'${path}' has more than one "key:value" at depth ${depth}`, ev)
        } else if (depth >= MAX_DEPTH) {
          fail(`'${path}' has a depth greater than ${MAX_DEPTH}`, ev)
        }
        depth++
        break
      case 'mapping-end':
        if (depth === MAX_DEPTH) {
          if (seq) seq = false
          else fail(`'${path}' missing sequence directive at depth ${depth}`, ev, 'servers')
        }
        depth--
        count[depth] = 0
        break
      case 'sequence-start':
        if (seq) fail(`'${path}' has more than one sequence directive`, ev)
        else if (depth !== MAX_DEPTH) {
          fail(`'${path}' has sequence at depth ${depth} instead of ${MAX_DEPTH}`, ev)
        } else if (count[depth] !== 1) {
          fail(`'${path}' has invalid "key:value" at depth ${depth}`, ev)
        }
        seq = true
        break
      case 'sequence-end':
        count[depth] = 0
        break
      case 'scalar':
        if (depth === 0) {
          fail(`'${path}' has invalid empty "key:" at depth ${depth}`, ev)
        } else if (depth === ROOT_DEPTH && count[depth] !== 0) {
          fail(`'${path}' has invalid mapping "key:" at depth ${depth}`, ev)
        } else if (depth === MAX_DEPTH && count[depth] === 2) {
          count[depth] = 0 // a "key: value" pair is complete
        }
        count[depth] = (count[depth] as number) + 1
        break
    }
  }
}

/** The pools of a shape-checked document, as plain nodes (empty scalars are ''). */
function collectPools(root: unknown): PoolNode[] {
  const pools: PoolNode[] = []
  if (!isMap(root)) return pools
  for (const pair of root.items) {
    const name = toScalar(pair.key, 0)
    const entries: EntryNode[] = []
    if (isMap(pair.value)) {
      for (const p of pair.value.items) {
        const key = toScalar(p.key, name.offset)
        if (isSeq(p.value)) {
          const at = nodeOffset(p.value, key.offset)
          entries.push({ key, value: p.value.items.map((item) => toScalar(item, at)) })
        } else {
          entries.push({ key, value: toScalar(p.value, key.offset) })
        }
      }
    }
    pools.push({ name, entries })
  }
  return pools
}

function toScalar(node: unknown, fallback: number): ScalarNode {
  return { value: scalarText(node) ?? '', offset: nodeOffset(node, fallback) }
}
