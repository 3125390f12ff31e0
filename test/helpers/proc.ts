/**
 * Bounding child processes in tests: their peak resident memory (VmHWM in /proc/<pid>/status, so
 * Linux only), a watchdog that kills a process group once it passes a memory ceiling (a runaway
 * child must fail its test, not exhaust the machine), deadlines on awaited work, and a small
 * semaphore for running a few heavy scenarios at once. It starts no process itself
 * (test/helpers/sib.ts and child.ts do).
 */
import { readFileSync } from "node:fs"

export const MB = 1024 * 1024

/** The peak resident set size of a live process, in bytes; undefined once it has exited. */
export const peakRssBytes = (pid: number): number | undefined => {
  try {
    const m = /^VmHWM:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))
    return m === null ? undefined : Number(m[1]) * 1024
  } catch {
    return undefined
  }
}

/** SIGKILLs the process group led by `pid` (children spawned `detached`), or the process alone. */
export const killGroup = (pid: number | undefined): void => {
  if (pid === undefined) return
  try {
    process.kill(-pid, "SIGKILL")
  } catch {
    try {
      process.kill(pid, "SIGKILL")
    } catch {
      // already gone
    }
  }
}

export interface MemoryWatch {
  /** The largest VmHWM seen, in bytes. */
  readonly peak: () => number
  /** True once the process passed the ceiling and was killed for it. */
  readonly exceeded: () => boolean
  readonly stop: () => void
}

/**
 * Polls the process's VmHWM every `intervalMs`. Past `ceilingBytes` it kills the process group at
 * once (allocation can run at GB/s: the peak seen may overshoot the ceiling by one interval).
 */
export const watchMemory = (pid: number, ceilingBytes: number, intervalMs = 25): MemoryWatch => {
  let peak = 0
  let exceeded = false
  const poll = () => {
    const rss = peakRssBytes(pid)
    if (rss === undefined) return
    peak = Math.max(peak, rss)
    if (peak > ceilingBytes && !exceeded) {
      exceeded = true
      killGroup(pid)
    }
  }
  poll()
  const timer = setInterval(poll, intervalMs)
  timer.unref()
  return {
    peak: () => (poll(), peak),
    exceeded: () => exceeded,
    stop: () => clearInterval(timer)
  }
}

export class DeadlineError extends Error {}

/** `promise`, or a DeadlineError naming `what` after `ms`. */
export const withDeadline = <A>(promise: Promise<A>, ms: number, what: string): Promise<A> => {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineError(`${what}: not done within ${ms} ms`)), ms)
  })
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer))
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** A counting semaphore: `run(f)` waits for one of `slots` to be free. */
export const semaphore = (slots: number) => {
  let free = slots
  const waiting: Array<() => void> = []
  const release = () => {
    const next = waiting.shift()
    if (next !== undefined) next()
    else free++
  }
  return async <A>(f: () => Promise<A>): Promise<A> => {
    if (free > 0) free--
    else await new Promise<void>((resolve) => waiting.push(resolve))
    try {
      return await f()
    } finally {
      release()
    }
  }
}
