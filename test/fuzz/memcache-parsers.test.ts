/**
 * Fuzz (fast-check, bounded in time) of the memcache request parser and reply
 * parser with random and mutated protocol bytes cut at random points
 * (drivers.ts lists the invariants), with small limits too (max_request_size,
 * reply line length) so their paths are taken often.
 */

import { test } from 'node:test'
import fc from 'fast-check'
import { memcacheReplies, memcacheRequests } from './drivers.js'
import { memcacheReplyBytes, memcacheRequestBytes } from './generators.js'
import { fuzzParser } from './property.js'

test('memcache request parser: any bytes, any cuts: requests, rejects or a fatal error, the same for every cut', () => {
  const drivers = fc.constantFrom(
    memcacheRequests(512 * 1024 * 1024),
    memcacheRequests(64),
    memcacheRequests(300),
  )
  const runs = fuzzParser(memcacheRequestBytes, drivers)
  console.log(`# memcache request parser: ${runs} inputs`)
})

test('memcache reply parser: any bytes, any cuts: replies or a clean error, the same for every cut', () => {
  const drivers = fc.constantFrom(memcacheReplies(8192), memcacheReplies(40))
  const runs = fuzzParser(memcacheReplyBytes, drivers)
  console.log(`# memcache reply parser: ${runs} inputs`)
})
