/**
 * At most `n` holders at a time, the others waiting in order; a waiter whose `signal` aborts (its
 * fiber interrupted) leaves the queue, and a permit granted to it after that is given back.
 */
export const permits = (n: number) => {
  let free = n
  const waiting: Array<() => void> = []
  const give = (): void => {
    const next = waiting.shift()
    if (next !== undefined) next()
    else free++
  }
  const take = (signal: AbortSignal): Promise<void> => {
    if (free > 0) {
      free--
      return Promise.resolve()
    }
    return new Promise<void>((resolve, reject) => {
      const granted = () => {
        signal.removeEventListener("abort", aborted)
        if (signal.aborted) give()
        else resolve()
      }
      const aborted = () => {
        const at = waiting.indexOf(granted)
        if (at >= 0) waiting.splice(at, 1)
        reject(new Error("interrupted while waiting for a connection for the handler's transaction"))
      }
      waiting.push(granted)
      signal.addEventListener("abort", aborted, { once: true })
    })
  }
  return { take, give }
}
