/**
 * The ops page's parts that need no server: publish rates from head samples (`RateWindow`), a
 * failure's `.sib` location, tokens (drawn from `Random`, checked in constant time, chosen ones
 * validated), the checks a request to act passes (cross-site, host, token), the live feed's
 * figures and rates on a real bus under `TestClock`, a partitioned group's members with the
 * partitions they hold, the committed page script being what `npm run page` builds from
 * `browser/` now, a chosen token `opsPage` cannot use, and the README's examples of the page
 * passing strict tsc against the sources (the package's examples are checked packed, in
 * test/packaging, but only those of the Embedding sections).
 */
import { assert, describe, expect, it } from "@effect/vitest"
import { Effect, Random } from "effect"
import { TestClock } from "effect/testing"
import { execFile, execFileSync } from "node:child_process"
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { promisify } from "node:util"
import { Bus } from "../../src/facade/Bus.ts"
import type { HttpRequest } from "../../src/observability/httpServer.ts"
import { checkAction, checkHost, cryptoRandom, generateToken, sameToken, tokenOf, tokenProblem } from "../../src/observability/web/auth.ts"
import { makeFeed } from "../../src/observability/web/feed.ts"
import { opsPage } from "../../src/observability/web/opsRoutes.ts"
import { RateWindow } from "../../src/observability/web/rates.ts"
import { byGroup, groupJson, memberJson, sibLocation } from "../../src/observability/web/wire.ts"
import type { GroupInfo } from "../../src/runtime/Inspect.ts"
import * as Inspect from "../../src/runtime/Inspect.ts"
import { Store } from "../../src/store/Store.ts"
import { makeTmpDir } from "../helpers/tmp.ts"

const root = join(import.meta.dirname, "..", "..")

describe("RateWindow", () => {
  it("is null until two samples a second apart, then events per second over the window", () => {
    const w = new RateWindow({ windowMs: 10_000 })
    w.record("t", 0, 100, 0)
    expect(w.rate("t")).toBeNull()
    w.record("t", 500, 110, 10)
    expect(w.rate("t")).toBeNull()
    w.record("t", 2000, 150, 30)
    expect(w.rate("t")).toBe(20) // 40 events over 2 s
    expect(w.lastHead("t")).toBe(150)
  })

  it("forgets samples older than the window, and starts over after a gap (nobody watched)", () => {
    const w = new RateWindow({ windowMs: 10_000 })
    for (let s = 0; s <= 20; s++) w.record("t", s * 1000, s * 10, s === 0 ? 0 : 10 * (s < 15 ? 1 : 0))
    // Over the last 10 s (10 to 20), events were added at 11 to 14 only: 40 events in 10 s.
    expect(w.rate("t")).toBe(4)
    w.record("t", 60_000, 500, 300)
    expect(w.rate("t")).toBeNull()
    w.keep(new Set())
    expect(w.lastHead("t")).toBeUndefined()
  })
})

