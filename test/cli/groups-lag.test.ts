/**
 * `sib groups` shows a group's time lag (LAG AGE, `lagMs`: the age of the oldest event after its
 * cursor that is not done) and when its cursor was last written (ACTIVE, `lastActiveAt`), as
 * `nats consumer info` shows its lag and last activity; and the formatting of those ages.
 */
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { age } from "../../src/cli/inspectCommands.ts"
import { createRuntime } from "../../src/facade/createRuntime.ts"
import { sib } from "../helpers/sib.ts"
import { makeTmpDir } from "../helpers/tmp.ts"

const jsonLines = (text: string) => text.trim().split("\n").filter((l) => l.length > 0).map((l) => JSON.parse(l) as Record<string, unknown>)

describe("age", () => {
  it("reads as an operator expects", () => {
    expect([0, 850, 1000, 12_400, 245_000, 3600_000 * 3 + 12 * 60_000, 86_400_000 * 2 + 3600_000 * 4].map(age))
      .toEqual(["0s", "850ms", "1s", "12s", "4m05s", "3h12m", "2d04h"])
  })
})

describe("sib groups", () => {
  it("LAG AGE is the age of the oldest event the group has not done; 0s once caught up", async () => {
    const dir = makeTmpDir()
    const db = join(dir, "sib.db")
    const rt = await createRuntime({ db })
    const stop = await rt.subscribe("orders", "billing", async () => {}, { from: "earliest" })
    await stop()
    const published = Date.now()
    await rt.publish("orders", { n: 1 })
    await rt.publish("orders", { n: 2 })
    await rt.close()
    await new Promise((r) => setTimeout(r, 1100))

    const [row] = jsonLines((await sib(["groups", "--json"], { cwd: dir, env: { SIB_DB: db } })).stdout)
    expect(row).toMatchObject({ group: "billing", topic: "orders", lag: 2 })
    expect(row!["lagMs"]).toBeGreaterThanOrEqual(1000)
    expect(row!["lagMs"]).toBeLessThanOrEqual(Date.now() - published + 50)
    expect(row!["lastActiveAt"]).toBeLessThanOrEqual(published + 50)
    const human = await sib(["groups"], { cwd: dir, env: { SIB_DB: db } })
    expect(human.stdout).toMatch(/^GROUP +TOPIC +CURSOR +HEAD +LAG +LAG AGE +IN FLIGHT +RETRYING +REDELIVERED +DEAD +SKIPPED +ACTIVE +CONSUMER\n/)
    expect(human.stdout).toMatch(/billing +orders +0 +2 +2 +[1-9]s +0 +0 +0 +0 +0 +[1-9]s ago +-/)

    const again = await createRuntime({ db })
    let handled = 0
    await again.subscribe("orders", "billing", async () => void handled++, { from: "earliest" })
    for (let i = 0; i < 200 && handled < 2; i++) await new Promise((r) => setTimeout(r, 10))
    await again.close()
    const [caught] = jsonLines((await sib(["groups", "--json"], { cwd: dir, env: { SIB_DB: db } })).stdout)
    expect(caught).toMatchObject({ lag: 0, lagMs: 0 })
    expect(caught!["lastActiveAt"]).toBeGreaterThan(published)
  }, 30_000)
})
