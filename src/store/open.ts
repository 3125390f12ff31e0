/**
 * `openStore(location)`: the one way to open a store from where its data lives. A location is a
 * SQLite file path, `:memory:`, or a `postgres://` URL (`?schema=name` for a schema of its own). The Promise facade, the CLI and the `.sib` test runner all open their
 * database here, so they accept the same locations and report the same errors.
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { statSync } from "node:fs"
import type * as Postgres from "./postgres/PostgresStore.ts"
import { redactText, redactUrl } from "./redact.ts"
import { StoreOpenError } from "./storeErrors.ts"
import * as Sqlite from "./sqlite/SqliteStore.ts"
import { Store } from "./Store.ts"

/**
 * Options of the dialects, minus where the data lives: SQLite's, and Postgres's pool size.
 * `readOnly` applies to both.
 */
export type StoreOptions = Omit<Sqlite.SqliteOptions, "filename"> & Omit<Postgres.PostgresOptions, "url" | "readOnly">

/** A URL for a database server (`postgres://`, `postgresql://`). */
export const isServerUrl = (location: string): boolean => /^postgres(ql)?:\/\//i.test(location)

/**
 * Hides a URL's password (in the user part or a `password` parameter), for messages:
 * `postgres://app:***@db/events`. Anything else is returned
 * as it is.
 */
export const redactLocation = (location: string): string => {
  if (!isServerUrl(location)) return location
  try {
    return redactUrl(new URL(location)).toString()
  } catch {
    return redactText(location)
  }
}

/** Opens the store at `location` for the life of the layer. */
export const openStore = (location: string, options: StoreOptions = {}): Layer.Layer<Store, StoreOpenError> => {
  if (isServerUrl(location)) {
    // Loaded on use: the Postgres store and its driver (~10 MB of a process's memory) stay out of a SQLite process.
    return Layer.unwrap(Effect.map(
      Effect.promise(() => import("./postgres/PostgresStore.ts")),
      (postgres) => postgres.layer({ url: location, readOnly: options.readOnly, maxConnections: options.maxConnections })
    ))
  }
  if (location === "") {
    return Layer.effect(Store, Effect.fail(new StoreOpenError({ reason: "unreadable", location: "\"\"", detail: "the database location is empty" })))
  }
  if (location !== ":memory:" && isDirectory(location)) {
    return Layer.effect(Store, Effect.fail(new StoreOpenError({ reason: "unreadable", location, detail: "it is a directory; pass a database file" })))
  }
  return Sqlite.layer({ ...options, filename: location })
}

const isDirectory = (path: string): boolean => {
  try {
    return statSync(path).isDirectory()
  } catch {
    return false
  }
}
