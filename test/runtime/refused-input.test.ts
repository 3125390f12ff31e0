/**
 * Input the Promise API refuses with a typed error, on every store factory: ids and keys that are
 * not valid Unicode, headers over the size limit, payloads that throw when read (nothing written),
 * bad handlers and topic options, nack delays that are not milliseconds, and the ack of a delivery
 * that timed out; a read-only runtime refuses consumer groups and writes nothing.
 */
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import * as Schema from "effect/Schema"
import { AckError, createRuntime, GroupError, PublishError, SubscribeError, TopicError } from "../../src/index.ts"
import { freshRuntimes, sleep, waitFor } from "../helpers/runtimes.ts"
import { storeFactories } from "../helpers/stores.ts"

describe.each(storeFactories)("refused input ($name)", (factory) => {
  const runtime = freshRuntimes(factory)

  it("refuses ids and keys that are not valid Unicode, counts headers in the size limit, and catches throwing payloads", async () => {
    const rt = await runtime({ maxPayloadBytes: 1024 })
    await expect(rt.publish("t", 1, { id: "id-\uD800" })).rejects.toBeInstanceOf(PublishError)
    await expect(rt.publish("t", 1, { key: "k-\uDC00" })).rejects.toThrow(/lone UTF-16 surrogate/)
    await expect(rt.publish("t", 1, { headers: { big: "x".repeat(5000) } })).rejects.toThrow(/over the limit of 1024 bytes/)
    const hostile = { get boom() { throw new Error("getter exploded") } }
    await expect(rt.publish("t", hostile)).rejects.toThrow(/reading the payload failed: getter exploded/)
    expect(await rt.read("t", 0, 10)).toEqual([])
  })

  it("bad handlers and topic options are refused with typed errors", async () => {
    const rt = await runtime()
    await expect(rt.subscribe("t", "g", undefined as never)).rejects.toBeInstanceOf(SubscribeError)
    await expect(rt.defineTopic("t", { schema: { not: "a schema" } } as never)).rejects.toBeInstanceOf(TopicError)
    await expect(rt.defineTopic("t", { retention: 5 } as never)).rejects.toThrow(/retention must be an object/)
    await expect(rt.defineTopic("t", { description: 5 } as never)).rejects.toThrow(/description must be a string/)
    await rt.defineTopic("s", { schema: Schema.Struct({ n: Schema.Number }) })
    await expect(rt.publish("s", { n: "x" })).rejects.toThrow(/schema/)
  })

  it("nack delays must be milliseconds >= 0, and an ack of a delivery that timed out is refused", async () => {
    const rt = await runtime()
    const outcomes: Array<string> = []
    await rt.subscribe("t", "g", async (e, ctx) => {
      if (e.payload === "nan") {
        await ctx.nack(Number.NaN).catch((err) => outcomes.push(err instanceof AckError && /a nack delay is a number of milliseconds >= 0, got NaN/.test(err.message) ? "AckError" : `other: ${err}`))
      } else {
        await sleep(120)
        await ctx.ack().catch((err) => outcomes.push(err instanceof AckError ? "late ack refused" : "other"))
      }
    }, { from: "earliest", ackMode: "manual", ackTimeoutMs: 60, maxAttempts: 1 })
    await rt.publishAll([{ topic: "t", payload: "nan", key: "a" }, { topic: "t", payload: "slow", key: "b" }])
    await waitFor(() => outcomes.length === 2)
    expect(outcomes.sort()).toEqual(["AckError", "late ack refused"])
  }, 20_000)

  it("a dead-letter query pages with limit and offset; a negative or fractional offset is refused", async () => {
    const rt = await runtime()
    await rt.subscribe("t", "g", async () => {
      throw new Error("no")
    }, { from: "earliest", maxAttempts: 1 })
    await rt.publishAll(Array.from({ length: 5 }, (_, n) => ({ topic: "t", payload: n })))
    await waitFor(async () => (await rt.deadLetters({ group: "g" })).length === 5)
    const all = (await rt.deadLetters({ group: "g" })).map((d) => d.seq)
    expect((await rt.deadLetters({ group: "g", offset: 2, limit: 2 })).map((d) => d.seq)).toEqual(all.slice(2, 4))
    await expect(rt.deadLetters({ group: "g", offset: -1 })).rejects.toThrow(/offset must be a whole number >= 0/)
    await expect(rt.deadLetters({ group: "g", offset: 1.5 })).rejects.toBeInstanceOf(GroupError)
    // Every value is checked before the database sees it (1.5 reached SQL: "datatype mismatch").
    await expect(rt.deadLetters({ group: "g", limit: 1.5 })).rejects.toThrow(`group "g": limit must be a whole number >= 1, got 1.5`)
    await expect(rt.deadLetters({ limit: 0 })).rejects.toThrow(/^limit must be a whole number >= 1, got 0$/)
    await expect(rt.deadLetters({ limit: -1 })).rejects.toBeInstanceOf(GroupError)
    await expect(rt.deadLetters({ limit: "1" } as never)).rejects.toThrow(/limit must be a whole number >= 1, got "1"/)
    await expect(rt.deadLetters({ group: 5 } as never)).rejects.toThrow(/^group must be a non-empty string, got 5$/)
    await expect(rt.deadLetters({ grup: "g" } as never)).rejects.toThrow(/^unknown dead letter query field "grup"/)
    await expect(rt.deliveries({ eventId: 7 } as never)).rejects.toThrow(/eventId must be a non-empty string, got 7/)
    await expect(rt.requeue("", "all")).rejects.toThrow(/cannot requeue: a group name must be/)
    await expect(rt.dropDeadLetter("g", 5 as never)).rejects.toThrow(/dropDeadLetter takes an event id, got 5/)
    expect((await rt.deadLetters({ group: "g" })).length).toBe(5)
  })

  it("a read-only runtime reads, refuses a consumer group at subscribe (it would write its cursors) and writes nothing", async () => {
    const db = factory.shared()
    try {
      const writer = await createRuntime({ db })
      await writer.publish("t", { n: 1 })
      await writer.close()
      const reader = await createRuntime({ db, readOnly: true, maintenance: { intervalMs: 50 } })
      try {
        expect((await reader.read("t", 0, 10)).map((e) => e.payload)).toEqual([{ n: 1 }])
        const refused = await reader.subscribe("t", "g", async () => {}, { from: "earliest" }).catch((e: unknown) => e)
        expect(refused).toBeInstanceOf(SubscribeError)
        expect(String(refused)).toMatch(/read-only/)
        await expect(reader.publish("t", { n: 2 })).rejects.toThrow(/read-only|readonly/)
        // A program may define the topics it reads as they are stored (nothing to write); one that
        // would store new settings is refused where it says so, as a typed error (a StoreError
        // from the database before).
        const dir = mkdtempSync(join(tmpdir(), "sib-ro-"))
        writeFileSync(join(dir, "reads.sib"), `(define-topic "t")\n(watch! "t" (fn [e] nil))\n`)
        writeFileSync(join(dir, "settles.sib"), `(define-topic "t")\n(define-topic "u" {:retentionMs 1000})\n`)
        const program = await reader.load(join(dir, "reads.sib"))
        await program.stop()
        const settles = await reader.load(join(dir, "settles.sib")).catch((e: unknown) => e)
        expect(settles).toBeInstanceOf(TopicError)
        expect(String(settles)).toMatch(/cannot define topic "u": .*settles\.sib:2:1: the database was opened read-only, and this definition would store new settings \(retention\.maxAgeMs: stored none, defined 1000/)
        await sleep(200)
      } finally {
        await reader.close()
      }
      const again = await createRuntime({ db })
      try {
        expect((await again.read("t", 0, 10)).map((e) => e.payload)).toEqual([{ n: 1 }])
        expect(await again.getCursor("t", "g"), "no cursor was written").toBeUndefined()
      } finally {
        await again.close()
      }
    } finally {
      await factory.drop(db)
    }
  })
})
