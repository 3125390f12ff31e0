/**
 * The package as an embedder gets it: `npm pack` (which builds it, as `npm publish` would) on a
 * copy of the checkout, then `npm install <tarball>` into a fresh project (from the npm registry,
 * npm's cache allowed), which must hold one copy of `effect` and no `redis`; the README's Effect
 * and Promise examples, taken from README.md's code blocks, pass strict `tsc` (library types
 * checked too) and run with node; and the installed `sib` command runs. Skipped, saying why, only
 * when `npm ping` cannot reach the registry. Also, without the registry: the README's Effect
 * example is docs/examples/effect-api.ts.
 */
import { execFile } from "node:child_process"
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { promisify } from "node:util"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { makeTmpDir } from "../helpers/tmp.ts"
import { olderNode } from "./olderNode.ts"

const root = join(import.meta.dirname, "..", "..")
const readme = readFileSync(join(root, "README.md"), "utf8")

/** The first ```ts block after the heading `## <title>` (or `### <title>`). */
const readmeExample = (title: string): string => {
  const section = [`\n## ${title}\n`, `\n### ${title}\n`].map((h) => readme.indexOf(h)).find((i) => i >= 0) ?? -1
  if (section < 0) throw new Error(`README.md has no "## ${title}" section`)
  const block = /\n```ts\n([\s\S]*?)\n```\n/.exec(readme.slice(section))
  if (block === null) throw new Error(`README.md's "${title}" section has no ts code block`)
  return `${block[1]}\n`
}

const run = promisify(execFile)
type Run = { readonly stdout: string; readonly stderr: string }
/** Runs a command; a failure is an Error with the command, its exit code and its output. */
const sh = async (cwd: string, file: string, args: ReadonlyArray<string>, env: Record<string, string> = {}): Promise<Run> => {
  try {
    return await run(file, args, { cwd, env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 })
  } catch (e) {
    const err = e as Error & Partial<Run> & { code?: unknown }
    throw new Error(`${file} ${args.join(" ")} (in ${cwd}) failed, exit ${String(err.code)}\n${err.stdout ?? ""}\n${err.stderr ?? ""}`)
  }
}

/** Why the npm registry cannot be reached (npm's own view of it: its config, proxy, auth), or undefined. */
const registryProblem = async (): Promise<string | undefined> => {
  try {
    await run("npm", ["ping", "--fetch-retries=0", "--fetch-timeout=5000"], { timeout: 15_000 })
    return undefined
  } catch (e) {
    const err = e as Error & { stderr?: string }
    const detail = (err.stderr ?? err.message).split("\n").find((l) => /error|ERR|ETIMEDOUT|ENOTFOUND|ECONN/i.test(l)) ?? err.message
    return `the npm registry is unreachable (npm ping: ${detail.trim()})`
  }
}

/** Every installed copy of `effect` under a node_modules folder, as "path@version". */
const effectCopies = (dir: string): Array<string> => {
  const found: Array<string> = []
  const walk = (modules: string) => {
    if (!existsSync(modules)) return
    for (const entry of readdirSync(modules, { withFileTypes: true })) {
      if (!entry.isDirectory() || entry.name.startsWith(".")) continue
      const names = entry.name.startsWith("@") ? readdirSync(join(modules, entry.name)).map((n) => join(entry.name, n)) : [entry.name]
      for (const name of names) {
        const pkg = join(modules, name)
        if (name === "effect") found.push(`${pkg}@${JSON.parse(readFileSync(join(pkg, "package.json"), "utf8")).version}`)
        walk(join(pkg, "node_modules"))
      }
    }
  }
  walk(join(dir, "node_modules"))
  return found
}

/** A docs/examples file as the README shows it: without its header comment, importing "sibus". */
const asShown = (file: string): string =>
  readFileSync(join(root, "docs", "examples", file), "utf8").replace(/^\/\*\*[\s\S]*?\*\/\n/, "").replace(`from "../../src/index.ts"`, `from "sibus"`)

