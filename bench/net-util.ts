/**
 * Network chores of the benchmark: free ports, waiting for a listener, and preloading the
 * backends with the whole keyspace from this process (RESP SETs counted by their +OK
 * replies; memcache noreply sets closed by a `version` round trip).
 */
import { connect, createServer, type Server, type Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { KEY_PREFIX } from './plan.js'

/** n distinct free ports: n listeners on port 0 held open together, then closed. */
export async function freePorts(n: number): Promise<number[]> {
  const servers: Server[] = []
  try {
    const ports: number[] = []
    for (let i = 0; i < n; i++) {
      const srv = createServer()
      servers.push(srv)
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject)
        srv.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => resolve())
      })
      const a = srv.address()
      if (a === null || typeof a === 'string') throw new Error('freePorts: no port')
      ports.push(a.port)
    }
    return ports
  } finally {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(() => r(undefined)))))
  }
}

function tryConnect(port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host: '127.0.0.1', port })
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

/** Waits until something accepts on 127.0.0.1:port; false after timeoutMs or when gone() says so. */
export async function waitForPort(
  port: number,
  timeoutMs: number,
  gone: () => boolean = () => false,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (gone()) return false
    if (await tryConnect(port, 500)) return true
    await sleep(50)
  }
  return false
}

export const keyOf = (i: number): string => KEY_PREFIX + String(i).padStart(12, '0')

/** Writes chunks produced by make(from, to) with back-pressure, CHUNK keys at a time. */
async function writeAll(
  sock: Socket,
  keys: number,
  make: (from: number, to: number) => string,
): Promise<void> {
  const CHUNK = 2000
  for (let i = 0; i < keys; i += CHUNK) {
    if (!sock.write(make(i, Math.min(keys, i + CHUNK)), 'latin1')) {
      await new Promise((r) => sock.once('drain', r))
    }
  }
}

function openSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: '127.0.0.1', port })
    sock.once('connect', () => {
      sock.off('error', reject)
      resolve(sock)
    })
    sock.once('error', reject)
  })
}

/** SET every key on a redis server; resolves when all +OK replies arrived. */
export async function preloadRedis(
  port: number,
  keys: number,
  size: number,
  timeoutMs: number,
): Promise<void> {
  const sock = await openSocket(port)
  const value = 'x'.repeat(size)
  const expected = keys * 5 // "+OK\r\n"
  try {
    await new Promise<void>((resolve, reject) => {
      let got = 0
      const timer = setTimeout(
        () => reject(new Error(`preload of redis ${port}: ${got / 5}/${keys} replies in time`)),
        timeoutMs,
      )
      sock.on('data', (d: Buffer) => {
        if (d.includes(45 /* '-' */)) {
          clearTimeout(timer)
          reject(new Error(`preload of redis ${port}: ${d.toString('latin1', 0, 200)}`))
          return
        }
        got += d.length
        if (got >= expected) {
          clearTimeout(timer)
          resolve()
        }
      })
      sock.on('error', (e) => {
        clearTimeout(timer)
        reject(e)
      })
      writeAll(sock, keys, (from, to) => {
        let s = ''
        for (let i = from; i < to; i++) {
          const k = keyOf(i)
          s += `*3\r\n$3\r\nSET\r\n$${k.length}\r\n${k}\r\n$${size}\r\n${value}\r\n`
        }
        return s
      }).catch(reject)
    })
  } finally {
    sock.destroy()
  }
}

/** set … noreply for every key on a memcached, then `version` to know they were all read. */
export async function preloadMemcached(
  port: number,
  keys: number,
  size: number,
  timeoutMs: number,
): Promise<void> {
  const sock = await openSocket(port)
  const value = 'x'.repeat(size)
  try {
    await new Promise<void>((resolve, reject) => {
      let got = ''
      const timer = setTimeout(
        () => reject(new Error(`preload of memcached ${port}: no VERSION in time`)),
        timeoutMs,
      )
      sock.on('data', (d: Buffer) => {
        got += d.toString('latin1')
        if (got.includes('ERROR')) {
          clearTimeout(timer)
          reject(new Error(`preload of memcached ${port}: ${got.slice(0, 200)}`))
        } else if (got.includes('VERSION')) {
          clearTimeout(timer)
          resolve()
        }
      })
      sock.on('error', (e) => {
        clearTimeout(timer)
        reject(e)
      })
      writeAll(sock, keys, (from, to) => {
        let s = ''
        for (let i = from; i < to; i++) s += `set ${keyOf(i)} 0 0 ${size} noreply\r\n${value}\r\n`
        return s
      })
        .then(() => sock.write('version\r\n'))
        .catch(reject)
    })
  } finally {
    sock.destroy()
  }
}
