/**
 * Fuzz (fast-check, bounded in time) of the redis request parser and reply
 * parser with random and mutated protocol bytes cut at random points
 * (drivers.ts lists the invariants). The request parser runs with a small
 * max_request_size too, so the limit's path is taken often.
 */

import { test } from 'node:test'
import fc from 'fast-check'
import { redisReplies, redisRequests } from './drivers.js'
import { redisReplyBytes, redisRequestBytes } from './generators.js'
import { fuzzParser } from './property.js'

test('redis request parser: any bytes, any cuts: frames or a clean error, the same for every cut', () => {
  const drivers = fc.constantFrom(
    redisRequests(512 * 1024 * 1024),
    redisRequests(64),
    redisRequests(200),
  )
  const runs = fuzzParser(redisRequestBytes, drivers)
  console.log(`# redis request parser: ${runs} inputs`)
})

test('redis reply parser: any bytes, any cuts: frames or a clean error, the same for every cut', () => {
  const runs = fuzzParser(redisReplyBytes, fc.constant(redisReplies))
  console.log(`# redis reply parser: ${runs} inputs`)
})
