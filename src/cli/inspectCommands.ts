/**
 * Looking at and repairing a database: `sib topics`, `sib groups`, `sib dlq` (list, requeue,
 * drop) and `sib replay`. Each works on the database file while other processes use it.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { Argument, Command, Flag } from "effect/cli"
import { jsonText, safeText } from "../diagnostics/terminal.ts"
import { describeSchema, type StoredSchema } from "../options/payloadSchema.ts"
import * as Inspect from "../runtime/Inspect.ts"
import { parseStartFrom } from "../runtime/subscribeOptions.ts"
import type { BusShape } from "../runtime/Bus.ts"
import type { DeadLetter, Event, GroupMember } from "../store/records.ts"
import { Store } from "../store/Store.ts"
import { failureLines, labelled, payloadText, plural } from "./eventCommand.ts"
import { fromForms, placeFrom, requireTopic } from "./from.ts"
import { err, failWith, out, useColor, withBus, withInspect } from "./shared.ts"
import { didYouMean } from "../diagnostics/suggest.ts"
import { cellOf, isoTime, table } from "./table.ts"

const jsonFlag = Flag.Boolean("json").pipe(Flag.withDescription("one JSON object per line (the documented contract)"), Flag.withDefault(false))

const print = <Row>(json: boolean, rows: ReadonlyArray<Row>, toJson: (r: Row) => object, human: () => string, empty: string) =>
  Effect.gen(function*() {
    if (json) {
      for (const r of rows) yield* out(jsonText(toJson(r)))
    } else {
      yield* out(rows.length === 0 ? empty : human())
    }
  })

// ---- topics -------------------------------------------------------------------------------------

interface TopicRow {
  readonly topic: string
  readonly events: number
  readonly firstSeq: number | null
  readonly lastSeq: number | null
  readonly lastPublishedAt: number | null
  readonly retention: { maxAgeMs?: number; maxCount?: number; retainUntilConsumed?: boolean } | null
  readonly compaction: boolean
  readonly keyField: string | null
  readonly description: string | null
  /** The stored payload schema (`payloadSchema.ts`), "opaque" when it could not be described, or null. */
  readonly schema: StoredSchema | null
}

const retentionText = (o: TopicRow["retention"]): string => {
  if (o === null) return "-"
  const parts: Array<string> = []
  if (o.maxAgeMs !== undefined) parts.push(o.maxAgeMs % 86_400_000 === 0 ? `${o.maxAgeMs / 86_400_000}d` : `${o.maxAgeMs}ms`)
  if (o.maxCount !== undefined) parts.push(`${o.maxCount} events`)
  if (parts.length > 0 && o.retainUntilConsumed === false) parts.push("even if unconsumed")
  return parts.length === 0 ? "-" : parts.join(", ")
}

const cut = (text: string, max: number) => (text.length <= max ? text : `${text.slice(0, max - 1)}…`)

/**
 * The runtime's refusals in the CLI's words: what the API calls forcing is the `--force` flag, and
 * an unknown name gets a did-you-mean from `names`.
 */
const refusal = (message: string, name: string, names: ReadonlyArray<string>, see: string) => {
  const text = message.replace(/, or force (it|the deletion)$/, ", or pass --force")
  const missing = / there is no (group|topic) of that name( \(see sib \w+\))?$/
  if (!missing.test(text)) return text
  const hint = didYouMean(name, names)
  return text.replace(missing, ` there is no $1 of that name${hint.length > 0 ? ` (${hint[0]})` : ""}; see sib ${see}`)
}

/** The names of the groups the database knows: those with a cursor or a dead letter. */
const groupNames = Effect.fnUntraced(function*(bus: { readonly deadLetters: BusShape["deadLetters"] }) {
  const inspect = Inspect.make(yield* Store)
  const names = new Set((yield* inspect.groups).map((g) => g.cursor.group))
  for (const d of yield* bus.deadLetters()) names.add(d.group)
  return [...names].sort()
})

/** Fails unless `group` is a group the database knows (a typo would otherwise read as an empty group). */
const requireGroup = Effect.fnUntraced(function*(bus: { readonly deadLetters: BusShape["deadLetters"] }, group: string) {
  const names = yield* groupNames(bus)
  if (names.includes(group)) return
  const hint = didYouMean(group, names)
  return yield* failWith(`no group ${group}${hint.length > 0 ? ` (${hint[0]})` : ""}; see sib groups`, 1)
})

