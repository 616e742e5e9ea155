/**
 * Request timeouts: one ordered structure, one timer.
 *
 * A pool's `timeout:` is the same for all its requests and a request's clock
 * starts when it is queued for a server, so requests enter a pool's list in
 * deadline order: each list is a FIFO, appended at the tail, expiring from
 * the head, unlinked in O(1) when the reply comes. The single timer is armed
 * for the earliest head over all lists; it is never re-armed for a later
 * deadline (a removed head just makes the timer fire early and re-arm).
 * Compare nutcracker's rbtree of in-flight messages (tmo_rbt).
 */

import { performance } from 'node:perf_hooks'
import { clockNow } from './clock.js'

export interface Timed {
  deadline: number
  tlist: TimeoutList | null
  tprev: Timed | null
  tnext: Timed | null
}

export class TimeoutList {
  head: Timed | null = null
  tail: Timed | null = null
  constructor(
    readonly ms: number,
    private readonly wheel: TimeoutWheel,
  ) {}

  /** Starts `t`'s clock now. */
  add(t: Timed): void {
    t.deadline = clockNow() + this.ms
    t.tlist = this
    t.tprev = this.tail
    t.tnext = null
    if (this.tail === null) {
      this.head = t
      this.wheel.arm(t.deadline)
    } else {
      this.tail.tnext = t
    }
    this.tail = t
  }
}

/** Stops `t`'s clock (its reply came, or it failed otherwise). */
export function untime(t: Timed): void {
  const list = t.tlist
  if (list === null) return
  if (t.tprev === null) list.head = t.tnext
  else t.tprev.tnext = t.tnext
  if (t.tnext === null) list.tail = t.tprev
  else t.tnext.tprev = t.tprev
  t.tlist = null
  t.tprev = null
  t.tnext = null
}

export class TimeoutWheel {
  private lists: TimeoutList[] = []
  private timer: NodeJS.Timeout | null = null
  private armedAt = Number.POSITIVE_INFINITY

  /** `expire` is called for each request whose deadline passed (after it is unlinked). */
  constructor(private readonly expire: (t: Timed) => void) {}

  /**
   * The list for timeout `ms`, shared by every pool with that timeout (one
   * timeout value keeps insertion order = deadline order), so reloads that
   * change `timeout:` back and forth do not add lists.
   */
  list(ms: number): TimeoutList {
    for (const l of this.lists) if (l.ms === ms) return l
    const l = new TimeoutList(ms, this)
    this.lists.push(l)
    return l
  }

  /** Makes sure the timer fires no later than `deadline`. */
  arm(deadline: number): void {
    if (deadline >= this.armedAt) return
    if (this.timer !== null) clearTimeout(this.timer)
    this.armedAt = deadline
    // Whole milliseconds, rounded up: never fire before the deadline.
    const delay = Math.max(0, Math.ceil(deadline - performance.now()))
    this.timer = setTimeout(this.fire, delay)
    this.timer.unref()
  }

  private readonly fire = (): void => {
    this.timer = null
    this.armedAt = Number.POSITIVE_INFINITY
    const now = performance.now()
    let next = Number.POSITIVE_INFINITY
    for (const l of this.lists) {
      let t = l.head
      while (t !== null && t.deadline <= now) {
        untime(t)
        this.expire(t)
        t = l.head
      }
      if (t !== null && t.deadline < next) next = t.deadline
    }
    if (next !== Number.POSITIVE_INFINITY) this.arm(next)
  }

  /** Cancels the timer (shutdown). */
  stop(): void {
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
    this.armedAt = Number.POSITIVE_INFINITY
  }
}
