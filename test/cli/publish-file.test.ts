/**
 * `sib publish --file` (issue 11, item 8): a file is published whole or not at all, whatever rule a
 * late line breaks; `--file -` reads stdin; `--records` reads what `sib tail --json` prints;
 * `--quiet` prints a count instead of every record.
 */
import { rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { Effect } from "effect"
import { Bus } from "../../src/facade/Bus.ts"
import { sib } from "../helpers/sib.ts"
import { makeTmpDir } from "../helpers/tmp.ts"

const jsonLines = (text: string) => text.trim().split("\n").filter((l) => l.length > 0).map((l) => JSON.parse(l) as Record<string, unknown>)

const dirs: Array<string> = []
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})
const workdir = (files: Record<string, string>) => {
  const dir = makeTmpDir()
  dirs.push(dir)
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text)
  return dir
}

const count = async (dir: string, topic: string) =>
  jsonLines((await sib(["topics", "--json"], { cwd: dir })).stdout).find((t) => t["topic"] === topic)?.["events"] ?? 0

describe("sib publish --file", () => {
  it("a line after the first 1000 that breaks a topic rule (a compacted topic's missing key) publishes nothing", async () => {
    const lines = Array.from({ length: 1500 }, (_, i) => JSON.stringify(i === 1200 ? { other: i } : { pid: i }))
    const dir = workdir({ "big.jsonl": lines.join("\n") })
    await Effect.runPromise(Effect.scoped(Effect.flatMap(Effect.service(Bus), (bus) => bus.defineTopic("state", { compaction: true, keyField: "pid" })).pipe(
      Effect.provide(Bus.open(join(dir, "sib.db"), { maintenance: false }))
    )))
    const r = await sib(["publish", "state", "--file", "big.jsonl"], { cwd: dir })
    expect(r.code).toBe(2)
    expect(r.stderr.trim()).toMatch(/^sib: big\.jsonl:1201: .*key.*; nothing was published$/)
    expect(await count(dir, "state")).toBe(0)
    const good = await sib(["publish", "state", "--file", "-", "-q"], { cwd: dir, input: lines.filter((_, i) => i !== 1200).join("\n") })
    expect([good.code, good.stderr.trim()]).toEqual([0, "published 1499 events to state"])
  }, 60_000)

  it("a line over the size limit publishes nothing either", async () => {
    const lines = [JSON.stringify({ n: 1 }), JSON.stringify({ blob: "x".repeat(1_100_000) })]
    const dir = workdir({ "big.jsonl": lines.join("\n") })
    const r = await sib(["publish", "blobs", "--file", "big.jsonl"], { cwd: dir })
    expect(r.code).toBe(2)
    expect(r.stderr.trim()).toMatch(/^sib: big\.jsonl:2: the event is \d+ bytes as JSON .* over the limit of 1048576 bytes; nothing was published$/)
    expect((await sib(["topics", "--json"], { cwd: dir })).stdout).toBe("")
  })

  it("--file - reads stdin; --quiet prints a count on stderr and nothing on stdout", async () => {
    const dir = workdir({})
    const r = await sib(["publish", "orders", "--file", "-", "--quiet"], { cwd: dir, input: `{"id":1}\n\n{"id":2}\n` })
    expect([r.code, r.stdout, r.stderr.trim()]).toEqual([0, "", "published 2 events to orders"])
    const one = await sib(["publish", "orders", "{\"id\":3}", "-q"], { cwd: dir })
    expect([one.code, one.stdout, one.stderr.trim()]).toEqual([0, "", "published 1 event to orders"])
    expect(await count(dir, "orders")).toBe(3)
  })

  it("--records replays what sib tail --json printed into another database: payload, key, headers, id and tags kept; seq, ts assigned again", async () => {
    const dir = workdir({})
    await sib(["publish", "orders", "{\"id\":1}", "--key", "k1", "--header", "source=cli"], { cwd: dir })
    await sib(["publish", "orders", "{\"id\":2}"], { cwd: dir })
    const tailed = (await sib(["tail", "orders", "--from", "earliest", "--json"], { cwd: dir })).stdout
    const copied = await sib(["publish", "orders", "--file", "-", "--records", "--db", "copy.db"], { cwd: dir, input: tailed })
    expect(copied.code).toBe(0)
    const original = jsonLines(tailed)
    const copy = jsonLines(copied.stdout)
    expect(copy.map((e) => [e["topic"], e["payload"], e["key"], e["headers"], e["id"]])).toEqual(
      original.map((e) => ["orders", e["payload"], e["key"], e["headers"], e["id"]])
    )
    // Ids are kept: replaying the same records again stores nothing new.
    await sib(["publish", "orders", "--file", "-", "--records", "-q", "--db", "copy.db"], { cwd: dir, input: tailed })
    expect(jsonLines((await sib(["topics", "--json", "--db", "copy.db"], { cwd: dir })).stdout)[0]?.["events"]).toBe(2)
    // Into another topic of the same database, an id already names its event: refused, nothing copied.
    const same = await sib(["publish", "orders.copy", "--file", "-", "--records", "-q"], { cwd: dir, input: tailed })
    expect(same.code).toBe(2)
    expect(same.stderr.trim()).toMatch(/^sib: stdin:1: the id "[^"]+" already names event #1 of topic "orders" \(an id names one event across all topics; publishing it again is idempotent on its own topic only\) \(leave "id" out of the records to copy them to orders\.copy\); nothing was published$/)
    expect(jsonLines((await sib(["topics", "--json"], { cwd: dir })).stdout).map((t) => t["name"])).not.toContain("orders.copy")

    const typo = await sib(["publish", "x", "--file", "-", "--records"], { cwd: dir, input: `{"payload":1,"kye":"a"}\n` })
    expect([typo.code, typo.stderr.trim()]).toEqual([2, `sib: stdin:1: a record has payload, key, headers, id, tags and causedBy (seq, ts, topic, sid and partition are assigned again), not "kye"; nothing was published`])
    const noPayload = await sib(["publish", "x", "--file", "-", "--records"], { cwd: dir, input: `{"id":"a"}\n` })
    expect(noPayload.stderr.trim()).toBe("sib: stdin:1: a record needs payload; nothing was published")
    expect((await sib(["publish", "x", "{}", "--records"], { cwd: dir })).stderr.trim()).toBe("sib: --records reads records from --file")
  })

  it("--records -q says how many records were new and how many were already stored", async () => {
    const dir = workdir({})
    const lines = [1, 2, 3].map((n) => JSON.stringify({ payload: { n }, id: `job-${n}` })).join("\n")
    const first = await sib(["publish", "jobs", "--file", "-", "--records", "-q"], { cwd: dir, input: lines })
    expect([first.code, first.stderr.trim()]).toEqual([0, "published 3 events to jobs"])
    const again = await sib(["publish", "jobs", "--file", "-", "--records", "-q"], { cwd: dir, input: lines })
    expect([again.code, again.stderr.trim()]).toEqual([0, "published 0 events to jobs; 3 records were already stored (same id): not published again"])
    const more = JSON.stringify({ payload: { n: 4 }, id: "job-4" })
    const mixed = await sib(["publish", "jobs", "--file", "-", "--records", "-q"], { cwd: dir, input: `${lines}\n${more}` })
    expect([mixed.code, mixed.stderr.trim()]).toEqual([0, "published 1 event to jobs; 3 records were already stored (same id): not published again"])
    const printed = await sib(["publish", "jobs", "--file", "-", "--records"], { cwd: dir, input: lines })
    expect([printed.code, jsonLines(printed.stdout).length, printed.stderr.trim()]).toEqual([0, 3, "sib: 3 records were already stored (same id): not published again"])
    expect(await count(dir, "jobs")).toBe(4)
  })

  it("a record of another topic is published to the command's topic, and the command says so", async () => {
    const dir = workdir({})
    const records = [JSON.stringify({ topic: "orders", payload: 1 }), JSON.stringify({ topic: "orders", payload: 2 }), JSON.stringify({ topic: "copy", payload: 3 })].join("\n")
    const r = await sib(["publish", "copy", "--file", "-", "--records", "-q"], { cwd: dir, input: records })
    expect([r.code, r.stderr.trim().split("\n")]).toEqual([0, ["sib: 2 records of orders were published to copy (a record's topic is assigned again)", "published 3 events to copy"]])
  })
})

