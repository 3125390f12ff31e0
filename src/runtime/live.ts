/**
 * Live subscriptions: every event published to some topics, on any process or replica sharing the
 * database, from the moment of subscribing; no cursor, no ack, nothing stored about the subscriber.
 *
 * A live subscription reads the events from the store, after the last one it gave, whenever the
 * bus is woken for its topics: by a publish in this process, by another process's commit (the
 * store's change detection: SQLite's file watch and `data_version`, Postgres's NOTIFY and change
 * counter, both with the bus's poll underneath), and by a look of its own every second. So a lost
 * notification costs latency, never events, and the same code serves both dialects.
 *
 * A failing read (the database unreachable) is tried again with backoff and a log line, from where
 * the stream stands: the subscriber sees a delay, not an error or a gap.
 *
 * Overflow: the buffer holds at most `bufferSize` events; a subscriber that reads slower than
 * events arrive is not sent more until it has read some, and then continues from the store where it
 * left off (nothing is dropped, and the process's memory stays bounded). An event that retention or
 * compaction deletes before a slow subscriber reaches it is not given.
 */
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import * as Stream from "effect/Stream"
import type { Event } from "../store/records.ts"
import type { RuntimeStore } from "../store/Store.ts"
import type { StoreError } from "../store/storeErrors.ts"
import { check, func, integer, problemText, shown, spec } from "../options/spec.ts"
import { TopicError } from "./busErrors.ts"
import { Signal, type Wakeups } from "./Signal.ts"
import { topicNameProblem } from "./Topic.ts"

export interface LiveOptions {
  /** Events held for a slow subscriber before reading pauses (default 1,000). */
  readonly bufferSize?: number | undefined
  /** Called once the stream stands at the topics' ends: whatever is published after it is given. */
  readonly onStart?: (() => void) | undefined
}

/** Events read from one topic per store read. */
const pageSize = 256

/** The longest wait before reading again after the database failed. */
const maxRetryMs = 5000

export interface LiveDeps {
  readonly store: RuntimeStore
  readonly wakeups: Wakeups
  /** How often a live subscription looks for events when nothing woke it (a backstop). */
  readonly backstopMs: number
  /** True once the bus is closing: live streams end. */
  readonly closed: () => boolean
}

/** A live subscription's options, checked as every option set is (`src/options/spec.ts`). */
const liveSpec = spec("live", {
  bufferSize: integer({ min: 1, max: 1_000_000, default: 1000, doc: "Events held for a slow subscriber before reading pauses." }),
  onStart: func<() => void>({ shape: "() => void", doc: "Called once the stream stands at the topics' ends." })
})

/** What is wrong with a live subscription's topics or options, as a `TopicError`; undefined when nothing is. */
export const liveProblem = (topics: unknown, options: unknown): TopicError | undefined => {
  const list: ReadonlyArray<unknown> = typeof topics === "string" ? [topics] : Array.isArray(topics) ? topics : []
  const refuse = (topic: unknown, detail: string) => new TopicError({ topic: typeof topic === "string" ? topic : String(list[0] ?? ""), operation: "watch", detail })
  if (list.length === 0) return refuse("", `live takes a topic name or a non-empty array of them, got ${Array.isArray(topics) ? "[]" : shown(topics)}`)
  for (const topic of list) {
    const problem = topicNameProblem(topic)
    if (problem !== undefined) return refuse(topic, problem)
  }
  const checked = check(liveSpec, options)
  return checked.ok ? undefined : refuse(list[0], problemText(checked.problem))
}

/** The bus's `live`: a stream of the events published to `topics` from now on, in seq order. */
export const makeLive = (deps: LiveDeps) =>
(topics: string | ReadonlyArray<string>, options: LiveOptions = {}): Stream.Stream<Event, StoreError | TopicError> => {
  const problem = liveProblem(topics, options)
  if (problem !== undefined) return Stream.fail(problem)
  return live(deps, topics, options)
}

const live = (deps: LiveDeps, topics: string | ReadonlyArray<string>, options: LiveOptions): Stream.Stream<Event, StoreError> =>
  Stream.callback<Event, StoreError>(
    (queue) =>
      Effect.gen(function*() {
        const names = [...new Set(typeof topics === "string" ? [topics] : topics)]
        const signal = new Signal({ immediate: true })
        const unwatch = deps.wakeups.watch(names, signal)
        yield* Effect.addFinalizer(() => Effect.sync(unwatch))
        // Where each topic stands now: only what is published from here on is given.
        const after = new Map<string, number>()
        for (const topic of names) after.set(topic, yield* deps.store.headSeq(topic))
        options.onStart?.()
        const drain = Effect.gen(function*() {
          while (true) {
            const found: Array<Event> = []
            // Events above `bound` wait for the next round: a topic whose page was full may have
            // more events below them.
            let bound = Infinity
            let more = false
            const take = (page: ReadonlyArray<Event>) => {
              if (page.length < pageSize) return
              bound = Math.min(bound, page[pageSize - 1]!.seq)
              more = true
            }
            // The topics are read one after another: the newest event seen, and the first topic it
            // was seen in.
            let top = 0
            let topAt = 0
            const lastOf = new Map<string, number>()
            for (let i = 0; i < names.length; i++) {
              const topic = names[i]!
              const page = (yield* deps.store.readPage(topic, after.get(topic)!, pageSize)).events
              take(page)
              for (const e of page) found.push(e)
              const last = page[page.length - 1]
              if (last !== undefined) {
                lastOf.set(topic, last.seq)
                if (last.seq > top) {
                  top = last.seq
                  topAt = i
                }
              }
            }
            // Events become visible in seq order (the store's promise): once the event `top` was
            // seen, every event below it was committed. A topic read before that may have missed
            // some committed since its read: read it again, up to `top`.
            for (let i = 0; i < topAt; i++) {
              const topic = names[i]!
              const from = lastOf.get(topic) ?? after.get(topic)!
              if (from >= bound) continue
              const page = (yield* deps.store.readPage(topic, from, pageSize)).events
              take(page)
              for (const e of page) {
                if (e.seq < top) found.push(e)
                else more = true
              }
            }
            if (found.length === 0) return
            // Topics share one seq space: merged, the events come in the order they were published.
            found.sort((a, b) => a.seq - b.seq)
            for (const e of found) {
              if (e.seq > bound) {
                more = true
                break
              }
              yield* Queue.offer(queue, e)
              after.set(e.topic, e.seq)
            }
            if (!more) return
          }
        })
        yield* Effect.gen(function*() {
          /** Reads that failed in a row: the stream keeps its place and tries again, backing off. */
          let failures = 0
          while (!deps.closed()) {
            const read = yield* Effect.result(drain)
            if (read._tag === "Failure") {
              failures++
              if ((failures & (failures - 1)) === 0) {
                yield* Effect.logWarning(`live subscription to ${names.join(", ")}: ${read.failure.message}; trying again (${failures} failure(s) in a row, nothing is skipped)`)
              }
              yield* Effect.sleep(Math.min(maxRetryMs, 50 * 2 ** failures))
              continue
            }
            failures = 0
            yield* Effect.raceFirst(signal.wait, Effect.sleep(deps.backstopMs))
          }
          yield* Queue.end(queue)
        }).pipe(Effect.forkScoped)
      }),
    { bufferSize: Math.max(1, Math.floor(options.bufferSize ?? 1000)), strategy: "suspend" }
  )
