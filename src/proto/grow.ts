/** The parsers' offset arrays grow by doubling: a copy of `a` with twice the room. */
export function doubled(a: Float64Array): Float64Array<ArrayBuffer> {
  const b = new Float64Array(a.length * 2)
  b.set(a)
  return b
}
