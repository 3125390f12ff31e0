/**
 * The ops page's live figures (`OverviewJson`): topics with sizes and rates, groups with their
 * positions (a partitioned group per partition), the members of partitioned groups with the
 * partitions each holds, the dead letters' count and digest, read from the store through
 * `Inspect`. One feed per server, shared by every page watching it (`GET /events`).
 *
 * Modes: *idle* while no page watches (no reads at all); *polling* while at least one does: one
 * read every `intervalMs` on the `Clock`, published to the watchers (a watcher that falls behind
 * skips to the newest figures; a new one gets the last figures at once). Reads do not follow
 * events: however fast events arrive, the store is read once a poll. Sizes are counted in full
 * (`Inspect.topics`, a scan of the events) every `countEveryMs`, and between counts moved by the
 * events after the counted head (an indexed range count; the newest one read for its time). A failed read keeps the previous figures
 * with its message in `error`. The polling fiber lives in the scope the feed was made in.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Latch from "effect/Latch"
import * as PubSub from "effect/PubSub"
import type * as Scope from "effect/Scope"
import * as Semaphore from "effect/Semaphore"
import * as Stream from "effect/Stream"
import { storedTopic } from "../../options/topicSpec.ts"
import type { InspectShape, TopicInfo } from "../../runtime/Inspect.ts"
import type { StoreError } from "../../store/storeErrors.ts"
import { RateWindow } from "./rates.ts"
import { byGroup, groupJson, memberJson, type OverviewJson, topicJson } from "./wire.ts"

export interface FeedOptions {
  /** Time between reads while a page watches (default 1 s). */
  readonly intervalMs?: number | undefined
  /** Time between full counts of the topics' sizes (default 10 s). */
  readonly countEveryMs?: number | undefined
}

export interface Feed {
  /** The figures: the last ones at once (when there are any), then after every read, while consumed. */
  readonly changes: Stream.Stream<OverviewJson>
  /** Reads the figures now (a sample for the rates too). */
  readonly now: Effect.Effect<OverviewJson, StoreError>
}

/** Dead letters the digest covers: the list the page shows is reloaded when the digest moves. */
const digestSize = 200

/** FNV-1a, 32 bits, in hex: the dead letters' digest (not a secret, a change detector). */
const fnv1a = (text: string): string => {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193)
  return (h >>> 0).toString(16).padStart(8, "0")
}

interface Size {
  events: number
  /** The head seq up to which `events` counts. */
  head: number
  /** When the event at `head` was published (null: no events). */
  lastTs: number | null
}

export const makeFeed = (inspect: InspectShape, options: FeedOptions = {}): Effect.Effect<Feed, never, Scope.Scope> =>
  Effect.gen(function*() {
    const intervalMs = options.intervalMs ?? 1000
    const countEveryMs = options.countEveryMs ?? 10_000
    const rates = new RateWindow()
    const sizes = new Map<string, Size>()
    let infos: ReadonlyArray<TopicInfo> = []
    let countedAt: number | undefined
    let last: OverviewJson | undefined
    const reading = yield* Semaphore.make(1)

    const read = Effect.gen(function*() {
      const at = yield* Clock.currentTimeMillis
      if (countedAt === undefined || at - countedAt >= countEveryMs) {
        infos = yield* inspect.topics
        countedAt = at
        for (const t of infos) sizes.set(t.name, { events: t.stats?.events ?? 0, head: t.stats?.lastSeq ?? 0, lastTs: t.stats?.lastTs ?? null })
      }
      const groups = yield* inspect.groups
      const members = yield* inspect.members
      const names = [...new Set([...infos.map((t) => t.name), ...groups.map((g) => g.cursor.topic)])].sort()
      rates.keep(new Set(names))
      const topics = []
      for (const name of names) {
        const head = yield* inspect.headSeq(name)
        const size = sizes.get(name) ?? { events: 0, head: 0, lastTs: null }
        sizes.set(name, size)
        const before = size.head
        let grown = 0
        if (head > size.head) {
          grown = yield* inspect.countEvents(name, size.head, head)
          size.events += grown
          size.lastTs = (yield* inspect.read(name, head - 1, 1))[0]?.ts ?? size.lastTs
          size.head = head
        }
        const previous = rates.lastHead(name)
        const added = previous === undefined || head <= previous ? 0 : previous === before ? grown : yield* inspect.countEvents(name, previous, head)
        rates.record(name, at, head, added)
        const info = infos.find((t) => t.name === name)
        const figures = { events: size.events, headSeq: head, lastPublishedAt: size.lastTs, ratePerSec: rates.rate(name) }
        topics.push(topicJson(info ?? { name, stats: undefined, settings: storedTopic(undefined) }, figures))
      }
      const first = yield* inspect.deadLetters({ limit: digestSize })
      const count = groups.reduce((n, g) => n + g.deadLetters, 0)
      const digest = fnv1a(`${count}\n${first.map((d) => `${d.group}\u0000${d.seq}\u0000${d.deadAt}`).join("\n")}`)
      const overview: OverviewJson = {
        at,
        topics,
        groups: groups.map(groupJson).sort(byGroup),
        members: members.map((m) => memberJson(m, groups)),
        deadLetters: { count: Math.max(count, first.length), digest },
        error: null
      }
      last = overview
      return overview
    }).pipe(Semaphore.withPermit(reading))

    const watchers = yield* PubSub.sliding<OverviewJson>({ capacity: 1, replay: 1 })
    let watching = 0
    const wanted = yield* Latch.make(false)
    const poll = Effect.gen(function*() {
      yield* wanted.await
      const overview = yield* read.pipe(
        Effect.catch((e: StoreError) =>
          Effect.map(Clock.currentTimeMillis, (at): OverviewJson => ({
            ...(last ?? { topics: [], groups: [], members: [], deadLetters: { count: 0, digest: "" } }),
            at,
            error: e.message
          })))
      )
      yield* PubSub.publish(watchers, overview)
      yield* Effect.sleep(intervalMs)
    })
    yield* Effect.forkScoped(Effect.forever(poll))

    const watch = Effect.acquireRelease(
      Effect.andThen(Effect.sync(() => ++watching), wanted.open),
      () => Effect.andThen(Effect.sync(() => --watching), Effect.suspend(() => (watching === 0 ? wanted.close : Effect.void)))
    )
    const changes = Stream.unwrap(Effect.as(watch, Stream.fromPubSub(watchers)))
    return { changes, now: read }
  })