describe("sibLocation", () => {
  it("reads the first .sib frame of a stack, else the message's prefix, else none", () => {
    expect(sibLocation("SibRuntimeError: shop.sib:8:5: declined\n    at shop.sib:8:5\n    at lib/util.sib:2:1", "x")).toEqual({ file: "shop.sib", line: 8, column: 5 })
    expect(sibLocation(null, "dir/app.sib:3:14: boom")).toEqual({ file: "dir/app.sib", line: 3, column: 14 })
    expect(sibLocation("Error: x\n    at handler (file:///app/main.js:3:9)", "x")).toBeNull()
  })

  it("keeps a path with spaces whole (it was cut at the last space)", () => {
    expect(sibLocation("SibRuntimeError: my app/order handlers.sib:1:39: boom\n    at my app/order handlers.sib:1:39", "my app/order handlers.sib:1:39: boom"))
      .toEqual({ file: "my app/order handlers.sib", line: 1, column: 39 })
    expect(sibLocation(null, "my app/order handlers.sib:1:39: boom")).toEqual({ file: "my app/order handlers.sib", line: 1, column: 39 })
    expect(sibLocation("Error: x\n    at run (/srv/my app/lib.sib:4:2)", null)).toEqual({ file: "/srv/my app/lib.sib", line: 4, column: 2 })
  })

  it("a message naming a frame gives its file, not the words before it", () => {
    expect(sibLocation(null, "at handler (x.sib:3:4) failed")).toEqual({ file: "x.sib", line: 3, column: 4 })
    expect(sibLocation("Error: see\n  deep in a/b.sib:7:1 somewhere", "see")).toEqual({ file: "a/b.sib", line: 7, column: 1 })
  })

  it("takes time linear in the text: a stored error of one unbroken 32 KB token is read at once (it took seconds, holding the process)", () => {
    const token = "a".repeat(32_768)
    const started = performance.now()
    for (let i = 0; i < 10; i++) {
      expect(sibLocation(`Error: ${token}\n    at ${token}`, token)).toBeNull()
      expect(sibLocation(null, `${"b".repeat(30_000)}.sib:1:2 ${token}`)).toBeNull()
    }
    expect(performance.now() - started).toBeLessThan(1000)
  })
})

describe("tokens", () => {
  it.effect("a generated token is 32 base64url characters from Random (the same seed, the same token)", () =>
    Effect.gen(function*() {
      const a = yield* generateToken.pipe(Random.withSeed("seed"))
      const b = yield* generateToken.pipe(Random.withSeed("seed"))
      const c = yield* Effect.provideService(generateToken, Random.Random, cryptoRandom)
      assert.strictEqual(a, b)
      assert.match(a, /^[A-Za-z0-9_-]{32}$/)
      assert.match(c, /^[A-Za-z0-9_-]{32}$/)
      assert.notStrictEqual(c, a)
      assert.isUndefined(tokenProblem(c))
    }))

  it("cryptoRandom draws doubles in [0, 1) and safe integers", () => {
    for (let i = 0; i < 1000; i++) {
      const d = cryptoRandom.nextDoubleUnsafe()
      expect(d >= 0 && d < 1).toBe(true)
      expect(Number.isSafeInteger(cryptoRandom.nextIntUnsafe())).toBe(true)
    }
  })

  it("a chosen token is refused when short, long, or unfit for a header", () => {
    expect(tokenProblem("short")).toMatch(/at least 16/)
    expect(tokenProblem("x".repeat(257))).toMatch(/over 256/)
    expect(tokenProblem("has spaces in it, sadly")).toMatch(/only letters, digits/)
    expect(tokenProblem("a-good.token_1234")).toBeUndefined()
  })

  it("compares whole tokens, whatever their lengths", () => {
    expect(sameToken("abcdefghijklmnop", "abcdefghijklmnop")).toBe(true)
    expect(sameToken("abcdefghijklmnop", "abcdefghijklmnoq")).toBe(false)
    expect(sameToken("abcdefghijklmnop", "abc")).toBe(false)
    expect(sameToken("abcdefghijklmnop", "")).toBe(false)
  })
})

