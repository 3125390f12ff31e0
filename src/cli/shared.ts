/**
 * What every `sib` command shares: the root command with its `--db` flag (env `SIB_DB`, default
 * `./sib.db`), opening the bus on that database, the error that ends a command with a one-line
 * message and an exit code, and writing to stdout (data) and stderr (everything else).
 */
import * as Config from "effect/Config"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Runtime from "effect/Runtime"
import { Command, Flag } from "effect/cli"
import { existsSync, statSync } from "node:fs"
import { Bus } from "../facade/Bus.ts"
import type { BusMetrics } from "../observability/BusMetrics.ts"
import type { BusOptions } from "../runtime/Bus.ts"
import type { BusOptionsError } from "../runtime/busErrors.ts"
import { Inspect, type InspectShape } from "../runtime/Inspect.ts"
import { describeCause, StoreError, StoreOpenError } from "../store/storeErrors.ts"
import { isServerUrl, openStore, redactLocation } from "../store/open.ts"
import { Store } from "../store/Store.ts"
import { liveLine } from "./status.ts"
import { Tracing } from "../observability/tracing.ts"

/**
 * A command that cannot go on: the message is printed as one line on stderr (`sib: message`), and
 * the process exits with `exitCode` (2 for bad input or an unusable database, 1 for a failure the
 * command reports, such as a failed check or test).
 */
export class CliFailure extends Data.TaggedError("CliFailure")<{
  readonly message: string
  readonly exitCode: number
  /** Printed already (the command reported it in its own words). */
  readonly reported?: boolean | undefined
}> {
  override get [Runtime.errorExitCode](): number {
    return this.exitCode
  }
  override readonly [Runtime.errorReported] = false
}

export const failWith = (message: string, exitCode = 2): Effect.Effect<never, CliFailure> =>
  Effect.fail(new CliFailure({ message, exitCode }))

export const root = Command.make("sib").pipe(
  Command.withSharedFlags({
    db: Flag.String("db").pipe(
      Flag.withDescription("SQLite database file or postgres:// URL (env SIB_DB; default ./sib.db)"),
      Flag.withFallbackConfig(Config.String("SIB_DB")),
      Flag.withDefault("./sib.db")
    )
  }),
  Command.withDescription("sibus: a durable event runtime in your Node.js process, with .sib programs")
)

/** Data, one line on stdout. */
export const out = (line: string) => Effect.sync(() => void process.stdout.write(`${line}\n`))
/** Diagnostics and progress, one line on stderr (above the live status line of `sib run`, if shown). */
export const err = (line: string) => Effect.sync(() => liveLine.write(`${line}\n`))

/** Colors only on a terminal, and never with NO_COLOR set. */
export const useColor = (stream: NodeJS.WriteStream): boolean =>
  stream.isTTY === true && (process.env["NO_COLOR"] === undefined || process.env["NO_COLOR"] === "")

/**
 * How a command uses the `--db` database: `read` (inspection, opened read-only), `existing` (a
 * command that changes a database but never creates one: it opens only an existing sibus database)
 * or `create` (`sib run`, `sib publish`: a missing file is created).
 */
export type Access = "read" | "existing" | "create"

/**
 * The `--db` location as every command shows it: a database URL with its user and with its
 * password (in the user part or a `password` parameter) as `***` (`postgres://app:***@db/events`),
 * a file path as it is.
 */
export const shownDb = (db: string): string => redactLocation(db)

/** Why the `--db` location cannot be used by a command with this access, if it cannot. */
const unusable = (db: string, access: Access): string | undefined => {
  if (isServerUrl(db) || db === ":memory:") return undefined
  if (existsSync(db) && statSync(db).isDirectory()) return `--db ${db} is a directory; pass a database file`
  if (access !== "create" && !existsSync(db)) {
    return `no database at ${db}: pass --db <file> (or set SIB_DB), or create one with sib run or sib publish`
  }
  return undefined
}

/**
 * A failure of the database as its user reads it: what could not be done, to which database, and
 * the database's own reason ("could not write to the database ./sib.db: database is locked"), never
 * the store's operation names. Exit code 1 (the command failed), or 2 while opening it.
 */
