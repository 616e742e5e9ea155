/**
 * A hash function over a slice of a buffer: `key[start..end)`. Slices let the
 * router hash a key in place inside a request buffer, without copying it.
 * The result is an unsigned 32-bit integer (0 .. 2^32-1), exactly nutcracker's.
 */
export type HashFn = (key: Uint8Array, start: number, end: number) => number

/** A server as a distribution sees it, in the pool's internal (sorted) order. */
export interface DistServer {
  /** The name string: node name, or `host:port` (`host` alone for port 11211). */
  readonly name: string
  /** Positive integer weight. */
  readonly weight: number
  /** False while the server is ejected (auto_eject_hosts). */
  readonly live: boolean
}

/** A built distribution (nutcracker's continuum) over one pool's servers. */
export interface Distribution {
  /**
   * Index into the pool's server array (internal order) for an unsigned 32-bit
   * hash, or -1 when no server is live (nutcracker then fails the request).
   */
  dispatch(hash: number): number
}