describe("README examples and docs/examples agree", () => {
  it("the Effect API example is docs/examples/effect-api.ts (its import aside)", () => {
    expect(readmeExample("Embedding: the Effect API")).toBe(asShown("effect-api.ts"))
  })
  it("the TestClock example is docs/examples/testclock.test.ts (its import aside)", () => {
    expect(readmeExample("Testing handlers with TestClock")).toBe(asShown("testclock.test.ts"))
  })
})

const problem = await registryProblem()
// Printed whatever the reporter, so that a skip is never silent.
if (problem !== undefined) console.warn(`test/packaging/tarball.test.ts: the tarball tests are skipped: ${problem}`)

describe("the packed tarball in a fresh project", () => {
  let dir = ""
  let app = ""
  let installed: Run = { stdout: "", stderr: "" }
  let packedFiles: ReadonlyArray<string> = []
  let packedBytes = 0

  beforeAll(async () => {
    if (problem !== undefined) return
    dir = makeTmpDir()
    // A copy of what `npm pack` reads, with the checkout's node_modules (the build tools) linked.
    const pkg = join(dir, "package")
    mkdirSync(pkg)
    for (const name of ["package.json", "README.md", "tsconfig.json", "tsconfig.build.json", "bin", "src", "grammar", "docs", "scripts", "dsl-examples"]) {
      cpSync(join(root, name), join(pkg, name), { recursive: true })
    }
    symlinkSync(join(root, "node_modules"), join(pkg, "node_modules"), "dir")
    const packed = await sh(pkg, "npm", ["pack", "--json", "--pack-destination", dir])
    const [info] = JSON.parse(packed.stdout) as Array<{ filename: string; size: number; files: ReadonlyArray<{ path: string }> }>
    packedFiles = info!.files.map((f) => f.path)
    packedBytes = info!.size
    const tarball = join(dir, info!.filename)

    app = join(dir, "app")
    mkdirSync(app)
    writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }, null, 2))
    installed = await sh(app, "npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", tarball])
  }, 120_000)
  afterAll(() => {
    if (dir !== "") rmSync(dir, { recursive: true, force: true })
  })

  it("installs one copy of effect (a peer dependency), no redis, and the types its .d.ts files use", (ctx) => {
    ctx.skip(problem !== undefined, problem)
    expect(effectCopies(app), installed.stdout + installed.stderr).toHaveLength(1)
    // The package builds when it is packed, so installing it runs no script of its own (npm warns
    // about a dependency's install scripts, prepare included).
    expect(installed.stdout + installed.stderr).not.toMatch(/sibus@\S+ \(/)
    expect(existsSync(join(app, "node_modules", "redis")), "redis installed").toBe(false)
    expect(existsSync(join(app, "node_modules", "@effect", "platform-node")), "@effect/platform-node installed").toBe(false)
    expect(existsSync(join(app, "node_modules", "@types", "better-sqlite3")), "@types/better-sqlite3 installed").toBe(true)
  })

  it("the README's Effect and Promise examples pass strict tsc and run", async (ctx) => {
    ctx.skip(problem !== undefined, problem)
    writeFileSync(join(app, "effect-example.ts"), readmeExample("Embedding: the Effect API"))
    writeFileSync(join(app, "promise-example.ts"), readmeExample("Embedding: the Promise API"))
    // The Promise example leaves `doTheWork` to the reader: declared here, and defined before it runs.
    writeFileSync(join(app, "the-work.d.ts"), [
      "declare function doTheWork(payload: unknown, options: { signal: AbortSignal }): Promise<void>",
      // The .sib example's host objects, as an application would have them.
      "declare const mailer: { send(to: string, body: string): Promise<void> }",
      "declare const pager: { page(who: string): void }",
      ""
    ].join("\n"))
    // Type-checked only: it loads dsl-examples/ from the checkout's folder.
    writeFileSync(join(app, "sib-example.ts"), `${readmeExample("Running `.sib` programs from your application")}export {}\n`)
    writeFileSync(join(app, "the-work.js"), "globalThis.doTheWork = async (payload, { signal }) => { signal.throwIfAborted() }\n")
    writeFileSync(join(app, "tsconfig.json"), JSON.stringify({
      compilerOptions: {
        target: "es2024", module: "nodenext", moduleResolution: "nodenext", strict: true, noEmit: true,
        skipLibCheck: false, types: ["node"]
      },
      files: ["effect-example.ts", "promise-example.ts", "sib-example.ts", "the-work.d.ts"]
    }, null, 2))
    await sh(app, join(root, "node_modules", ".bin", "tsc"), ["-p", "tsconfig.json"])

    const effect = await sh(app, process.execPath, ["effect-example.ts", join(app, "effect.db")])
    expect(effect.stdout).toMatch(/billing o-1 \(attempt 1\)/)
    expect(effect.stdout).toMatch(/invoices: \{"orderId":"o-1","amount":42.5\}, \{"orderId":"o-2","amount":10\}/)
    await sh(app, process.execPath, ["--import", "./the-work.js", "promise-example.ts"])
    expect(existsSync(join(app, "events.db"))).toBe(true)
  }, 60_000)

  it("sibus/promise exports the errors its calls reject with, as classes instanceof can check, and renderTestReport", async (ctx) => {
    ctx.skip(problem !== undefined, problem)
    writeFileSync(join(app, "promise-errors.ts"), [
      `import { AckError, BusClosedError, BusOptionsError, createRuntime, GroupError, HttpServeError, MaintenanceError, OutboxAddError, OutboxDbError,`,
      `  OutboxOptionsError, PublishError, renderTestReport, runSibTests, SibError, StoreError, StoreOpenError, SubscribeError, TopicError } from "sibus/promise"`,
      `import type { Event, PendingEvent, SubscribeOptions, TopicOptions } from "sibus/promise"`,
      `const classes = [AckError, BusClosedError, BusOptionsError, GroupError, HttpServeError, MaintenanceError, OutboxAddError, OutboxDbError, OutboxOptionsError, PublishError, SibError, StoreError, StoreOpenError, SubscribeError, TopicError]`,
      `const options: SubscribeOptions = { from: "earliest" }`,
      `const topic: TopicOptions = { description: "jobs" }`,
      `const rt = await createRuntime({ db: ":memory:" })`,
      `await rt.defineTopic("jobs", topic)`,
      `let seen: Event | undefined`,
      `await rt.subscribe("jobs", "g", async (event, ctx) => { seen = event; const p: PendingEvent = await ctx.publish("done", 1); void p }, options)`,
      `const out: Array<string> = [String(classes.length)]`,
      `await rt.publish("bad topic", 1).catch((e: unknown) => out.push(e instanceof PublishError ? "PublishError" : String(e)))`,
      `await rt.close()`,
      `await rt.publish("jobs", 1).catch((e: unknown) => out.push(e instanceof BusClosedError ? "BusClosedError" : String(e)))`,
      `const report = await runSibTests([{ file: "t.sib", text: "(deftest \\"adds\\" (expect= 4 (+ 2 2)))" }])`,
      `out.push(renderTestReport(report).split("\\n").at(-1)!)`,
      `void seen`,
      `console.log(out.join(" "))`,
      ""
    ].join("\n"))
    writeFileSync(join(app, "tsconfig.promise.json"), JSON.stringify({
      compilerOptions: { target: "es2024", module: "nodenext", moduleResolution: "nodenext", strict: true, noEmit: true, skipLibCheck: false, types: ["node"] },
      files: ["promise-errors.ts"]
    }, null, 2))
    await sh(app, join(root, "node_modules", ".bin", "tsc"), ["-p", "tsconfig.promise.json"])
    const ran = await sh(app, process.execPath, ["promise-errors.ts"])
    expect(ran.stdout.trim()).toBe("15 PublishError BusClosedError 1 passed, 0 failed")
  }, 60_000)

  it("the README's TestClock example passes strict tsc and its test passes under vitest", async (ctx) => {
    ctx.skip(problem !== undefined, problem)
    const versions = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).devDependencies as Record<string, string>
    await sh(app, "npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", `@effect/vitest@${versions["@effect/vitest"]}`, `vitest@${versions["vitest"]}`])
    expect(effectCopies(app), "still one copy of effect").toHaveLength(1)
    writeFileSync(join(app, "testclock.test.ts"), readmeExample("Testing handlers with TestClock"))
    writeFileSync(join(app, "tsconfig.test.json"), JSON.stringify({
      compilerOptions: {
        target: "es2024", module: "nodenext", moduleResolution: "nodenext", strict: true, noEmit: true,
        exactOptionalPropertyTypes: true, noUncheckedIndexedAccess: true, skipLibCheck: true, types: ["node"]
      },
      files: ["testclock.test.ts"]
    }, null, 2))
    await sh(app, join(root, "node_modules", ".bin", "tsc"), ["-p", "tsconfig.test.json"])
    const vitest = await sh(app, join(app, "node_modules", ".bin", "vitest"), ["run", "testclock.test.ts"])
    expect(vitest.stdout).toMatch(/1 passed/)
  }, 120_000)

  it("on a Node older than 22.12, opening a database says which Node to install (no Segmentation fault)", async (ctx) => {
    ctx.skip(problem !== undefined, problem)
    const old = olderNode()
    ctx.skip(old === undefined, "no Node older than 22.12 on this machine (PATH, /usr/bin/node)")
    writeFileSync(join(app, "old-node.mjs"), [
      `import { createRuntime } from "sibus"`,
      `import { Bus } from "sibus"`,
      `import { Effect } from "effect"`,
      `await createRuntime({ db: ":memory:" }).then(() => console.log("opened"), (e) => console.log(e.message))`,
      `await Effect.runPromise(Effect.scoped(Effect.provide(Effect.void, Bus.open(":memory:")))).then(() => console.log("opened"), (e) => console.log(String(e.message)))`,
      ""
    ].join("\n"))
    const result = await sh(app, old!.path, ["old-node.mjs"])
    const wanted = `cannot open :memory:: sibus needs Node.js 22.12 or newer (its SQLite driver, better-sqlite3, crashes on older ones), this is ${old!.version} (${old!.path}); install Node 24 LTS (https://nodejs.org, or \`nvm install 24\`) and run with it`
    expect(result.stdout.trim().split("\n")).toEqual([wanted, wanted])
  }, 30_000)

  it("ships the example program the README runs (dsl-examples/), and stays small", async (ctx) => {
    ctx.skip(problem !== undefined, problem)
    const examples = readdirSync(join(root, "dsl-examples")).filter((f) => f.endsWith(".sib")).map((f) => `dsl-examples/${f}`)
    expect(examples).toContain("dsl-examples/main.sib")
    expect(packedFiles).toEqual(expect.arrayContaining(examples))
    // The tarball (gzipped): the bundle, dist, src and docs; well under what an install notices.
    expect(packedBytes).toBeLessThan(3 * 1024 * 1024)
    // A user who installed the package runs and tests the example from node_modules.
    const main = join(app, "node_modules", "sibus", "dsl-examples", "main.sib")
    const tested = await sh(app, join(app, "node_modules", ".bin", "sib"), ["test", main])
    expect(tested.stdout).toMatch(/\n\d+ passed, 0 failed\n?$/)
  }, 60_000)

  it("the installed sib command runs (its bundle needs no devDependency)", async (ctx) => {
    ctx.skip(problem !== undefined, problem)
    const topics = await sh(app, join(app, "node_modules", ".bin", "sib"), ["topics", "--db", join(app, "events.db")])
    expect(topics.stdout).toMatch(/jobs/)
  }, 30_000)
})