describe("sib publish --key and --header", () => {
  it("a header given twice is refused; nothing is published", async () => {
    const dir = workdir({})
    const r = await sib(["publish", "t", "{}", "--header", "a=b", "--header", "a=c"], { cwd: dir })
    expect([r.code, r.stderr.trim()]).toEqual([2, `sib: --header a is given twice (a=b, a=c): an event has one value per header`])
    expect(await count(dir, "t")).toBe(0)
  })

  it("an empty --key is a key, as in the API (publish(topic, payload, { key: \"\" }))", async () => {
    const dir = workdir({})
    const r = await sib(["publish", "t", "{}", "--key", ""], { cwd: dir })
    expect([r.code, JSON.parse(r.stdout)["key"]]).toEqual([0, ""])
    expect((await sib(["tail", "t"], { cwd: dir })).stdout).toMatch(/ key="" \{\}$/m)
  })

  it("a compacted topic's missing key names the --key flag, not the API's option", async () => {
    const dir = workdir({})
    await Effect.runPromise(Effect.scoped(Effect.flatMap(Effect.service(Bus), (bus) => bus.defineTopic("state", { compaction: true })).pipe(
      Effect.provide(Bus.open(join(dir, "sib.db"), { maintenance: false }))
    )))
    const one = await sib(["publish", "state", "{}"], { cwd: dir })
    expect(one.stderr.trim()).toBe(`sib: cannot publish to "state": the topic is compacted, so every event needs a key (publish with --key)`)
    const file = await sib(["publish", "state", "--file", "-"], { cwd: dir, input: "{}\n" })
    expect(file.stderr.trim()).toBe(`sib: stdin:1: the topic is compacted, so every event needs a key (publish with --key); nothing was published`)
  })
})