const forceFlag = Flag.Boolean("force").pipe(Flag.withDescription("even though a live process consumes it (its consumer then starts over)"), Flag.withDefault(false))

const removal = (operation: "purge" | "delete") =>
  Command.make(operation, { topic: Argument.String("topic"), force: forceFlag, json: jsonFlag }, Effect.fn(function*({ force, json, topic }) {
    const removed = yield* withBus("existing", (bus) =>
      (operation === "purge" ? bus.purgeTopic(topic, { force }) : bus.deleteTopic(topic, { force })).pipe(
        Effect.catchTag("TopicError", (e) =>
          Effect.flatMap(Effect.map(Effect.service(Store), (store) => Inspect.make(store)), (inspect) =>
            Effect.flatMap(inspect.topics, (known) => failWith(refusal(e.message, topic, known.map((t) => t.name), "topics"), 1))))
      ))
    const one = removed.groups.length === 1
    const groups = removed.groups.length === 0
      ? ""
      : `; ${one ? "group" : "groups"} ${removed.groups.join(", ")} ${operation === "purge" ? "moved to its head" : one ? "no longer consumes it" : "no longer consume it"}`
    yield* out(json
      ? jsonText(removed)
      : safeText(`${operation === "purge" ? "purged" : "deleted"} topic ${topic}: ${plural(removed.events, "event")} deleted${operation === "delete" ? ", its settings forgotten" : ""}${groups}`))
  })).pipe(Command.withDescription(operation === "purge"
    ? "Delete every event of a topic (its settings stay; its groups' cursors move to its head, their retries and dead letters on it go)"
    : "Delete a topic: its events, stored settings, and every group's cursor, retries and dead letters on it"))

const purgeTopic = removal("purge")
const deleteTopic = removal("delete")

export const topics = Command.make("topics", { json: jsonFlag }, Effect.fn(function*({ json }) {
  yield* withInspect((inspect) =>
    Effect.gen(function*() {
      const rows: Array<TopicRow> = (yield* inspect.topics).map(({ name, settings: c, stats: s }) => {
        const r = c.retention
        return {
          topic: name,
          events: s?.events ?? 0,
          firstSeq: s?.firstSeq ?? null,
          lastSeq: s?.lastSeq ?? null,
          lastPublishedAt: s?.lastTs ?? null,
          // As stored: the fields given (retainUntilConsumed only when it was set to false).
          retention: r === undefined ? null : {
            ...(r.maxAgeMs !== undefined ? { maxAgeMs: r.maxAgeMs } : {}),
            ...(r.maxCount !== undefined ? { maxCount: r.maxCount } : {}),
            ...(r.retainUntilConsumed ? {} : { retainUntilConsumed: false })
          },
          compaction: c.compaction,
          keyField: c.keyField ?? null,
          description: c.description ?? null,
          schema: c.schema ?? null
        }
      })
      yield* print(json, rows, (r) => r, () =>
        table(rows, [
          { header: "TOPIC", cell: (r) => r.topic },
          { header: "EVENTS", cell: (r) => String(r.events), right: true },
          { header: "FIRST", cell: (r) => cellOf(r.firstSeq), right: true },
          { header: "LAST", cell: (r) => cellOf(r.lastSeq), right: true },
          { header: "LAST PUBLISHED", cell: (r) => isoTime(r.lastPublishedAt) },
          { header: "RETENTION", cell: (r) => retentionText(r.retention) },
          { header: "COMPACTION", cell: (r) => (r.compaction ? `yes${r.keyField === null ? "" : ` (key ${r.keyField})`}` : "no") },
          // Only when a topic has a description (`--json` always has the field, null when unset).
          ...(rows.some((r) => r.description !== null)
            ? [{ header: "DESCRIPTION", cell: (r: TopicRow) => (r.description === null ? "-" : cut(safeText(r.description), 60)) }]
            : []),
          { header: "SCHEMA", cell: (r) => (r.schema === null ? "-" : r.schema === "opaque" ? "opaque (checked by its definer only)" : safeText(cut(describeSchema(r.schema), 60))) }
        ], useColor(process.stdout)), "no topics yet")
    }))
})).pipe(
  Command.withDescription("List topics: event count, first and last seq, last publish time, retention, compaction, description and payload schema; topics purge and topics delete remove them"),
  Command.withSubcommands([purgeTopic, deleteTopic])
)

