/**
 * Wake-ups. A `Signal` is a flag one fiber waits on and anyone raises; a raise with no waiter is
 * remembered, so a wake-up between "found nothing" and "wait" is never lost. `Wakeups` maps topics
 * to the signals of the groups reading them: a commit raises exactly the groups that care, at once.
 *
 * Waking is deferred: `Effect.callback`'s resume runs the waiting fiber synchronously inside the
 * caller, which would turn every raise into an immediate round of work (one commit per ack, one
 * transaction per publish). `suspend` instead schedules the woken fiber on its own dispatcher, so
 * it runs after the fiber that woke it yields, and whatever piled up meanwhile is handled at once.
 */
import * as Effect from "effect/Effect"

/**
 * Suspends the fiber until `register`'s `wake` is called; the fiber then resumes on its scheduler
 * (not inside the caller of `wake`). `register` may return a cleanup run on interruption.
 */
export const suspend = <A>(
  register: (wake: (value: A) => void) => (() => void) | void,
  immediate = false
): Effect.Effect<A> =>
  Effect.withFiber((fiber) =>
    Effect.callback<A>((resume) => {
      const dispatcher = fiber.currentDispatcher
      let settled = false
      const cleanup = register((value) => {
        if (settled) return
        settled = true
        if (immediate) resume(Effect.succeed(value))
        else dispatcher.scheduleTask(() => resume(Effect.succeed(value)), 0)
      })
      return Effect.sync(() => {
        settled = true
        cleanup?.()
      })
    })
  )

export class Signal {
  private raised = false
  private waiter: (() => void) | undefined = undefined
  /** Resume the waiter inside `raise` instead of on its scheduler (for waiters that should not
   * wait for a batch to pile up, such as a fetcher woken by new events). */
  private readonly immediate: boolean

  constructor(options: { readonly immediate?: boolean } = {}) {
    this.immediate = options.immediate ?? false
  }

  raise(): void {
    const w = this.waiter
    if (w !== undefined) {
      this.waiter = undefined
      w()
    } else {
      this.raised = true
    }
  }

  /** Completes at the next raise (at once if one happened since the last wait). */
  readonly wait: Effect.Effect<void> = Effect.suspend(() => {
    if (this.raised) {
      this.raised = false
      return Effect.void
    }
    return suspend<void>((wake) => {
      this.waiter = () => wake(undefined)
      return () => {
        this.waiter = undefined
      }
    }, this.immediate)
  })
}

export class Wakeups {
  private readonly byTopic = new Map<string, Set<Signal>>()
  private readonly everyone = new Set<Signal>()

  /** Raises `signal` whenever one of `topics` gains events; returns the unsubscribe. */
  watch(topics: ReadonlyArray<string>, signal: Signal): () => void {
    this.everyone.add(signal)
    for (const topic of topics) {
      let set = this.byTopic.get(topic)
      if (set === undefined) this.byTopic.set(topic, (set = new Set()))
      set.add(signal)
    }
    return () => {
      this.everyone.delete(signal)
      for (const topic of topics) {
        const set = this.byTopic.get(topic)
        set?.delete(signal)
        if (set?.size === 0) this.byTopic.delete(topic)
      }
    }
  }

  notify(topics: Iterable<string>): void {
    for (const topic of topics) {
      const set = this.byTopic.get(topic)
      if (set !== undefined) for (const s of set) s.raise()
    }
  }

  /** Something changed outside this process: every watcher re-checks. */
  notifyAll(): void {
    for (const s of this.everyone) s.raise()
  }
}
