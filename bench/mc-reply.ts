/**
 * A minimal scanner of memcached ASCII replies for the load generator: it only needs to
 * know where each reply ends, whether it was an error, and how many VALUE items a
 * retrieval returned. Replies may be split anywhere across chunks; only the unconsumed
 * tail is kept. Values are skipped by their declared length, never scanned.
 *
 *   VALUE <key> <flags> <bytes>\r\n<data>\r\n ... END\r\n   (retrieval)
 *   STORED\r\n                                              (storage)
 *   anything else (ERROR, CLIENT_ERROR …, SERVER_ERROR …, NOT_STORED …): an error reply
 */

const CR = 13
const SP = 32
const V = 86
const E = 69
const N = 78
const S = 83
const T = 84

export const REPLY_END = 0
export const REPLY_STORED = 1
export const REPLY_ERROR = 2
export type ReplyKind = typeof REPLY_END | typeof REPLY_STORED | typeof REPLY_ERROR

/**
 * Called once per complete reply with its kind, the number of VALUE items (retrievals) and,
 * for an error, the reply line. Returning false stops scanning the current chunk.
 */
export type OnReply = (kind: ReplyKind, values: number, errorLine: string | undefined) => boolean

export class McReplyScanner {
  private carry: Buffer | null = null
  /** VALUE items seen in the reply being scanned. */
  private values = 0
  private readonly onReply: OnReply

  constructor(onReply: OnReply) {
    this.onReply = onReply
  }

  feed(chunk: Buffer): void {
    const b = this.carry ? Buffer.concat([this.carry, chunk]) : chunk
    this.carry = null
    let pos = 0
    const len = b.length
    while (pos < len) {
      const cr = b.indexOf(CR, pos)
      if (cr < 0 || cr + 1 >= len) break
      const c0 = b[pos]
      if (c0 === V) {
        // The byte count is the last token of the line (get, not gets: no cas field).
        let i = cr - 1
        let bytes = 0
        let mul = 1
        while (i > pos && b[i] !== SP) {
          bytes += (b[i]! - 48) * mul
          mul *= 10
          i--
        }
        const next = cr + 2 + bytes + 2
        if (next > len) break
        this.values++
        pos = next
        continue
      }
      let kind: ReplyKind
      if (c0 === E && b[pos + 1] === N && cr - pos === 3) kind = REPLY_END
      else if (c0 === S && b[pos + 1] === T && cr - pos === 6) kind = REPLY_STORED
      else kind = REPLY_ERROR
      const line = kind === REPLY_ERROR ? b.toString('latin1', pos, cr) : undefined
      const values = this.values
      this.values = 0
      pos = cr + 2
      if (!this.onReply(kind, values, line)) return
    }
    if (pos < len) this.carry = b.subarray(pos)
  }
}
