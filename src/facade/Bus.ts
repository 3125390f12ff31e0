/**
 * The Effect API's `Bus`: the runtime's service (`runtime/Bus.ts`) with the layers that open its
 * store by location (`openStore`), so an application chooses a database by naming it and the
 * runtime never knows which dialect it runs on. `Bus.layer()` still takes any `Store` layer.
 */
import * as Layer from "effect/Layer"
import { busSpec } from "../options/busSpec.ts"
import { Bus as RuntimeBus, type BusOptions } from "../runtime/Bus.ts"
import type { BusOptionsError } from "../runtime/busErrors.ts"
import type { StoreError, StoreOpenError } from "../store/storeErrors.ts"
import { openStore, type StoreOptions } from "../store/open.ts"
import type { SqliteOptions } from "../store/sqlite/SqliteStore.ts"
import type { Store } from "../store/Store.ts"

/** Options of `Bus.open`: the bus's own, and the store's (SQLite's durability and busy timeout, Postgres's pool size). */
export type OpenOptions = BusOptions & StoreOptions

export class Bus extends RuntimeBus {
  /**
   * The bus on the database at `location` (a SQLite file path, `:memory:` or a `postgres://` URL), opened and migrated
   * when the layer is built and closed after the bus when its scope closes.
   */
  static readonly open = (
    location: string,
    options: OpenOptions = {}
  ): Layer.Layer<Bus | Store, StoreOpenError | StoreError | BusOptionsError> => {
    // The bus's own options go to the bus (which refuses unknown ones), the rest to the store.
    const busOptions: Record<string, unknown> = {}
    const storeOptions: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(options)) (Object.hasOwn(busSpec.fields, k) ? busOptions : storeOptions)[k] = v
    return RuntimeBus.layer(busOptions as BusOptions).pipe(Layer.provideMerge(openStore(location, storeOptions as StoreOptions)))
  }

  /** The bus on a SQLite file (or `:memory:`): `Bus.open(filename, options)`. */
  static readonly sqlite = (options: SqliteOptions & BusOptions): Layer.Layer<Bus | Store, StoreOpenError | StoreError | BusOptionsError> => {
    const { filename, ...rest } = options
    return Bus.open(filename, rest)
  }
}
