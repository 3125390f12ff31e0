/**
 * What an application can observe of its bus besides log lines (as BullMQ's `QueueEvents` and
 * pg-boss's `error` events give): an event dead-lettered, a group failing (and restarting), a
 * group's lease lost to another process. Listeners are called synchronously where it happens;
 * one that throws is ignored (the bus carries on), so a listener should only hand the event on.
 */
import type { DeadLetter } from "../store/records.ts"

export type BusEvent =
  | (
    & { readonly type: "deadLettered"; readonly error: string }
    & Pick<DeadLetter, "group" | "topic" | "seq" | "eventId" | "key" | "attempts">
  )
  | { readonly type: "groupError"; readonly group: string; readonly error: string; readonly restartInMs: number }
  | { readonly type: "leaseLost"; readonly group: string }

export type BusEventListener = (event: BusEvent) => void

/** The listeners of one bus. */
export class BusEvents {
  private readonly listeners = new Set<BusEventListener>()

  /** Adds a listener; returns its removal. */
  on(listener: BusEventListener): () => void {
    const entry: BusEventListener = (e) => listener(e)
    this.listeners.add(entry)
    return () => void this.listeners.delete(entry)
  }

  emit(event: BusEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event)
      } catch {
        // A failing listener changes nothing for the bus.
      }
    }
  }
}
