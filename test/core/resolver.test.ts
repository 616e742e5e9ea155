/**
 * src/core/resolver.ts without a DNS server: `--dns-server` parsing, the
 * hosts-file check, the system resolver on `localhost`, and the AddressBook's
 * schedule (TTL clamp, back-off, not-found vs transient, no flapping) driven
 * by a scripted NameResolver. The real DNS server is in
 * test/integration/dns-names.test.ts.
 */

import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { isIP } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { DEFAULT_OPTIONS, parseArgs } from '../../src/cli/args.js'
import { parseConfig } from '../../src/config/load.js'
import {
  AddressBook,
  type Answer,
  DnsServerResolver,
  inHostsFile,
  isNotFound,
  type NameResolver,
  parseDnsServers,
  resolverFor,
  SystemResolver,
  type TrackedServer,
} from '../../src/core/resolver.js'
import { TestLog } from './harness.js'

describe('parseDnsServers', () => {
  test('addresses with and without ports, IPv4 and IPv6', () => {
    assert.deepEqual(parseDnsServers('127.0.0.1:5353'), ['127.0.0.1:5353'])
    assert.deepEqual(parseDnsServers('10.0.0.2'), ['10.0.0.2:53'])
    assert.deepEqual(parseDnsServers('::1'), ['[::1]:53'])
    assert.deepEqual(parseDnsServers('[::1]:5300'), ['[::1]:5300'])
    assert.deepEqual(parseDnsServers('[fe80::1]'), ['[fe80::1]:53'])
    assert.deepEqual(parseDnsServers('127.0.0.1:53, 127.0.0.2:54'), [
      '127.0.0.1:53',
      '127.0.0.2:54',
    ])
  })

  test('names, bad ports and junk are refused with the item named', () => {
    assert.equal(parseDnsServers('dns.example:53'), "'dns.example:53' is not an address[:port]")
    assert.equal(parseDnsServers('127.0.0.1:0'), "'127.0.0.1:0' has an invalid port")
    assert.equal(parseDnsServers('127.0.0.1:65536'), "'127.0.0.1:65536' has an invalid port")
    assert.equal(parseDnsServers('127.0.0.1:+5'), "'127.0.0.1:+5' has an invalid port")
    assert.equal(parseDnsServers('[::1'), "'[::1' is not an address[:port]")
    assert.equal(parseDnsServers('[::1]x'), "'[::1]x' is not an address[:port]")
    assert.equal(parseDnsServers(''), "'' is not an address[:port]")
    assert.equal(parseDnsServers('127.0.0.1,'), "'' is not an address[:port]")
  })
})

test('--dns-server: parsed into resolver servers; a bad value names the flag', () => {
  const r = parseArgs(['--dns-server', '127.0.0.1:5353,::1'])
  assert.ok(r.ok)
  assert.deepEqual(r.options.dnsServers, ['127.0.0.1:5353', '[::1]:53'])
  assert.equal(DEFAULT_OPTIONS.dnsServers, undefined)
  assert.equal(DEFAULT_OPTIONS.watchConfig, false)
  assert.deepEqual(parseArgs(['--dns-server', 'ns.example']), {
    ok: false,
    message: "option --dns-server value 'ns.example' is not an address[:port]",
  })
  assert.ok(resolverFor(undefined) instanceof SystemResolver)
  assert.ok(resolverFor([]) instanceof SystemResolver)
  const d = resolverFor(['127.0.0.1:5353'])
  assert.ok(d instanceof DnsServerResolver)
  assert.equal(d.description, '127.0.0.1:5353')
})

test('dns_refresh_interval: a pool key in ms, default 30000, 0 allowed', async () => {
  const yaml = (extra: string) =>
    `alpha:\n  listen: 127.0.0.1:22121\n${extra}  servers:\n   - 127.0.0.1:11211:1\n`
  const at = async (extra: string) => (await parseConfig(yaml(extra), 't.yml')).pools[0]!
  assert.equal((await at('')).dnsRefreshInterval, 30000)
  assert.equal((await at('  dns_refresh_interval: 0\n')).dnsRefreshInterval, 0)
  assert.equal((await at('  dns_refresh_interval: 5000\n')).dnsRefreshInterval, 5000)
  await assert.rejects(at('  dns_refresh_interval: 5s\n'), {
    message: `t.yml:3:25: pool 'alpha', key 'dns_refresh_interval': directive "dns_refresh_interval" is not a number`,
  })
})

