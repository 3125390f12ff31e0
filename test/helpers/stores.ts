/**
 * The databases the store conformance suite and the runtime suites run on: one entry per dialect.
 * A suite loops over `storeFactories` (as Kysely's tests loop over their dialects), so a new dialect
 * is one more entry here and every suite runs on it. The Postgres dialect adds its entry (with a
 * fresh schema per database) when it exists.
 */
import { join } from "node:path"
import { makeTmpDir } from "./tmp.ts"

export interface StoreFactory {
  readonly name: string
  /** A new database no one else opens: the cheapest the dialect has (SQLite `:memory:`). */
  readonly fresh: () => string
  /** A new database that several connections or processes open (a SQLite file). */
  readonly shared: () => string
  /** The capabilities its store provides (`StoreCapabilities`). */
  readonly capabilities: { readonly changeToken: boolean; readonly checkpoint: boolean }
}

export const sqliteFactory: StoreFactory = {
  name: "sqlite",
  fresh: () => ":memory:",
  shared: () => join(makeTmpDir(), "bus.db"),
  capabilities: { changeToken: true, checkpoint: true }
}

export const storeFactories: ReadonlyArray<StoreFactory> = [sqliteFactory]