// ---- groups -------------------------------------------------------------------------------------

interface GroupRow {
  readonly group: string
  readonly topic: string
  /** The partition, on a row of one partition of a partitioned group; null for a group consumed whole. */
  readonly partition: number | null
  readonly cursor: number
  readonly headSeq: number
  readonly lag: number
  /** Age (ms) of the oldest event after the cursor not done yet; 0 when caught up. */
  readonly lagMs: number
  readonly inFlight: number
  readonly retrying: number
  /** Runs that were redeliveries (an event's second run or later), over the group's life. */
  readonly redelivered: number
  readonly deadLetters: number
  /** Events retention deleted before the group processed them (`retainUntilConsumed: false`). */
  readonly skipped: number
  readonly owner: { readonly pid: number | null; readonly host: string | null } | null
  readonly leaseExpiresAt: number | null
  /** When the group's cursor on the topic was last written: its last fetch (lease mark) or acks. */
  readonly lastActiveAt: number
}

/** A span of time as an operator reads it: 0s, 850ms, 12s, 4m05s, 3h12m, 2d04h. */
export const age = (ms: number): string => {
  if (ms < 1000) return ms === 0 ? "0s" : `${Math.round(ms)}ms`
  const s = Math.floor(ms / 1000)
  if (s < 60) return `${s}s`
  const pad = (n: number) => String(n).padStart(2, "0")
  if (s < 3600) return `${Math.floor(s / 60)}m${pad(s % 60)}s`
  if (s < 86_400) return `${Math.floor(s / 3600)}h${pad(Math.floor(s / 60) % 60)}m`
  return `${Math.floor(s / 86_400)}d${pad(Math.floor(s / 3600) % 24)}h`
}

const deleteGroup = Command.make("delete", { group: Argument.String("group"), force: forceFlag, json: jsonFlag }, Effect.fn(function*({ force, group, json }) {
  const deleted = yield* withBus("existing", (bus) =>
    bus.deleteGroup(group, { force }).pipe(Effect.catchTag("GroupError", (e) =>
      Effect.flatMap(groupNames(bus), (names) => failWith(refusal(e.message, group, names, "groups"), 1)))))
  yield* out(json
    ? jsonText({ group, ...deleted })
    : safeText(`deleted group ${group}: ${plural(deleted.cursors, "cursor")}, ${plural(deleted.deliveries, "retry record")}, ${plural(deleted.deadLetters, "dead letter")}`))
})).pipe(Command.withDescription("Delete a consumer group: its cursors, retries, dead letters and lease (an abandoned group holds retention and compaction back)"))

