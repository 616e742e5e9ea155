/**
 * The streams a command runs with. main.ts passes the process's; tests may pass
 * their own. Every command returns its exit status instead of calling process.exit,
 * so pending output is flushed by Node before the process ends.
 */
import type { Readable, Writable } from 'node:stream'

export interface CliIO {
  readonly stdin: Readable
  readonly stdout: Writable
  readonly stderr: Writable
}
