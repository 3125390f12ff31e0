/**
 * The log budget of `.sib` programs (src/program/logRate.ts): lines past it are dropped and
 * counted, the next line that fits says how many; the budget refills with the Clock. End to end,
 * on the `sib` binary: a timer logging in a loop writes a bounded stderr.
 */
import { describe, expect, it } from "vitest"
import type * as Clock from "effect/Clock"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { makeLogBudget } from "../../src/program/logRate.ts"
import { startSib } from "../helpers/sib.ts"
import { makeTmpDir } from "../helpers/tmp.ts"

const clockAt = (t: { ms: number }) => ({ currentTimeMillisUnsafe: () => t.ms }) as unknown as Clock.Clock

describe("the log budget of programs", () => {
  it("drops what does not fit, says how much once a line fits again, refills with time", () => {
    const t = { ms: 1000 }
    const admit = makeLogBudget(100, 250)
    const clock = clockAt(t)
    expect(admit("a".repeat(200), clock)).toHaveLength(1)
    expect(admit("b".repeat(100), clock)).toEqual([])
    expect(admit("c".repeat(60), clock)).toEqual([])
    expect(admit("d".repeat(50), clock)).toEqual([
      "(2 log line(s) of .sib programs, 160 characters, were dropped: programs may log 0 MiB a second)",
      "d".repeat(50)
    ])
    expect(admit("e", clock)).toEqual([])
    t.ms += 1000
    expect(admit("f".repeat(100), clock)).toHaveLength(2)
    t.ms += 10_000
    expect(admit("g".repeat(250), clock)).toEqual(["g".repeat(250)])
  })

  it("sib run: a timer logging 16 KB lines in a loop writes a bounded log, and says what it dropped", async () => {
    const dir = makeTmpDir()
    writeFileSync(join(dir, "flood.sib"), [
      `(def big (apply str (map (fn [_] "0123456789abcdef") (range 1024))))`,
      `(every! "10ms" (fn [] (loop [i 0] (when (< i 200) (log big) (recur (inc i))))))`,
      ""
    ].join("\n"))
    const run = startSib(["run", "flood.sib", "--status", "off", "--db", "sib.db"], { cwd: dir })
    await run.waitFor(/Ctrl-C stops/)
    await new Promise((resolve) => setTimeout(resolve, 4000))
    run.interrupt("SIGTERM")
    expect(await run.exited).toBe(0)
    const err = run.stderr()
    // 8 MiB at once and 1 MiB a second (before: about 60 MB a second).
    expect(err.length).toBeLessThan(16 * 1024 * 1024)
    expect(err).toMatch(/log line\(s\) of \.sib programs, [\d,]+ characters, were dropped: programs may log 1 MiB a second/)
  }, 30_000)
})