const storeFailure = (db: string, e: StoreError, options: { readonly readOnly?: boolean; readonly exitCode?: number } = {}): CliFailure =>
  new CliFailure({
    message: `could not ${options.readOnly === true || e.kind === "read" ? "read" : "write to"} the database ${shownDb(db)}: ${describeCause(e.cause)}`,
    exitCode: options.exitCode ?? 1
  })

/** `effect` with its database failures worded for the user (`storeFailure`). */
export const withStoreFailures = (db: string, readOnly = false) => <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, Exclude<E, StoreError> | CliFailure, R> =>
  Effect.mapError(effect, (e) => (e instanceof StoreError ? storeFailure(db, e, { readOnly }) : e)) as Effect.Effect<A, Exclude<E, StoreError> | CliFailure, R>

/**
 * A database that cannot be opened, located as `shownDb` shows it (the store hides a URL's whole
 * user part when the URL is refused before connecting, and only its password otherwise).
 */
const openFailure = (db: string, e: StoreOpenError): string =>
  isServerUrl(db) ? new StoreOpenError({ reason: e.reason, location: shownDb(db), detail: e.detail }).message : e.message

/** A layer's open failures as one-line command failures. */
const reported = <A>(db: string, layer: Layer.Layer<A, StoreOpenError | StoreError | BusOptionsError>, readOnly = false): Layer.Layer<A, CliFailure> =>
  layer.pipe(
    Layer.catchTag("StoreOpenError", (e: StoreOpenError) => Layer.effectDiscard(failWith(openFailure(db, e)))),
    Layer.catchTag("StoreError", (e: StoreError) => Layer.effectDiscard(Effect.fail(storeFailure(db, e, { readOnly, exitCode: 2 })))),
    Layer.catchTag("BusOptionsError", (e: BusOptionsError) => Layer.effectDiscard(failWith(e.message)))
  ) as Layer.Layer<A, CliFailure>

/**
 * The bus on the `--db` database. Only `create` makes a database that does not exist; `existing`
 * also refuses a file that is not a sibus database, before writing anything to it. A database this
 * version cannot open is a one-line error.
 */
export const busLayer = (db: string, access: Exclude<Access, "read">, options: BusOptions = {}): Layer.Layer<Bus | Store | BusMetrics, CliFailure> => {
  const why = unusable(db, access)
  if (why !== undefined) return Layer.effectDiscard(failWith(why)) as Layer.Layer<Bus | Store | BusMetrics, CliFailure>
  return reported(db, Bus.open(db, { ...options, ...(access === "existing" ? { existing: true } : {}) }))
}

/**
 * Runs `effect` with inspection of the `--db` database, opened read-only (no bus, no migration,
 * nothing written); the store's own reads too, for a command that needs one `Inspect` lacks.
 */
export const withInspect = <A, E, R>(effect: (inspect: InspectShape, store: Store["Service"]) => Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const { db } = yield* root
    const why = unusable(db, "read")
    if (why !== undefined) return yield* failWith(why)
    return yield* Effect.flatMap(Effect.all([Effect.service(Inspect), Effect.service(Store)]), ([inspect, store]) => effect(inspect, store)).pipe(
      withStoreFailures(db, true),
      Effect.provide(reported(db, Inspect.layer.pipe(Layer.provideMerge(openStore(db, { readOnly: true }))), true))
    )
  })

/**
 * Runs `effect` with the bus on the root command's `--db`. Scheduled compaction and retention are
 * off there: a command that looks at or repairs the database (`tail --follow` included) deletes
 * nothing unless it is `sib compact` or `sib prune`; `sib run` keeps them on.
 */
export const withBus = <A, E, R>(access: Exclude<Access, "read">, effect: (bus: Bus["Service"]) => Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const { db } = yield* root
    // With OTEL_EXPORTER_OTLP_ENDPOINT set, `sib publish` is a traced publish (its event carries the span's traceparent).
    return yield* Effect.flatMap(Effect.service(Bus), effect).pipe(
      withStoreFailures(db),
      Effect.provide(busLayer(db, access, { maintenance: false })),
      Effect.provide(Tracing.layerFromEnv(process.env, "sib"))
    )
  })
