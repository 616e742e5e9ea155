/**
 * A log for unit tests of code that takes a StatsLog (src/stats, src/cli): it
 * keeps every line, at any level, as `<level> <module> <text>`.
 */
import type { StatsLog } from '../../src/stats/server.js'

export function memoryLog(): StatsLog & { lines: string[] } {
  const lines: string[] = []
  return {
    lines,
    enabled: () => true,
    log(level, module, message) {
      lines.push(`${level} ${module} ${typeof message === 'string' ? message : message()}`)
    },
  }
}
