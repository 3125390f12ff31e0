/**
 * Repeated log lines are bounded: at most 10 dead-letter lines a second per group (a handler failing
 * on every event of a backlog wrote thousands, 8 KB each), the rest counted in the next line.
 */
import { describe, expect, it } from "vitest"
import { createRuntime } from "../../src/index.ts"
import { clipForLog, LineThrottle } from "../../src/runtime/lineThrottle.ts"
import { makeTmpDir } from "../helpers/tmp.ts"
import { join } from "node:path"

describe("LineThrottle", () => {
  it("passes a burst of perSecond, then one per 1/perSecond s; the next line says how many were left out", () => {
    const t = new LineThrottle(10)
    const passed = Array.from({ length: 15 }, (_, i) => t.pass(`line ${i}`, 0))
    expect(passed.filter((l) => l !== undefined)).toHaveLength(10)
    expect(t.pass("later", 50)).toBeUndefined()
    expect(t.pass("later", 100)).toBe("later (and 6 more like it not logged before it)")
    expect(t.pass("again", 200)).toBe("again")
    expect(clipForLog("x".repeat(12), 5)).toBe("xxxxx... (7 more characters)")
  })

  it("a group dead-lettering a backlog at once logs at most a burst of lines, each error cut to 500 characters", async () => {
    const lines: Array<string> = []
    const rt = await createRuntime({ db: join(makeTmpDir(), "t.db"), logger: ({ level, message }) => void (level === "warn" && lines.push(message)) })
    await rt.publishAll(Array.from({ length: 300 }, (_, n) => ({ topic: "t", payload: n })))
    // Two groups (as many partitions would) share the bus's bound.
    const started = Date.now()
    for (const g of ["g", "g2"]) {
      await rt.subscribe("t", g, () => {
        throw new Error("e".repeat(9000))
      }, { from: "earliest", maxAttempts: 1, maxInFlight: 50 })
    }
    for (let i = 0; i < 200 && (await rt.deadLetters({ limit: 1000 })).length < 600; i++) await new Promise((r) => setTimeout(r, 25))
    const seconds = (Date.now() - started) / 1000
    await rt.close()
    const deadLines = lines.filter((l) => l.includes("dead-lettered"))
    expect(deadLines.length).toBeGreaterThan(0)
    // A burst of 10, then 10 a second for the bus (600 lines with a bound per group or none).
    expect(deadLines.length).toBeLessThanOrEqual(10 + Math.ceil(10 * seconds) + 1)
    expect(deadLines.length).toBeLessThan(300)
    expect(deadLines.every((l) => l.length < 800)).toBe(true)
    expect(deadLines[0]).toMatch(/: e{500}\.\.\. \(\d+ more characters\)$/)
  }, 30_000)

  it("a group whose parking is full (a held key's long backlog) says so once, naming the held key", async () => {
    const lines: Array<string> = []
    const rt = await createRuntime({ db: join(makeTmpDir(), "p.db"), logger: ({ level, message }) => void (level === "warn" && lines.push(message)) })
    await rt.publishAll(Array.from({ length: 400 }, (_, n) => ({ topic: "t", payload: n, key: "hot" })))
    await rt.subscribe("t", "g", (event) => {
      if (event.payload === 0) throw new Error("poison")
    }, { from: "earliest", maxAttempts: 1, onPoison: "hold", batchSize: 2, maxInFlight: 1 })
    for (let i = 0; i < 200 && !lines.some((l) => l.includes("wait parked")); i++) await new Promise((r) => setTimeout(r, 25))
    const stats = rt.groupStats("g")
    await rt.close()
    // capacity 4 (twice batchSize 2): 200 parked at most.
    expect(stats?.parked).toBe(200)
    expect(lines.filter((l) => l.includes("wait parked"))).toEqual([
      `group g: 200 events wait parked behind busy or held keys (held by dead letters: "hot"); it reads no further until some are handled: requeue or drop those dead letters (sib dlq)`
    ])
  }, 30_000)
})
