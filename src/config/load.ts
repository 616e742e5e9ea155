/**
 * Loading a nutcracker.yml: read the file, check its YAML shape (yaml-shape.ts),
 * hand every `key: value` of every pool to its row in keys.ts in file order (as
 * nutcracker's event-driven conf_parse does, so the first mistake in the file is
 * the one reported), then the pool and cross-pool checks (validate.ts).
 *
 * The result is a deeply frozen Config. Every mistake is a ConfigError whose
 * `reason` is nutcracker's log text without its `conf: ` prefix.
 *
 * nutcracker prints nothing for an empty scalar (`hash:`, `hash: ""`, an empty
 * pool name or key, an empty `- ` item); walnut says so:
 *   directive "hash" has an empty value · directive name is empty · pool name is empty
 */
import { readFile } from 'node:fs/promises'
import { ConfigError, ProxyError } from '../errors.js'
import { DirectiveError, KEY_ROWS, type KeyContext } from './keys.js'
import { lookupAddress, type Resolver } from './resolve.js'
import type { Config } from './types.js'
import { type PoolDraft, validateConfig } from './validate.js'
import { type PoolNode, readYaml, type ScalarNode, type YamlConfig } from './yaml-shape.js'

export type { Resolver } from './resolve.js'

export interface LoadOptions {
  /**
   * Resolves a `listen:` host name to an address (IP literals are not passed in).
   * Default: node:dns `lookup`, the first address.
   */
  readonly resolve?: Resolver
}

/** strerror(3) texts for the ways opening a config file fails. */
const OPEN_ERRORS: Readonly<Record<string, string>> = {
  ENOENT: 'No such file or directory',
  EACCES: 'Permission denied',
  EISDIR: 'Is a directory',
  ENOTDIR: 'Not a directory',
  ELOOP: 'Too many levels of symbolic links',
  ENAMETOOLONG: 'File name too long',
}

/**
 * Reads and validates the config file at `path` (as given on the command line).
 * Throws ProxyError NC_ERR_CONFIG_OPEN when the file cannot be read
 * (`failed to open configuration '<path>': No such file or directory`), else
 * ConfigError for any mistake.
 */
export async function loadConfig(path: string, options: LoadOptions = {}): Promise<Config> {
  let bytes: Uint8Array
  try {
    bytes = await readFile(path)
  } catch (cause) {
    const code = (cause as { code?: unknown }).code
    const text =
      typeof code === 'string' && OPEN_ERRORS[code] !== undefined
        ? OPEN_ERRORS[code]
        : String((cause as Error).message ?? cause)
    throw new ProxyError('NC_ERR_CONFIG_OPEN', `failed to open configuration '${path}': ${text}`, {
      cause,
    })
  }
  return parseConfig(bytes, path, options)
}

/**
 * Validates config text (a string, or the file's bytes, checked as strict UTF-8).
 * `path` is used in messages only. The listen hosts are resolved with
 * `options.resolve`; nothing else touches the system.
 */
export async function parseConfig(
  input: string | Uint8Array,
  path: string,
  options: LoadOptions = {},
): Promise<Config> {
  const yaml = readYaml(input, path)
  const ctx: KeyContext = { resolve: options.resolve ?? lookupAddress }
  const drafts: PoolDraft[] = []
  for (const pool of yaml.pools) drafts.push(await readPool(pool, yaml, ctx))
  return validateConfig(drafts, yaml)
}

async function readPool(node: PoolNode, yaml: YamlConfig, ctx: KeyContext): Promise<PoolDraft> {
  const name = node.name.value
  if (name === '') throw new ConfigError('pool name is empty', yaml.locate(node.name.offset))
  const draft: PoolDraft = { name, nameAt: node.name.offset, values: new Map(), servers: [] }
  for (const entry of node.entries) {
    const key = entry.key.value
    if (key === '') {
      throw new ConfigError('directive name is empty', yaml.locate(entry.key.offset, name))
    }
    if (Array.isArray(entry.value)) {
      // nutcracker hands each item of the pool's one sequence to the key's setter.
      for (const item of entry.value as readonly ScalarNode[]) {
        await apply(draft, entry.key, item, item.offset, yaml, ctx)
      }
    } else {
      const value = entry.value as ScalarNode
      await apply(draft, entry.key, value, entry.key.offset, yaml, ctx)
    }
  }
  return draft
}

/** nutcracker's conf_handler for one `key: value`. */
async function apply(
  draft: PoolDraft,
  keyNode: ScalarNode,
  value: ScalarNode,
  emptyAt: number,
  yaml: YamlConfig,
  ctx: KeyContext,
): Promise<void> {
  const key = keyNode.value
  const at = (offset: number) => yaml.locate(offset, draft.name, key)
  if (value.value === '') {
    throw new ConfigError(`directive "${key}" has an empty value`, at(emptyAt))
  }
  const row = KEY_ROWS.get(key)
  if (row === undefined) throw new ConfigError(`directive "${key}" is unknown`, at(keyNode.offset))
  if (!row.list && draft.values.has(key)) {
    throw new ConfigError(`directive "${key}" is a duplicate`, at(keyNode.offset))
  }
  let parsed: unknown
  try {
    parsed = await row.parse(value.value, ctx)
  } catch (err) {
    if (!(err instanceof DirectiveError)) throw err
    throw new ConfigError(`directive "${key}" ${err.rv}`, at(value.offset), {
      detail: err.detail,
      cause: err.cause,
    })
  }
  if (row.list) {
    const entry = parsed as ReturnType<typeof row.parse>
    draft.servers.push({ ...entry, index: draft.servers.length, at: value.offset })
  } else {
    draft.values.set(key, { value: parsed, valueAt: value.offset })
  }
}
