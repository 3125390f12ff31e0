/**
 * The options objects of the Promise API's other calls are checked as `createRuntime`'s,
 * `subscribe`'s and `live`'s are: an unknown name (a misspelling would otherwise be ignored) is
 * refused with the call's own typed error naming the valid ones, before anything starts
 * (`serveHttp`: `HttpServeError`; `load` and `runSibTests`: `SibError`, as for their `limits`).
 * On a real SQLite file.
 */
import { Effect, Layer } from "effect"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { Bus } from "../src/facade/Bus.ts"
import { MetricsHttp, serveHttp } from "../src/observability/httpServer.ts"
import { HttpServeError, createRuntime, type Runtime, runSibTests, SibError } from "../src/promise.ts"
import { makeTmpDir } from "./helpers/tmp.ts"

const program = [{ file: "p.sib", text: `(define-topic "orders")\n(deftest "adds" (expect= 4 (+ 2 2)))\n` }]

const rejection = async (promise: Promise<unknown>): Promise<unknown> => promise.then(() => "resolved", (e: unknown) => e)

describe("the Promise API's options objects", () => {
  const open: Array<Runtime> = []
  afterEach(async () => {
    for (const rt of open.splice(0)) await rt.close()
  })
  const runtime = async () => {
    const rt = await createRuntime({ db: join(makeTmpDir(), "events.db"), maintenance: false })
    open.push(rt)
    return rt
  }

  it("serveHttp refuses an unknown option, a value that does not fit and a bad token with HttpServeError, listening on nothing", async () => {
    const rt = await runtime()
    const unknown = await rejection(rt.serveHttp({ port: 0, bogus: 1 } as never))
    expect(unknown).toBeInstanceOf(HttpServeError)
    expect((unknown as HttpServeError).message).toBe(`serveHttp: unknown option "bogus"; valid options: host, port, allowRemote, page, token`)
    const page = await rejection(rt.serveHttp({ port: 0, page: "yes" } as never))
    expect(page).toBeInstanceOf(HttpServeError)
    expect((page as HttpServeError).message).toBe(`serveHttp: page must be true or false, got "yes"`)
    const token = await rejection(rt.serveHttp({ port: 0, page: true, token: "short" }))
    expect(token).toBeInstanceOf(HttpServeError)
    expect((token as HttpServeError).message).toMatch(/^serveHttp's token: /)
    // The good options still serve.
    const server = await rt.serveHttp({ port: 0, page: true })
    expect((await fetch(`${server.url}/metrics`)).status).toBe(200)
  })

  it("the Effect API's serveHttp and MetricsHttp.layer refuse an unknown option the same way", async () => {
    const served = await Effect.runPromise(Effect.scoped(Effect.flip(serveHttp([], { port: 0, bogus: 1 } as never))))
    expect(served).toBeInstanceOf(HttpServeError)
    expect(served.message).toBe(`serveHttp: unknown option "bogus"; valid options: host, port, allowRemote`)
    const layer = MetricsHttp.layer({ port: 0, allowRemote: "no" } as never).pipe(Layer.provideMerge(Bus.open(":memory:")))
    const failed = await Effect.runPromise(Effect.scoped(Effect.flip(Layer.build(layer))))
    expect(failed).toBeInstanceOf(HttpServeError)
    expect((failed as HttpServeError).message).toBe(`serveHttp: allowRemote must be true or false, got "no"`)
  })

  it("load refuses an unknown option with SibError naming the valid ones, and starts nothing", async () => {
    const rt = await runtime()
    const e = await rejection(rt.load(program, { bogus: 1 } as never))
    expect(e).toBeInstanceOf(SibError)
    expect((e as SibError).message).toBe(`<options>:1:1: Compile error: load: unknown option "bogus"; valid options: host, limits`)
    expect(await rt.read("orders", 0, 1)).toEqual([])
    const loaded = await rt.load(program, { limits: { maxSteps: 10_000 } })
    expect(loaded.topics).toEqual(["orders"])
  })

  it("runSibTests refuses an unknown option with SibError", async () => {
    const e = await rejection(runSibTests(program, { hosts: {} } as never))
    expect(e).toBeInstanceOf(SibError)
    expect((e as SibError).message).toBe(`<options>:1:1: Compile error: runSibTests: unknown option "hosts"; valid options: host, limits`)
    expect((await runSibTests(program, { host: {} })).passed).toBe(1)
  })

  it("createRuntime's metrics option takes only registry", async () => {
    const e = await rejection(createRuntime({ db: join(makeTmpDir(), "events.db"), metrics: { registy: new Map() } as never }))
    expect((e as Error).message).toBe(`invalid bus options: unknown option "registy" in metrics; valid options: registry`)
  })
})
