/**
 * The names of each dialect's migrations, in order: what the store compares with a database's
 * `kysely_migration` table at open without loading the migrations (and Kysely with them) unless one
 * is pending. A test checks the list against `migrations` (index.ts).
 */
import type { SqlDialect } from "../SqlDialect.ts"

export const migrationNames = (dialect: SqlDialect): ReadonlyArray<string> => [
  "0001_initial",
  "0002_maintenance",
  ...(dialect === "postgres" ? ["0003_changes"] : []),
  "0004_partitions",
  "0005_redelivered",
  "0006_keyed_index"
]
