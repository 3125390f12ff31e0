/**
 * `createRuntime({ logger })`: the runtime's log lines go to the application's function, with their
 * level (and the failure's rendering when there is one), not to the console; a throwing logger
 * changes nothing else.
 */
import { describe, expect, it } from "vitest"
import { type BusEvent, createRuntime, type LogEntry } from "../src/index.ts"

describe("createRuntime's logger option", () => {
  it("gets the runtime's warnings with their level; the console gets none of them", async () => {
    const entries: Array<LogEntry> = []
    const written: Array<string> = []
    const original = { log: console.log, warn: console.warn, error: console.error, info: console.info }
    for (const k of ["log", "warn", "error", "info"] as const) console[k] = (...args: Array<unknown>) => void written.push(args.join(" "))
    try {
      const rt = await createRuntime({ db: ":memory:", logger: (e) => entries.push(e) })
      await rt.subscribe("t", "g", () => {
        throw new Error("boom")
      }, { from: "earliest", maxAttempts: 1 })
      await rt.publish("t", { n: 1 })
      for (let i = 0; i < 200 && !entries.some((e) => e.level === "warn"); i++) await new Promise((r) => setTimeout(r, 5))
      await rt.close()
    } finally {
      Object.assign(console, original)
    }
    const deadLetter = entries.find((e) => /dead/i.test(e.message))
    expect(deadLetter, JSON.stringify(entries)).toBeDefined()
    expect(deadLetter!.level).toBe("warn")
    expect(deadLetter!.time).toBeInstanceOf(Date)
    expect(written.filter((l) => /dead/i.test(l))).toEqual([])
  })

  it("a logger that throws loses its line only; a non-function is refused", async () => {
    const rt = await createRuntime({ db: ":memory:", logger: () => { throw new Error("logger down") } })
    const seen: Array<number> = []
    await rt.subscribe("t", "g", (e) => {
      seen.push((e.payload as { n: number }).n)
      if (seen.length === 1) throw new Error("once")
    }, { from: "earliest", backoff: { initialMs: 1, jitter: 0 } })
    await rt.publish("t", { n: 1 })
    for (let i = 0; i < 200 && seen.length < 2; i++) await new Promise((r) => setTimeout(r, 5))
    await rt.close()
    expect(seen).toEqual([1, 1])
    await expect(createRuntime({ db: ":memory:", logger: "console" as never })).rejects.toThrow(/logger must be a function/)
  })
})

describe("rt.onEvent", () => {
  it("tells dead letters and group failures; a removed or throwing listener changes nothing", async () => {
    const rt = await createRuntime({ db: ":memory:", logger: () => {} })
    const events: Array<BusEvent> = []
    const remove = rt.onEvent((e) => events.push(e))
    rt.onEvent(() => {
      throw new Error("listener down")
    })
    await rt.subscribe("t", "g", () => {
      throw new Error("boom")
    }, { from: "earliest", maxAttempts: 2, backoff: { initialMs: 1, jitter: 0 } })
    const [published] = await rt.publishAll([{ topic: "t", payload: { n: 1 }, key: "k" }])
    for (let i = 0; i < 200 && events.length === 0; i++) await new Promise((r) => setTimeout(r, 5))
    expect(events).toEqual([{
      type: "deadLettered", group: "g", topic: "t", seq: published!.seq, eventId: published!.id, key: "k", attempts: 2, error: "boom"
    }])
    remove()
    await rt.publish("t", { n: 2 })
    await new Promise((r) => setTimeout(r, 100))
    expect(events.length, "a removed listener hears nothing more").toBe(1)
    await rt.close()
    expect(() => rt.onEvent("nope" as never)).toThrow(/onEvent takes a function/)
  })
})
