/**
 * The order nutcracker gives server names and pool names (and `listen:` strings
 * in its duplicate check): its `string_compare`, i.e. shorter byte length first,
 * then unsigned bytewise over the UTF-8 bytes. E-14: pools `alpha, zz, beta, b,
 * aa` come out as `b, aa, zz, beta, alpha`. src/hash/placement.ts keeps its own
 * copy of the same rule; the two must agree.
 */

/** Array#sort comparator in nutcracker's name order. */
export function compareNames(a: string, b: string): number {
  if (a === b) return 0
  const x = Buffer.from(a, 'utf8')
  const y = Buffer.from(b, 'utf8')
  if (x.length !== y.length) return x.length - y.length
  return Buffer.compare(x, y)
}

/**
 * Sorts a copy of `items` by `name(item)` in nutcracker's order. The sort is stable,
 * so items with equal names keep their file order (the duplicate checks rely on it).
 */
export function sortByName<T>(items: readonly T[], name: (item: T) => string): T[] {
  const keyed = items.map((item, i) => ({ item, i, bytes: Buffer.from(name(item), 'utf8') }))
  keyed.sort((p, q) => {
    if (p.bytes.length !== q.bytes.length) return p.bytes.length - q.bytes.length
    return Buffer.compare(p.bytes, q.bytes) || p.i - q.i
  })
  return keyed.map((k) => k.item)
}

/** The first two neighbours with equal names in a sorted list, as nutcracker reports them. */
export function firstDuplicate<T>(
  sorted: readonly T[],
  name: (item: T) => string,
): readonly [T, T] | undefined {
  for (let i = 1; i < sorted.length; i++) {
    const a = sorted[i - 1] as T
    const b = sorted[i] as T
    if (name(a) === name(b)) return [a, b]
  }
  return undefined
}
