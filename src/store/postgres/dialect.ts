/** The Kysely dialect sibus opens Postgres with (also used by the tests for applications' databases). */
import { type DatabaseIntrospector, type DatabaseMetadataOptions, type Kysely, PostgresDialect, sql, type TableMetadata } from "kysely"

/**
 * Kysely's Postgres dialect with introspection of the current schema only (`search_path`: the
 * database a sibus location names). Kysely's own introspector lists every schema of the database,
 * calling functions by name (`has_schema_privilege`, `pg_get_serial_sequence`) that fail when
 * another schema is dropped meanwhile; its migrator introspects to find its bookkeeping tables,
 * so opening a store would fail while anyone drops an unrelated schema.
 */
export class SchemaPostgresDialect extends PostgresDialect {
  override createIntrospector(db: Kysely<any>): DatabaseIntrospector {
    const base = super.createIntrospector(db)
    return {
      getSchemas: () => base.getSchemas(),
      getTables: (options) => this.tables(db, options)
    }
  }

  private async tables(db: Kysely<any>, options?: DatabaseMetadataOptions): Promise<Array<TableMetadata>> {
    const rows = (await sql<{ table: string; kind: string; schema: string; column: string; type: string; not_null: boolean; has_default: boolean }>`
      select c.relname as table, c.relkind as kind, ns.nspname as schema, a.attname as column, t.typname as type,
             a.attnotnull as not_null, a.atthasdef as has_default
      from pg_catalog.pg_class c
      join pg_catalog.pg_namespace ns on ns.oid = c.relnamespace
      join pg_catalog.pg_attribute a on a.attrelid = c.oid
      join pg_catalog.pg_type t on t.oid = a.atttypid
      where ns.nspname = current_schema() and c.relkind in ('r', 'v', 'p', 'f') and a.attnum > 0 and not a.attisdropped
      order by c.relname, a.attnum`.execute(db)).rows
    const tables = new Map<string, TableMetadata & { columns: Array<TableMetadata["columns"][number]> }>()
    for (const r of rows) {
      if (options?.withInternalKyselyTables !== true && (r.table === "kysely_migration" || r.table === "kysely_migration_lock")) continue
      let table = tables.get(r.table)
      if (table === undefined) {
        table = { name: r.table, schema: r.schema, isView: r.kind === "v", isForeign: r.kind === "f", columns: [] }
        tables.set(r.table, table)
      }
      table.columns.push({
        name: r.column, dataType: r.type, isNullable: !r.not_null, isAutoIncrementing: false, hasDefaultValue: r.has_default
      })
    }
    return [...tables.values()]
  }
}

