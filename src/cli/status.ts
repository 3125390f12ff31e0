/**
 * The progress of `sib run` on stderr: events published and handled since the start, lag per
 * group and dead letters. `live` keeps one line updated in place, cut to the terminal's width (log
 * lines and messages are written above it); `lines` prints a line every 2 s when something changed. Counts come from the store, so they
 * include what other processes publish to the same topics.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type { Program } from "../program/Program.ts"
import type { TimerState } from "../program/start.ts"
import { safeText } from "../diagnostics/terminal.ts"
import type { BusShape } from "../runtime/Bus.ts"
import type { InspectShape } from "../runtime/Inspect.ts"

export type StatusMode = "live" | "lines"

/** Columns a code point takes on a terminal: 0 for combining marks, 2 for wide (CJK, emoji), else 1. */
const columnsOf = (ch: string): number =>
  /\p{M}/u.test(ch) ? 0 : /[\u1100-\u115F\u2E80-\u303E\u3041-\u33FF\u3400-\u4DBF\u4E00-\u9FFF\uA000-\uA4CF\uAC00-\uD7A3\uF900-\uFAFF\uFE30-\uFE4F\uFF00-\uFF60\uFFE0-\uFFE6\u{20000}-\u{3FFFD}]|\p{Emoji_Presentation}/u.test(ch) ? 2 : 1

/** `text` cut to at most `width` columns, ending in an ellipsis when it was cut. */
export const fitWidth = (text: string, width: number): string => {
  let used = 0
  for (const ch of text) used += columnsOf(ch)
  if (used <= width) return text
  let out = ""
  used = 0
  for (const ch of text) {
    const w = columnsOf(ch)
    if (used + w > width - 1) break
    out += ch
    used += w
  }
  return `${out}\u2026`
}

/**
 * The terminal's width for the live line: stderr's columns, else `COLUMNS` (set by shells and
 * tests), else unknown (the line is not cut). One column stays free: a line that fills the last
 * column leaves some terminals wrapping, and the next redraw would then start a new line.
 */
const widthOfTerminal = (): number | undefined => {
  const columns = process.stderr.columns ?? Number(process.env["COLUMNS"])
  return Number.isInteger(columns) && columns > 1 ? columns - 1 : undefined
}

/**
 * The live line, so that other output can step around it: whatever is written while it is shown
 * clears it first, and it is drawn again below (`write`). It is cut to the terminal's width (a line
 * that wrapped could no longer be cleared with a carriage return), and redrawn when the terminal is
 * resized.
 */
export const liveLine = {
  /** The text as drawn (cut to the width); "" when no line is shown. */
  text: "",
  /** The text as given, to cut again when the terminal is resized. */
  full: "",
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
    const width = widthOfTerminal()
    this.full = text
    this.text = width === undefined ? text : fitWidth(text, width)
    process.stderr.write(`\r\u001b[K${this.text}`)
  },
  /** Draws the line again at the terminal's new width. */
  redraw() {
    if (this.text.length > 0) this.draw(this.full)
  },
  end() {
    if (this.text.length > 0) process.stderr.write("\n")
    this.text = ""
    this.full = ""
  }
}

const topicsOf = (p: Program) => [...new Set([...p.topics.map((t) => t.name), ...p.subscriptions.flatMap((s) => s.topics)])]

/** What the status line reports on: the running version's program and where its timers stand. */
export interface StatusSource {
  readonly program: Program
  readonly timers: () => ReadonlyArray<TimerState>
}

export const startStatus = (bus: BusShape, inspect: InspectShape, source: () => StatusSource, mode: StatusMode) =>
  Effect.gen(function*() {
    const program = () => source().program
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
        // A partitioned group has a position per partition: each counts that partition's events only.
        const key = `${g.cursor.group}\u0000${g.cursor.topic}\u0000${g.partition ?? ""}`
        const floor = g.partition === undefined ? floorOf(g.cursor.group, g.cursor.topic, g.cursor.floor) : g.cursor.floor
        if (!floorAtStart.has(key)) floorAtStart.set(key, floor)
        handled += yield* inspect.countEvents(g.cursor.topic, floorAtStart.get(key)!, floor, g.partition)
        const head = yield* inspect.headSeq(g.cursor.topic)
        lag.set(g.cursor.group, (lag.get(g.cursor.group) ?? 0) + (yield* inspect.countEvents(g.cursor.topic, floor, head, g.partition)))
        dead += g.deadLetters
      }
      for (const s of p.subscriptions) if (!lag.has(s.group)) lag.set(s.group, 0)
      const lags = [...lag].map(([group, n]) => `${group} ${n}`).join(", ")
      // Groups this process does not consume (another process holds them) and timers that fire
      // elsewhere: this process is their standby.
      const waiting = p.subscriptions.map((s) => s.group).filter((g) => bus.standingBy(g))
      const timers = source().timers().filter((t) => t === "standby").length
      const standby = [...new Set(waiting)].concat(timers === 0 ? [] : [`${timers} timer${timers === 1 ? "" : "s"}`])
      return safeText(
        `published ${published}  handled ${handled}  lag ${lags.length > 0 ? lags : "-"}  dead letters ${dead}` +
          (standby.length === 0 ? "" : `  standing by: ${standby.join(", ")}`)
      )
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
    if (mode === "live") {
      const onResize = () => liveLine.redraw()
      process.stderr.on("resize", onResize)
      yield* Effect.addFinalizer(() => Effect.sync(() => void process.stderr.removeListener("resize", onResize)))
    }
    yield* Effect.forkScoped(Effect.forever(Effect.andThen(Effect.sleep(mode === "live" ? 1000 : 2000), tick)))
  })
