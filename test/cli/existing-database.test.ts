/**
 * Commands that change a database but never create one (everything but `sib run` and `sib
 * publish`) open only an existing sibus database: a missing file is "no database at X", another
 * application's SQLite file is "not a sibus database", and either is left as it was (issue 11,
 * item 7). An older sibus database is migrated, as any writer does.
 */
import SqliteDatabase from "better-sqlite3"
import { createHash } from "node:crypto"
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Kysely, SqliteDialect } from "kysely"
import { Migrator } from "kysely/migration"
import { afterAll, describe, expect, it } from "vitest"
import { migration0001 } from "../../src/store/migrations/0001_initial.ts"
import { sib } from "../helpers/sib.ts"
import { makeTmpDir } from "../helpers/tmp.ts"

const digest = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex")

const dirs: Array<string> = []
const dir = () => {
  const d = makeTmpDir()
  dirs.push(d)
  return d
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

const writers: ReadonlyArray<ReadonlyArray<string>> = [
  ["prune"],
  ["compact"],
  ["groups", "delete", "g"],
  ["topics", "purge", "t"],
  ["topics", "delete", "t"],
  ["replay", "--group", "g", "--topic", "t", "--from", "earliest"],
  ["dlq", "requeue", "--all", "--group", "g"],
  ["dlq", "drop", "01J0000000000000000000000", "--group", "g"]
]

describe("commands that write open only an existing sibus database", () => {
  it.each(writers.map((args) => [args.join(" "), args] as const))("sib %s on another application's SQLite file: not a sibus database, the file untouched", async (_, args) => {
    const d = dir()
    const db = join(d, "app.db")
    const app = new SqliteDatabase(db)
    app.exec("create table t (x); insert into t values (1)")
    app.close()
    const before = digest(db)
    const r = await sib([...args, "--db", db], { cwd: d })
    expect([r.code, r.stdout]).toEqual([2, ""])
    expect(r.stderr.trim()).toMatch(/^sib: .*app\.db is not a sibus database \(it has no kysely_migration, events, .* tables\)$/)
    expect(digest(db)).toBe(before)
    expect(readdirSync(d)).toEqual(["app.db"])
  })

  it.each(writers.map((args) => [args.join(" "), args] as const))("sib %s with a --db that does not exist: no database there, no file created", async (_, args) => {
    const d = dir()
    const db = join(d, "typo.db")
    const r = await sib([...args, "--db", db], { cwd: d })
    expect(r.code).toBe(2)
    expect(r.stderr.trim()).toBe(`sib: no database at ${db}: pass --db <file> (or set SIB_DB), or create one with sib run or sib publish`)
    expect(readdirSync(d)).toEqual([])
  })

  it("an empty file stays empty", async () => {
    const d = dir()
    const db = join(d, "empty.db")
    writeFileSync(db, "")
    const r = await sib(["groups", "delete", "g", "--db", db], { cwd: d })
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/empty\.db is not a sibus database \(the file holds no tables\)/)
    expect(readFileSync(db).length).toBe(0)
  })

  it("a database of an older sibus schema is migrated", async () => {
    const d = dir()
    const db = join(d, "old.db")
    const kysely = new Kysely<any>({ dialect: new SqliteDialect({ database: new SqliteDatabase(db) }) })
    const migrated = await new Migrator({ db: kysely, provider: { getMigrations: () => Promise.resolve({ "0001_initial": migration0001("sqlite") }) } }).migrateToLatest()
    expect(migrated.error).toBeUndefined()
    await kysely.destroy()
    const r = await sib(["prune", "--db", db], { cwd: d })
    expect([r.code, r.stdout.trim(), r.stderr]).toEqual([0, "no topics with retention", ""])
    expect((await sib(["groups", "--db", db], { cwd: d })).code).toBe(0)
    expect(existsSync(db)).toBe(true)
  })
})
