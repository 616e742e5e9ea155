/**
 * Port helpers for integration tests: every test process listens on 127.0.0.1 ports that the
 * kernel hands out (bind to port 0), never on fixed ports, so test files can run in parallel
 * next to a developer's own redis/memcached.
 */
import { createServer, connect as netConnect } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'

/** Asks the kernel for a free TCP port on `host`: listen on 0, read the port, close. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.unref()
    srv.once('error', reject)
    srv.listen({ host, port: 0, exclusive: true }, () => {
      const addr = srv.address()
      if (addr === null || typeof addr === 'string') {
        srv.close()
        reject(new Error(`freePort: unexpected address ${String(addr)}`))
        return
      }
      const { port } = addr
      srv.close((err) => (err ? reject(err) : resolve(port)))
    })
  })
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
