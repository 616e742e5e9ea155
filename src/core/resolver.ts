/**
 * Backend host names that move. nutcracker looks a server's name up only when
 * it (re)connects, with a blocking getaddrinfo, and keeps talking to the old
 * address over connections that stay up. walnut resolves every named server
 * in the background, never on a request's path, and again when the answer's
 * TTL runs out:
 *
 *   track(server) ─► lookup now ─► answer ─► setAddress ─► next lookup after
 *                       ▲                                 clamp(ttl, DNS_MIN_REFRESH_MS,
 *                       │                                       dns_refresh_interval)
 *                       └── no answer: DNS_MIN_REFRESH_MS, doubling up to the interval
 *
 * Placement never depends on any of this: it is keyed by the name as written.
 * A server's address changes only when its current address leaves the answer,
 * so a name with several records that a DNS server rotates does not flap.
 *
 * Two ways to ask (see docs/dns-and-reload.md):
 *  - the system's (default): getaddrinfo through `dns.lookup`, so /etc/hosts
 *    works; the TTL comes from a separate query to the system's DNS servers,
 *    skipped for names in /etc/hosts (which have none: the refresh interval
 *    applies);
 *  - `--dns-server host:port[,...]`: only those DNS servers, A then AAAA, the
 *    records' TTL honoured.
 *
 * A name the DNS says does not exist (NXDOMAIN, no records) leaves the server
 * without an address: requests for it fail at once with `Host is down`, as
 * nutcracker's do. A query that fails otherwise (timeout, SERVFAIL, refused)
 * keeps the last address: a DNS outage does not take working backends away.
 */

import type { RecordWithTtl } from 'node:dns'
import { Resolver as DnsResolver, lookup as dnsLookup } from 'node:dns/promises'
import { readFile } from 'node:fs/promises'
import { isIP } from 'node:net'
import type { ProtoLog } from '../proto/types.js'

/** The shortest time between two lookups of a name (a TTL of 0 or 1 s is raised to this). */
export const DNS_MIN_REFRESH_MS = 1000
/** Time one DNS query may take before it counts as failed. */
export const DNS_QUERY_TIMEOUT_MS = 2000
/** Start-up and reload wait at most this long for the first answers. */
export const DNS_FIRST_ANSWER_WAIT_MS = 5000
/** Where getaddrinfo finds local names (names there have no TTL). */
export const HOSTS_FILE = '/etc/hosts'

/** One answer: every address of the name, and how long it may be kept. */
export interface Answer {
  /** At least one, in the resolver's order. */
  readonly addresses: readonly string[]
  /** The records' TTL in ms, null when unknown; may come later than the addresses. */
  readonly ttl: number | null | Promise<number | null>
}

/** Looks names up; rejects with a node:dns error (its `code` tells not-found from transient). */
export interface NameResolver {
  resolve(host: string): Promise<Answer>
  /** For logs: `system` or the DNS servers. */
  readonly description: string
}

/** node:dns codes meaning "this name has no address" (as opposed to "could not ask"). */
const NOT_FOUND = new Set(['ENOTFOUND', 'ENODATA', 'EAI_NONAME', 'EAI_NODATA', 'NXDOMAIN'])

/** True when `err` says the name does not exist or has no address. */
export function isNotFound(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' && NOT_FOUND.has(code)
}

/** The error's code (or message) for logs. */
function errorText(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code
  if (typeof code === 'string') return code
  return err instanceof Error ? err.message : String(err)
}

/** The smallest TTL of `records` (seconds) in ms, or null for none. */
function ttlOf(records: readonly RecordWithTtl[]): number | null {
  if (records.length === 0) return null
  let min = Number.POSITIVE_INFINITY
  for (const r of records) if (r.ttl < min) min = r.ttl
  return min * 1000
}

function notFound(host: string): Error {
  return Object.assign(new Error(`no address for ${host}`), { code: 'ENODATA' })
}

/** True when `host` is one of the names on a line of the hosts file. */
export async function inHostsFile(host: string, path = HOSTS_FILE): Promise<boolean> {
  let text: string
  try {
    text = await readFile(path, 'latin1')
  } catch {
    return false
  }
  const want = host.toLowerCase()
  for (const raw of text.split('\n')) {
    const hash = raw.indexOf('#')
    const line = hash >= 0 ? raw.slice(0, hash) : raw
    const words = line.split(/[ \t]+/).filter((w) => w !== '')
    for (let i = 1; i < words.length; i++) if (words[i]!.toLowerCase() === want) return true
  }
  return false
}

/** The system's resolver: getaddrinfo for the addresses, a DNS query for the TTL. */
export class SystemResolver implements NameResolver {
  readonly description = 'system'
  private probe: DnsResolver | null = null

  constructor(private readonly hostsFile = HOSTS_FILE) {}

  async resolve(host: string): Promise<Answer> {
    const all = await dnsLookup(host, { all: true })
    if (all.length === 0) throw notFound(host)
    const addresses = all.map((a) => a.address)
    return { addresses, ttl: this.ttl(host, all[0]!.family, addresses) }
  }

