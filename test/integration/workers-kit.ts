/**
 * Helpers of the `--workers` tests: the primary's log (worker pids from its
 * `worker N (pid P) ready` lines), which worker process holds the proxy's side of
 * a client connection (/proc/net/tcp inode → /proc/<pid>/fd), and the stats
 * document as parsed JSON.
 */
import assert from 'node:assert/strict'
import { readdirSync, readFileSync, readlinkSync } from 'node:fs'
import type { Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { connect } from '../helpers/servers.js'

export { alive, gone, ppid } from '../helpers/servers.js'

export const STAMP = String.raw`\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\]`

export function read(path: string): string {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return ''
  }
}

/** Waits until `path` has at least `n` lines matching `re`; returns those lines. */
export async function waitLines(path: string, re: RegExp, n = 1, ms = 10_000): Promise<string[]> {
  const deadline = Date.now() + ms
  for (;;) {
    const lines = read(path)
      .split('\n')
      .filter((l) => re.test(l))
    if (lines.length >= n) return lines
    if (Date.now() > deadline) assert.fail(`${path}: ${n} x ${re} not logged:\n${read(path)}`)
    await sleep(20)
  }
}

/** Slot → pid of each worker, from the last `worker N (pid P) ready` line per slot. */
export function workerPids(log: string): Map<number, number> {
  const out = new Map<number, number>()
  for (const m of log.matchAll(/ cli worker (\d+) \(pid (\d+)\) ready$/gm)) {
    out.set(Number(m[1]), Number(m[2]))
  }
  return out
}

/** Waits for `n` ready workers in the log; returns slot → pid. */
export async function readyWorkers(log: string, n: number): Promise<Map<number, number>> {
  await waitLines(log, / cli worker \d+ \(pid \d+\) ready$/, n)
  return workerPids(read(log))
}

/** `0100007F:1F90` → 8080 */
function hexPort(addr: string): number {
  return Number.parseInt(addr.slice(addr.indexOf(':') + 1), 16)
}

/** The inode of the IPv4 TCP socket with these local and remote ports; 0 if none. */
function inodeOf(localPort: number, remotePort: number): number {
  for (const line of read('/proc/net/tcp').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/)
    if (f.length < 10) continue
    if (hexPort(f[1]!) === localPort && hexPort(f[2]!) === remotePort) return Number(f[9])
  }
  return 0
}

/**
 * Which of `pids` holds the proxy's side of `client` (-1: none yet, e.g. not accepted).
 * The debug mechanism of these tests: no walnut code reports it.
 */
export function ownerOf(client: Socket, proxyPort: number, pids: readonly number[]): number {
  return socketOwner(proxyPort, client.localPort ?? 0, pids)
}

/** Which of `pids` holds the TCP socket from `localPort` to `remotePort` (-1: none). */
export function socketOwner(
  localPort: number,
  remotePort: number,
  pids: readonly number[],
): number {
  const inode = inodeOf(localPort, remotePort)
  if (inode === 0) return -1
  const want = `socket:[${inode}]`
  for (const pid of pids) {
    let fds: string[]
    try {
      fds = readdirSync(`/proc/${pid}/fd`)
    } catch {
      continue
    }
    for (const fd of fds) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`) === want) return pid
      } catch {
        // closed meanwhile
      }
    }
  }
  return -1
}

/** ownerOf, retried until the connection is accepted (at most `ms`). */
export async function waitOwner(
  client: Socket,
  proxyPort: number,
  pids: readonly number[],
  ms = 5000,
): Promise<number> {
  const deadline = Date.now() + ms
  for (;;) {
    const pid = ownerOf(client, proxyPort, pids)
    if (pid > 0) return pid
    if (Date.now() > deadline) assert.fail(`no worker of ${pids.join(',')} holds the connection`)
    await sleep(10)
  }
}

/** A stats document, parsed (pools and servers as nested objects). */
export type StatsDoc = Record<string, unknown>

/** Reads the stats port's whole document; returns the raw text and the parsed JSON. */
export async function statsDoc(port: number): Promise<{ text: string; doc: StatsDoc }> {
  const c = await connect(port)
  const raw = await c.readUntilClose(5000)
  await c.close()
  const text = raw.toString('utf8')
  return { text, doc: JSON.parse(text) as StatsDoc }
}

/** The numbers of one pool in a stats document. */
export function poolOf(
  doc: StatsDoc,
  pool: string,
): Record<string, number | Record<string, number>> {
  const p = doc[pool]
  assert.ok(p !== undefined && typeof p === 'object', `pool ${pool} in the stats document`)
  return p as Record<string, number | Record<string, number>>
}

/** The servers of one pool in a stats document (name → counters). */
export function serversOf(doc: StatsDoc, pool: string): Map<string, Record<string, number>> {
  const out = new Map<string, Record<string, number>>()
  for (const [k, v] of Object.entries(poolOf(doc, pool))) {
    if (typeof v === 'object') out.set(k, v)
  }
  return out
}

/** The sum of one server counter over a pool's servers. */
export function serverSum(doc: StatsDoc, pool: string, counter: string): number {
  let n = 0
  for (const s of serversOf(doc, pool).values()) n += s[counter] ?? 0
  return n
}
