#!/usr/bin/env node
/**
 * The `walnut` executable. All behaviour lives in run.ts; this file binds it to the
 * process. The exit status is set, not forced, so buffered output is flushed.
 */
import { run } from './run.js'
import { tuneV8 } from './v8-tuning.js'

tuneV8()
process.exitCode = await run(process.argv.slice(2), {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
})
