/**
 * Deleting groups and topics from the command line, and topics' stored schemas (issue 11, items
 * 4 and 6): the real `sib` binary on databases prepared through the Effect API.
 */
import { Effect } from "effect"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { rmSync } from "node:fs"
import { Bus } from "../../src/facade/Bus.ts"
import type { BusShape } from "../../src/runtime/Bus.ts"
import { writeFileSync } from "node:fs"
import { killStarted, sib, startSib } from "../helpers/sib.ts"
import { makeTmpDir } from "../helpers/tmp.ts"

const jsonLines = (text: string) => text.trim().split("\n").filter((l) => l.length > 0).map((l) => JSON.parse(l) as Record<string, unknown>)

const dirs: Array<string> = []
afterAll(() => {
  killStarted()
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

/** A directory whose sib.db was prepared by `setup`. */
const prepared = async (setup: (bus: BusShape) => Effect.Effect<unknown, unknown>) => {
  const dir = makeTmpDir()
  dirs.push(dir)
  await Effect.runPromise(Effect.scoped(Effect.flatMap(Effect.service(Bus), setup).pipe(
    Effect.provide(Bus.open(join(dir, "sib.db"), { maintenance: false }))
  )))
  return dir
}

/** A group "g" that consumed every event of "t" and stopped. */
const consumedOnce = (bus: BusShape) =>
  Effect.gen(function*() {
    yield* bus.publishAll([1, 2, 3].map((payload) => ({ topic: "t", payload })))
    let seen = 0
    const sub = yield* bus.subscribe("t", "g", () => Effect.sync(() => void seen++), { from: "earliest" })
    while (seen < 3) yield* Effect.sleep(1)
    yield* sub.unsubscribe
  })

describe("sib groups delete, sib topics purge|delete", () => {
  it("deletes a group; a second delete is an error naming it; --json is the contract", async () => {
    const dir = await prepared(consumedOnce)
    const r = await sib(["groups", "delete", "g"], { cwd: dir })
    expect([r.code, r.stdout.trim()]).toEqual([0, "deleted group g: 1 cursor, 0 retry records, 0 dead letters"])
    expect((await sib(["groups", "--json"], { cwd: dir })).stdout).toBe("")
    const again = await sib(["groups", "delete", "g", "--json"], { cwd: dir })
    expect([again.code, again.stderr.trim()]).toEqual([1, `sib: group "g": cannot delete it: there is no group of that name; see sib groups`])
  })

  it("purges a topic's events (the group moves to its head) and deletes a topic with its settings", async () => {
    const dir = await prepared((bus) => Effect.andThen(bus.defineTopic("t", { retention: { maxCount: 10 } }), consumedOnce(bus)))
    const purged = await sib(["topics", "purge", "t", "--json"], { cwd: dir })
    expect(purged.code).toBe(0)
    expect(JSON.parse(purged.stdout)).toEqual({ topic: "t", events: 3, groups: ["g"] })
    const topics = jsonLines((await sib(["topics", "--json"], { cwd: dir })).stdout)
    expect(topics.map((t) => [t["topic"], t["events"], t["retention"]])).toEqual([["t", 0, { maxCount: 10 }]])
    const groups = jsonLines((await sib(["groups", "--json"], { cwd: dir })).stdout)
    expect(groups.map((g) => [g["group"], g["lag"]])).toEqual([["g", 0]])

    const deleted = await sib(["topics", "delete", "t"], { cwd: dir })
    expect([deleted.code, deleted.stdout.trim()]).toEqual([0, "deleted topic t: 0 events deleted, its settings forgotten; group g no longer consumes it"])
    expect((await sib(["topics"], { cwd: dir })).stdout.trim()).toBe("no topics yet")
    expect((await sib(["groups"], { cwd: dir })).stdout.trim()).toBe("no consumer groups yet")
    const unknown = await sib(["topics", "delete", "nope"], { cwd: dir })
    expect([unknown.code, unknown.stderr.trim()]).toEqual([1, `sib: cannot delete topic "nope": there is no topic of that name; see sib topics`])
  })
})

describe("stored schemas", () => {
  it("sib topics shows the schema; sib publish checks it although sib never defined the topic", async () => {
    const dir = await prepared((bus) => Effect.andThen(
      bus.defineTopic("orders", { payloadSchema: { id: "int", "note?": "string" } }),
      bus.defineTopic("free", { validate: () => undefined })
    ))
    const human = (await sib(["topics"], { cwd: dir })).stdout.split("\n")
    expect(human[0]).toMatch(/ SCHEMA$/)
    expect(human.find((l) => l.startsWith("orders"))).toMatch(/\{id: int, note\?: string\}$/)
    expect(human.find((l) => l.startsWith("free"))).toMatch(/opaque \(checked by its definer only\)$/)
    const json = jsonLines((await sib(["topics", "--json"], { cwd: dir })).stdout)
    expect(json.map((t) => [t["topic"], t["schema"]])).toEqual([["free", "opaque"], ["orders", { id: "int", "note?": "string" }]])

    const refused = await sib(["publish", "orders", "{\"id\":\"seven\"}"], { cwd: dir })
    expect(refused.code).not.toBe(0)
    expect(refused.stderr).toMatch(/payload does not match the topic's schema: id must be an integer, got string/)
    expect(jsonLines((await sib(["topics", "--json"], { cwd: dir })).stdout).find((t) => t["topic"] === "orders")?.["events"]).toBe(0)
    expect((await sib(["publish", "orders", "{\"id\":7,\"note\":null}"], { cwd: dir })).code).toBe(0)
  })
})

describe("topic descriptions", () => {
  it("sib topics shows each topic's description (escaped for the terminal) when a topic has one", async () => {
    const dir = await prepared((bus) => Effect.all([
      bus.defineTopic("orders", { description: "Orders placed on the web shop", payloadSchema: { id: "int" } }),
      bus.defineTopic("hostile", { description: "line one\nline two \u001b[2J\u202eevil" }),
      bus.defineTopic("plain", {})
    ]))
    const r = await sib(["topics"], { cwd: dir })
    expect(r.code, r.stderr).toBe(0)
    const human = r.stdout.trimEnd().split("\n")
    expect(human).toHaveLength(4)
    expect(human[0]).toMatch(/^TOPIC +EVENTS +FIRST +LAST +LAST PUBLISHED +RETENTION +COMPACTION +DESCRIPTION +SCHEMA$/)
    const column = human[0]!.indexOf("DESCRIPTION")
    const row = (name: string) => human.find((l) => l.startsWith(`${name} `))!
    expect(row("orders").slice(column)).toMatch(/^Orders placed on the web shop +\{id: int\}$/)
    expect(row("hostile").slice(column)).toMatch(/^line one\\nline two \\x1b\[2J\\u202eevil +-$/)
    expect(row("plain").slice(column)).toMatch(/^- +-$/)
    expect(r.stdout).not.toMatch(/[\u001b\u202e]/)
    expect(jsonLines((await sib(["topics", "--json"], { cwd: dir })).stdout).map((t) => [t["topic"], t["description"]])).toEqual([
      ["hostile", "line one\nline two \u001b[2J\u202eevil"], ["orders", "Orders placed on the web shop"], ["plain", null]
    ])
  })
})

/** Group "workers" dead-letters event 1 of "jobs" with a 300-character, two-line error. */
const deadLetter = (bus: BusShape) =>
  Effect.gen(function*() {
    yield* bus.publish("jobs", { n: 1 })
    const sub = yield* bus.subscribe("jobs", "workers", () => Effect.fail(new Error(`${"x".repeat(299)}y\nsecond line`)), {
      from: "earliest", maxAttempts: 1
    })
    while ((yield* bus.deadLetters({ group: "workers" })).length === 0) yield* Effect.sleep(1)
    yield* sub.unsubscribe
  })

describe("unknown groups and cut errors", () => {
  it("an unknown group is named, with did-you-mean, by groups delete, dlq requeue, dlq drop and replay", async () => {
    const dir = await prepared(deadLetter)
    const del = await sib(["groups", "delete", "workerz"], { cwd: dir })
    expect([del.code, del.stderr.trim()]).toEqual([1, `sib: group "workerz": cannot delete it: there is no group of that name (did you mean workers?); see sib groups`])
    const requeue = await sib(["dlq", "requeue", "--all", "--group", "workerz"], { cwd: dir })
    expect([requeue.code, requeue.stderr.trim()]).toEqual([1, "sib: no group workerz (did you mean workers?); see sib groups"])
    const nogroup = await sib(["dlq", "requeue", "--all", "--group", "nogroup"], { cwd: dir })
    expect([nogroup.code, nogroup.stderr.trim()]).toEqual([1, "sib: no group nogroup; see sib groups"])
    const drop = await sib(["dlq", "drop", "01J0000000000000000000000", "--group", "workerz"], { cwd: dir })
    expect([drop.code, drop.stderr.trim()]).toEqual([1, "sib: no group workerz (did you mean workers?); see sib groups"])
    const replay = await sib(["replay", "--group", "workerz", "--topic", "jobs", "--from", "earliest"], { cwd: dir })
    expect([replay.code, replay.stderr.trim()]).toEqual([1, "sib: no group workerz (did you mean workers?); see sib groups"])
    // A known group on a topic it has no cursor on: nothing found either, the same exit code.
    const elsewhere = await sib(["replay", "--group", "workers", "--topic", "nosuchtopic", "--from", "earliest"], { cwd: dir })
    expect([elsewhere.code, elsewhere.stderr.trim()]).toEqual([1, "sib: group workers has no cursor on nosuchtopic (see sib groups)"])
    const purge = await sib(["topics", "purge", "jbos"], { cwd: dir })
    expect([purge.code, purge.stderr.trim()]).toEqual([1, `sib: cannot purge topic "jbos": there is no topic of that name (did you mean jobs?); see sib topics`])
    // Listing: a typo is not "no dead letters"; compact and prune name the closest topic too.
    const listed = await sib(["dlq", "-g", "workerz"], { cwd: dir })
    expect([listed.code, listed.stderr.trim()]).toEqual([1, "sib: no group workerz (did you mean workers?); see sib groups"])
    const byTopic = await sib(["dlq", "-t", "jbos"], { cwd: dir })
    expect([byTopic.code, byTopic.stderr.trim()]).toEqual([1, "sib: no topic jbos (did you mean jobs?): a topic exists once it has events or a program defined it; see sib topics"])
    const compacted = await sib(["compact", "-t", "jbos"], { cwd: dir })
    expect([compacted.code, compacted.stderr.trim()]).toEqual([1, `sib: cannot compact "jbos": there is no topic of that name (did you mean jobs?; see sib topics)`])
    // An id is an id: "all" names no dead letter of the group (--all is the flag for every one).
    const named = await sib(["dlq", "requeue", "all", "--group", "workers"], { cwd: dir })
    expect([named.code, named.stderr.trim()]).toEqual([1, "sib: group workers has no dead letter for event all"])
    // The known group still works.
    expect((await sib(["dlq", "requeue", "--all", "--group", "workers"], { cwd: dir })).stdout.trim()).toBe("requeued 1 dead letter of group workers: delivered again with fresh attempts")
  })

  it("a group or topic a live process consumes: the refusal names --force", async () => {
    const dir = await prepared(deadLetter)
    writeFileSync(join(dir, "w.sib"), `(defn work [e ctx] nil)\n(subscribe! "jobs" "workers" work :from "latest")\n`)
    const run = startSib(["run", "w.sib", "--status", "off"], { cwd: dir })
    await run.waitFor(/Ctrl-C stops/)
    const group = await sib(["groups", "delete", "workers"], { cwd: dir })
    expect([group.code, group.stderr.trim()]).toEqual([1, expect.stringMatching(/^sib: group "workers": cannot delete it: process \d+ on .* consumes it; stop it first, or pass --force$/)])
    const topic = await sib(["topics", "delete", "jobs"], { cwd: dir })
    expect([topic.code, topic.stderr.trim()]).toEqual([1, expect.stringMatching(/^sib: cannot delete topic "jobs": it is consumed by workers \(process \d+ on .*\); stop it first, or pass --force$/)])
    run.interrupt()
    expect(await run.exited).toBe(0)
  })

  it("plain sib dlq shows that it cut an error (…)", async () => {
    const dir = await prepared(deadLetter)
    const lines = (await sib(["dlq"], { cwd: dir })).stdout.trim().split("\n")
    const error = lines[1]!.slice(lines[0]!.indexOf("ERROR"))
    expect(error).toBe(`${"x".repeat(99)}…`)
  })
})
