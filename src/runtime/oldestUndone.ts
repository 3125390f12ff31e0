/**
 * The oldest event of a topic that a group has not done, from its stored cursor: the first event
 * after the ack floor that is not in an acked range. Its age is the group's time lag (`sib groups`'
 * LAG AGE, the `sib_consumer_lag_seconds` metric). Reads only; undefined when the group is caught up.
 */
import * as Effect from "effect/Effect"
import type { Cursor, Event } from "../store/records.ts"
import type { AdminStore } from "../store/Store.ts"
import type { StoreError } from "../store/storeErrors.ts"

export const oldestUndone = (admin: Pick<AdminStore, "readTopic">, cursor: Cursor): Effect.Effect<Event | undefined, StoreError> =>
  Effect.gen(function*() {
    let after = cursor.floor
    // Each acked range is skipped at most once.
    for (let i = 0; i <= cursor.acked.length; i++) {
      const first = (yield* admin.readTopic(cursor.topic, after, 1))[0]
      if (first === undefined) return undefined
      const range = cursor.acked.find(([from, to]) => first.seq >= from && first.seq <= to)
      if (range === undefined) return first
      after = range[1]
    }
    return undefined
  })