export const groups = Command.make("groups", { json: jsonFlag }, Effect.fn(function*({ json }) {
  yield* withInspect((inspect) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const infos = yield* inspect.groups
      const rows: Array<GroupRow> = infos.map((g) => ({
        group: g.cursor.group,
        topic: g.cursor.topic,
        partition: g.partition ?? null,
        cursor: g.cursor.floor,
        headSeq: g.headSeq,
        lag: g.lag,
        lagMs: g.lagMs,
        inFlight: g.inFlight,
        retrying: g.retrying,
        redelivered: g.cursor.redelivered,
        deadLetters: g.deadLetters,
        skipped: g.skipped,
        owner: g.owner === undefined ? null : { pid: g.owner.pid, host: g.owner.host },
        leaseExpiresAt: g.owner?.leaseExpiresAt ?? null,
        lastActiveAt: g.cursor.updatedAt
      }))
      const partitioned = rows.some((r) => r.partition !== null)
      const members = partitioned ? yield* inspect.members : []
      yield* print(json, rows, (r) => r, () =>
        table(rows, [
          { header: "GROUP", cell: (r) => r.group },
          { header: "TOPIC", cell: (r) => r.topic },
          ...(partitioned ? [{ header: "PART", cell: (r: GroupRow) => (r.partition === null ? "-" : String(r.partition)), right: true }] : []),
          { header: "CURSOR", cell: (r) => String(r.cursor), right: true },
          { header: "HEAD", cell: (r) => String(r.headSeq), right: true },
          { header: "LAG", cell: (r) => String(r.lag), right: true },
          { header: "LAG AGE", cell: (r) => age(r.lagMs), right: true },
          { header: "IN FLIGHT", cell: (r) => String(r.inFlight), right: true },
          { header: "RETRYING", cell: (r) => String(r.retrying), right: true },
          { header: "REDELIVERED", cell: (r) => String(r.redelivered), right: true },
          { header: "DEAD", cell: (r) => String(r.deadLetters), right: true },
          { header: "SKIPPED", cell: (r) => String(r.skipped), right: true },
          { header: "ACTIVE", cell: (r) => `${age(Math.max(0, now - r.lastActiveAt))} ago`, right: true },
          { header: "CONSUMER", cell: (r) => (r.owner === null ? "-" : `pid ${r.owner.pid ?? "?"} on ${r.owner.host ?? "?"}`) }
        ], useColor(process.stdout)) + (members.length === 0 ? "" : `\n\n${membersTable(memberRows(members, infos, now))}`), "no consumer groups yet")
    }))
})).pipe(
  Command.withDescription("List consumer groups per topic (a partitioned group per partition): cursor, head, lag (events, and the age of the oldest), in flight, retrying, dead letters, skipped by retention, last activity, consumer; then the members of partitioned groups. groups members lists those alone; groups delete removes a group"),
  Command.withSubcommands([deleteGroup, Command.make("members", { json: jsonFlag }, Effect.fn(function*({ json }) {
    yield* withInspect((inspect) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const rows = memberRows(yield* inspect.members, yield* inspect.groups, now)
        yield* print(json, rows, (r) => r, () => membersTable(rows), "no partitioned group has members")
      }))
  })).pipe(Command.withDescription("List the processes consuming each partitioned group, with the partitions each runs now and its last heartbeat"))])
)

interface MemberRow {
  readonly group: string
  readonly member: string
  readonly pid: number | null
  readonly host: string | null
  /** The partitions whose lease it holds now (on any of the group's topics). */
  readonly partitions: ReadonlyArray<number>
  readonly joinedAt: number
  /** Its last heartbeat, by its own clock (a member that stopped beating for its lease's length is gone). */
  readonly lastBeatAt: number
  readonly lastBeatAgoMs: number
}

const memberRows = (members: ReadonlyArray<GroupMember>, groups: ReadonlyArray<Inspect.GroupInfo>, now: number): ReadonlyArray<MemberRow> =>
  members.map((m) => ({
    group: m.group,
    member: m.member,
    pid: m.pid,
    host: m.host,
    partitions: Inspect.partitionsHeld(m, groups),
    joinedAt: m.joinedAt,
    lastBeatAt: m.updatedAt,
    lastBeatAgoMs: Math.max(0, now - m.updatedAt)
  }))

const membersTable = (rows: ReadonlyArray<MemberRow>) =>
  table(rows, [
    { header: "GROUP", cell: (r) => r.group },
    { header: "MEMBER", cell: (r) => `pid ${r.pid ?? "?"} on ${r.host ?? "?"}` },
    { header: "PARTITIONS", cell: (r) => (r.partitions.length === 0 ? "-" : r.partitions.join(",")) },
    { header: "COUNT", cell: (r) => String(r.partitions.length), right: true },
    { header: "JOINED", cell: (r) => isoTime(r.joinedAt) },
    { header: "LAST BEAT", cell: (r) => `${age(r.lastBeatAgoMs)} ago`, right: true }
  ], useColor(process.stdout))

// ---- dlq ----------------------------------------------------------------------------------------

/** A dead letter as data; with `--full`, its event's payload (absent when the event is gone). */
const deadLetterJson = (d: DeadLetter, event: Event | undefined) => (event === undefined ? d : { ...d, payload: event.payload })

const groupFlag = Flag.String("group").pipe(Flag.withAlias("g"), Flag.withDescription("the consumer group"))