describe("sib publish: what it is given, exactly", () => {
  it("an integer beyond 2^53 - 1 is refused, never rounded (a payload, a line of a file)", async () => {
    const dir = workdir({ "ids.jsonl": `{"n":1}\n{"n":12345678901234567890}\n` })
    const one = await sib(["publish", "out", `{"n":12345678901234567890}`], { cwd: dir })
    expect(one.code).not.toBe(0)
    expect(one.stderr).toMatch(/the integer 12345678901234567890 is beyond ±9,007,199,254,740,991/)
    const file = await sib(["publish", "out", "--file", "ids.jsonl"], { cwd: dir })
    expect(file.code).not.toBe(0)
    expect(file.stderr).toMatch(/ids\.jsonl:2: .*the integer 12345678901234567890 is beyond.*; nothing was published/)
    expect(await count(dir, "out")).toBe(0)
    // Doubles written with a fraction or an exponent are doubles, as JSON means them.
    const ok = await sib(["publish", "out", `{"big":1e21,"x":12345678901234567.5,"safe":9007199254740991}`], { cwd: dir })
    expect(ok.code, ok.stderr).toBe(0)
    expect(jsonLines(ok.stdout)[0]!["payload"]).toEqual({ big: 1e21, x: 12345678901234567.5, safe: 9007199254740991 })
  })

  it("a header named __proto__ or constructor is a header like any other", async () => {
    const dir = workdir({})
    const r = await sib(["publish", "tt", `{"a":1}`, "--header", "__proto__=x", "--header", "constructor=y"], { cwd: dir })
    expect(r.code, r.stderr).toBe(0)
    const headers = jsonLines(r.stdout)[0]!["headers"] as Record<string, unknown>
    expect(Object.entries(headers)).toEqual([["__proto__", "x"], ["constructor", "y"]])
  })
})
