/**
 * Readers for the Linux /proc files the benchmark measures with: a process's CPU time
 * (/proc/PID/stat), the whole machine's CPU time (/proc/stat), resident memory
 * (/proc/PID/status) and open descriptors (/proc/PID/fd). The parse functions are pure
 * (text in, numbers out) so tests can feed them captured files; the read functions are
 * thin wrappers that return undefined when the process is gone.
 *
 * CPU figures are in clock ticks (USER_HZ, 100 per second on Linux); `clockTicksPerSecond`
 * asks getconf once.
 */
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'

/** CPU ticks of one process: its own (all threads) and its reaped children's. */
export interface ProcCpu {
  /** utime + stime: user and kernel time of every thread of the process. */
  readonly self: number
  /** cutime + cstime: the same for children the process has waited for. */
  readonly children: number
}

/**
 * Parses /proc/PID/stat. The command name (field 2) is in parentheses and may itself hold
 * spaces or ')', so the fields are counted from the last ')'. After it come state (field 3)
 * … utime (14), stime (15), cutime (16), cstime (17), per proc(5).
 */
export function parseProcStat(text: string): ProcCpu {
  const close = text.lastIndexOf(')')
  if (close < 0) throw new Error(`/proc stat: no ')' in ${JSON.stringify(text.slice(0, 60))}`)
  const f = text
    .slice(close + 1)
    .trim()
    .split(/\s+/)
  // f[0] is field 3 (state), so field N is f[N - 3].
  const num = (field: number): number => {
    const v = Number(f[field - 3])
    if (!Number.isFinite(v)) throw new Error(`/proc stat: field ${field} is not a number`)
    return v
  }
  return { self: num(14) + num(15), children: num(16) + num(17) }
}

/** Machine-wide CPU ticks summed over all CPUs, from the first ("cpu ") line of /proc/stat. */
export interface SystemCpu {
  /** user + nice + system + irq + softirq: time some process or the kernel ran. */
  readonly busy: number
  /** Time the hypervisor ran someone else while we wanted to run. */
  readonly steal: number
  /** idle + iowait. */
  readonly idle: number
}

export function parseSystemStat(text: string): SystemCpu {
  const line = text.split('\n', 1)[0] ?? ''
  const f = line.trim().split(/\s+/)
  if (f[0] !== 'cpu') throw new Error(`/proc/stat: first line is not 'cpu': ${line}`)
  // cpu user nice system idle iowait irq softirq steal guest guest_nice; guest time is
  // already counted in user, so it is not added again.
  const n = (i: number): number => Number(f[i] ?? 0) || 0
  return { busy: n(1) + n(2) + n(3) + n(6) + n(7), steal: n(8), idle: n(4) + n(5) }
}

/** VmRSS of /proc/PID/status in kB, or undefined when the line is missing (kernel thread). */
export function parseVmRssKb(statusText: string): number | undefined {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(statusText)
  return m ? Number(m[1]) : undefined
}

/** PIDs in /proc/PID/task/TID/children files (space separated, may be empty). */
export function parseChildren(text: string): number[] {
  const out: number[] = []
  for (const w of text.split(/\s+/)) if (w !== '') out.push(Number(w))
  return out
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'latin1')
  } catch {
    return undefined
  }
}

/** CPU of one process (all its threads), or undefined when it no longer exists. */
export function readProcCpu(pid: number | 'self'): ProcCpu | undefined {
  const t = readText(`/proc/${pid}/stat`)
  return t === undefined ? undefined : parseProcStat(t)
}

/** The PID and every live descendant, depth first. */
export function processTree(pid: number): number[] {
  const out = [pid]
  for (let i = 0; i < out.length && i < 10_000; i++) {
    const p = out[i]!
    let tasks: string[]
    try {
      tasks = readdirSync(`/proc/${p}/task`)
    } catch {
      continue
    }
    for (const tid of tasks) {
      const c = readText(`/proc/${p}/task/${tid}/children`)
      if (c !== undefined) out.push(...parseChildren(c))
    }
  }
  return out
}

/** utime + stime ticks of a process and all its descendants (0 for what has exited). */
export function treeTicks(pid: number): number {
  let sum = 0
  for (const p of processTree(pid)) sum += readProcCpu(p)?.self ?? 0
  return sum
}

export function readSystemCpu(): SystemCpu {
  const t = readText('/proc/stat')
  if (t === undefined) throw new Error('cannot read /proc/stat (the benchmark needs Linux)')
  return parseSystemStat(t)
}

export function readVmRssKb(pid: number): number | undefined {
  const t = readText(`/proc/${pid}/status`)
  return t === undefined ? undefined : parseVmRssKb(t)
}

/** Number of open descriptors of a process (we may read its /proc/PID/fd: same user). */
export function countFds(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length
  } catch {
    return 0
  }
}

/** Soft and hard RLIMIT_NOFILE of a process, from /proc/PID/limits. */
export function parseOpenFilesLimit(limitsText: string): { soft: number; hard: number } {
  const m = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(limitsText)
  if (!m) throw new Error("/proc limits: no 'Max open files' line")
  const v = (s: string | undefined): number => (s === 'unlimited' ? Infinity : Number(s))
  return { soft: v(m[1]), hard: v(m[2]) }
}

export function readOpenFilesLimit(): { soft: number; hard: number } {
  return parseOpenFilesLimit(readText('/proc/self/limits') ?? '')
}

let ticksPerSecond: number | undefined
/** USER_HZ from `getconf CLK_TCK`; 100 (its value on every Linux port) if getconf fails. */
export function clockTicksPerSecond(): number {
  if (ticksPerSecond === undefined) {
    try {
      const v = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim())
      ticksPerSecond = v > 0 ? v : 100
    } catch {
      ticksPerSecond = 100
    }
  }
  return ticksPerSecond
}
