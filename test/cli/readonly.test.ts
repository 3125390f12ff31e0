/**
 * Inspection commands open the database read-only: they never migrate, switch journal modes or
 * create files, and they say so when a file is not a sibus database (issue 11, item 7).
 */
import SqliteDatabase from "better-sqlite3"
import { execFileSync, spawnSync } from "node:child_process"
import { createHash } from "node:crypto"
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { Kysely, SqliteDialect } from "kysely"
import { Migrator } from "kysely/migration"
import { migration0001 } from "../../src/store/migrations/0001_initial.ts"
import { sib, sibBin } from "../helpers/sib.ts"
import { makeTmpDir } from "../helpers/tmp.ts"

const digest = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex")

/** Another application's SQLite file: a rollback journal, a table of its own. */
const foreignDb = (path: string) => {
  const db = new SqliteDatabase(path)
  db.exec("create table customers (id integer primary key, name text); insert into customers (name) values ('ada')")
  db.close()
}

const dirs: Array<string> = []
const dir = () => {
  const d = makeTmpDir()
  dirs.push(d)
  return d
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

describe("read-only inspection", () => {
  it.each([["topics"], ["groups"], ["tail", "customers"], ["dlq"]])("sib %s on another application's SQLite file: not a sibus database, the file untouched", async (...args) => {
    const d = dir()
    const db = join(d, "app.db")
    foreignDb(db)
    const before = digest(db)
    const r = await sib([...args, "--db", db], { cwd: d })
    expect(r.code).toBe(2)
    expect(r.stderr.trim()).toMatch(/^sib: .*app\.db is not a sibus database \(it has no kysely_migration, events, .* tables\)$/)
    expect(digest(db)).toBe(before)
    expect(readdirSync(d).sort()).toEqual(["app.db"])
    const check = new SqliteDatabase(db, { readonly: true })
    expect(check.pragma("journal_mode", { simple: true })).toBe("delete")
    check.close()
  })

  it("an empty file stays empty", async () => {
    const d = dir()
    const db = join(d, "empty.db")
    writeFileSync(db, "")
    const r = await sib(["topics", "--db", db], { cwd: d })
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/empty\.db is not a sibus database \(the file holds no tables\)/)
    expect(readFileSync(db).length).toBe(0)
  })

  it("a database of an older schema is named as such, not migrated by a reading command", async () => {
    const d = dir()
    const db = join(d, "old.db")
    const kysely = new Kysely<any>({ dialect: new SqliteDialect({ database: new SqliteDatabase(db) }) })
    const migrated = await new Migrator({ db: kysely, provider: { getMigrations: () => Promise.resolve({ "0001_initial": migration0001("sqlite") }) } }).migrateToLatest()
    expect(migrated.error).toBeUndefined()
    await kysely.destroy()
    const before = digest(db)
    const r = await sib(["groups", "--db", db], { cwd: d })
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/old\.db was written by an older version of sibus: it lacks migrations 0002_maintenance, 0004_partitions, 0005_redelivered, 0006_keyed_index; a command that writes \(sib run, sib publish\) upgrades it/)
    expect(digest(db)).toBe(before)
  })

  it("on a sibus database, reading commands leave the file as it was", async () => {
    const d = dir()
    const db = join(d, "bus.db")
    expect((await sib(["publish", "orders", "{\"n\":1}", "--db", db], { cwd: d })).code).toBe(0)
    const before = digest(db)
    for (const args of [["topics"], ["groups"], ["tail", "orders"], ["dlq"]]) {
      const r = await sib([...args, "--db", db], { cwd: d })
      expect(r.code, `${args.join(" ")}: ${r.stderr}`).toBe(0)
    }
    expect(digest(db)).toBe(before)
  })

  it("in a read-only folder, topics, groups and tail read the database", async (ctx) => {
    const d = dir()
    const data = join(d, "data")
    const ro = join(d, "ro")
    mkdirSync(data)
    mkdirSync(ro)
    expect((await sib(["publish", "orders", "{\"n\":1}", "--db", join(data, "bus.db")], { cwd: d })).code).toBe(0)
    try {
      execFileSync("mount", ["--bind", data, ro])
      execFileSync("mount", ["-o", "remount,ro,bind", ro])
    } catch (e) {
      ctx.skip(`a read-only folder needs a read-only bind mount, which this machine refused: ${String(e).split("\n")[0]}`)
    }
    try {
      expect(() => writeFileSync(join(ro, "probe"), "")).toThrow(/read-only/)
      for (const args of [["topics"], ["groups"], ["tail", "orders"]]) {
        const r = await sib([...args, "--db", join(ro, "bus.db")], { cwd: d })
        expect(r.code, `${args.join(" ")}: ${r.stderr}`).toBe(0)
      }
      expect((await sib(["tail", "orders", "--json", "--db", join(ro, "bus.db")], { cwd: d })).stdout).toContain("\"n\":1")
    } finally {
      execFileSync("umount", [ro])
    }
    expect(existsSync(join(data, "bus.db"))).toBe(true)
  })

  it("in a folder whose permissions keep this user out (a service's database read as another user), topics and tail read the database", async (ctx) => {
    if (process.getuid?.() !== 0) return ctx.skip("runs sib as another user (setpriv), which needs root")
    const d = dir()
    chmodSync(d, 0o755)
    const data = join(d, "data")
    mkdirSync(data, { mode: 0o755 })
    const db = join(data, "bus.db")
    expect((await sib(["publish", "orders", "{\"n\":1}", "--db", db], { cwd: d })).code).toBe(0)
    chmodSync(db, 0o644)
    const asNobody = (args: ReadonlyArray<string>) =>
      spawnSync("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, ...args], { cwd: d, encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } })
    const probe = asNobody([sibBin, "--version"])
    if (probe.error !== undefined || probe.status !== 0) return ctx.skip(`another user cannot run this checkout's sib here: ${probe.error?.message ?? probe.stderr.split("\n")[0]}`)
    for (const args of [["topics"], ["tail", "orders", "--json"]]) {
      const r = asNobody([sibBin, ...args, "--db", db])
      expect(r.status, `${args.join(" ")}: ${r.stderr}`).toBe(0)
      if (args[0] === "tail") expect(r.stdout).toContain("\"n\":1")
    }
    expect(readdirSync(data)).toEqual(["bus.db"])
  })
})
