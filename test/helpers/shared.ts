/**
 * Locates ../shared (spec and nutcracker vectors) at test time. The vectors are
 * never copied into the repository; a missing directory fails the test loudly.
 * Search order: $WALNUT_SHARED, <repo>/../shared, /work/shared.
 */
import { existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

/** Repository root (tests run from dist/test/..., compiled). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..')

export function sharedDir(): string {
  const candidates = [
    process.env.WALNUT_SHARED,
    join(REPO_ROOT, '..', 'shared'),
    '/work/shared',
  ].filter((c): c is string => typeof c === 'string' && c.length > 0)
  for (const c of candidates) {
    if (existsSync(join(c, 'vectors', 'hash.tsv'))) return c
  }
  throw new Error(
    `shared reference directory not found (tried ${candidates.join(', ')}); set WALNUT_SHARED`,
  )
}

export function vectorsDir(): string {
  return join(sharedDir(), 'vectors')
}
