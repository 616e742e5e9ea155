/**
 * Write batching: a connection with bytes to send marks itself dirty; all dirty
 * connections are flushed once per event-loop turn, in the check phase, after
 * every socket read of that turn has been handled. So requests from many
 * clients to one server leave in one write, and a client's replies that arrive
 * in one turn leave together. setImmediate, not process.nextTick: nextTick
 * would run after each read callback and flush once per read instead of once
 * per turn.
 */

export interface Flushable {
  /** True while the connection is in the dirty list. */
  dirty: boolean
  flush(): void
}

const dirty: Flushable[] = []
let scheduled = false

function flushAll(): void {
  scheduled = false
  // Flushing may dirty other connections (a server failure answering clients);
  // they are flushed in this same pass because the loop reads the live length.
  for (let i = 0; i < dirty.length; i++) {
    const c = dirty[i]!
    c.dirty = false
    c.flush()
  }
  dirty.length = 0
}

/** Queues `conn` for the next flush. */
export function markDirty(conn: Flushable): void {
  if (conn.dirty) return
  conn.dirty = true
  dirty.push(conn)
  if (!scheduled) {
    scheduled = true
    setImmediate(flushAll)
  }
}
