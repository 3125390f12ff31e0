/**
 * Wake-ups. A `Signal` is a flag one fiber waits on and anyone raises; a raise with no waiter is
 * remembered, so a wake-up between "found nothing" and "wait" is never lost. `Wakeups` maps topics
 * to the signals of the groups reading them: a commit raises exactly the groups that care, at once.
 */
import { Effect } from "effect"

export class Signal {
  private raised = false
  private waiter: (() => void) | undefined = undefined

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
  readonly wait: Effect.Effect<void> = Effect.callback<void>((resume) => {
    if (this.raised) {
      this.raised = false
      return resume(Effect.void)
    }
    this.waiter = () => resume(Effect.void)
    return Effect.sync(() => {
      this.waiter = undefined
    })
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
