/**
 * Vitest's global set-up: at the end of a run, drops the Postgres schemas the run's tests left
 * (each test database is a schema named `sib_t_<run>_...`; a crashed or killed test leaves its own).
 * Schemas of other runs on the same server are left alone.
 */
import pg from "pg"
import { postgresUrl, testRunId, testSchemaPrefix } from "./stores.ts"

export default function setup() {
  // Workers inherit the run's id, so their schemas carry it; another run's are left alone.
  const run = testRunId()
  return async () => {
    if (postgresUrl === undefined) return
    const client = new pg.Client({ connectionString: postgresUrl })
    try {
      await client.connect()
      const { rows } = await client.query("select schema_name from information_schema.schemata where schema_name like $1", [`${testSchemaPrefix}${run}\\_%`])
      for (const { schema_name } of rows as Array<{ schema_name: string }>) await client.query(`drop schema if exists "${schema_name}" cascade`)
    } catch {
      // The server is gone: nothing to clean.
    } finally {
      await client.end().catch(() => undefined)
    }
  }
}
