/**
 * walnut's limit keys (docs/failures.md): max_request_size, client_max_buffer,
 * client_max_inflight. Digits only like every nutcracker integer, same reasons
 * and locations as the nutcracker keys; max_request_size cannot be 0.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { base, load, onlyPool, rejects } from './support.js'

const KEYS = ['max_request_size', 'client_max_buffer', 'client_max_inflight'] as const

describe('limit keys', () => {
  test('defaults: 512 MiB per request, 1 GiB of unread replies, 4096 requests in flight', async () => {
    const pool = onlyPool(await load(base()))
    assert.equal(pool.maxRequestSize, 536870912)
    assert.equal(pool.clientMaxBuffer, 1073741824)
    assert.equal(pool.clientMaxInflight, 4096)
  })

  test('values are read as digits; 0 turns the client limits off', async () => {
    const pool = onlyPool(
      await load(
        base('  max_request_size: 1048576', '  client_max_buffer: 0', '  client_max_inflight: 0'),
      ),
    )
    assert.equal(pool.maxRequestSize, 1048576)
    assert.equal(pool.clientMaxBuffer, 0)
    assert.equal(pool.clientMaxInflight, 0)
  })

  for (const key of KEYS) {
    test(`${key}: -1, 1k, 1.5 are not a number`, async () => {
      for (const v of ['-1', '1k', '1.5', 'true']) {
        await rejects(base(`  ${key}: ${v}`), {
          reason: `directive "${key}" is not a number`,
          line: 5,
          column: key.length + 5,
          pool: 'alpha',
          key,
        })
      }
    })
  }

  test('max_request_size: 0 cannot be', async () => {
    await rejects(base('  max_request_size: 0'), {
      reason: 'directive "max_request_size" cannot be 0',
      line: 5,
      column: 21,
      pool: 'alpha',
      key: 'max_request_size',
    })
  })

  test('a key given twice is a duplicate', async () => {
    await rejects(base('  client_max_buffer: 1', '  client_max_buffer: 2'), {
      reason: 'directive "client_max_buffer" is a duplicate',
      line: 6,
      column: 3,
      pool: 'alpha',
      key: 'client_max_buffer',
    })
  })
})