  /** The TTL of the records behind `addresses`; null for /etc/hosts names and failed probes. */
  private async ttl(
    host: string,
    family: number,
    addresses: readonly string[],
  ): Promise<number | null> {
    if (await inHostsFile(host, this.hostsFile)) return null
    this.probe ??= new DnsResolver({ timeout: DNS_QUERY_TIMEOUT_MS, tries: 1 })
    try {
      const records =
        family === 6
          ? await this.probe.resolve6(host, { ttl: true })
          : await this.probe.resolve4(host, { ttl: true })
      return ttlOf(records.filter((r) => addresses.includes(r.address)))
    } catch {
      return null
    }
  }
}

/** `--dns-server`: only these DNS servers, A records then AAAA. */
export class DnsServerResolver implements NameResolver {
  readonly description: string
  private readonly resolver: DnsResolver

  /** `servers` in node:dns setServers form (`127.0.0.1:5353`, `[::1]:53`), see parseDnsServers. */
  constructor(servers: readonly string[]) {
    this.resolver = new DnsResolver({ timeout: DNS_QUERY_TIMEOUT_MS, tries: 2 })
    this.resolver.setServers(servers)
    this.description = servers.join(',')
  }

  async resolve(host: string): Promise<Answer> {
    let records: RecordWithTtl[]
    try {
      records = await this.resolver.resolve4(host, { ttl: true })
    } catch (err) {
      // The name exists without A records: try AAAA. Any other failure is final.
      if ((err as { code?: unknown }).code !== 'ENODATA') throw err
      records = await this.resolver.resolve6(host, { ttl: true })
    }
    if (records.length === 0) throw notFound(host)
    return { addresses: records.map((r) => r.address), ttl: ttlOf(records) }
  }
}

/** The resolver for `--dns-server` (null or empty: the system's). */
export function resolverFor(dnsServers: readonly string[] | null | undefined): NameResolver {
  return dnsServers !== null && dnsServers !== undefined && dnsServers.length > 0
    ? new DnsServerResolver(dnsServers)
    : new SystemResolver()
}

const PORT_DIGITS = /^[0-9]{1,5}$/

/**
 * `--dns-server` value: comma-separated `ip[:port]` (IPv6 as `[ip]:port` or a
 * bare `ip`), port 53 when absent. Names are refused (who would resolve them?).
 * Returns node:dns setServers strings, or an error text.
 */
export function parseDnsServers(text: string): string[] | string {
  const out: string[] = []
  for (const part of text.split(',')) {
    const item = part.trim()
    let host = item
    let port = '53'
    if (item.startsWith('[')) {
      const close = item.indexOf(']')
      if (close < 0) return `'${item}' is not an address[:port]`
      host = item.slice(1, close)
      const rest = item.slice(close + 1)
      if (rest !== '') {
        if (!rest.startsWith(':')) return `'${item}' is not an address[:port]`
        port = rest.slice(1)
      }
    } else if (isIP(item) !== 6) {
      const colon = item.lastIndexOf(':')
      if (colon >= 0) {
        host = item.slice(0, colon)
        port = item.slice(colon + 1)
      }
    }
    const family = isIP(host)
    if (family === 0) return `'${item}' is not an address[:port]`
    const n = PORT_DIGITS.test(port) ? Number(port) : 0
    if (n < 1 || n > 65535) return `'${item}' has an invalid port`
    out.push(family === 6 ? `[${host}]:${n}` : `${host}:${n}`)
  }
  return out
}

// ---------------------------------------------------------------------------------------------

/** What the address book needs of a server (src/core/server.ts's Server). */
export interface TrackedServer {
  /** The host name as written in `servers:`; null (an IP, a unix socket): nothing to track. */
  readonly hostName: string | null
  /** The current address, or null. */
  readonly address: string | null
  /**
   * A new address (null: the name does not resolve). `host` is what connections
   * use: the address, or with `atConnect` the name itself (looked up per connect).
   */
  setAddress(address: string | null, host: string | null, why: string): void
  /** `pool | server` for logs. */
  readonly label: string
}

/** One tracked server. */
class Entry {
  timer: NodeJS.Timeout | null = null
  /** Consecutive lookups without an answer. */
  failures = 0
  stopped = false
  /** Whether the last failure was logged (one warning per streak). */
  warned = false
  constructor(
    readonly server: TrackedServer,
    readonly name: string,
    public interval: number,
  ) {}
}

/**
 * Keeps the address of every named server current. One per proxy; servers are
 * tracked when they join a pool (start, reload) and untracked when they leave.
 */
export class AddressBook {
  private readonly entries = new Map<TrackedServer, Entry>()
  /** Lookups in flight by name, shared by servers with the same host. */
  private readonly inflight = new Map<string, Promise<Answer>>()
  private stopped = false

  constructor(
    readonly resolver: NameResolver,
    private readonly log: ProtoLog,
    /** DNS_MIN_REFRESH_MS; smaller in tests. */
    private readonly minRefresh = DNS_MIN_REFRESH_MS,
  ) {}

