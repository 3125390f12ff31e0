/**
 * Where a cursor starts: the one translation of a start position (`StartFrom`, or a seq number
 * used as a floor) into a floor, the seq after which events are delivered. Used for a group's new
 * cursors, `from: { id }` / `{ afterId }` at subscribe, `Bus.setCursor` (and `sib replay`), and `sib tail`.
 *
 * - `"earliest"`: 0. `"latest"`: the topic's head. A number: that floor.
 * - `{ seq: N }`: N is the first event delivered (floor N - 1, at least 0).
 * - A number or `{ seq }` past the topic's head is the head: the next event published to the topic
 *   is delivered (a floor above every stored seq would skip the events published next; below the
 *   global head it is the same floor for the topic, as seqs are global).
 * - `{ ts }` (ms, a date string or a `Date`): just before the first event of the topic stamped at or
 *   after it (the head if there is none).
 * - `{ id }`: starting with that event (floor: its seq - 1); `{ afterId }`: just after it (floor:
 *   its seq). Whatever its topic: seqs are global, so a fan-in group starts every topic at the
 *   same point.
 * A position it cannot place fails with `StartFromError` (its `reason` says why); parsing text
 * (`seq:N`, `id:X`, ...) is `parseStartFrom` in `options/subscribeSpec.ts`.
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import type { StoreError } from "../../store/storeErrors.ts"
import type { RuntimeStore } from "../../store/Store.ts"
import type { StartFrom } from "../subscribeOptions.ts"

export class StartFromError extends Data.TaggedError("StartFromError")<{
  readonly reason: "no-such-event" | "bad-time" | "bad-position"
}> {
  override get message() {
    switch (this.reason) {
      case "no-such-event":
        return "no event has that id"
      case "bad-time":
        return "the time is not a valid date"
      case "bad-position":
        return "expected a seq number >= 0 or a start position"
    }
  }
}

/** `floor`, or the topic's head when it is past it (a bad floor is left for the caller to refuse). */
const atMostHead = (store: RuntimeStore, topic: string, floor: number): Effect.Effect<number, StoreError> =>
  Number.isInteger(floor) && floor > 0 ? Effect.map(store.headSeq(topic), (head) => Math.min(floor, head)) : Effect.succeed(floor)

/** The floor for `position` on `topic` (an integer >= 0). */
export const floorOf = (
  store: RuntimeStore,
  topic: string,
  position: StartFrom | number
): Effect.Effect<number, StartFromError | StoreError> =>
  Effect.gen(function*() {
    const from: unknown = position
    let floor: number | undefined
    if (typeof from === "number") {
      floor = yield* atMostHead(store, topic, from)
    } else if (from === "earliest") {
      floor = 0
    } else if (from === "latest") {
      floor = yield* store.headSeq(topic)
    } else if (typeof from === "object" && from !== null && "seq" in from && typeof from.seq === "number") {
      floor = yield* atMostHead(store, topic, Math.max(0, from.seq - 1))
    } else if (typeof from === "object" && from !== null && "ts" in from) {
      const ts = from.ts instanceof Date ? from.ts.getTime() : typeof from.ts === "string" ? Date.parse(from.ts) : from.ts
      if (typeof ts !== "number" || !Number.isFinite(ts)) return yield* new StartFromError({ reason: "bad-time" })
      floor = yield* store.floorForTs(topic, ts)
    } else if (typeof from === "object" && from !== null && "afterId" in from && typeof from.afterId === "string") {
      const event = yield* store.eventById(from.afterId)
      if (event === undefined) return yield* new StartFromError({ reason: "no-such-event" })
      floor = event.seq
    } else if (typeof from === "object" && from !== null && "id" in from && typeof from.id === "string") {
      const event = yield* store.eventById(from.id)
      if (event === undefined) return yield* new StartFromError({ reason: "no-such-event" })
      floor = event.seq - 1
    }
    if (floor === undefined || !Number.isInteger(floor) || floor < 0) return yield* new StartFromError({ reason: "bad-position" })
    return floor
  })
