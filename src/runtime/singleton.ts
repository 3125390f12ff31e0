/**
 * Work that one process at a time does, across every process on the database: a `.sib` program's
 * timers, say, which would otherwise fire once per replica. It follows the group lease rule
 * (`group/lease.ts`): the process holding the lease runs the work and renews the lease; the others
 * stand by and take over when the holder stops (it releases the lease), dies on this host (its pid
 * is gone) or stops renewing (the lease expires).
 *
 * A failing database (the lease cannot be read or renewed) is tried again with backoff and a log
 * line; only the work's own failures end it.
 *
 * Leases of singletons live beside group leases, named `singleton/<name>`: no group name contains
 * a `/`, so the two never meet.
 */
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import type { StoreError } from "../store/storeErrors.ts"
import type { RuntimeStore } from "../store/Store.ts"
import { claimLease, type LeaseSpec, renewLease } from "./group/lease.ts"
import type { HostInfo } from "./HostInfo.ts"

export interface SingletonOptions {
  /** How long a claim lasts without renewal (default 30 s): how long a standby waits for a holder on another host that died. */
  readonly leaseMs?: number | undefined
  /** How messages name the work (default `singleton <name>`). */
  readonly label?: string | undefined
  /** Runs each time this process starts standing by, and each time it becomes the holder. */
  readonly onStandby?: Effect.Effect<void> | undefined
  readonly onActive?: Effect.Effect<void> | undefined
}

const defaultSingletonLeaseMs = 30_000

/** The lease row of the singleton `name`. */
const singletonLeaseName = (name: string) => `singleton/${name}`

/**
 * Runs `work` while this runtime holds the lease of `name`, standing by while another process
 * does. Losing the lease (another process took it over) interrupts `work` and stands by again;
 * `work` that ends keeps the lease until this effect is interrupted, which releases it.
 */
export const runAsSingleton = <E>(
  deps: { readonly store: RuntimeStore; readonly sid: string; readonly host: HostInfo },
  name: string,
  work: Effect.Effect<void, E>,
  options: SingletonOptions = {}
): Effect.Effect<never, StoreError | E> => {
  const spec: LeaseSpec = {
    name: singletonLeaseName(name),
    leaseMs: options.leaseMs ?? defaultSingletonLeaseMs,
    label: options.label ?? `singleton ${name}`
  }
  const release = Effect.flatMap(Clock.currentTimeMillis, (now) => deps.store.releaseLease(spec.name, deps.sid, now)).pipe(Effect.ignore)
  // The lease's own reads and writes failing (the database unreachable) stand by and try again;
  // only `work`'s own failures end this.
  const leaseFailed = (error: StoreError) => new LeaseCheckFailed({ error })
  const held = Effect.gen(function*() {
    yield* options.onActive ?? Effect.void
    // The work, then holding on; renewal failing with LeaseLost ends both.
    yield* Effect.raceFirst(
      Effect.andThen(work, Effect.never),
      renewLease(deps.store, spec.name, deps.sid, spec.leaseMs).pipe(Effect.catchTag("StoreError", (e) => Effect.fail(leaseFailed(e))))
    )
  }).pipe(
    Effect.catchTag("LeaseLost", () => Effect.logWarning(`${spec.label}: another process took the lease over; standing by`)),
    Effect.onInterrupt(() => release)
  )
  let failures = 0
  const cycle = claimLease(spec, deps, options.onStandby ?? Effect.void).pipe(
    Effect.mapError(leaseFailed),
    Effect.andThen(Effect.sync(() => void (failures = 0))),
    Effect.andThen(held),
    Effect.catch((e: LeaseCheckFailed | E) => {
      if (!(e instanceof LeaseCheckFailed)) return Effect.fail(e)
      failures++
      const log = (failures & (failures - 1)) === 0
        ? Effect.logWarning(`${spec.label}: ${e.error.message}; trying again (${failures} failure(s) in a row)`)
        : Effect.void
      return Effect.andThen(log, Effect.sleep(Math.min(maxRetryMs, 100 * 2 ** failures)))
    })
  )
  return Effect.forever(cycle)
}

/** The longest wait before trying the lease again after the database failed. */
const maxRetryMs = 5000

/** The lease could not be read or renewed: stand by and try again. */
class LeaseCheckFailed extends Data.TaggedError("LeaseCheckFailed")<{ readonly error: StoreError }> {}
