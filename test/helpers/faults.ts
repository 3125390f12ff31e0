/**
 * Faults for supervision tests: a store on `location` whose calls a test replaces (to fail a few
 * times, say), and a logger that keeps every line.
 */
import { Effect, Layer, Logger } from "effect"
import { openStore } from "../../src/store/open.ts"
import { Store } from "../../src/store/Store.ts"
import { StoreError } from "../../src/store/storeErrors.ts"

/** The store at `location` with some of its calls replaced by `change` (which gets the real store). */
export const alteredStore = (location: string, change: (store: Store["Service"]) => Store["Service"]) =>
  Layer.effect(Store, Effect.map(Effect.service(Store), (store) => Store.of(change(store)))).pipe(Layer.provide(openStore(location)))

/** The failure a failing store call gives: `op` could not be done because of `message`. */
export const storeFailure = (op: string, message: string) => Effect.fail(new StoreError({ op, cause: new Error(message) }))

/** A logger keeping each message in `lines`, as a layer. */
export const keptLogs = () => {
  const lines: Array<string> = []
  const layer = Logger.layer([Logger.make((options) => {
    lines.push(String(options.message))
  })])
  return { lines, layer, text: () => lines.join("\n") }
}
