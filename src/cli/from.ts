/**
 * Where `sib tail` and `sib replay` start on a topic: the topic must exist (a typo is an error with
 * did-you-mean, not an empty output or a wait forever), and `--from` names the first event printed
 * or delivered, the same rule for every form: `seq:N` is N, `id:X` is X (an event of that topic),
 * `afterId:X` the event after X, `ts:T` the first event stamped at or after T, `earliest` the first, `latest` whatever comes next.
 * The position is placed as a floor (the seq after which events come) by `floorOf`, the runtime's
 * one translation; a seq past the topic's last event is placed at that event, and the note says so.
 */
import * as Effect from "effect/Effect"
import { didYouMean } from "../diagnostics/suggest.ts"
import type { InspectShape } from "../runtime/Inspect.ts"
import { parseStartFrom } from "../runtime/subscribeOptions.ts"
import { failWith } from "./shared.ts"

export const fromForms = "earliest, latest, seq:N, ts:ISO-8601, id:EVENT-ID or afterId:EVENT-ID"

/**
 * Fails unless `topic` exists: it has events, or stored settings (a program defined it). The
 * names for did-you-mean are read only when it does not.
 */
export const requireTopic = (inspect: InspectShape, topic: string) =>
  Effect.gen(function*() {
    if ((yield* inspect.headSeq(topic)) > 0) return
    const names = (yield* inspect.topics).map((t) => t.name)
    if (names.includes(topic)) return
    const hint = didYouMean(topic, names)
    // A name that matches nothing exits 1, as in every command (groups delete, topics purge, dlq).
    return yield* failWith(
      `no topic ${topic}${hint.length > 0 ? ` (${hint[0]})` : ""}: a topic exists once it has events or a program defined it; see sib topics`,
      1
    )
  })

/** Where `--from` starts on a topic, and what to tell the user about it (on stderr), if anything. */
export interface Placed {
  readonly floor: number
  readonly note?: string | undefined
}

/** Places `--from <text>` on `topic`; bad text or a position that cannot be placed is a one-line failure. */
export const placeFrom = (inspect: InspectShape, topic: string, text: string) =>
  Effect.gen(function*() {
    const from = parseStartFrom(text)
    if (from === undefined) return yield* failWith(`--from ${text} is not ${fromForms}`)
    if (typeof from === "object" && ("id" in from || "afterId" in from)) {
      // `id:X` starts with X itself (as `seq:N` starts with N), `afterId:X` just after it; either
      // way X must be an event of this topic.
      const id = "id" in from ? from.id : from.afterId
      const found = yield* inspect.event(id)
      if (found === undefined) return yield* failWith(`--from ${text}: no event has the id ${id}`)
      if (found.event.topic !== topic) {
        return yield* failWith(`--from ${text}: that event is on topic ${found.event.topic}, not ${topic} (--from seq:${found.event.seq} starts ${topic} at that point)`)
      }
      return { floor: "id" in from ? found.event.seq - 1 : found.event.seq } satisfies Placed
    }
    const floor = yield* inspect.floorOf(topic, from).pipe(Effect.catchTag("StartFromError", (e) => failWith(`--from ${text}: ${e.message}`)))
    if (typeof from === "object" && "seq" in from && floor < from.seq - 1) {
      const last = floor === 0 ? `${topic} has no events` : `the last event of ${topic} is seq ${floor}`
      return { floor, note: `--from ${text} is past the end (${last}): starting with the next event published` } satisfies Placed
    }
    return { floor } satisfies Placed
  })