describe("the checks of a request to act", () => {
  const token = "the-servers-token-123"
  const request = (headers: Record<string, string>): HttpRequest => ({
    method: "POST",
    url: new URL("http://127.0.0.1:9464/api/requeue"),
    headers: { host: "127.0.0.1:9464", "content-type": "application/json", ...headers },
    body: "{}"
  })

  it("takes the token from Authorization: Bearer or X-Sib-Token", () => {
    expect(tokenOf(request({ authorization: `Bearer ${token}` }))).toBe(token)
    expect(tokenOf(request({ "x-sib-token": token }))).toBe(token)
    expect(checkAction(request({ authorization: `Bearer ${token}` }), token)).toBeUndefined()
    expect(checkAction(request({ "x-sib-token": token, origin: "http://127.0.0.1:9464", "sec-fetch-site": "same-origin" }), token)).toBeUndefined()
  })

  it("refuses no token or a wrong one (401), another site (403), and a body that is not JSON (415)", () => {
    expect(checkAction(request({}), token)?.status).toBe(401)
    expect(checkAction(request({ authorization: "Bearer nope-nope-nope-nope" }), token)?.status).toBe(401)
    expect(checkAction(request({ authorization: `Bearer ${token}`, origin: "https://evil.example" }), token)?.status).toBe(403)
    expect(checkAction(request({ authorization: `Bearer ${token}`, "sec-fetch-site": "cross-site" }), token)?.status).toBe(403)
    expect(checkAction(request({ authorization: `Bearer ${token}`, "content-type": "text/plain" }), token)?.status).toBe(415)
  })

  it("on loopback, answers only requests naming a loopback host (no DNS rebinding)", () => {
    expect(checkHost(request({}), true)).toBeUndefined()
    expect(checkHost(request({ host: "localhost:9464" }), true)).toBeUndefined()
    expect(checkHost(request({ host: "[::1]:9464" }), true)).toBeUndefined()
    expect(checkHost(request({ host: "attacker.example:9464" }), true)?.status).toBe(403)
    expect(checkHost(request({ host: "attacker.example:9464" }), false)).toBeUndefined()
  })
})

describe("the live feed", () => {
  it.effect("reads sizes, heads, groups and dead letters; rates from the Clock between reads", () =>
    Effect.gen(function*() {
      const bus = yield* Bus
      const inspect = Inspect.make(yield* Store)
      const feed = yield* makeFeed(inspect, { intervalMs: 1000, countEveryMs: 60_000 })
      for (let i = 0; i < 5; i++) yield* bus.publish("orders", { i })
      yield* bus.publish("other", { i: 0 })
      const first = yield* feed.now
      const orders = () => first.topics.find((t) => t.name === "orders")!
      assert.strictEqual(orders().events, 5)
      assert.isNull(orders().ratePerSec)
      yield* TestClock.adjust(2000)
      // Interleaved with another topic's events: seqs are shared, the rate counts this topic's only.
      for (let i = 0; i < 10; i++) {
        yield* bus.publish("orders", { i })
        yield* bus.publish("other", { i })
      }
      const second = yield* feed.now
      const o = second.topics.find((t) => t.name === "orders")!
      assert.strictEqual(o.events, 15) // counted at the start, moved by the 10 since (no full count yet)
      assert.strictEqual(o.ratePerSec, 5) // 10 events in 2 s of the Clock
      assert.strictEqual(o.lastPublishedAt, second.at) // the newest event's time, read when the head moved
      assert.strictEqual(second.topics.find((t) => t.name === "other")!.ratePerSec, 5)
      assert.strictEqual(second.at - first.at, 2000)
      assert.strictEqual(second.deadLetters.count, 0)
      assert.isNull(second.error)
    }).pipe(Effect.provide(Bus.open(":memory:"))))
})

describe("the page's script", () => {
  it("src/observability/web/pageScript.ts is what `npm run page` builds from browser/ now", () => {
    const out = join(makeTmpDir(), "pageScript.ts")
    execFileSync(process.execPath, [join(root, "scripts", "build-cli.js"), "--page", out], { cwd: root })
    expect(readFileSync(join(root, "src", "observability", "web", "pageScript.ts"), "utf8")).toBe(readFileSync(out, "utf8"))
  })

  it("the browser code sets text, never HTML", () => {
    const script = readFileSync(join(root, "src", "observability", "web", "pageScript.ts"), "utf8")
    expect(script).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function/)
  })
})

