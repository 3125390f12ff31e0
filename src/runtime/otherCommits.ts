/**
 * Other processes' commits, as far as the database can tell (its change-detection capability: a
 * token that moves when another connection commits, and notifications that say when to look):
 * each one wakes every group of this process and refreshes the stored topic settings. The token is
 * checked on every notification and every `pollIntervalMs` underneath, for what notifications
 * miss. A failing check (the database unreachable) is tried again, backing off to 5 s with a log
 * line at the first failure and each doubling; once it works again every group is woken, so what
 * was committed meanwhile is found.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { StoreCapabilities } from "../store/Store.ts"
import type { StoreError } from "../store/storeErrors.ts"
import { Signal, type Wakeups } from "./Signal.ts"

/** The longest wait between two checks while the database fails. */
const maxCheckBackoffMs = 5000

export const watchOtherCommits = (deps: {
  readonly changeToken: Effect.Effect<number, StoreError>
  /** The token when the bus opened (read before the stored settings). */
  readonly token: number
  readonly wakeups: Wakeups
  readonly pollIntervalMs: number
  readonly refreshStored: Effect.Effect<void, StoreError>
  readonly commitNotifications: StoreCapabilities["commitNotifications"]
}): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { changeToken, wakeups, pollIntervalMs, refreshStored } = deps
    let token = deps.token
    const nudge = new Signal({ immediate: true })
    // Another process committed for sure (not a hint): readers are woken before the token is read.
    let committed = false
    if (deps.commitNotifications !== undefined) {
      yield* deps.commitNotifications((certain) => {
        if (certain === true) committed = true
        nudge.raise()
      })
    }
    /** Checks that failed in a row. */
    let failures = 0
    const check = Effect.gen(function*() {
      const woken = committed
      if (woken) {
        committed = false
        wakeups.notifyAll()
      }
      const next = yield* changeToken
      if (failures > 0) {
        failures = 0
        yield* Effect.logInfo("the check for other processes' commits works again")
        wakeups.notifyAll()
      }
      if (next !== token) {
        token = next
        // Groups first (their events are waiting), then the stored topic settings (for publishes).
        // (A commit after the wake-up above comes with a notification of its own.)
        if (!woken) wakeups.notifyAll()
        yield* refreshStored
      }
    })
    yield* Effect.gen(function*() {
      while (true) {
        const wait = failures === 0 ? pollIntervalMs : Math.min(maxCheckBackoffMs, pollIntervalMs * 2 ** failures)
        yield* Effect.raceFirst(Effect.sleep(wait), nudge.wait)
        const result = yield* Effect.result(check)
        if (result._tag === "Success") continue
        failures++
        // The first failure, then every doubling: a database down for long logs a few lines, not one per poll.
        if ((failures & (failures - 1)) === 0) {
          yield* Effect.logWarning(
            `cannot check for other processes' commits (${result.failure.message}); trying again (${failures} failure(s) in a row). ` +
              "Events are not lost: this process's groups find them once the database answers."
          )
        }
      }
    }).pipe(
      // Only a defect (a bug) ends it.
      Effect.catchCause((cause) => Effect.logError(`the check for other processes' commits stopped: ${String(cause)}`)),
      Effect.forkScoped
    )
  })
