/**
 * `sib compact` and `sib prune`: one compaction or retention pass now, over every topic that has
 * the setting or over `--topic`, on the database file while other processes use it (each batch is
 * a short transaction). What a pass may delete is the bus's rule, not the command's: nothing
 * above the slowest group's cursor unless retention says otherwise, nothing a dead letter points to.
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { Command, Flag } from "effect/cli"
import { jsonText, safeText } from "../diagnostics/terminal.ts"
import type { MaintenanceError } from "../runtime/busErrors.ts"
import type { CompactionReport, Holder, PruneReport } from "../runtime/Maintenance.ts"
import { failWith, out, useColor, withBus } from "./shared.ts"
import { table } from "./table.ts"
import { didYouMean } from "../diagnostics/suggest.ts"
import * as Inspect from "../runtime/Inspect.ts"
import { Store } from "../store/Store.ts"

/** A topic that matches nothing exits 1, as in every command; a request the topic cannot take (not compacted) is bad input. */
const unknownTopic = (e: MaintenanceError): boolean => /there is no topic of that name/.test(e.detail)

/** A maintenance refusal in the CLI's words: an unknown topic with the closest names, exit 1. */
const refused = (e: MaintenanceError) =>
  unknownTopic(e)
    ? Effect.flatMap(Effect.flatMap(Effect.service(Store), (store) => Inspect.make(store).topics), (topics) => {
      const hint = didYouMean(e.topic, topics.map((t) => t.name))
      return failWith(hint.length === 0 ? e.message : e.message.replace("(see sib topics)", `(${hint[0]}; see sib topics)`), 1)
    })
    : failWith(e.message, 2)

const jsonFlag = Flag.Boolean("json").pipe(Flag.withDescription("one JSON object per topic and line (the documented contract)"), Flag.withDefault(false))
const topicFlag = Flag.String("topic").pipe(Flag.withAlias("t"), Flag.withDescription("only this topic"), Flag.optional)

const ms = (n: number) => `${n < 10 ? n.toFixed(1) : Math.round(n)} ms`

/** A span of time as its two largest units: `3d 4h`, `5h 2m`, `42s`. */
const span = (ms: number): string => {
  const units: ReadonlyArray<readonly [string, number]> = [["d", 86_400_000], ["h", 3_600_000], ["m", 60_000], ["s", 1000]]
  const parts: Array<string> = []
  let rest = ms
  for (const [unit, size] of units) {
    if (rest >= size || (parts.length > 0 && parts.length < 2)) {
      const n = Math.floor(rest / size)
      rest -= n * size
      if (n > 0 || parts.length > 0) parts.push(`${n}${unit}`)
    }
    if (parts.length === 2) break
  }
  return parts.length === 0 ? "0s" : parts.join(" ")
}

/** The groups holding events back, each with whether it is consumed or how long it has not moved. */
const holdersText = (holders: ReadonlyArray<Holder>): string =>
  holders.length === 0
    ? "-"
    : holders.map((h) => `${safeText(h.group)} (${h.consuming ? "consuming" : `inactive ${span(h.inactiveMs ?? 0)}`})`).join(", ")

const report = <R>(json: boolean, rows: ReadonlyArray<R>, human: () => string, empty: string) =>
  Effect.gen(function*() {
    if (json) {
      for (const r of rows) yield* out(jsonText(r))
    } else {
      yield* out(rows.length === 0 ? empty : human())
    }
  })

export const compact = Command.make("compact", { topic: topicFlag, json: jsonFlag }, Effect.fn(function*({ json, topic }) {
  const rows = yield* withBus("existing", (bus) =>
    bus.compact(Option.getOrUndefined(topic)).pipe(Effect.catchTag("MaintenanceError", refused)))
  yield* report(json, rows, () =>
    table<CompactionReport>(rows, [
      { header: "TOPIC", cell: (r) => r.topic },
      { header: "SUPERSEDED", cell: (r) => String(r.superseded), right: true },
      { header: "TOMBSTONES", cell: (r) => String(r.tombstones), right: true },
      { header: "KEPT", cell: (r) => String(r.kept), right: true },
      { header: "WAITING", cell: (r) => String(r.waiting), right: true },
      { header: "HELD BACK BY", cell: (r) => holdersText(r.holders) },
      { header: "BATCHES", cell: (r) => String(r.batches), right: true },
      { header: "LONGEST", cell: (r) => ms(r.longestBatchMs), right: true }
    ], useColor(process.stdout)), "no compacted topics")
})).pipe(
  Command.withDescription("Compact topics now: delete superseded events and expired tombstones the slowest group has processed"),
  Command.withExamples([
    { command: "sib compact", description: "every compacted topic" },
    { command: "sib compact --topic process.state --json", description: "one topic, as JSON" }
  ])
)

export const prune = Command.make("prune", { topic: topicFlag, json: jsonFlag }, Effect.fn(function*({ json, topic }) {
  const rows = yield* withBus("existing", (bus) =>
    bus.prune(Option.getOrUndefined(topic)).pipe(Effect.catchTag("MaintenanceError", refused)))
  yield* report(json, rows, () =>
    table<PruneReport>(rows, [
      { header: "TOPIC", cell: (r) => r.topic },
      { header: "DELETED", cell: (r) => String(r.deleted), right: true },
      { header: "KEPT", cell: (r) => String(r.kept), right: true },
      { header: "SKIPPED", cell: (r) => (r.skipped.length === 0 ? "-" : r.skipped.map((s) => `${s.group} ${s.events}`).join(", ")) },
      { header: "WAITING FOR", cell: (r) => holdersText(r.holders) },
      { header: "BATCHES", cell: (r) => String(r.batches), right: true },
      { header: "LONGEST", cell: (r) => ms(r.longestBatchMs), right: true }
    ], useColor(process.stdout)), "no topics with retention")
})).pipe(
  Command.withDescription("Apply retention now: delete expired events (kept until consumed unless retainUntilConsumed is false)"),
  Command.withExamples([
    { command: "sib prune", description: "every topic with retention" },
    { command: "sib prune --topic heartbeat.received --json", description: "one topic, as JSON" }
  ])
)
