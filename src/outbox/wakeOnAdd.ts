/**
 * In-process wake-ups from `add` to the relays of the same outbox. Relays register a `Signal`
 * under their outbox's database handle and table; an add raises every signal registered there,
 * whichever `Outbox` value it went through. A raise only says "look now": the adding transaction
 * may not have committed yet, so a relay that finds nothing re-checks shortly after (see
 * `Relay.ts`). Other processes' adds are found by polling.
 */
import type { Signal } from "../runtime/Signal.ts"

const registry = new WeakMap<object, Map<string, Set<Signal>>>()

/** Raises `signal` on every add to `table` through `db`; returns the unregistration. */
export const watchAdds = (db: object, table: string, signal: Signal): () => void => {
  let tables = registry.get(db)
  if (tables === undefined) registry.set(db, (tables = new Map()))
  let signals = tables.get(table)
  if (signals === undefined) tables.set(table, (signals = new Set()))
  signals.add(signal)
  return () => {
    signals.delete(signal)
    if (signals.size === 0) tables.delete(table)
  }
}

/** Wakes the relays watching `table` through `db`. */
export const notifyAdd = (db: object, table: string): void => {
  const signals = registry.get(db)?.get(table)
  if (signals !== undefined) for (const s of signals) s.raise()
}
