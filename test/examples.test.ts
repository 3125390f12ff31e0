/** The README's runnable examples run as written (as subprocesses, on temporary files). */
import { rmSync } from "node:fs"
import { join } from "node:path"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { sleep, spawnNode } from "./helpers/child.ts"
import { makeTmpDir } from "./helpers/tmp.ts"

const example = (name: string) => join(import.meta.dirname, "..", "docs", "examples", name)

describe("README examples", () => {
  let dir: string
  beforeEach(() => {
    dir = makeTmpDir()
  })
  afterEach(() => rmSync(dir, { recursive: true, force: true }))

  it("the Effect API example bills both orders and publishes their invoices", async () => {
    const child = spawnNode(example("effect-api.ts"), [join(dir, "effect.db")])
    let stdout = ""
    child.process.stdout!.on("data", (d) => (stdout += String(d)))
    const exit = await child.exited
    expect(exit.code, exit.stderr).toBe(0)
    expect(stdout).toMatch(/billing o-1 \(attempt 1\)/)
    expect(stdout).toMatch(/invoices: \{"orderId":"o-1","amount":42.5\}, \{"orderId":"o-2","amount":10\}/)
  }, 30_000)

  it("npm start's program shows events flowing, stops cleanly on SIGINT, and resumes from its cursor", async () => {
    const db = join(dir, "sib.db")
    const first = spawnNode(example("quickstart.ts"), [db])
    let stderr = ""
    first.process.stderr!.on("data", (d) => (stderr += String(d)))
    while (!/published \d+ {2}handled [1-9]/.test(stderr)) await sleep(20)
    first.process.kill("SIGINT")
    const exit = await first.exited
    expect(exit.code, exit.stderr).toBe(0)
    expect(exit.stderr).toMatch(/stopped cleanly: \d+ heartbeats handled this run/)
    const firstCursor = Number(/cursor (\d+)/.exec(stderr)![1])

    const second = spawnNode(example("quickstart.ts"), [db], { SIB_DEMO_MS: "1200" })
    const again = await second.exited
    expect(again.code, again.stderr).toBe(0)
    const cursors = [...again.stderr.matchAll(/cursor (\d+)/g)].map((m) => Number(m[1]))
    expect(cursors[0]!).toBeGreaterThan(firstCursor)
  }, 30_000)
})
