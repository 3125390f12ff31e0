/**
 * `sib compact` and `sib prune`, the real binary on databases prepared through the Effect API:
 * human tables and `--json` lines, what they delete and keep (dead letters, the slowest cursor,
 * skips counted for `sib groups`), and refused input (one line on stderr, exit 2, nothing deleted).
 */
import SqliteDatabase from "better-sqlite3"
import { Effect } from "effect"
import { existsSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import type { BusShape } from "../../src/runtime/Bus.ts"
import { Bus } from "../../src/facade/Bus.ts"
import { makeTmpDir } from "../helpers/tmp.ts"
import { sib } from "../helpers/sib.ts"
import { Store } from "../../src/store/Store.ts"

const jsonLines = (text: string) => text.trim().split("\n").filter((l) => l.length > 0).map((l) => JSON.parse(l) as Record<string, unknown>)

/** A directory whose sib.db was prepared by `setup` (a bus with no scheduled maintenance). */
const prepared = async (setup: (bus: BusShape) => Effect.Effect<unknown, unknown, Store>) => {
  const dir = makeTmpDir()
  await Effect.runPromise(Effect.scoped(Effect.flatMap(Effect.service(Bus), setup).pipe(
    Effect.provide(Bus.sqlite({ filename: join(dir, "sib.db"), maintenance: false }))
  )))
  return dir
}

/** Marks `seq` of `topic` dead for `group` (as a consumer would after its attempts), and places its cursor. */
const deadLetterAndCursor = (bus: BusShape, group: string, topic: string, seq: number, floor: number) =>
  Effect.gen(function*() {
    const store = yield* Store
    yield* store.runtime.claimLease({ group, expectedOwner: null, owner: "test", pid: null, host: null, expiresAt: 1, now: 1 })
    yield* store.runtime.initCursor(group, topic, floor, 1)
    const event = (yield* store.runtime.readSeqs([seq]))[0]!
    yield* store.runtime.commit({
      now: 1, appends: [], progress: [], deliveries: [],
      deadLetters: [{
        owner: "test",
        deadLetter: {
          group, topic, seq, eventId: event.id, key: event.key ?? null, attempts: 3, errorMessage: "boom", errorStack: null,
          firstFailedAt: 1, lastFailedAt: 1, deadAt: 1, holdsKey: false
        }
      }]
    })
    yield* store.runtime.releaseLease(group, "test", 1)
  })

/** Events stored for `topic` (read directly: one subprocess less per check). */
const count = (dir: string, topic: string): number => {
  const db = new SqliteDatabase(join(dir, "sib.db"), { readonly: true })
  try {
    return (db.prepare("select count(*) as n from events where topic = ?").get(topic) as { n: number }).n
  } finally {
    db.close()
  }
}

describe("sib compact", () => {
  it("deletes superseded events and expired tombstones, keeps dead letters' events and what the slowest group has not processed", async () => {
    const dir = await prepared((bus) =>
      Effect.gen(function*() {
        yield* bus.defineTopic("state", { compaction: true, deleteRetentionMs: 0 })
        yield* bus.defineTopic("plain")
        const events = yield* bus.publishAll([
          { topic: "state", payload: { v: 1 }, key: "a" }, { topic: "state", payload: { v: 2 }, key: "a" },
          { topic: "state", payload: { v: 3 }, key: "a" }, { topic: "state", payload: { v: 1 }, key: "b" },
          { topic: "state", payload: null, key: "b" }, { topic: "state", payload: { v: 1 }, key: "c" },
          { topic: "state", payload: { v: 2 }, key: "c" }, { topic: "plain", payload: 1 }
        ])
        // "ops" has processed everything up to c's first value; a1 is its dead letter.
        yield* deadLetterAndCursor(bus, "ops", "state", events[0]!.seq, events[5]!.seq)
      }))

    const json = await sib(["compact", "--json"], { cwd: dir })
    expect(json.stderr).toBe("")
    expect(json.code).toBe(0)
    const [row, ...more] = jsonLines(json.stdout)
    expect(more).toEqual([])
    expect(Object.keys(row!).sort()).toEqual([
      "batches", "deleted", "durationMs", "holders", "kept", "longestBatchMs", "slowestGroup", "superseded", "tombstones", "topic", "waiting"
    ])
    // a2, b1 and c1 go (at or below ops's cursor); a1 stays for its dead letter; then b's tombstone.
    expect(row).toMatchObject({ topic: "state", superseded: 3, tombstones: 1, deleted: 4, kept: 1, waiting: 0, slowestGroup: "ops" })
    expect(count(dir, "state")).toBe(3)

    const human = await sib(["compact"], { cwd: dir })
    expect(human.code).toBe(0)
    const lines = human.stdout.trimEnd().split("\n")
    expect(lines[0]).toMatch(/^TOPIC +SUPERSEDED +TOMBSTONES +KEPT +WAITING +HELD BACK BY +BATCHES +LONGEST$/)
    expect(lines[1]).toMatch(/^state +0 +0 +1 +0 +- +\d+ +\d+(\.\d)? ms$/)
    expect(lines).toHaveLength(2)
  })

  it("a slow group's unprocessed events wait; --topic narrows; an unknown or uncompacted topic is refused and nothing is deleted", async () => {
    const dir = await prepared((bus) =>
      Effect.gen(function*() {
        yield* bus.defineTopic("state", { compaction: true })
        yield* bus.defineTopic("other", { compaction: true })
        yield* bus.defineTopic("plain")
        const events = yield* bus.publishAll(Array.from({ length: 6 }, (_, i) => ({ topic: "state", payload: i, key: "k" })))
        yield* bus.publishAll([{ topic: "other", payload: 1, key: "k" }, { topic: "other", payload: 2, key: "k" }, { topic: "plain", payload: 1 }])
        yield* (yield* Store).runtime.initCursor("slow", "state", events[2]!.seq, 1)
      }))

    // A name that matches nothing exits 1 (as in every command); a topic that cannot be compacted is bad input.
    const refusals = [
      [["compact", "--topic", "nope"], `sib: cannot compact "nope": there is no topic of that name (see sib topics)`, 1],
      [["prune", "--topic", "nope"], `sib: cannot prune "nope": there is no topic of that name (see sib topics)`, 1],
      [["compact", "--topic", "plain"], `sib: cannot compact "plain": the topic is not compacted: define it with compaction: true`, 2]
    ] as const
    const results = await Promise.all(refusals.map(([args]) => sib(args, { cwd: dir })))
    for (const [i, r] of results.entries()) {
      expect(r.code).toBe(refusals[i]![2])
      expect(r.stdout).toBe("")
      expect(r.stderr.trim()).toBe(refusals[i]![1])
    }
    expect(count(dir, "state")).toBe(6)
    expect(count(dir, "other")).toBe(2)

    const r = await sib(["compact", "-t", "state", "--json"], { cwd: dir })
    expect(jsonLines(r.stdout)).toMatchObject([{ topic: "state", superseded: 3, waiting: 2, slowestGroup: "slow", holders: [{ group: "slow", consuming: false }] }])
    expect(count(dir, "state")).toBe(3)
    expect(count(dir, "other"), "--topic compacts only that topic").toBe(2)
  })

  it("says so when there is nothing to compact, and refuses a missing database without creating it", async () => {
    const dir = await prepared((bus) => bus.defineTopic("plain"))
    const empty = makeTmpDir()
    const [none, noneJson, missing] = await Promise.all([
      sib(["compact"], { cwd: dir }), sib(["compact", "--json"], { cwd: dir }), sib(["prune"], { cwd: empty })
    ])
    expect([none.code, none.stdout.trim()]).toEqual([0, "no compacted topics"])
    expect(noneJson.stdout).toBe("")
    expect(missing.code).toBe(2)
    expect(missing.stderr.trim()).toMatch(/^sib: no database at \.\/sib\.db: pass --db/)
    expect(existsSync(join(empty, "sib.db"))).toBe(false)
  })
})

describe("a compacted topic defined by another process", () => {
  it("sib publish without a key is refused (nothing written); with --key, or through the key field, it is written", async () => {
    const dir = await prepared((bus) =>
      Effect.andThen(bus.defineTopic("state", { compaction: true }), bus.defineTopic("procs", { compaction: true, keyField: "pid" })))
    const keyless = await sib(["publish", "state", `{"up":true}`], { cwd: dir })
    expect(keyless.code).toBe(2)
    expect(keyless.stderr.trim()).toBe(`sib: cannot publish to "state": the topic is compacted, so every event needs a key (publish with --key)`)
    expect(count(dir, "state")).toBe(0)
    const keyed = await sib(["publish", "state", `{"up":true}`, "--key", "a"], { cwd: dir })
    expect(keyed.code).toBe(0)
    const byField = await sib(["publish", "procs", `{"pid":42}`], { cwd: dir })
    expect(byField.code).toBe(0)
    expect(JSON.parse(byField.stdout).key).toBe("42")
    expect([count(dir, "state"), count(dir, "procs")]).toEqual([1, 1])
  })
})

describe("sib prune", () => {
  it("deletes expired events up to the slowest cursor by default, counts skips with retainUntilConsumed false, shown by sib groups", async () => {
    const dir = await prepared((bus) =>
      Effect.gen(function*() {
        yield* bus.defineTopic("jobs", { retention: { maxCount: 2 } })
        yield* bus.defineTopic("metrics", { retention: { maxCount: 1, retainUntilConsumed: false } })
        yield* bus.defineTopic("state", { compaction: true })
        const jobs = yield* bus.publishAll(Array.from({ length: 6 }, (_, i) => ({ topic: "jobs", payload: i })))
        yield* bus.publishAll(Array.from({ length: 4 }, (_, i) => ({ topic: "metrics", payload: i })))
        yield* deadLetterAndCursor(bus, "workers", "jobs", jobs[0]!.seq, jobs[2]!.seq)
        yield* (yield* Store).runtime.initCursor("dashboard", "metrics", 0, 1)
      }))

    const refused = await sib(["prune", "--topic", "state"], { cwd: dir })
    expect([refused.code, refused.stderr.trim()]).toEqual([2, `sib: cannot prune "state": the topic is not under retention: define it with retention: { maxAgeMs, maxCount }`])

    const r = await sib(["prune", "--json"], { cwd: dir })
    expect(r.code).toBe(0)
    const rows = jsonLines(r.stdout)
    expect(rows.map((x) => x["topic"])).toEqual(["jobs", "metrics"])
    expect(Object.keys(rows[0]!).sort()).toEqual(["batches", "deleted", "durationMs", "holders", "kept", "longestBatchMs", "skipped", "topic", "waitingFor"])
    // jobs: 4 expired; the first is a dead letter's, the 4th is above the workers' cursor.
    expect(rows[0]).toMatchObject({ deleted: 2, kept: 1, skipped: [], waitingFor: "workers", holders: [{ group: "workers", consuming: false }] })
    // Inactive since its cursor was placed (at time 1): a long time.
    expect((rows[0]!["holders"] as Array<{ inactiveMs: number }>)[0]!.inactiveMs).toBeGreaterThan(1_000_000)
    expect(rows[1]).toMatchObject({ deleted: 3, kept: 0, skipped: [{ group: "dashboard", events: 3 }], waitingFor: null })
    expect(r.stderr).toMatch(/retention on metrics deleted 3 event\(s\) group dashboard had not processed \(retainUntilConsumed: false\)/)
    expect(count(dir, "jobs")).toBe(4)
    expect(count(dir, "metrics")).toBe(1)

    const groups = jsonLines((await sib(["groups", "--json"], { cwd: dir })).stdout)
    expect(groups.map((g) => [g["group"], g["topic"], g["skipped"]])).toEqual([["dashboard", "metrics", 3], ["workers", "jobs", 0]])

    const human = await sib(["prune"], { cwd: dir })
    const lines = human.stdout.trimEnd().split("\n")
    expect(lines[0]).toMatch(/^TOPIC +DELETED +KEPT +SKIPPED +WAITING FOR +BATCHES +LONGEST$/)
    expect(lines[1]).toMatch(/^jobs +0 +1 +- +workers \(inactive \d+d \d+h\) +\d+ +[\d.]+ ms$/)
    expect(lines[2]).toMatch(/^metrics +0 +0 +- +- +\d+ +[\d.]+ ms$/)
  })
})