test('isNotFound: NXDOMAIN and no-data codes only', () => {
  for (const code of ['ENOTFOUND', 'ENODATA', 'EAI_NONAME']) assert.ok(isNotFound({ code }), code)
  for (const code of ['ETIMEOUT', 'ESERVFAIL', 'ECONNREFUSED', 'EREFUSED', 'EAI_AGAIN']) {
    assert.ok(!isNotFound({ code }), code)
  }
  assert.ok(!isNotFound(new Error('x')))
  assert.ok(!isNotFound(null))
})

test('inHostsFile: names after the address, case-insensitive, comments ignored', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'walnut-hosts-'))
  try {
    const file = join(dir, 'hosts')
    writeFileSync(
      file,
      '127.0.0.1\tlocalhost  Loopback.Test\n# 10.0.0.1 commented.test\n10.0.0.2 a.test # b.test\n',
    )
    assert.equal(await inHostsFile('localhost', file), true)
    assert.equal(await inHostsFile('loopback.test', file), true)
    assert.equal(await inHostsFile('a.test', file), true)
    assert.equal(await inHostsFile('b.test', file), false)
    assert.equal(await inHostsFile('commented.test', file), false)
    assert.equal(await inHostsFile('127.0.0.1', file), false)
    assert.equal(await inHostsFile('x', join(dir, 'missing')), false)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('SystemResolver: localhost comes from /etc/hosts (no TTL, so no DNS query)', async () => {
  // The machine's /etc/hosts names localhost (Debian's does); the refresh interval applies to it.
  assert.equal(await inHostsFile('localhost'), true, '/etc/hosts has no localhost line')
  const answer = await new SystemResolver().resolve('localhost')
  assert.ok(answer.addresses.length > 0)
  for (const a of answer.addresses) assert.ok(a === '127.0.0.1' || a === '::1', a)
  assert.equal(await answer.ttl, null)
})

// ---------------------------------------------------------------------------------------------

/** A scripted resolver: each name answers what `script` says now; every call is recorded. */
class ScriptedResolver implements NameResolver {
  readonly description = 'scripted'
  readonly calls: { host: string; at: number }[] = []
  readonly script = new Map<string, Answer | { code: string }>()
  /** Delay before answering (ms). */
  delay = 0

  async resolve(host: string): Promise<Answer> {
    this.calls.push({ host, at: Date.now() })
    if (this.delay > 0) await sleep(this.delay)
    const a = this.script.get(host) ?? { code: 'ENOTFOUND' }
    if ('code' in a) throw Object.assign(new Error(a.code), { code: a.code })
    return a
  }

  callsFor(host: string): number[] {
    return this.calls.filter((c) => c.host === host).map((c) => c.at)
  }
}

/** A TrackedServer recording every setAddress. */
class FakeServer implements TrackedServer {
  address: string | null = null
  host: string | null = null
  readonly changes: [string | null, string | null][] = []
  constructor(readonly hostName: string) {}
  setAddress(address: string | null, host: string | null): void {
    this.changes.push([address, host])
    this.address = address
    this.host = host
  }
  get label(): string {
    return `p | ${this.hostName}`
  }
}

const MIN = 40
const INTERVAL = 400

function book(r: NameResolver, log = new TestLog()): AddressBook {
  return new AddressBook(r, log, MIN)
}

/** Gaps between successive times. */
function gaps(times: readonly number[]): number[] {
  return times.slice(1).map((t, i) => t - times[i]!)
}

async function until(check: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await sleep(5)
  }
}

