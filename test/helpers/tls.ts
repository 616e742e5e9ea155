/**
 * TLS fixtures for the TLS tests (docs/tls.md): certificates made with the
 * `openssl` command in a temp dir, a TLS memcached (`memcached -Z`), a TLS port
 * on a real redis-server, and a byte-exact TLS client.
 *
 * Certificates: one test CA signs a server certificate (SAN `DNS:localhost`,
 * `IP:127.0.0.1`) and a client certificate; a second, unrelated CA is the
 * "wrong CA". EC P-256 keys: made in milliseconds. Everything is removed by a
 * root-level `after` hook; processes are tracked and stopped the same way.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after } from 'node:test'
import { type TLSSocket, connect as tlsConnect } from 'node:tls'
import { freePort } from './ports.js'
import {
  findBinary,
  LOCALHOST,
  mcReplyEnd,
  READ_TIMEOUT_MS,
  respReplyEnd,
  type ServerProc,
  START_TIMEOUT_MS,
  showBytes,
  startRedis,
} from './servers.js'

export interface Certs {
  readonly dir: string
  /** The test CA (PEM) that signed server.pem and client.pem. */
  readonly ca: string
  readonly server: string
  readonly serverKey: string
  readonly client: string
  readonly clientKey: string
  /** A CA that signed nothing here: verifying against it fails. */
  readonly otherCa: string
  readonly otherCaKey: string
}

const dirs: string[] = []
const procs = new Set<ChildProcess>()

after(() => {
  for (const p of procs) p.kill('SIGKILL')
  procs.clear()
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})
process.on('exit', () => {
  for (const p of procs) p.kill('SIGKILL')
})

