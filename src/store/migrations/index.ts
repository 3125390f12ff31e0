/**
 * The numbered migrations, in order, as a Kysely `MigrationProvider`. Kysely's `Migrator` runs
 * them at start-up; a database that has run a migration this list does not know was written by a
 * newer sibus and is refused.
 */
import type { Migration, MigrationProvider } from "kysely/migration"
import type { SqlDialect } from "../SqlDialect.ts"
import { migration0001 } from "./0001_initial.ts"
import { migration0002 } from "./0002_maintenance.ts"
import { migration0003 } from "./0003_changes.ts"
import { migration0004 } from "./0004_partitions.ts"
import { migration0005 } from "./0005_redelivered.ts"
import { migration0006 } from "./0006_keyed_index.ts"

/** The migrations of a dialect, by name (a dialect may have some the other has not). */
export const migrations = (dialect: SqlDialect): Record<string, Migration> => ({
  "0001_initial": migration0001(dialect),
  "0002_maintenance": migration0002(dialect),
  ...(dialect === "postgres" ? { "0003_changes": migration0003 } : {}),
  "0004_partitions": migration0004,
  "0005_redelivered": migration0005,
  "0006_keyed_index": migration0006
})

export const migrationProvider = (dialect: SqlDialect): MigrationProvider => ({
  getMigrations: () => Promise.resolve(migrations(dialect))
})
