/**
 * The four FNV hashes as nutcracker 0.5.0 computes them (hashkit/nc_fnv.c).
 *
 * Every key byte reaches these functions as a C `char`, which is signed on
 * x86-64, so bytes >= 0x80 are sign-extended before the XOR. All four run in
 * 32 bits: the 64-bit variants only ever return their low 32 bits, and the low
 * half of a 64-bit product depends only on the low halves of its operands.
 */
import type { HashFn } from './types.js'

/** Low 32 bits of the 64-bit FNV offset basis 0xcbf29ce484222325. */
const FNV_64_INIT_LO = 0x84222325
/** Low 32 bits of the 64-bit FNV prime 0x100000001b3. */
const FNV_64_PRIME_LO = 0x1b3
const FNV_32_INIT = 0x811c9dc5 // 2166136261
const FNV_32_PRIME = 0x01000193 // 16777619

/** `(b << 24) >> 24`: the byte as a sign-extended C `char` (low 32 bits). */
function sx(b: number): number {
  return (b << 24) >> 24
}

/**
 * FNV-1 (multiply, then XOR) over `key[start..end)`. Unrolled by four: V8 checks
 * the interrupt and the loop bound once per iteration, which costs as much as the
 * multiply (a 16-byte key: 411 → 293 instructions).
 */
function fnv1(key: Uint8Array, start: number, end: number, init: number, prime: number): number {
  let h = init
  let i = start
  for (const e4 = end - 3; i < e4; i += 4) {
    h = Math.imul(h, prime) ^ sx(key[i]!)
    h = Math.imul(h, prime) ^ sx(key[i + 1]!)
    h = Math.imul(h, prime) ^ sx(key[i + 2]!)
    h = Math.imul(h, prime) ^ sx(key[i + 3]!)
  }
  for (; i < end; i++) h = Math.imul(h, prime) ^ sx(key[i]!)
  return h >>> 0
}

/** FNV-1a (XOR, then multiply) over `key[start..end)`, unrolled like fnv1. */
function fnv1a(key: Uint8Array, start: number, end: number, init: number, prime: number): number {
  let h = init
  let i = start
  for (const e4 = end - 3; i < e4; i += 4) {
    h = Math.imul(h ^ sx(key[i]!), prime)
    h = Math.imul(h ^ sx(key[i + 1]!), prime)
    h = Math.imul(h ^ sx(key[i + 2]!), prime)
    h = Math.imul(h ^ sx(key[i + 3]!), prime)
  }
  for (; i < end; i++) h = Math.imul(h ^ sx(key[i]!), prime)
  return h >>> 0
}

/**
 * fnv1_64: 64-bit FNV-1 (multiply, then XOR), low 32 bits of the result.
 * nutcracker: the byte is sign-extended to 64 bits; its low half is `(b << 24) >> 24`.
 */
export const fnv1_64: HashFn = (key, start, end) =>
  fnv1(key, start, end, FNV_64_INIT_LO, FNV_64_PRIME_LO)

/**
 * fnv1a_64: despite its name a 32-bit FNV-1a using the low halves of the
 * 64-bit constants. nutcracker: bytes are sign-extended, so for bytes >= 0x80
 * this is not the low half of true FNV-1a-64.
 */
export const fnv1a_64: HashFn = (key, start, end) =>
  fnv1a(key, start, end, FNV_64_INIT_LO, FNV_64_PRIME_LO)

/** fnv1_32: standard 32-bit FNV-1, except that bytes are sign-extended (nutcracker). */
export const fnv1_32: HashFn = (key, start, end) => fnv1(key, start, end, FNV_32_INIT, FNV_32_PRIME)

/** fnv1a_32: standard 32-bit FNV-1a, except that bytes are sign-extended (nutcracker). */
export const fnv1a_32: HashFn = (key, start, end) =>
  fnv1a(key, start, end, FNV_32_INIT, FNV_32_PRIME)