/** One dead letter in full: where it is, when it failed, the payload, the whole error and its stack. */
const deadLetterBlock = (d: DeadLetter, event: Event | undefined) => {
  const key = d.key === null ? "" : `  key ${safeText(d.key)}`
  const held = d.holdsKey ? "; holds its key" : ""
  return [
    `${safeText(d.group)}  ${safeText(d.topic)} #${d.seq}  event ${safeText(d.eventId)}${key}`,
    `  dead letter after ${plural(d.attempts, "attempt")} (first failed ${isoTime(d.firstFailedAt)}, dead since ${isoTime(d.deadAt)}${held})`,
    `  ${labelled("payload", event === undefined ? "(the event no longer exists)" : payloadText(event.payload, 70), 9).split("\n").join("\n  ")}`,
    ...failureLines(d.errorMessage, d.errorStack, "  ", 9)
  ].join("\n")
}

/** A dead letter's error in one cell: its first line, up to 100 characters, and … where it was cut. */
const errorCell = (message: string) => {
  const first = message.split("\n")[0]!
  const cell = cut(first, 100)
  return cell === first && first !== message ? `${first} …` : cell
}

const list = (group: Option.Option<string>, topic: Option.Option<string>, json: boolean, full: boolean) =>
  withInspect((inspect) =>
    Effect.gen(function*() {
      const rows = yield* inspect.deadLetters({
        ...(Option.isSome(group) ? { group: group.value } : {}),
        ...(Option.isSome(topic) ? { topic: topic.value } : {})
      })
      // None: a name that matches nothing is said so (a typo would read as no dead letters).
      if (rows.length === 0 && Option.isSome(topic)) yield* requireTopic(inspect, topic.value)
      if (rows.length === 0 && Option.isSome(group)) {
        const names = new Set((yield* inspect.groups).map((g) => g.cursor.group))
        for (const d of yield* inspect.deadLetters({})) names.add(d.group)
        if (!names.has(group.value)) {
          const hint = didYouMean(group.value, [...names])
          return yield* failWith(`no group ${group.value}${hint.length > 0 ? ` (${hint[0]})` : ""}; see sib groups`, 1)
        }
      }
      const events = full ? new Map((yield* inspect.eventsAt([...new Set(rows.map((r) => r.seq))])).map((e) => [e.seq, e])) : new Map<number, Event>()
      if (full && !json) {
        yield* out(rows.length === 0 ? "no dead letters" : rows.map((r) => deadLetterBlock(r, events.get(r.seq))).join("\n\n"))
        return
      }
      yield* print(json, rows, (r) => deadLetterJson(r, events.get(r.seq)), () =>
        table(rows, [
          { header: "GROUP", cell: (r) => r.group },
          { header: "TOPIC", cell: (r) => r.topic },
          { header: "SEQ", cell: (r) => String(r.seq), right: true },
          { header: "EVENT", cell: (r) => r.eventId },
          { header: "KEY", cell: (r) => cellOf(r.key) },
          { header: "ATTEMPTS", cell: (r) => String(r.attempts), right: true },
          { header: "DEAD SINCE", cell: (r) => isoTime(r.deadAt) },
          { header: "ERROR", cell: (r) => errorCell(r.errorMessage) }
        ], useColor(process.stdout)), "no dead letters")
    }))

const requeue = Command.make(
  "requeue",
  {
    id: Argument.String("event-id").pipe(Argument.withDescription("the dead letter's event id"), Argument.optional),
    all: Flag.Boolean("all").pipe(Flag.withDescription("every dead letter of the group"), Flag.withDefault(false)),
    group: groupFlag,
    json: jsonFlag
  },
  Effect.fn(function*({ all, group, id, json }) {
    if (all === Option.isSome(id)) return yield* failWith("give one event id, or --all (for every dead letter of the group)")
    const n = yield* withBus("existing", (bus) => Effect.andThen(requireGroup(bus, group), bus.requeue(group, all ? "all" : [Option.getOrThrow(id)])))
    if (n === 0 && !all) return yield* failWith(`group ${group} has no dead letter for event ${Option.getOrThrow(id)}`, 1)
    yield* out(
      json
        ? jsonText({ group, requeued: n })
        : safeText(n === 0 ? `group ${group} has no dead letters; nothing requeued` : `requeued ${plural(n, "dead letter")} of group ${group}: delivered again with fresh attempts`)
    )
  })
).pipe(Command.withDescription("Send dead letters back to their group (delivered again with fresh attempts)"))

