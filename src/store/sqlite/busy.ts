/**
 * Waiting for another connection's write lock without holding the process. better-sqlite3's busy
 * handler sleeps inside the call; so, once a store is open, its connection waits only `syncBusyMs`
 * that way and a call that found the lock taken is tried again on the Clock (`whileBusy`) until
 * `busyTimeoutMs` in all. (A write lock held 30 s by another process used to freeze the process
 * for the whole busy timeout, 5 s, once per waiting call.)
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type { StoreError } from "../storeErrors.ts"

/** How long a call waits for another connection's lock inside the call, once the store is open. */
export const syncBusyMs = 10

const isBusy = (e: StoreError): boolean => {
  const code = (e.cause as { code?: unknown } | undefined)?.code
  return typeof code === "string" && code.startsWith("SQLITE_BUSY")
}

/**
 * `run` (a store call that changed nothing when it failed: a transaction that could not begin is
 * not begun), tried again while another connection holds the lock, 2 ms doubling to 50 ms apart,
 * until `totalMs` have passed since its first try; then its last error.
 */
export const whileBusy = <A>(run: Effect.Effect<A, StoreError>, totalMs: number): Effect.Effect<A, StoreError> => {
  if (totalMs <= syncBusyMs) return run
  return Effect.catch(run, (first) => {
    if (!isBusy(first)) return Effect.fail(first)
    return Clock.clockWith((clock) => {
      const start = clock.monotonicTimeNanosUnsafe()
      const waitedMs = () => Number((clock.monotonicTimeNanosUnsafe() - start) / 1_000_000n)
      const again = (delayMs: number): Effect.Effect<A, StoreError> =>
        Effect.andThen(
          Effect.sleep(delayMs),
          Effect.catch(run, (e) => (!isBusy(e) || waitedMs() + syncBusyMs >= totalMs ? Effect.fail(e) : again(Math.min(50, delayMs * 2))))
        )
      return again(2)
    })
  })
}
