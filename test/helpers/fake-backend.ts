/**
 * An in-process backend for the core tests (test/core): speaks the toy line
 * protocol of toy-protocol.ts and misbehaves on demand (STYLE.md §1.4: "core/
 * tests use a fake backend with fault flags").
 *
 * Every line `L\n` it receives is answered, in order, per connection:
 *   `mget k1 k2 ...`  → `k1=<name> k2=<name> ...\n`
 *   `nset ...`        → nothing (a noreply request)
 *   `fail ...`        → `-FAIL <name>\n` (a reply the toy session flags F_FAILURE)
 *   anything else     → `<name>:L\n`, plus `pad` bytes of `.` before the `\n`
 *
 * Fault flags, read when a line arrives (set them at any time):
 *   delay       ms before each reply (replies still leave in order)
 *   hang        hold every reply until `hang` is set back to false (then they
 *               are written, late, on whatever connection asked for them)
 *   closeAfter  answer N lines on a connection, then close it (FIN) with the
 *               rest unanswered
 *   reset       reset the connection (RST) when a line arrives, unanswered
 *   garbage     answer `#garbage\n` (not a toy reply)
 *   stray       answer, and send `<name>:stray\n` nobody asked for
 *   refuse()    stop listening (connects are refused); accept() listens again
 *               on the same port
 * and records what it saw: connections accepted, 'data' events (chunks), raw
 * bytes, the lines of each connection.
 */

import { createServer, type Server, type Socket } from 'node:net'

export interface BackendConn {
  readonly socket: Socket
  /** Lines received on this connection, without `\n`, in order. */
  readonly lines: string[]
  /** Bytes of a line not yet complete. */
  partial: string
  /** Lines answered or dropped so far (for closeAfter). */
  handled: number
  /** Time (Date.now()) the previous reply was scheduled for: keeps replies in order. */
  lastDue: number
}

export class FakeBackend {
  readonly name: string
  port = 0
  // ---- fault flags ----
  delay = 0
  private hanging = false
  closeAfter: number | null = null
  reset = false
  garbage = false
  stray = false
  /** Padding bytes added to each plain reply (for backpressure tests). */
  pad = 0
  // ---- what it saw ----
  /** Connections accepted since start. */
  accepted = 0
  /** 'data' events over all connections. */
  chunks = 0
  /** Bytes received over all connections. */
  bytes = 0
  readonly conns: BackendConn[] = []
  private readonly server: Server
  private listening = false
  /** Replies held while hanging: [connection, bytes]. */
  private held: [BackendConn, Buffer][] = []
  private readonly timers = new Set<NodeJS.Timeout>()

  private constructor(name: string) {
    this.name = name
    this.server = createServer((socket) => this.onConnection(socket))
  }

  /** Starts a backend named `name` on 127.0.0.1, on `port` or a port from the kernel. */
  static async start(name: string, port = 0): Promise<FakeBackend> {
    const b = new FakeBackend(name)
    b.port = port
    await b.accept()
    return b
  }

  /** Every line received, over all connections, in connection order. */
  get lines(): string[] {
    return this.conns.flatMap((c) => c.lines)
  }

  /** Connections still open. */
  get open(): number {
    return this.conns.filter((c) => !c.socket.destroyed).length
  }

  get hang(): boolean {
    return this.hanging
  }

  /** Hanging holds replies; un-hanging writes the held replies (late) in order. */
  set hang(on: boolean) {
    this.hanging = on
    if (on) return
    const held = this.held
    this.held = []
    for (const [conn, bytes] of held) write(conn.socket, bytes)
  }

  /** Listens (again) on `port` (0 the first time: the kernel picks). */
  accept(): Promise<void> {
    if (this.listening) return Promise.resolve()
    return new Promise((resolve, reject) => {
      this.server.once('error', reject)
      this.server.listen({ host: '127.0.0.1', port: this.port }, () => {
        this.server.off('error', reject)
        const addr = this.server.address()
        if (addr !== null && typeof addr === 'object') this.port = addr.port
        this.listening = true
        resolve()
      })
    })
  }

  /** Stops listening: new connections are refused. Open connections are closed too. */
  refuse(): Promise<void> {
    this.dropConnections()
    if (!this.listening) return Promise.resolve()
    this.listening = false
    return new Promise((resolve) => this.server.close(() => resolve()))
  }

  /** Closes every open connection (FIN), without answering. */
  dropConnections(): void {
    for (const c of this.conns) c.socket.destroy()
  }

  /** Stops everything: listener, connections, timers. */
  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
    this.held = []
    await this.refuse()
  }

  private onConnection(socket: Socket): void {
    this.accepted++
    const conn: BackendConn = { socket, lines: [], partial: '', handled: 0, lastDue: 0 }
    this.conns.push(conn)
    socket.setNoDelay(true)
    socket.on('error', () => {})
    socket.on('data', (chunk: Buffer) => {
      this.chunks++
      this.bytes += chunk.length
      const text = conn.partial + chunk.toString('latin1')
      const parts = text.split('\n')
      conn.partial = parts.pop()!
      for (const line of parts) {
        if (socket.destroyed) return
        conn.lines.push(line)
        this.onLine(conn, line)
      }
    })
  }

  private onLine(conn: BackendConn, line: string): void {
    const socket = conn.socket
    if (this.reset) {
      socket.resetAndDestroy()
      return
    }
    if (this.closeAfter !== null && conn.handled >= this.closeAfter) {
      // Close once the replies already scheduled have left.
      this.schedule(conn, null)
      return
    }
    conn.handled++
    const reply = this.replyTo(line)
    if (reply === null) return
    this.schedule(conn, reply)
  }

  /** The reply to `line`, or null for none. */
  private replyTo(line: string): Buffer | null {
    const sp = line.indexOf(' ')
    const cmd = sp < 0 ? line : line.slice(0, sp)
    if (cmd === 'nset') return null
    if (this.garbage) return Buffer.from('#garbage\n', 'latin1')
    let text: string
    if (cmd === 'mget') {
      const keys = line.slice(sp + 1).split(' ')
      text = `${keys.map((k) => `${k}=${this.name}`).join(' ')}\n`
    } else if (cmd === 'fail') {
      text = `-FAIL ${this.name}\n`
    } else {
      text = `${this.name}:${line}${'.'.repeat(this.pad)}\n`
    }
    if (this.stray) text += `${this.name}:stray\n`
    return Buffer.from(text, 'latin1')
  }

  /** Writes `reply` (null: closes the connection) after `delay`, in order behind earlier replies. */
  private schedule(conn: BackendConn, reply: Buffer | null): void {
    const now = Date.now()
    const due = Math.max(now + this.delay, conn.lastDue)
    conn.lastDue = due
    const hang = this.hanging
    const act = () => {
      if (reply === null) conn.socket.end()
      else if (hang && this.hanging) this.held.push([conn, reply])
      else write(conn.socket, reply)
    }
    if (due <= now) {
      act()
      return
    }
    const t = setTimeout(() => {
      this.timers.delete(t)
      act()
    }, due - now)
    this.timers.add(t)
  }
}

function write(socket: Socket, bytes: Buffer): void {
  if (!socket.destroyed && socket.writable) socket.write(bytes)
}
