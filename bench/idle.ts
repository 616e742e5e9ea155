/**
 * The memory workload: how much a proxy's resident memory grows with idle client
 * connections. The bench opens them itself, in batches, waits until the proxy has accepted
 * every one (its descriptor count in /proc/PID/fd says so), lets it settle, and reads VmRSS.
 */
import { connect, type Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { countFds, readVmRssKb } from './procfs.js'
import type { MemoryPhase, MemoryRow } from './stats.js'

const BATCH = 500
const SETTLE_MS = 1000

async function openBatch(port: number, n: number, into: Socket[]): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    let pending = n
    let failed = false
    const timer = setTimeout(
      () => fail(new Error(`connect timed out (${pending} pending)`)),
      15_000,
    )
    function fail(e: Error): void {
      if (failed) return
      failed = true
      clearTimeout(timer)
      reject(e)
    }
    for (let i = 0; i < n; i++) {
      const s = connect({ host: '127.0.0.1', port })
      into.push(s)
      s.on('error', (e) => fail(e))
      s.once('connect', () => {
        if (--pending === 0 && !failed) {
          clearTimeout(timer)
          resolve()
        }
      })
    }
  })
}

async function waitFds(pid: number, done: (n: number) => boolean, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs
  let n = countFds(pid)
  while (!done(n) && Date.now() < deadline) {
    await sleep(100)
    n = countFds(pid)
  }
  return done(n)
}

/** Opens `conns` idle connections to port and measures the RSS growth of process pid. */
export async function measureIdle(
  phase: MemoryPhase,
  target: string,
  pid: number,
  port: number,
  conns: number,
): Promise<MemoryRow> {
  const baseFds = countFds(pid)
  const before = readVmRssKb(pid)
  const socks: Socket[] = []
  const row = (rssAfterKb: number, status: string): MemoryRow => ({
    phase,
    target,
    conns,
    rssBeforeKb: before ?? 0,
    rssAfterKb,
    status,
  })
  if (before === undefined) return row(0, 'NOT_RUNNING')
  try {
    for (let opened = 0; opened < conns; opened += BATCH) {
      await openBatch(port, Math.min(BATCH, conns - opened), socks)
    }
    const accepted = await waitFds(pid, (n) => n >= baseFds + conns, 20_000)
    if (!accepted) return row(0, `ACCEPTED(${countFds(pid) - baseFds}/${conns})`)
    await sleep(SETTLE_MS)
    const after = readVmRssKb(pid)
    const open = socks.filter((s) => !s.destroyed).length
    if (after === undefined) return row(0, 'DIED')
    if (open !== conns) return row(after, `CLOSED(${conns - open})`)
    return row(after, 'ok')
  } catch (e) {
    return row(0, `FAIL(${(e as Error).message.replace(/\s+/g, '_')})`)
  } finally {
    for (const s of socks) s.destroy()
    // Let the proxy see the closes before the next measurement.
    await waitFds(pid, (n) => n <= baseFds + 16, 10_000)
  }
}
