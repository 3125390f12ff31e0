/**
 * The Effect API's `Bus`: the runtime's service (`runtime/Bus.ts`) with the layers that open its
 * store by location (`openStore`), so an application chooses a database by naming it and the
 * runtime never knows which dialect it runs on. `Bus.layer()` still takes any `Store` layer.
 * These layers also provide the bus's `BusMetrics` (on unless `metrics: false`).
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { BusMetrics, type MetricsOptions, registryInUse } from "../observability/BusMetrics.ts"
import { busSpec } from "../options/busSpec.ts"
import { check, custom, invalid, object, problemText, spec } from "../options/spec.ts"
import { storeSpec } from "../options/storeSpec.ts"
import { Bus as RuntimeBus, type BusOptions } from "../runtime/Bus.ts"
import { BusOptionsError } from "../runtime/busErrors.ts"
import type { StoreError, StoreOpenError } from "../store/storeErrors.ts"
import { openStore, type StoreOptions } from "../store/open.ts"
import type { SqliteOptions } from "../store/sqlite/SqliteStore.ts"
import type { Store } from "../store/Store.ts"

/** Options of `Bus.open`: the bus's own, its metrics', and the store's (SQLite's durability and busy timeout, Postgres's pool size). */
export type OpenOptions = BusOptions & StoreOptions & {
  /**
   * The bus's metrics (`BusMetrics`, read with `text` or served by `MetricsHttp`): on by default, in a registry of
   * this bus's own; `false` records nothing; `{ registry }` records into that registry (one bus per registry: while
   * this bus is open, another on it fails with `BusOptionsError`).
   */
  readonly metrics?: boolean | MetricsOptions | undefined
}

/** `metrics: { registry }`: the registry the bus records into, a `MetricRegistry` (a `Map` of series). */
const metricsObject = object({
  registry: custom("MetricRegistry", { doc: "The registry to record into (one bus per registry)." }, (v, path) =>
    v instanceof Map ? v : invalid(path, "a MetricRegistry (a Map, e.g. new Map())", v))
}, { doc: "The bus's metrics." })

/** Every option `Bus.open` takes: the bus's, the store's and `metrics` (for one check, and one list of valid names). */
const openSpec = spec("open", {
  ...busSpec.fields,
  ...storeSpec.fields,
  metrics: custom("boolean | { registry }", { doc: "The bus's metrics." }, (v, path) =>
    typeof v === "boolean" ? v : typeof v === "object" && v !== null ? metricsObject.check(v, path) : invalid(path, "true, false or { registry }", v))
})

export class Bus extends RuntimeBus {
  /**
   * The bus on the database at `location` (a SQLite file path, `:memory:` or a `postgres://` URL), opened and migrated
   * when the layer is built and closed after the bus when its scope closes.
   */
  static readonly open = (
    location: string,
    options: OpenOptions = {}
  ): Layer.Layer<Bus | Store | BusMetrics, StoreOpenError | StoreError | BusOptionsError> => {
    // The bus's own options go to the bus, the store's to the store; a name that is neither, or a
    // store option's value that does not fit, is refused before anything opens.
    const checked = check(openSpec, options)
    if (!checked.ok) return Layer.effectContext(Effect.fail(new BusOptionsError({ detail: problemText(checked.problem), problem: checked.problem })))
    const { metrics, ...rest } = options ?? {}
    const busOptions: Record<string, unknown> = {}
    const storeOptions: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(rest)) (Object.hasOwn(busSpec.fields, k) ? busOptions : storeOptions)[k] = v
    const metricsOptions = metrics === false ? undefined : metrics === true || metrics === undefined ? {} : metrics
    const metricsLayer = metricsOptions === undefined ? BusMetrics.disabled : BusMetrics.layer(metricsOptions)
    // A registry another open bus records into is refused before the store opens (BusMetrics.layer claims it).
    const registryFree = Layer.effectDiscard(Effect.suspend(() => registryInUse(metricsOptions?.registry) ?? Effect.void))
    return RuntimeBus.layer(busOptions as BusOptions).pipe(
      Layer.provideMerge(metricsLayer),
      Layer.provideMerge(openStore(location, storeOptions as StoreOptions)),
      Layer.provide(registryFree)
    )
  }

  /** The bus on a SQLite file (or `:memory:`): `Bus.open(filename, options)`. */
  static readonly sqlite = (
    options: SqliteOptions & BusOptions & Pick<OpenOptions, "metrics">
  ): Layer.Layer<Bus | Store | BusMetrics, StoreOpenError | StoreError | BusOptionsError> => {
    const { filename, ...rest } = options
    return Bus.open(filename, rest)
  }
}
