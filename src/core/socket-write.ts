/**
 * Writing plain sockets without Node's Writable machinery.
 *
 * `socket.write` runs Writable's bookkeeping, builds a WriteWrap request
 * object in C++ and schedules an after-write tick, even when the kernel takes
 * the bytes at once, as it nearly always does for a proxy's small replies:
 * about 1,150 instructions per write (callgrind), two writes per proxied
 * request. A direct write hands the buffer to the socket's libuv handle the way
 * Node's own stream code does, with a request object that is reused while
 * writes complete synchronously. When the kernel cannot take everything, libuv
 * queues the rest, in order behind earlier writes, and keeps that request and
 * its buffer until the write completes; the next write then gets a new request.
 * A list of buffers (a large reply in pieces) goes out the same way with writev,
 * so Writable is not used at all once the socket is connected.
 *
 * It needs Node's `stream_wrap` binding (WriteWrap, and the flag saying whether
 * the last write went asynchronous), reached through `process.binding`. Node 20
 * and 22 have it; without it every write goes through `socket.write`. Only
 * the sockets socket-read.ts creates (plain TCP and unix sockets) are written
 * directly, and only while Writable holds nothing, so a direct write can never
 * overtake bytes Writable still holds.
 */

import type { Socket } from 'node:net'
import { getSystemErrorName } from 'node:util'
import { isDirectSocket } from './socket-read.js'

interface StreamHandle {
  writeBuffer(req: WriteReq, buf: Buffer): number
  writev(req: WriteReq, bufs: Buffer[], allBuffers: true): number
  /** Bytes libuv has queued and not yet written. */
  readonly writeQueueSize: number
}

interface WriteReq {
  handle: StreamHandle | null
  oncomplete: (this: WriteReq, status: number) => void
  /** Kept alive while libuv writes it. */
  buffer: Buffer | Buffer[] | null
  socket: Socket | null
}

interface StreamWrapBinding {
  WriteWrap: new () => WriteReq
  streamBaseState: Int32Array
  kLastWriteWasAsync: number
}

/** The binding, or null when this Node does not offer it. */
function loadBinding(): StreamWrapBinding | null {
  // process.binding is deprecated (DEP0111): with --throw-deprecation its warning would be
  // thrown on the next tick, out of reach of the catch below. (--pending-deprecation alone
  // prints the warning once, as asked.)
  if (process.throwDeprecation) return null
  try {
    const b = (process as unknown as { binding(name: string): Partial<StreamWrapBinding> }).binding(
      'stream_wrap',
    )
    if (
      typeof b.WriteWrap === 'function' &&
      b.streamBaseState instanceof Int32Array &&
      typeof b.kLastWriteWasAsync === 'number'
    ) {
      return b as StreamWrapBinding
    }
  } catch {
    // Removed from this Node: write the usual way.
  }
  return null
}

const binding = loadBinding()

/** True when direct writes are available on this Node. */
export const directWriteAvailable = binding !== null

type WithHandle = Socket & { _handle: StreamHandle | null }

/**
 * True when `socket` is to be written directly. A connection asks once and
 * passes the answer to every write, which keeps the lookup off the hot path.
 */
export function isDirectWrite(socket: Socket): boolean {
  return binding !== null && isDirectSocket(socket)
}

function newReq(): WriteReq {
  const req = new binding!.WriteWrap()
  req.handle = null
  req.oncomplete = onComplete
  req.buffer = null
  req.socket = null
  return req
}

/** A request no write holds: the last one completed synchronously. */
let spare: WriteReq | null = null

/** The socket's handle when it can be written directly now, else null. */
function directHandle(socket: Socket, direct: boolean): StreamHandle | null {
  const s = socket as WithHandle
  // Bytes Writable holds must go first, and it must see connect and end() itself.
  if (!direct || s.connecting || s.writableLength !== 0 || s.writableEnded) return null
  return s._handle
}

/**
 * Writes `buf` to `socket`: directly when `direct` (isDirectWrite) and nothing
 * is queued in Writable, else through socket.write.
 */
export function writeOut(socket: Socket, buf: Buffer, direct: boolean): void {
  const h = directHandle(socket, direct)
  if (h === null) {
    socket.write(buf)
    return
  }
  const req = spare ?? newReq()
  written(socket, h, req, buf, h.writeBuffer(req, buf))
}

/** writeOut for several buffers, written in order in one system call (writev). */
export function writeOutv(socket: Socket, bufs: Buffer[], direct: boolean): void {
  const h = directHandle(socket, direct)
  if (h === null) {
    socket.cork()
    for (const b of bufs) socket.write(b)
    socket.uncork()
    return
  }
  const req = spare ?? newReq()
  written(socket, h, req, bufs, h.writev(req, bufs, true))
}

/** After a direct write of `data` with `req` returned `err`. */
function written(
  socket: Socket,
  h: StreamHandle,
  req: WriteReq,
  data: Buffer | Buffer[],
  err: number,
): void {
  if (err !== 0) {
    // As Writable does on a write error. The request is not reused: libuv may have seen it.
    spare = null
    socket.destroy(writeError(err))
    return
  }
  if (binding!.streamBaseState[binding!.kLastWriteWasAsync] === 0) {
    spare = req
    return
  }
  // libuv holds the request and the bytes until the write completes.
  spare = null
  req.handle = h
  req.buffer = data
  req.socket = socket
}

function onComplete(this: WriteReq, status: number): void {
  const socket = this.socket!
  const h = this.handle!
  this.socket = null
  this.handle = null
  this.buffer = null
  if (socket.destroyed) return
  if (status < 0) {
    socket.destroy(writeError(status))
    return
  }
  // Everything handed over: the same signal Writable gives when its buffer empties.
  if (h.writeQueueSize === 0) socket.emit('drain')
}

function writeError(errno: number): Error {
  const code = getSystemErrorName(errno)
  return Object.assign(new Error(`write ${code}`), { code, errno, syscall: 'write' })
}

/**
 * Bytes written to `socket` and not yet taken by the kernel, by Writable or
 * directly (`direct` as for writeOut). A direct socket uses Writable only
 * before it connects and after end(), so no byte is in both counts.
 */
export function unsentBytes(socket: Socket, direct: boolean): number {
  const h = (socket as WithHandle)._handle
  if (!direct || h === null) return socket.writableLength
  return socket.writableLength + h.writeQueueSize
}