function openssl(dir: string, args: readonly string[]): void {
  const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed:\n${r.stderr}`)
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2']

/** A fresh temp dir, removed after the test file. */
export function tempDir(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `walnut-${name}-`))
  dirs.push(dir)
  return dir
}

/** Makes the CA, server, client and other-CA certificates in a new temp dir. */
export function makeCerts(): Certs {
  const dir = tempDir('tls')
  const ca = (name: string, cn: string) =>
    // biome-ignore format: one flag per pair
    openssl(dir, [
      'req', '-x509', ...EC, '-keyout', `${name}.key`, '-out', `${name}.pem`, '-subj', `/CN=${cn}`,
      '-addext', 'basicConstraints=critical,CA:TRUE',
      '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    ])
  const leaf = (name: string, cn: string, ext: string[]) =>
    // biome-ignore format: one flag per pair
    openssl(dir, [
      'req', '-x509', ...EC, '-keyout', `${name}.key`, '-out', `${name}.pem`, '-subj', `/CN=${cn}`,
      '-CA', 'ca.pem', '-CAkey', 'ca.key', '-addext', 'basicConstraints=CA:FALSE', ...ext,
    ])
  ca('ca', 'walnut test CA')
  ca('other-ca', 'walnut other CA')
  leaf('server', 'localhost', ['-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'])
  leaf('client', 'walnut client', ['-addext', 'extendedKeyUsage=clientAuth'])
  const p = (f: string) => join(dir, f)
  return {
    dir,
    ca: p('ca.pem'),
    server: p('server.pem'),
    serverKey: p('server.key'),
    client: p('client.pem'),
    clientKey: p('client.key'),
    otherCa: p('other-ca.pem'),
    otherCaKey: p('other-ca.key'),
  }
}

export interface TlsRedis extends ServerProc {
  /** The TLS port (`port` is the plain one, for readiness and checks). */
  readonly tlsPort: number
}

/**
 * redis-server with a plain port (the helper's) and a TLS port. `authClients`:
 * `--tls-auth-clients yes` (client certificates required). `args`: more flags.
 */
export async function startTlsRedis(
  certs: Certs,
  opts: { authClients?: boolean; args?: string[] } = {},
): Promise<TlsRedis> {
  const tlsPort = await freePort()
  // biome-ignore format: one flag per pair
  const args = [
    '--tls-port', String(tlsPort),
    '--tls-cert-file', certs.server, '--tls-key-file', certs.serverKey,
    '--tls-ca-cert-file', certs.ca,
    '--tls-auth-clients', opts.authClients === true ? 'yes' : 'no',
    ...(opts.args ?? []),
  ]
  const r = await startRedis({ args })
  return Object.assign(r, { tlsPort }) as TlsRedis
}

export interface TlsMemcached {
  readonly port: number
  readonly child: ChildProcess
  stop(): Promise<void>
}

/** memcached -Z on 127.0.0.1 (every listener TLS); resolves once it answers `version` over TLS. */
export async function startTlsMemcached(certs: Certs): Promise<TlsMemcached> {
  const port = await freePort()
  const args = ['-p', String(port), '-l', LOCALHOST, '-U', '0', '-Z']
  args.push('-o', `ssl_chain_cert=${certs.server},ssl_key=${certs.serverKey}`)
  if (process.getuid?.() === 0) args.push('-u', 'root')
  const child = spawn(findBinary('memcached'), args, { stdio: ['ignore', 'ignore', 'pipe'] })
  procs.add(child)
  let err = ''
  child.stderr?.on('data', (c: Buffer) => {
    err += c.toString()
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const stop = async () => {
    child.kill('SIGTERM')
    await exited
    procs.delete(child)
  }
  const deadline = Date.now() + START_TIMEOUT_MS
  for (;;) {
    if (child.exitCode !== null) throw new Error(`memcached -Z exited: ${err}`)
    try {
      const c = await tlsClient(port, { ca: certs.ca, timeoutMs: 500 })
      await c.send('version\r\n')
      const v = (await c.readMcReply(500)).toString('latin1')
      c.close()
      if (v.startsWith('VERSION ')) return { port, child, stop }
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) {
      await stop()
      throw new Error(`memcached -Z did not answer on ${port}: ${err}`)
    }
    await new Promise((r) => setTimeout(r, 50))
  }
}

export interface TlsClientOptions {
  /** CA file to verify the server with; omitted: no verification. */
  readonly ca?: string
  readonly cert?: string
  readonly key?: string
  readonly servername?: string
  readonly timeoutMs?: number
}

/** A byte-exact TLS client (the TLS twin of servers.ts's connect()). */
export interface TlsClient {
  readonly socket: TLSSocket
  send(data: string | Buffer): Promise<void>
  /** One RESP reply, exact bytes. */
  readReply(timeoutMs?: number): Promise<Buffer>
  /** One memcache reply, exact bytes. */
  readMcReply(timeoutMs?: number): Promise<Buffer>
  /** Resolves with everything received once the peer closes (or errors). */
  untilClosed(timeoutMs?: number): Promise<{ data: Buffer; error: Error | undefined }>
  close(): void
}

/** Connects with TLS to 127.0.0.1:`port`; rejects when the handshake fails. */
export function tlsClient(port: number, o: TlsClientOptions = {}): Promise<TlsClient> {
  const socket = tlsConnect({
    host: LOCALHOST,
    port,
    ca: o.ca !== undefined ? readFileSync(o.ca) : undefined,
    cert: o.cert !== undefined ? readFileSync(o.cert) : undefined,
    key: o.key !== undefined ? readFileSync(o.key) : undefined,
    servername: o.servername ?? 'localhost',
    rejectUnauthorized: o.ca !== undefined,
  })
  let buf = Buffer.alloc(0)
  let error: Error | undefined
  let ended = false
  let wake: (() => void) | undefined
  socket.on('data', (c: Buffer) => {
    buf = Buffer.concat([buf, c])
    wake?.()
  })
  socket.on('error', (e) => {
    error = e
    wake?.()
  })
  socket.on('close', () => {
    ended = true
    wake?.()
  })
  const waitFor = async (want: (b: Buffer) => number, ms: number): Promise<Buffer> => {
    const deadline = Date.now() + ms
    for (;;) {
      const n = buf.length > 0 ? want(buf) : -1
      if (n >= 0) {
        const out = buf.subarray(0, n)
        buf = buf.subarray(n)
        return out
      }
      if (error !== undefined) throw error
      if (ended) throw new Error(`tls client: closed; buffered ${showBytes(buf)}`)
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`tls client: timed out; buffered ${showBytes(buf)}`)
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left)
        wake = () => {
          clearTimeout(t)
          wake = undefined
          resolve()
        }
      })
    }
  }
  const client: TlsClient = {
    socket,
    send: (data) =>
      new Promise((resolve, reject) => socket.write(data, (e) => (e ? reject(e) : resolve()))),
    readReply: (ms = READ_TIMEOUT_MS) => waitFor((b) => respReplyEnd(b, 0), ms),
    readMcReply: (ms = READ_TIMEOUT_MS) => waitFor((b) => mcReplyEnd(b, 0), ms),
    untilClosed: async (ms = READ_TIMEOUT_MS) => {
      const deadline = Date.now() + ms
      while (!ended && Date.now() < deadline) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, Math.max(1, deadline - Date.now()))
          wake = () => {
            clearTimeout(t)
            wake = undefined
            resolve()
          }
        })
      }
      if (!ended) throw new Error(`tls client: still open after ${ms} ms`)
      return { data: buf, error }
    },
    close: () => socket.destroy(),
  }
  const ms = o.timeoutMs ?? READ_TIMEOUT_MS
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      socket.destroy()
      reject(new Error(`tls connect ${port}: timed out`))
    }, ms)
    socket.once('secureConnect', () => {
      clearTimeout(t)
      resolve(client)
    })
    socket.once('error', (e) => {
      clearTimeout(t)
      socket.destroy()
      reject(e)
    })
  })
}
