/**
 * The oldest event of a topic that a group has not done, from its stored cursor: the first event
 * after the ack floor that is not in an acked range. Its age is the group's time lag (`sib groups`'
 * LAG AGE, the `sib_consumer_lag_seconds` metric). Reads only (`firstAfter`: the topic's, or one
 * partition's, first event after a seq); undefined when the group is caught up.
 */
import * as Effect from "effect/Effect"
import type { Cursor, Event } from "../store/records.ts"
import type { StoreShape } from "../store/Store.ts"
import type { StoreError } from "../store/storeErrors.ts"

export const oldestUndone = (
  firstAfter: (afterSeq: number) => Effect.Effect<Event | undefined, StoreError>,
  cursor: Cursor
): Effect.Effect<Event | undefined, StoreError> =>
  Effect.gen(function*() {
    let after = cursor.floor
    // Each acked range is skipped at most once.
    for (let i = 0; i <= cursor.acked.length; i++) {
      const first = yield* firstAfter(after)
      if (first === undefined) return undefined
      const range = cursor.acked.find(([from, to]) => first.seq >= from && first.seq <= to)
      if (range === undefined) return first
      after = range[1]
    }
    return undefined
  })

/** The first event of `topic` (of one of its partitions, if given) after a seq: `oldestUndone`'s reader. */
export const firstEventAfter = (store: Pick<StoreShape, "admin" | "runtime">, topic: string, partition: number | undefined) =>
(afterSeq: number): Effect.Effect<Event | undefined, StoreError> =>
  partition === undefined
    ? Effect.map(store.admin.readTopic(topic, afterSeq, 1), (page) => page[0])
    : Effect.map(store.runtime.readPartition(topic, partition, afterSeq, 1), (page) => page.events[0])
