/**
 * Port helpers for integration tests: every test process listens on 127.0.0.1 ports that are
 * free when asked for, never on fixed ports, so test files can run in parallel next to a
 * developer's own redis/memcached.
 *
 * A port is picked at random BELOW the kernel's ephemeral range: ports the kernel hands out
 * (listen on 0) are also the local ports of outgoing connections, so between picking one and
 * the proxy binding it, any client connection of a parallel test could take it (a CI run lost
 * that race: `bind ... failed: Address already in use`). Below the range only another test
 * picking the same random port can, and the pick checks the port is free.
 */
import { readFileSync } from 'node:fs'
import { createServer, connect as netConnect } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'

/** Candidate ports [low, high): just below the ephemeral range, or none when it is too low. */
function candidateRange(): [number, number] | null {
  let ephemeralLow = 32768
  try {
    ephemeralLow = Number(
      readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'latin1').split(/\s+/)[0],
    )
  } catch {
    // not Linux: assume the usual default
  }
  const high = ephemeralLow
  const low = Math.max(10000, high - 12000)
  return high - low >= 2000 ? [low, high] : null
}

const RANGE = candidateRange()
/** Ports walnut or nutcracker may use by default: never handed out. */
const AVOID = new Set([22222, 6379, 11211])

/** Listens on host:port (0: any) and closes; resolves with the port, or -1 when it is taken. */
function probe(host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.unref()
    srv.once('error', (err: NodeJS.ErrnoException) => {
      if (port !== 0 && (err.code === 'EADDRINUSE' || err.code === 'EACCES')) resolve(-1)
      else reject(err)
    })
    srv.listen({ host, port, exclusive: true }, () => {
      const addr = srv.address()
      if (addr === null || typeof addr === 'string') {
        srv.close()
        reject(new Error(`freePort: unexpected address ${String(addr)}`))
        return
      }
      const got = addr.port
      srv.close((err) => (err ? reject(err) : resolve(got)))
    })
  })
}

/** A free TCP port on `host`, below the ephemeral range when it can (see above). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  if (RANGE !== null) {
    const [low, high] = RANGE
    for (let attempt = 0; attempt < 50; attempt++) {
      const port = low + Math.floor(Math.random() * (high - low))
      if (AVOID.has(port)) continue
      const got = await probe(host, port)
      if (got > 0) return got
    }
  }
  return probe(host, 0)
}

/** One connection attempt; resolves true when something accepted on host:port. */
export function canConnect(port: number, host = '127.0.0.1', timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = netConnect({ port, host })
    const timer = setTimeout(() => done(false), timeoutMs)
    function done(ok: boolean): void {
      clearTimeout(timer)
      sock.destroy()
      resolve(ok)
    }
    sock.once('connect', () => done(true))
    sock.once('error', () => done(false))
  })
}

export interface WaitForPortOptions {
  /** Stops waiting early (e.g. when the process that should listen has exited). */
  signal?: AbortSignal
  /** Delay between connection attempts, ms. */
  intervalMs?: number
}

/**
 * Waits until a TCP connect to host:port succeeds. Rejects after `timeoutMs` (bounded loop) or
 * when `opts.signal` aborts, with a message naming the address.
 */
export async function waitForPort(
  port: number,
  host = '127.0.0.1',
  timeoutMs = 5000,
  opts: WaitForPortOptions = {},
): Promise<void> {
  const interval = opts.intervalMs ?? 25
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (opts.signal?.aborted) {
      throw new Error(`waitForPort ${host}:${port}: aborted (${String(opts.signal.reason)})`)
    }
    const left = deadline - Date.now()
    if (left <= 0) break
    if (await canConnect(port, host, Math.min(500, left))) return
    if (Date.now() + interval >= deadline) break
    await sleep(interval)
  }
  throw new Error(`waitForPort ${host}:${port}: nothing accepted within ${timeoutMs} ms`)
}
