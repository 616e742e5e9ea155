#!/usr/bin/env node
// Runs the compiled test files with node:test. Node 20's runner does not expand
// globs, so the file list is built here. Usage: run-tests.mjs unit|integration|all [filter]
import { spawnSync } from 'node:child_process'
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'

const [suite = 'all', filter = ''] = process.argv.slice(2)
const root = 'dist/test'

function walk(dir) {
  const out = []
  for (const name of readdirSync(dir)) {
    const p = join(dir, name)
    if (statSync(p).isDirectory()) out.push(...walk(p))
    else if (name.endsWith('.test.js')) out.push(p)
  }
  return out
}

const files = walk(root)
  .filter((f) => {
    const integration = f.includes('/integration/')
    if (suite === 'unit') return !integration
    if (suite === 'integration') return integration
    return true
  })
  .filter((f) => f.includes(filter))
  .sort()

if (files.length === 0) {
  console.error(`run-tests: no test files for suite '${suite}' filter '${filter}'`)
  process.exit(1)
}
const r = spawnSync(
  process.execPath,
  ['--enable-source-maps', '--test', '--test-concurrency=2', ...files],
  { stdio: 'inherit' },
)
process.exit(r.status ?? 1)