describe("a partitioned group on the page", () => {
  const unit = (partition: number | undefined, ownerSid: string | undefined, group = "billing"): GroupInfo => ({
    cursor: { group, topic: "orders", floor: 0, leasedUpto: 0, acked: [], updatedAt: 0, redelivered: 0 },
    partition,
    headSeq: 0,
    lag: 0,
    lagMs: 0,
    inFlight: 0,
    retrying: 0,
    deadLetters: 0,
    skipped: 0,
    owner: ownerSid === undefined ? undefined : { sid: ownerSid, pid: 7, host: "h", leaseExpiresAt: 1 }
  })

  it("rows by group, topic and partition (10 after 2); a group consumed whole has partition null", () => {
    const rows = [unit(0, "a"), unit(10, "a"), unit(2, "b"), unit(undefined, "c", "audit")].map(groupJson).sort(byGroup)
    expect(rows.map((r) => [r.group, r.partition])).toEqual([["audit", null], ["billing", 0], ["billing", 2], ["billing", 10]])
    expect(rows[0]!.owner).toEqual({ pid: 7, host: "h", leaseExpiresAt: 1 }) // the member's id stays on the server
  })

  it("a member holds the partitions whose lease it owns in its group, ascending; none while it stands by", () => {
    const units = [unit(3, "a"), unit(1, "a"), unit(2, "b"), unit(0, undefined), unit(0, "a", "other")]
    const member = (id: string) => ({ group: "billing", member: id, pid: 1, host: "h", beats: 3, joinedAt: 10, updatedAt: 20 })
    expect(memberJson(member("a"), units)).toEqual({ group: "billing", member: "a", pid: 1, host: "h", partitions: [1, 3], joinedAt: 10, lastBeatAt: 20 })
    expect(memberJson(member("b"), units).partitions).toEqual([2])
    expect(memberJson(member("c"), units).partitions).toEqual([])
  })
})

describe("opsPage", () => {
  it.effect("refuses a chosen token it cannot use (a defect: a programming error; rt.serveHttp checks it first, with HttpServeError)", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(Effect.scoped(opsPage({ loopbackOnly: true, token: "short" })))
      assert.isTrue(exit._tag === "Failure")
      expect(String(exit._tag === "Failure" ? exit.cause : "")).toMatch(/opsPage's token: the token is 5 characters long: use at least 16/)
    }).pipe(Effect.provide(Bus.open(":memory:"))))
})

describe("the README's examples of the page", () => {
  it("pass strict tsc, with sibus read from the sources", async () => {
    const readme = readFileSync(join(root, "README.md"), "utf8")
    const start = readme.indexOf("\n### Ops web page\n")
    const section = readme.slice(start, readme.indexOf("\n## ", start + 1))
    const [promise, effect, ...rest] = [...section.matchAll(/\n```ts\n([\s\S]*?)\n```\n/g)].map((m) => m[1]!)
    expect(start).toBeGreaterThan(0)
    expect(rest).toEqual([])
    expect(effect).toMatch(/from "sibus"/)
    // Under the checkout, so that `effect` resolves to its node_modules; test-output/ is git-ignored.
    mkdirSync(join(root, "test-output"), { recursive: true })
    const dir = mkdtempSync(join(root, "test-output", "readme-ops-"))
    try {
      writeFileSync(join(dir, "package.json"), JSON.stringify({ type: "module" }))
      // The Promise one continues the section's `rt`.
      writeFileSync(join(dir, "promise-example.ts"), `import type { Runtime } from "sibus"\ndeclare const rt: Runtime\n${promise}\nexport {}\n`)
      writeFileSync(join(dir, "effect-example.ts"), `${effect}\n`)
      writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({
        compilerOptions: {
          target: "es2024", module: "nodenext", moduleResolution: "nodenext", strict: true, noEmit: true, types: ["node"],
          skipLibCheck: true, allowImportingTsExtensions: true, paths: { sibus: [join(root, "src", "index.ts")] }
        },
        files: ["promise-example.ts", "effect-example.ts"]
      }))
      const tsc = await promisify(execFile)(join(root, "node_modules", ".bin", "tsc"), ["-p", "tsconfig.json"], { cwd: dir }).then(
        () => "",
        (e: Error & { stdout?: string }) => e.stdout ?? e.message
      )
      expect(tsc).toBe("")
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }, 60_000)
})
