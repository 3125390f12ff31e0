/**
 * What lets the SQLite store run without loading Kysely: its statements compiled ahead
 * (`compiledStatements.ts`, written by `npm run statements`) and the names of the migrations
 * (`migrations/names.ts`) must say what the builder and the migrations say now. A process that
 * opens a migrated file, publishes and consumes loads no module of Kysely; Kysely still loads for
 * a pending migration and for a handler's own transaction.
 */
import { execFileSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { migrationNames } from "../../src/store/migrations/names.ts"
import { migrations } from "../../src/store/migrations/index.ts"
import { makeTmpDir } from "../helpers/tmp.ts"

const root = join(import.meta.dirname, "..", "..")

describe("statements and migrations known without Kysely", () => {
  it("src/store/sqlite/compiledStatements.ts is what `npm run statements` builds from queries.ts now", () => {
    const out = join(makeTmpDir(), "compiledStatements.ts")
    execFileSync(process.execPath, [join(root, "scripts", "compile-statements.ts"), out], { cwd: root })
    expect(readFileSync(join(root, "src", "store", "sqlite", "compiledStatements.ts"), "utf8")).toBe(readFileSync(out, "utf8"))
  })

  it("migrationNames lists each dialect's migrations in order", () => {
    for (const dialect of ["sqlite", "postgres"] as const) {
      expect(migrationNames(dialect)).toEqual(Object.keys(migrations(dialect)))
    }
  })

  it("a process that opens a migrated file, publishes and consumes loads no module of Kysely; a handler's transaction loads it", () => {
    const dir = makeTmpDir()
    const db = join(dir, "bus.db")
    // Migrated first, by another process; the child reports which modules it resolved (a resolve
    // hook) after each step.
    execFileSync(process.execPath, ["--input-type=module", "-e", `
      const { createRuntime } = await import(${JSON.stringify(join(root, "src", "promise.ts"))})
      await (await createRuntime({ db: ${JSON.stringify(db)}, maintenance: false })).close()
    `], { cwd: root })
    const script = `
      import { registerHooks } from "node:module"
      const seen = []
      registerHooks({ resolve(spec, ctx, next) { const r = next(spec, ctx); seen.push(r.url); return r } })
      const kysely = () => seen.filter((u) => u.includes("/node_modules/kysely/")).length
      const { createRuntime } = await import(${JSON.stringify(join(root, "src", "promise.ts"))})
      const rt = await createRuntime({ db: ${JSON.stringify(db)}, maintenance: false })
      await rt.publish("t", { n: 1 })
      const got = []
      await new Promise((resolve) => rt.subscribe("t", "g", (e) => { got.push(e.payload.n); resolve() }, { from: "earliest" }))
      const afterConsuming = kysely()
      await new Promise((resolve) => rt.subscribe("t", "h", async (e, ctx) => {
        const tx = await ctx.transaction()
        await tx.selectFrom("events").select("seq").execute()
        resolve()
      }, { from: "earliest" }))
      const afterTransaction = kysely()
      await rt.close()
      console.log(JSON.stringify({ afterConsuming, afterTransaction, got }))
    `
    const raw = execFileSync(process.execPath, ["--input-type=module", "-e", script], { cwd: root, encoding: "utf8" })
    const out = JSON.parse(raw.trim().split("\n").at(-1)!) as {
      afterConsuming: number; afterTransaction: number; got: Array<number>
    }
    expect(out.got).toEqual([1])
    expect(out.afterConsuming).toBe(0)
    expect(out.afterTransaction).toBeGreaterThan(0)
  })
})