describe('AddressBook', () => {
  test('first answer sets the address; a TTL of 0 is raised to the minimum', async () => {
    const r = new ScriptedResolver()
    r.script.set('n.test', { addresses: ['10.0.0.1'], ttl: 0 })
    const b = book(r)
    const s = new FakeServer('n.test')
    await b.track(s, INTERVAL)
    assert.deepEqual(s.changes, [['10.0.0.1', '10.0.0.1']])
    await until(() => r.callsFor('n.test').length >= 4)
    b.stop()
    for (const g of gaps(r.callsFor('n.test'))) assert.ok(g >= MIN - 2 && g < INTERVAL, `gap ${g}`)
    // The address did not change, so it was set once.
    assert.equal(s.changes.length, 1)
  })

  test('a TTL between the bounds is honoured; above the interval the interval wins', async () => {
    const r = new ScriptedResolver()
    r.script.set('ttl.test', { addresses: ['10.0.0.1'], ttl: 150 })
    r.script.set('long.test', { addresses: ['10.0.0.2'], ttl: 3_600_000 })
    r.script.set('none.test', { addresses: ['10.0.0.3'], ttl: null })
    const b = book(r)
    await Promise.all(
      ['ttl.test', 'long.test', 'none.test'].map((n) => b.track(new FakeServer(n), INTERVAL)),
    )
    await until(() => r.callsFor('long.test').length >= 3 && r.callsFor('none.test').length >= 3)
    b.stop()
    for (const g of gaps(r.callsFor('ttl.test')))
      assert.ok(g >= 148 && g < INTERVAL, `ttl gap ${g}`)
    for (const n of ['long.test', 'none.test']) {
      for (const g of gaps(r.callsFor(n)))
        assert.ok(g >= INTERVAL - 2 && g < 3 * INTERVAL, `${n} ${g}`)
    }
  })

  test('a TTL that comes later (the system probe) sets the next lookup when it comes', async () => {
    const r = new ScriptedResolver()
    r.script.set('slow.test', {
      addresses: ['10.0.0.1'],
      ttl: sleep(100).then(() => 60),
    })
    const b = book(r)
    const s = new FakeServer('slow.test')
    const t0 = Date.now()
    await b.track(s, INTERVAL)
    // The address is in use before the TTL is known.
    assert.ok(Date.now() - t0 < 90)
    assert.equal(s.address, '10.0.0.1')
    await until(() => r.callsFor('slow.test').length >= 2)
    b.stop()
    const g = gaps(r.callsFor('slow.test'))[0]!
    assert.ok(g >= 158 && g < INTERVAL, `gap ${g}`)
  })

  test('several records in a new order: the current address stays (no flapping)', async () => {
    const r = new ScriptedResolver()
    r.script.set('rr.test', { addresses: ['10.0.0.1', '10.0.0.2'], ttl: 0 })
    const b = book(r)
    const s = new FakeServer('rr.test')
    await b.track(s, INTERVAL)
    r.script.set('rr.test', { addresses: ['10.0.0.2', '10.0.0.1'], ttl: 0 })
    const n = r.calls.length
    await until(() => r.calls.length >= n + 2)
    assert.deepEqual(s.changes, [['10.0.0.1', '10.0.0.1']])
    // The current address leaves the answer: the first one is taken.
    r.script.set('rr.test', { addresses: ['10.0.0.3', '10.0.0.2'], ttl: 0 })
    await until(() => s.changes.length === 2)
    b.stop()
    assert.deepEqual(s.changes[1], ['10.0.0.3', '10.0.0.3'])
  })

  test('a name that disappears: no address (Host is down); lookups back off, then it returns', async () => {
    const r = new ScriptedResolver()
    r.script.set('gone.test', { addresses: ['10.0.0.1'], ttl: 0 })
    const log = new TestLog()
    const b = book(r, log)
    const s = new FakeServer('gone.test')
    await b.track(s, INTERVAL)
    r.script.set('gone.test', { code: 'ENOTFOUND' })
    await until(() => s.address === null)
    assert.deepEqual(s.changes.at(-1), [null, null])
    const failedFrom = r.calls.length - 1
    await until(() => r.calls.length >= failedFrom + 5)
    const g = gaps(r.calls.slice(failedFrom).map((c) => c.at))
    // MIN, 2*MIN, 4*MIN, 8*MIN ... capped at the interval.
    assert.ok(g[0]! >= MIN - 2 && g[0]! < INTERVAL, `first back-off ${g[0]}`)
    assert.ok(g[1]! >= 2 * MIN - 2, `second back-off ${g[1]}`)
    assert.ok(g[2]! >= 4 * MIN - 2, `third back-off ${g[2]}`)
    assert.ok(g[3]! >= 8 * MIN - 2 && g[3]! <= INTERVAL + 200, `capped back-off ${g[3]}`)
    // One warning per streak, not one per lookup.
    assert.equal(log.lines.filter((l) => l.includes('does not resolve')).length, 1)
    r.script.set('gone.test', { addresses: ['10.0.0.9'], ttl: 0 })
    await until(() => s.address === '10.0.0.9', 3 * INTERVAL)
    b.stop()
    assert.ok(log.lines.some((l) => l.includes("'gone.test' resolves now")))
  })

  test('a failed query (timeout, SERVFAIL) keeps the last address', async () => {
    const r = new ScriptedResolver()
    r.script.set('flaky.test', { addresses: ['10.0.0.1'], ttl: 0 })
    const log = new TestLog()
    const b = book(r, log)
    const s = new FakeServer('flaky.test')
    await b.track(s, INTERVAL)
    r.script.set('flaky.test', { code: 'ETIMEOUT' })
    const n = r.calls.length
    await until(() => r.calls.length >= n + 3)
    b.stop()
    assert.deepEqual(s.changes, [['10.0.0.1', '10.0.0.1']])
    assert.ok(log.lines.some((l) => l.includes('lookup failed (ETIMEOUT), keeping 10.0.0.1')))
  })

  test('never resolved at start: the first lookup settles (failed) and retries follow', async () => {
    const r = new ScriptedResolver()
    const b = book(r)
    const s = new FakeServer('late.test')
    await b.track(s, INTERVAL)
    assert.equal(s.address, null)
    assert.deepEqual(s.changes, [])
    r.script.set('late.test', { addresses: ['10.0.0.5'], ttl: null })
    await until(() => s.address === '10.0.0.5')
    b.stop()
    assert.deepEqual(s.changes, [['10.0.0.5', '10.0.0.5']])
  })

  test('interval 0: no lookups; connections use the name (as nutcracker)', async () => {
    const r = new ScriptedResolver()
    const b = book(r)
    const s = new FakeServer('n.test')
    await b.track(s, 0)
    await sleep(3 * MIN)
    b.stop()
    assert.equal(r.calls.length, 0)
    assert.deepEqual(s.changes, [[null, 'n.test']])
  })

  test('servers with the same name share one lookup; untrack and stop end the lookups', async () => {
    const r = new ScriptedResolver()
    r.delay = 20
    r.script.set('shared.test', { addresses: ['10.0.0.1'], ttl: 0 })
    const b = book(r)
    const a = new FakeServer('shared.test')
    const c = new FakeServer('shared.test')
    await Promise.all([b.track(a, INTERVAL), b.track(c, INTERVAL)])
    assert.equal(r.calls.length, 1)
    assert.equal(a.address, '10.0.0.1')
    assert.equal(c.address, '10.0.0.1')
    assert.equal(b.size, 2)
    b.untrack(a)
    assert.equal(b.size, 1)
    b.stop()
    assert.equal(b.size, 0)
    const n = r.calls.length
    await sleep(3 * MIN)
    assert.equal(r.calls.length, n)
  })

  test('retrack: a new interval is used from the next lookup; to 0 and back', async () => {
    const r = new ScriptedResolver()
    r.script.set('n.test', { addresses: ['10.0.0.1'], ttl: null })
    const b = book(r)
    const s = new FakeServer('n.test')
    await b.track(s, 10_000)
    await b.retrack(s, 0)
    assert.deepEqual(s.changes.at(-1), [null, 'n.test'])
    assert.equal(b.size, 0)
    await b.retrack(s, 10_000)
    assert.deepEqual(s.changes.at(-1), ['10.0.0.1', '10.0.0.1'])
    assert.equal(b.size, 1)
    b.stop()
    assert.ok(isIP(s.address ?? '') === 4)
  })
})
