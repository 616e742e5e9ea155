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

/**
 * fnv1_64: 64-bit FNV-1 (multiply, then XOR), low 32 bits of the result.
 * nutcracker: the byte is sign-extended to 64 bits; its low half is `(b << 24) >> 24`.
 */
export const fnv1_64: HashFn = (key, start, end) => {
  let h = FNV_64_INIT_LO
  for (let i = start; i < end; i++) {
    h = Math.imul(h, FNV_64_PRIME_LO) ^ ((key[i]! << 24) >> 24)
  }
  return h >>> 0
}

/**
 * fnv1a_64: despite its name a 32-bit FNV-1a using the low halves of the
 * 64-bit constants. nutcracker: bytes are sign-extended, so for bytes >= 0x80
 * this is not the low half of true FNV-1a-64.
 */
export const fnv1a_64: HashFn = (key, start, end) => {
  let h = FNV_64_INIT_LO
  for (let i = start; i < end; i++) {
    h = Math.imul(h ^ ((key[i]! << 24) >> 24), FNV_64_PRIME_LO)
  }
  return h >>> 0
}

/** fnv1_32: standard 32-bit FNV-1, except that bytes are sign-extended (nutcracker). */
export const fnv1_32: HashFn = (key, start, end) => {
  let h = FNV_32_INIT
  for (let i = start; i < end; i++) {
    h = Math.imul(h, FNV_32_PRIME) ^ ((key[i]! << 24) >> 24)
  }
  return h >>> 0
}

/** fnv1a_32: standard 32-bit FNV-1a, except that bytes are sign-extended (nutcracker). */
export const fnv1a_32: HashFn = (key, start, end) => {
  let h = FNV_32_INIT
  for (let i = start; i < end; i++) {
    h = Math.imul(h ^ ((key[i]! << 24) >> 24), FNV_32_PRIME)
  }
  return h >>> 0
}
