/**
 * Reading plain sockets without Node's Readable machinery.
 *
 * Node's default read path allocates a 64 KiB buffer per read, wraps the bytes
 * in a new Buffer and runs them through Readable (push, 'data', read-ahead
 * bookkeeping): per request that costs more CPU than walnut's own parsing. The
 * `onread` socket option reads into a buffer we supply and calls us directly
 * instead. Every direct socket reads into ONE shared buffer: a read callback
 * runs synchronously, before any other socket is read, and copies its bytes
 * out at once (small reads land in Node's shared 8 KiB allocation pool), so a
 * chunk handed to a parser stays valid for as long as the parser keeps it.
 *
 * Accepted client sockets get the same treatment through the listening
 * handle's `onconnection` hook, which net.Server does not expose: `acceptDirect`
 * installs it when the handle has one (Node 20 and 22 do) and otherwise leaves
 * the server as it is, so walnut then reads the ordinary way. TLS sockets
 * always read the ordinary way (TLS decrypts into its own buffers).
 *
 * The sockets made here are also written directly (socket-write.ts).
 */

import { connect, type Server as NetServer, Socket } from 'node:net'
import { getSystemErrorName } from 'node:util'
import { readEnded, readStarted } from './clock.js'

/** Consumer of a socket's bytes. */
export type ChunkHandler = (chunk: Buffer) => void

/** Where a direct socket's reads go; set by `onChunks`. */
interface ReadTarget {
  handler: ChunkHandler | null
}

const READ_SIZE = 64 * 1024
const readBuffer = Buffer.allocUnsafeSlow(READ_SIZE)
const targets = new WeakMap<Socket, ReadTarget>()

/** Reads up to this size copy through a cached view (below). */
const VIEW_CACHE_MAX = 2048
/**
 * `readBuffer[0..n)` views by length, made on first use. Buffer#copy makes a
 * view per call; `set` from a cached one skips it and its argument checks,
 * about 430 of 1,200 instructions per 30-byte read (callgrind). At most 2,048
 * small objects; in practice a few request and reply sizes.
 */
const views: (Buffer | undefined)[] = []

/** A copy of the first `n` bytes of the shared read buffer. */
function take(n: number): Buffer {
  const chunk = Buffer.allocUnsafe(n)
  if (n > VIEW_CACHE_MAX) {
    readBuffer.copy(chunk, 0, 0, n)
    return chunk
  }
  let view = views[n]
  if (view === undefined) {
    view = readBuffer.subarray(0, n)
    views[n] = view
  }
  chunk.set(view)
  return chunk
}

/** `onread` options for a new socket, and the target its reads go to. */
function directRead(): {
  target: ReadTarget
  onread: { buffer: Buffer; callback: (n: number) => boolean }
} {
  const target: ReadTarget = { handler: null }
  // true: keep reading (false would pause the socket).
  const callback = (n: number): boolean => {
    const h = target.handler
    if (h !== null) {
      readStarted()
      try {
        h(take(n))
      } finally {
        readEnded()
      }
    }
    return true
  }
  return { target, onread: { buffer: readBuffer, callback } }
}

/** True for a socket made here (connectDirect, acceptDirect): a plain one that reads directly. */
export function isDirectSocket(socket: Socket): boolean {
  return targets.has(socket)
}

/** Calls `handler` with every chunk the socket reads, direct or through 'data'. */
export function onChunks(socket: Socket, handler: ChunkHandler): void {
  const target = targets.get(socket)
  if (target !== undefined) target.handler = handler
  else socket.on('data', handler)
}

/** net.connect for a plain backend connection, reading directly. */
export function connectDirect(
  options: { host: string; port: number; noDelay: boolean } | { path: string },
): Socket {
  const { target, onread } = directRead()
  const socket = connect({ ...options, onread })
  targets.set(socket, target)
  return socket
}

interface ListenHandle {
  onconnection?: (err: number, clientHandle: unknown) => void
}

/**
 * Makes a listening server hand its clients to `accept` as direct sockets.
 * Call once it listens. Returns false (and changes nothing) when this Node has
 * no hook to do it with.
 */
export function acceptDirect(server: NetServer, accept: (socket: Socket) => void): boolean {
  const handle = (server as unknown as { _handle?: ListenHandle | null })._handle
  if (handle == null || typeof handle.onconnection !== 'function') return false
  handle.onconnection = (err, clientHandle) => {
    if (err !== 0) {
      const name = getSystemErrorName(err)
      server.emit('error', Object.assign(new Error(`accept ${name}`), { code: name, errno: err }))
      return
    }
    const { target, onread } = directRead()
    const options = {
      handle: clientHandle,
      // As the proxy's listeners: a client's FIN still lets its replies out (ClientConn.onEnd).
      allowHalfOpen: true,
      readable: true,
      writable: true,
      onread,
    }
    const socket = new Socket(options as ConstructorParameters<typeof Socket>[0])
    targets.set(socket, target)
    accept(socket)
  }
  return true
}
