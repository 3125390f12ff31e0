/**
 * The `--from` of `sib tail` and `sib replay`: the text parsed into a start position and placed on
 * a topic as a floor (the seq after which events are printed or delivered) through `floorOf`, the
 * runtime's one translation. A seq past the topic's last event is placed at that event (the next
 * event published comes next), and the command says so.
 */
import * as Effect from "effect/Effect"
import type { InspectShape } from "../runtime/Inspect.ts"
import { parseStartFrom } from "../runtime/options.ts"
import { failWith } from "./shared.ts"

export const fromForms = "earliest, latest, seq:N, ts:ISO-8601 or id:EVENT-ID"

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
    const floor = yield* inspect.floorOf(topic, from).pipe(Effect.catchTag("StartFromError", (e) => failWith(`--from ${text}: ${e.message}`)))
    if (typeof from === "object" && "seq" in from && floor < from.seq - 1) {
      const last = floor === 0 ? `${topic} has no events` : `the last event of ${topic} is seq ${floor}`
      return { floor, note: `--from ${text} is past the end (${last}): starting with the next event published` } satisfies Placed
    }
    return { floor } satisfies Placed
  })