  /**
   * Starts tracking `server` with refresh interval `interval` ms (0: no
   * background lookups; connections look the name up themselves, as
   * nutcracker's do). Resolves once the first lookup has settled.
   */
  track(server: TrackedServer, interval: number): Promise<void> {
    this.untrack(server)
    const name = server.hostName
    if (this.stopped || name === null) return Promise.resolve()
    if (interval === 0) {
      server.setAddress(null, name, 'resolved at each connect')
      return Promise.resolve()
    }
    const entry = new Entry(server, name, interval)
    this.entries.set(server, entry)
    return this.lookup(entry)
  }

  /** Changes a tracked server's refresh interval (a reload); a change to or from 0 re-tracks it. */
  retrack(server: TrackedServer, interval: number): Promise<void> {
    const entry = this.entries.get(server)
    if (entry !== undefined && interval > 0) {
      entry.interval = interval
      return Promise.resolve()
    }
    if (entry === undefined && interval === 0) return Promise.resolve()
    return this.track(server, interval)
  }

  /** Stops tracking `server` (it left its pool). */
  untrack(server: TrackedServer): void {
    const entry = this.entries.get(server)
    if (entry === undefined) return
    this.entries.delete(server)
    entry.stopped = true
    if (entry.timer !== null) clearTimeout(entry.timer)
  }

  /** Stops every timer (shutdown). */
  stop(): void {
    this.stopped = true
    for (const s of [...this.entries.keys()]) this.untrack(s)
  }

  /** Number of tracked servers (tests). */
  get size(): number {
    return this.entries.size
  }

  private query(host: string): Promise<Answer> {
    let p = this.inflight.get(host)
    if (p === undefined) {
      p = this.resolver.resolve(host)
      this.inflight.set(host, p)
      const clear = () => this.inflight.delete(host)
      p.then(clear, clear)
    }
    return p
  }

  private async lookup(entry: Entry): Promise<void> {
    entry.timer = null
    const server = entry.server
    let answer: Answer
    try {
      answer = await this.query(entry.name)
    } catch (err) {
      if (entry.stopped) return
      this.failed(entry, err)
      return
    }
    if (entry.stopped) return
    entry.failures = 0
    if (entry.warned) {
      entry.warned = false
      this.log.log(5, 'dns', () => `${server.label}: '${entry.name}' resolves now`)
    }
    const current = server.address
    const next =
      current !== null && answer.addresses.includes(current) ? current : answer.addresses[0]!
    if (next !== current) server.setAddress(next, next, `'${entry.name}' resolved`)
    const ttl = answer.ttl
    if (typeof ttl === 'number' || ttl === null) this.schedule(entry, this.delayFor(entry, ttl))
    else {
      // The TTL probe may take a while; the address is in use meanwhile.
      void ttl.then(
        (t) => this.schedule(entry, this.delayFor(entry, t)),
        () => this.schedule(entry, entry.interval),
      )
    }
  }

  /** Next lookup after an answer: the TTL, raised to the minimum, capped by the interval. */
  private delayFor(entry: Entry, ttl: number | null): number {
    if (ttl === null) return entry.interval
    return Math.min(entry.interval, Math.max(this.minRefresh, ttl))
  }

  private failed(entry: Entry, err: unknown): void {
    const server = entry.server
    entry.failures++
    const gone = isNotFound(err)
    const level = entry.warned ? 7 : 4
    entry.warned = true
    this.log.log(
      level,
      'dns',
      () =>
        `${server.label}: '${entry.name}' ${gone ? 'does not resolve' : 'lookup failed'} (${errorText(err)})${
          gone ? '' : server.address !== null ? `, keeping ${server.address}` : ''
        }`,
    )
    // Not found: the server has no address now. Transient: the last address stays.
    if (gone && server.address !== null) server.setAddress(null, null, `'${entry.name}' is gone`)
    // Back off: the minimum, doubling up to the interval.
    const backoff = this.minRefresh * 2 ** Math.min(entry.failures - 1, 20)
    this.schedule(entry, Math.min(entry.interval, backoff))
  }

  private schedule(entry: Entry, ms: number): void {
    if (entry.stopped || this.stopped) return
    if (entry.timer !== null) clearTimeout(entry.timer)
    entry.timer = setTimeout(() => void this.lookup(entry), ms)
    entry.timer.unref()
  }
}

/**
 * Waits for `first` lookups, at most `ms`. Start-up and reload use it so that
 * requests do not find servers still unresolved; a slow DNS only delays them
 * by `ms`, after which those servers answer `Host is down` until resolved.
 */
export async function settled(
  first: readonly Promise<void>[],
  ms = DNS_FIRST_ANSWER_WAIT_MS,
): Promise<boolean> {
  if (first.length === 0) return true
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms)
    timer.unref()
  })
  try {
    return await Promise.race([Promise.all(first).then(() => true as const), timeout])
  } finally {
    clearTimeout(timer)
  }
}
