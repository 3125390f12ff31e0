/**
 * The progress of `sib run` on stderr: events published and handled since the start, lag per
 * group and dead letters. `live` keeps one line updated in place (log lines are written above it);
 * `lines` prints a line every 2 s when something changed. Counts come from the store, so they
 * include what other processes publish to the same topics.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type { Program } from "../program/Program.ts"
import { safeText } from "../diagnostics/terminal.ts"
import type { BusShape } from "../runtime/Bus.ts"
import type { InspectShape } from "../runtime/Inspect.ts"

export type StatusMode = "live" | "lines"

/** The live line, so that log output can step around it. */
export const liveLine = {
  text: "",
  /** What to say when the first signal arrives (set by `sib run`). */
  stopNotice: undefined as string | undefined,
  /**
   * Set by the commands a signal ends normally (`sib run`, `sib tail -f`): stopped by a signal they
   * exit 0 after draining. Any other command stopped by a signal did not finish: it exits 130
   * (SIGINT) or 143 (SIGTERM), so a check or test cut short never looks passed.
   */
  signalEndsNormally: false,
  /** Writes `chunk` (ending in a newline) above the live line. */
  write(chunk: string) {
    if (this.text.length > 0) process.stderr.write(`\r\u001b[K${chunk}${this.text}`)
    else process.stderr.write(chunk)
  },
  draw(text: string) {
    this.text = text
    process.stderr.write(`\r\u001b[K${text}`)
  },
  end() {
    if (this.text.length > 0) process.stderr.write("\n")
    this.text = ""
  }
}

const topicsOf = (p: Program) => [...new Set([...p.topics.map((t) => t.name), ...p.subscriptions.flatMap((s) => s.topics)])]

export const startStatus = (bus: BusShape, inspect: InspectShape, program: () => Program, mode: StatusMode) =>
  Effect.gen(function*() {
    const headAtStart = new Map<string, number>()
    const floorAtStart = new Map<string, number>()
    const positions = () =>
      Effect.gen(function*() {
        const p = program()
        const groups = new Set(p.subscriptions.map((s) => s.group))
        const stored = (yield* inspect.positions).filter((g) => groups.has(g.cursor.group))
        return { p, stored }
      })
    const floorOf = (group: string, topic: string, stored: number) => bus.groupStats(group)?.floors[topic] ?? stored

    const snapshot = Effect.gen(function*() {
      const { p, stored } = yield* positions()
      let published = 0
      for (const topic of topicsOf(p)) {
        const head = yield* inspect.headSeq(topic)
        if (!headAtStart.has(topic)) headAtStart.set(topic, head)
        published += yield* inspect.countEvents(topic, headAtStart.get(topic)!, head)
      }
      let handled = 0
      let dead = 0
      const lag = new Map<string, number>()
      for (const g of stored) {
        const key = `${g.cursor.group}\u0000${g.cursor.topic}`
        const floor = floorOf(g.cursor.group, g.cursor.topic, g.cursor.floor)
        if (!floorAtStart.has(key)) floorAtStart.set(key, floor)
        handled += yield* inspect.countEvents(g.cursor.topic, floorAtStart.get(key)!, floor)
        const head = yield* inspect.headSeq(g.cursor.topic)
        lag.set(g.cursor.group, (lag.get(g.cursor.group) ?? 0) + (yield* inspect.countEvents(g.cursor.topic, floor, head)))
        dead += g.deadLetters
      }
      for (const s of p.subscriptions) if (!lag.has(s.group)) lag.set(s.group, 0)
      const lags = [...lag].map(([group, n]) => `${group} ${n}`).join(", ")
      return safeText(`published ${published}  handled ${handled}  lag ${lags.length > 0 ? lags : "-"}  dead letters ${dead}`)
    })

    let last = ""
    const tick = Effect.gen(function*() {
      const text = yield* snapshot
      if (mode === "live") {
        liveLine.draw(text)
      } else if (text !== last) {
        const now = yield* Clock.currentTimeMillis
        process.stderr.write(`${new Date(now).toISOString().slice(11, 19)} ${text}\n`)
      }
      last = text
    }).pipe(Effect.catchCause(() => Effect.void))

    yield* tick
    yield* Effect.addFinalizer(() => Effect.sync(() => liveLine.end()))
    yield* Effect.forkScoped(Effect.forever(Effect.andThen(Effect.sleep(mode === "live" ? 1000 : 2000), tick)))
  })
