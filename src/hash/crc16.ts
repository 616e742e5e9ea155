/**
 * crc16 as nutcracker 0.5.0 computes it (hashkit/nc_crc16.c): the CRC-16/XMODEM
 * table (polynomial 0x1021, initial value 0), but the running value lives in a
 * 32-bit register that is never masked to 16 bits. The low 16 bits are the real
 * XMODEM CRC; the high 16 bits keep leftovers of earlier steps, and the whole
 * 32-bit register is the result (modula routing uses all of it).
 */
import type { HashFn } from './types.js'

/** CRC-16/XMODEM lookup table, MSB-first, polynomial 0x1021. */
const CRC16_TABLE = (() => {
  const t = new Uint16Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n << 8
    for (let k = 0; k < 8; k++) c = c & 0x8000 ? (c << 1) ^ 0x1021 : c << 1
    t[n] = c & 0xffff
  }
  return t
})()

/** crc16. nutcracker: 32-bit register, unmasked; bytes are masked to 8 bits by the index. */
export const crc16: HashFn = (key, start, end) => {
  let crc = 0
  for (let i = start; i < end; i++) {
    crc = (crc << 8) ^ CRC16_TABLE[((crc >>> 8) ^ key[i]!) & 0xff]!
  }
  return crc >>> 0
}
