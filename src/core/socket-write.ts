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
 *
 * It needs Node's `stream_wrap` binding (WriteWrap, and the flag saying whether
 * the last write went asynchronous), reached through `process.binding`. Node 20
 * and 22 have it; without it every write goes through `socket.write`. Only
 * sockets marked by `enableDirectWrite` (plain TCP and unix sockets that
 * socket-read.ts creates) are written directly, and only while Writable holds
 * nothing, so a direct write can never overtake bytes Writable still holds.
 */

import type { Socket } from 'node:net'
import { getSystemErrorName } from 'node:util'

interface StreamHandle {
  writeBuffer(req: WriteReq, buf: Buffer): number
  /** Bytes libuv has queued and not yet written. */
  readonly writeQueueSize: number
}

interface WriteReq {
  handle: StreamHandle | null
  oncomplete: (this: WriteReq, status: number) => void
  /** Kept alive while libuv writes it. */
  buffer: Buffer | null
  socket: Socket | null
}

interface StreamWrapBinding {
  WriteWrap: new () => WriteReq
  streamBaseState: Int32Array
  kLastWriteWasAsync: number
}

/** The binding, or null when this Node does not offer it. */
function loadBinding(): StreamWrapBinding | null {
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
    // Removed, or refused (--pending-deprecation with --throw-deprecation): write the usual way.
  }
  return null
}

const binding = loadBinding()

/** True when direct writes are available on this Node. */
export const directWriteAvailable = binding !== null

const kDirect = Symbol('walnut.directWrite')
type Marked = Socket & { [kDirect]?: true; _handle: StreamHandle | null }

/** Marks a plain (not TLS) socket to be written directly. */
export function enableDirectWrite(socket: Socket): void {
  if (binding !== null) (socket as Marked)[kDirect] = true
}

/**
 * True when `socket` is to be written directly. A connection asks once and
 * passes the answer to every write: looking the mark up per write is a
 * megamorphic load, as sockets come in many shapes.
 */
export function isDirectWrite(socket: Socket): boolean {
  return (socket as Marked)[kDirect] === true
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

/**
 * Writes `buf` to `socket`: directly when `direct` (isDirectWrite) and nothing
 * is queued in Writable, else through socket.write.
 */
export function writeOut(socket: Socket, buf: Buffer, direct: boolean): void {
  const s = socket as Marked
  const h = s._handle
  if (!direct || h === null || s.connecting || s.writableLength !== 0 || s.writableEnded) {
    socket.write(buf)
    return
  }
  const req = spare ?? newReq()
  const err = h.writeBuffer(req, buf)
  if (err !== 0) {
    // Nothing was queued; the request stays spare. As Writable does on a write error.
    socket.destroy(writeError(err))
    return
  }
  if (binding!.streamBaseState[binding!.kLastWriteWasAsync] === 0) {
    spare = req
    return
  }
  // libuv holds the request and the buffer until the write completes.
  spare = null
  req.handle = h
  req.buffer = buf
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
 * directly (`direct` as for writeOut). A Writable write libuv is still busy
 * with counts twice; that only happens after a fallback, and errs toward
 * pausing early.
 */
export function unsentBytes(socket: Socket, direct: boolean): number {
  const h = (socket as Marked)._handle
  if (!direct || h === null) return socket.writableLength
  return socket.writableLength + h.writeQueueSize
}
