/**
 * What a process that only publishes and consumes loads: not Kysely (the SQLite store runs
 * statements compiled at build time; Kysely loads to migrate and for a handler's own transaction)
 * and not `node:http` (whose module loads Node's fetch, undici: the HTTP server loads on
 * `serveHttp`), nor the language's loader and test runner. Each leaves a fifth to a half of such a
 * process's modules, or ~10 ms, unloaded.
 */
import { execFileSync } from "node:child_process"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { makeTmpDir } from "./helpers/tmp.ts"

const root = join(import.meta.dirname, "..")

describe("modules a publishing and consuming process loads", () => {
  it("a process that opens a migrated file, publishes and consumes loads neither Kysely nor node:http (nor Node's fetch with it); a handler's transaction loads Kysely", () => {
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
      const http = () => seen.filter((u) => u === "node:http").length
      const language = () => seen.filter((u) => ["testRunner.ts", "load.ts", "start.ts"].some((f) => u.endsWith("/src/program/" + f))).length
      const { createRuntime } = await import(${JSON.stringify(join(root, "src", "promise.ts"))})
      const rt = await createRuntime({ db: ${JSON.stringify(db)}, maintenance: false })
      await rt.publish("t", { n: 1 })
      const got = []
      await new Promise((resolve) => rt.subscribe("t", "g", (e) => { got.push(e.payload.n); resolve() }, { from: "earliest" }))
      const afterConsuming = kysely()
      const httpAfterConsuming = http()
      const languageAfterConsuming = language()
      await new Promise((resolve) => rt.subscribe("t", "h", async (e, ctx) => {
        const tx = await ctx.transaction()
        await tx.selectFrom("events").select("seq").execute()
        resolve()
      }, { from: "earliest" }))
      const afterTransaction = kysely()
      await rt.close()
      console.log(JSON.stringify({ afterConsuming, httpAfterConsuming, languageAfterConsuming, afterTransaction, got }))
    `
    const raw = execFileSync(process.execPath, ["--input-type=module", "-e", script], { cwd: root, encoding: "utf8" })
    const out = JSON.parse(raw.trim().split("\n").at(-1)!) as {
      afterConsuming: number; httpAfterConsuming: number; languageAfterConsuming: number; afterTransaction: number; got: Array<number>
    }
    expect(out.got).toEqual([1])
    expect(out.afterConsuming).toBe(0)
    expect(out.httpAfterConsuming).toBe(0)
    // Nor the language's loader and test runner (sibus/promise exports renderTestReport from a module of its own).
    expect(out.languageAfterConsuming).toBe(0)
    expect(out.afterTransaction).toBeGreaterThan(0)
  })
})
