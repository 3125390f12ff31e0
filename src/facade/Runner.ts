/**
 * The one runner behind every Promise entry point (`createRuntime`, `createOutbox` and its relays):
 * it runs Effects as Promises that resolve with the value or reject with the typed error instance
 * the Effect API fails with, tracks the calls under way, and closes in one order:
 * 1. new calls are refused (`closedError`);
 * 2. the work registered with `onClose` stops, phase by phase (relays, then programs);
 * 3. the calls under way finish ("finish": a publish under way commits and resolves) or are cut
 *    short ("interrupt": a maintenance pass; they reject with `closedError`, never with a bare
 *    interruption);
 * 4. `dispose` (the managed runtime, the database) ends it.
 * It does not know what it runs: the facades give it the Effects, how to run them and what to dispose.
 */
import * as Cause from "effect/Cause"
import type * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"

/** What `close()` stops first, in this order. */
export type ClosePhase = "relays" | "programs"

export interface RunnerOptions {
  /** Runs an effect to its exit (the managed runtime's, or a handler's own fiber context's). */
  readonly runExit: <A, E>(effect: Effect.Effect<A, E, never>) => Promise<Exit.Exit<A, E>>
  /** What closing ends with, once nothing runs any more. */
  readonly dispose: () => Promise<void>
  /** The error a call gets once closing has begun (and a call that closing interrupted). */
  readonly closedError: (operation: string) => unknown
}

export interface Runner {
  /**
   * Runs a call: refused once closing has begun; otherwise `close()` waits for it ("finish", the
   * default) or interrupts it ("interrupt": work whose every step is its own transaction).
   */
  readonly run: <A, E>(effect: Effect.Effect<A, E, never>, operation: string, onClose?: "finish" | "interrupt") => Promise<A>
  /** Runs a call even while closing (a drain, an unsubscribe), and has `close()` wait for it. */
  readonly runAlways: <A, E>(effect: Effect.Effect<A, E, never>, operation: string) => Promise<A>
  /** Registers work `close()` stops first (in its phase); returns the removal. */
  readonly onClose: (stop: () => Promise<void>, phase?: ClosePhase) => () => void
  /** Closes (idempotent); resolves once disposed. */
  readonly close: () => Promise<void>
  readonly closing: () => boolean
}

const phases: ReadonlyArray<ClosePhase> = ["relays", "programs"]

export const makeRunner = (options: RunnerOptions): Runner => {
  let closed: Promise<void> | undefined
  const inFlight = new Set<Promise<unknown>>()
  const hooks = new Map<ClosePhase, Set<() => Promise<void>>>(phases.map((p) => [p, new Set()]))

  const track = <A>(call: Promise<A>): Promise<A> => {
    inFlight.add(call)
    const forget = () => inFlight.delete(call)
    call.then(forget, forget)
    return call
  }

  const settle = <A, E>(effect: Effect.Effect<A, E, never>, operation: string): Promise<A> =>
    options.runExit(effect).then((exit) => {
      if (Exit.isSuccess(exit)) return exit.value
      throw closed !== undefined && Cause.hasInterruptsOnly(exit.cause) ? options.closedError(operation) : Cause.squash(exit.cause)
    })

  const close = (): Promise<void> => {
    closed ??= (async () => {
      for (const phase of phases) await Promise.allSettled([...hooks.get(phase)!].map((stop) => stop()))
      await Promise.allSettled([...inFlight])
      await options.dispose()
    })()
    return closed
  }

  return {
    run: (effect, operation, onClose = "finish") => {
      if (closed !== undefined) return Promise.reject(options.closedError(operation))
      return onClose === "finish" ? track(settle(effect, operation)) : settle(effect, operation)
    },
    runAlways: (effect, operation) => track(settle(effect, operation)),
    onClose: (stop, phase = "relays") => {
      const set = hooks.get(phase)!
      set.add(stop)
      return () => {
        set.delete(stop)
      }
    },
    close,
    closing: () => closed !== undefined
  }
}

/**
 * Where a Promise runtime takes work to stop when it closes (a relay registers its `stop`): a
 * symbol-keyed member, so only the facades see it. Returns the removal.
 */
export const onRuntimeClose: unique symbol = Symbol.for("sibus/onRuntimeClose")

/**
 * Where a Promise runtime takes an outbox's counts for its metrics (`sib_outbox_pending` and
 * `sib_outbox_failed`, read at scrape time): a relay started on it registers its outbox. Returns
 * the removal.
 */
export const addOutboxGauge: unique symbol = Symbol.for("sibus/addOutboxGauge")

/**
 * A Promise runtime's way to run work of its own kind (a relay started on it) with its `logger`,
 * and to refuse it once closed: the effect given, ready to run, or the error to reject with.
 */
export const runtimeWork: unique symbol = Symbol.for("sibus/runtimeWork")

/** A Promise method for each Effect-returning member of a service shape (its docs carry over). */
export type Promised<Shape> = {
  readonly [K in keyof Shape]: Shape[K] extends (...args: infer P) => Effect.Effect<infer A, infer _E, infer _R> ? (...args: P) => Promise<A> : Shape[K]
}
