/**
 * A hash function over a slice of a buffer: `key[start..end)`. Slices let the
 * router hash a key in place inside a request buffer, without copying it.
 * The result is an unsigned 32-bit integer (0 .. 2^32-1), exactly nutcracker's.
 */
export type HashFn = (key: Uint8Array, start: number, end: number) => number
