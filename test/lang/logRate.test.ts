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
  it("drops what does not fit (a line costs its text and 32 for its time and level), says how much at most once a second, refills with time", () => {
    const t = { ms: 1000 }
    const admit = makeLogBudget(100, 400)
    const clock = clockAt(t)
    expect(admit("a".repeat(200), clock)).toHaveLength(1) // 232 spent, 168 left
    expect(admit("b".repeat(150), clock)).toEqual([]) // 182 > 168
    expect(admit("c".repeat(140), clock)).toEqual([]) // 172 > 168
    expect(admit("d".repeat(50), clock)).toEqual([
      "(2 log line(s) of .sib programs, 290 characters, were dropped: programs may log 0 MiB a second)",
      "d".repeat(50)
    ]) // 86 left
    expect(admit("e".repeat(60), clock)).toEqual([]) // 92 > 86
    // Within the second of the last note: the line, and the count goes on.
    expect(admit("f", clock)).toEqual(["f"])
    t.ms += 1000
    expect(admit("g".repeat(10), clock)).toEqual([
      "(1 log line(s) of .sib programs, 60 characters, were dropped: programs may log 0 MiB a second)",
      "g".repeat(10)
    ])
    t.ms += 10_000
    expect(admit("h".repeat(368), clock)).toEqual(["h".repeat(368)])
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