const drop = Command.make(
  "drop",
  { id: Argument.String("event-id"), group: groupFlag, json: jsonFlag },
  Effect.fn(function*({ group, id, json }) {
    const dropped = yield* withBus("existing", (bus) => Effect.andThen(requireGroup(bus, group), bus.dropDeadLetter(group, id)))
    if (!dropped) return yield* failWith(`group ${group} has no dead letter for event ${id}`, 1)
    yield* out(json ? jsonText({ group, dropped: id }) : safeText(`dropped the dead letter of event ${id} in group ${group}`))
  })
).pipe(Command.withDescription("Forget a dead letter (releasing the key it holds, if any)"))

export const dlq = Command.make(
  "dlq",
  {
    group: Flag.String("group").pipe(Flag.withAlias("g"), Flag.withDescription("only this group"), Flag.optional),
    topic: Flag.String("topic").pipe(Flag.withAlias("t"), Flag.withDescription("only this topic"), Flag.optional),
    full: Flag.Boolean("full").pipe(Flag.withDescription("each dead letter in full: its payload, the whole error and its stack"), Flag.withDefault(false)),
    json: jsonFlag
  },
  Effect.fn(function*({ full, group, json, topic }) {
    yield* list(group, topic, json, full)
  })
).pipe(
  Command.withDescription("List dead letters; dlq requeue and dlq drop repair them"),
  Command.withSubcommands([requeue, drop]),
  Command.withExamples([
    { command: "sib dlq --group ops", description: "the group's dead letters, with their last error" },
    { command: "sib dlq --group ops --full", description: "each with its payload, the whole error and its stack" },
    { command: "sib dlq requeue --all --group ops", description: "deliver them all again" },
    { command: "sib dlq drop 01J... --group ops", description: "forget one" }
  ])
)

// ---- replay -------------------------------------------------------------------------------------

export const replay = Command.make(
  "replay",
  {
    group: groupFlag,
    topic: Flag.String("topic").pipe(Flag.withAlias("t"), Flag.withDescription("the topic whose cursor moves")),
    from: Flag.String("from").pipe(Flag.withDescription(`the first event the group gets again (or next): ${fromForms}`)),
    json: jsonFlag
  },
  Effect.fn(function*({ from, group, json, topic }) {
    if (parseStartFrom(from) === undefined) return yield* failWith(`--from ${from} is not ${fromForms}`)
    yield* withBus("existing", (bus) =>
      Effect.gen(function*() {
        const before = yield* bus.getCursor(topic, group)
        if (before === undefined) yield* requireGroup(bus, group)
        if (before === undefined) return yield* failWith(`group ${group} has no cursor on ${topic} (see sib groups)`, 1)
        const inspect = Inspect.make(yield* Store)
        const placed = yield* placeFrom(inspect, topic, from)
        // A live consumer's refusal is the state of things (exit 1, as groups delete and topics purge
        // say it); a name that cannot be is bad input (exit 2).
        yield* bus.setCursor(topic, group, placed.floor).pipe(
          Effect.catchTag("GroupError", (e) => failWith(e.message, /being consumed by/.test(e.detail) ? 1 : 2)),
          Effect.catchTag("TopicError", (e) => failWith(e.message))
        )
        if (placed.note !== undefined) yield* err(`sib: ${safeText(placed.note)}`)
        const after = (yield* bus.getCursor(topic, group)) ?? placed.floor
        if (json) return yield* out(jsonText({ group, topic, from: before, to: after }))
        const moved = `group ${group} on ${topic}: cursor`
        if (after === before) return yield* out(safeText(`${moved} stays at ${after}`))
        const between = plural(yield* inspect.countEvents(topic, Math.min(before, after), Math.max(before, after)), "event")
        yield* out(safeText(after < before
          ? `${moved} moved back from ${before} to ${after}: ${between} will be delivered again`
          : `${moved} moved forward from ${before} to ${after}: ${between} skipped`))
      }))
  })
).pipe(
  Command.withDescription("Move a group's cursor (refused while a running process consumes the group)"),
  Command.withExamples([{ command: "sib replay --group ops --topic heartbeat.received --from ts:2026-11-24T09:00:00Z", description: "re-deliver everything since 9:00" }])
)
