/**
 * `sib publish` (one event, or every line of a JSON-lines file) and `sib tail` (print a topic's
 * events, optionally following new ones, without moving any group's cursor).
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { Argument, Command, Flag } from "effect/cli"
import { readFileSync } from "node:fs"
import { jsonText, safeText } from "../diagnostics/terminal.ts"
import { parseExactJson } from "../runtime/json.ts"
import { parseStartFrom } from "../runtime/subscribeOptions.ts"
import type { PublishError } from "../runtime/busErrors.ts"
import type { PublishItem } from "../runtime/publish.ts"
import type { Event } from "../store/records.ts"
import { fromForms, placeFrom, requireTopic } from "./from.ts"
import { liveLine } from "./status.ts"
import { isoTime } from "./table.ts"
import { plural } from "./eventCommand.ts"
import { err, failWith, out, useColor, withBus, withInspect } from "./shared.ts"

/** The JSON contract of an event (`publish` and `tail --json`): the stored record's fields. */
const eventJson = (e: Event) => jsonText(e)

const parseJson = (text: string, what: string) =>
  Effect.try({
    try: () => parseExactJson(text),
    catch: (e) => `${what} is not JSON: ${e instanceof Error ? e.message : String(e)}`
  })

const readStdin = Effect.tryPromise({
  try: async () => {
    const chunks: Array<Buffer> = []
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
    return Buffer.concat(chunks).toString("utf8")
  },
  catch: (e) => `cannot read stdin: ${String(e)}`
})

/** The fields of a `tail --json` record that a record read back with `--records` keeps. */
const recordFields = new Set(["payload", "key", "headers", "id", "tags", "causedBy"])
/** Fields a stored record has that a new publish assigns again. */
const assignedFields = new Set(["seq", "ts", "topic", "sid", "partition"])

/**
 * The `--header k=v` flags as headers: each name once (an event has one value per header, so a
 * repeated name would silently keep one of them).
 */
const parseHeaders = (flags: ReadonlyArray<string>): Record<string, string> | string => {
  const given = new Map<string, Array<string>>()
  const pairs: Array<[string, string]> = []
  for (const flag of flags) {
    const at = flag.indexOf("=")
    if (at <= 0) return `--header ${flag} is not k=v (a header's name, =, and its value)`
    const name = flag.slice(0, at)
    given.set(name, [...(given.get(name) ?? []), flag])
    pairs.push([name, flag.slice(at + 1)])
  }
  for (const [name, flags] of given) {
    if (flags.length > 1) return `--header ${name} is given ${flags.length === 2 ? "twice" : `${flags.length} times`} (${flags.join(", ")}): an event has one value per header`
  }
  // Own properties whatever the name: an assignment to "__proto__" would set the prototype instead.
  return Object.fromEntries(pairs)
}

/** The runtime's refusals in the CLI's words: the API's `{ key }` option is the `--key` flag. */
const cliWording = (message: string) => message.replace(/\{ key \}/g, "--key")

/** One line of a `--records` file as a publish: the record's payload and options. */
const recordItem = (topic: string, record: unknown, options: { key?: string; headers?: Record<string, string> }): PublishItem | string => {
  if (typeof record !== "object" || record === null || Array.isArray(record)) return "a record is a JSON object with payload (as sib tail --json prints)"
  const r = record as Record<string, unknown>
  if (!Object.hasOwn(r, "payload")) return "a record needs payload"
  const unknown = Object.keys(r).filter((k) => !recordFields.has(k) && !assignedFields.has(k))
  if (unknown.length > 0) return `a record has payload, key, headers, id, tags and causedBy (seq, ts, topic, sid and partition are assigned again), not ${unknown.map((k) => JSON.stringify(k)).join(", ")}`
  const kept: Record<string, unknown> = {}
  for (const k of ["key", "headers", "id", "tags", "causedBy"]) if (r[k] !== undefined) kept[k] = r[k]
  return { topic, payload: r["payload"], ...options, ...kept } as PublishItem
}

export const publish = Command.make(
  "publish",
  {
    topic: Argument.String("topic").pipe(Argument.withDescription("the topic to publish to")),
    payload: Argument.String("json").pipe(Argument.withDescription("the payload as JSON (default: read from stdin)"), Argument.optional),
    key: Flag.String("key").pipe(Flag.withDescription("the event's key (ordering and compaction)"), Flag.optional),
    header: Flag.String("header").pipe(Flag.withDescription("a header, k=v (repeatable, one value per name)"), Flag.atLeast(0)),
    file: Flag.String("file").pipe(
      Flag.withDescription("publish every line of this JSON-lines file (- reads stdin): all of them in one transaction, or none"),
      Flag.optional
    ),
    records: Flag.Boolean("records").pipe(
      Flag.withDescription("with --file: each line is a record as sib tail --json prints it (payload, and key, headers, id, tags, causedBy kept)"),
      Flag.withDefault(false)
    ),
    quiet: Flag.Boolean("quiet").pipe(Flag.withAlias("q"), Flag.withDescription("print no stored records, only a count on stderr"), Flag.withDefault(false))
  },
  Effect.fn(function*({ file, header, key, payload, quiet, records, topic }) {
    const headers = parseHeaders(header)
    if (typeof headers === "string") return yield* failWith(headers)
    // An empty --key is a key, as `publish(topic, payload, { key: "" })` is in the API.
    const options = {
      ...(Option.isSome(key) ? { key: key.value } : {}),
      ...(header.length > 0 ? { headers } : {})
    }
    if (records && Option.isNone(file)) return yield* failWith("--records reads records from --file")
    if (Option.isSome(file)) {
      if (Option.isSome(payload)) return yield* failWith("give either a payload or --file, not both")
      const name = file.value === "-" ? "stdin" : file.value
      let text: string
      if (file.value === "-") {
        text = yield* readStdin.pipe(Effect.catch((m) => failWith(m)))
      } else {
        try {
          text = readFileSync(file.value, "utf8")
        } catch (e) {
          return yield* failWith(`cannot read ${file.value}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : String(e)}`)
        }
      }
      // Every line is parsed and checked before anything is written, and all are written in one
      // transaction: a file is published whole or not at all.
      const items: Array<{ readonly line: number; readonly item: PublishItem }> = []
      /** How many records named each other topic (`--records`): they go to the command's topic. */
      const retopicked = new Map<string, number>()
      const lines = text.split("\n")
      for (let i = 0; i < lines.length; i++) {
        const line = lines[i]!.trim()
        if (line.length === 0) continue
        const parsed = yield* parseJson(line, `${name}:${i + 1}: the line`).pipe(Effect.catch((m) => failWith(`${m}; nothing was published`)))
        const item = records ? recordItem(topic, parsed, options) : { topic, payload: parsed, ...options }
        if (typeof item === "string") return yield* failWith(`${name}:${i + 1}: ${item}; nothing was published`)
        const from = records ? (parsed as Record<string, unknown>)["topic"] : undefined
        if (typeof from === "string" && from !== topic) retopicked.set(from, (retopicked.get(from) ?? 0) + 1)
        items.push({ line: i + 1, item })
      }
      if (items.length === 0) return yield* failWith(`${name} has no lines to publish`)
      return yield* withBus("create", (bus) =>
        Effect.gen(function*() {
          const refused = (e: PublishError) => {
            const at = items[e.item ?? 0]!
            // A record's id names its event on its own topic: a copy into another topic of the same
            // database takes new ids.
            const hint = e.reason === "id" && records ? ` (leave "id" out of the records to copy them to ${topic})` : ""
            return failWith(`${name}:${at.line}: ${cliWording(e.detail.replace(/^item \d+ of \d+: /, ""))}${hint}; nothing was published`)
          }
          yield* bus.dryRun({ publishes: items.map((i) => i.item) }).pipe(
            Effect.catchTag("PublishError", refused),
            Effect.catchTag("TopicError", (e) => failWith(e.message))
          )
          const events = yield* bus.publishAll(items.map((i) => i.item)).pipe(Effect.catchTag("PublishError", refused))
          // A record's topic is assigned again (that is how a topic is copied to another): said,
          // not silently.
          for (const [from, n] of retopicked) {
            yield* err(safeText(`sib: ${plural(n, "record")} of ${from} ${n === 1 ? "was" : "were"} published to ${topic} (a record's topic is assigned again)`))
          }
          // An id names one event: a record whose id is already stored (on this topic: another
          // topic's id was refused) is that event, not a new one. This process stored the new ones
          // (its sid); an id given twice in the file is stored once.
          const stored = new Set(events.filter((e) => e.sid === bus.sid).map((e) => e.seq)).size
          const already = events.length - stored
          const duplicates = already === 0 ? "" : `${plural(already, "record")} ${already === 1 ? "was" : "were"} already stored (same id): not published again`
          if (quiet) {
            yield* err(safeText(`published ${plural(stored, "event")} to ${topic}${duplicates === "" ? "" : `; ${duplicates}`}`))
          } else {
            for (const e of events) yield* out(eventJson(e))
            if (duplicates !== "") yield* err(`sib: ${duplicates}`)
          }
        })
      )
    }
    let text: string
    if (Option.isSome(payload)) {
      text = payload.value
    } else {
      if (process.stdin.isTTY === true) return yield* failWith("give the payload as an argument (sib publish <topic> '{\"a\":1}'), on stdin, or with --file")
      text = yield* readStdin.pipe(Effect.catch((m) => failWith(m)))
    }
    const parsed = yield* parseJson(text, "the payload").pipe(Effect.catch((m) => failWith(m)))
    const event = yield* withBus("create", (bus) => bus.publish(topic, parsed, options).pipe(Effect.catchTag("PublishError", (e) => failWith(cliWording(e.message)))))
    if (quiet) yield* err(`published 1 event to ${safeText(topic)}`)
    else yield* out(eventJson(event))
  })
).pipe(
  Command.withDescription("Publish one event (payload as an argument or on stdin), or every line of a JSON-lines file (all or none)"),
  Command.withExamples([
    { command: "sib publish heartbeat.received '{\"pid\":42,\"name\":\"stt\"}' --key 42", description: "one event; prints the stored record" },
    { command: "sib publish orders --file orders.jsonl", description: "one event per line, in one transaction" },
    { command: "sib tail orders --from earliest --json | sib publish orders --file - --records -q --db copy.db", description: "copy a topic's events with their keys, headers and ids to another database" }
  ])
)

/** One event for people: seq, time, key and payload; the key and payload escaped for the terminal. */
const human = (e: Event, color: boolean) => {
  const seq = color ? `\u001b[2m#${e.seq}\u001b[0m` : `#${e.seq}`
  const key = e.key === undefined ? "" : ` key=${e.key === "" ? "\"\"" : safeText(e.key)}`
  // JSON.stringify escapes C0 controls but not DEL, C1 or bidi controls.
  return `${seq} ${isoTime(e.ts)}${key} ${safeText(JSON.stringify(e.payload))}`
}

export const tail = Command.make(
  "tail",
  {
    topic: Argument.String("topic"),
    from: Flag.String("from").pipe(
      Flag.withDescription(`the first event printed: ${fromForms} (default: the last --limit events)`),
      Flag.optional
    ),
    follow: Flag.Boolean("follow").pipe(Flag.withAlias("f"), Flag.withDescription("keep printing new events until interrupted"), Flag.withDefault(false)),
    limit: Flag.Int("limit").pipe(
      Flag.withAlias("n"),
      Flag.withDescription("without --from: start with the last N events (default 10); with --from: stop after N"),
      Flag.optional
    ),
    json: Flag.Boolean("json").pipe(Flag.withDescription("one JSON object per line"), Flag.withDefault(false))
  },
  Effect.fn(function*({ follow, from, json, limit, topic }) {
    if (Option.isSome(limit) && limit.value < 0) return yield* failWith("--limit must be 0 or more")
    if (Option.isSome(from) && parseStartFrom(from.value) === undefined) return yield* failWith(`--from ${from.value} is not ${fromForms}`)
    const color = useColor(process.stdout)
    yield* withInspect((inspect) =>
      Effect.gen(function*() {
        yield* requireTopic(inspect, topic)
        let max = Option.isSome(limit) ? limit.value : Option.isNone(from) ? 10 : Number.POSITIVE_INFINITY
        let after: number
        if (Option.isSome(from)) {
          const placed = yield* placeFrom(inspect, topic, from.value)
          if (placed.note !== undefined) yield* err(`sib: ${safeText(placed.note)}`)
          after = placed.floor
        } else {
          after = yield* inspect.floorForLast(topic, max)
        }
        const print = (e: Event) => out(json ? eventJson(e) : human(e, color))
        const drain = Effect.gen(function*() {
          while (max > 0) {
            const page = yield* inspect.read(topic, after, Math.min(max, 1000))
            if (page.length === 0) return
            for (const e of page) yield* print(e)
            after = page[page.length - 1]!.seq
            max -= page.length
          }
        })
        yield* drain
        if (!follow) return
        liveLine.signalEndsNormally = true
        // Following: without --from, --limit chose where to start; from there on, print everything.
        if (Option.isNone(from)) max = Number.POSITIVE_INFINITY
        // Other processes write to the database: look again after each of their commits.
        const nextCommit = yield* inspect.watchCommits(100)
        while (max > 0) {
          yield* nextCommit
          yield* drain
        }
      })
    )
  })
).pipe(
  Command.withDescription("Print a topic's events without moving any group's cursor; --follow keeps printing new ones"),
  Command.withExamples([
    { command: "sib tail heartbeat.received", description: "the last 10 events" },
    { command: "sib tail process.state --from earliest --json", description: "every event, one JSON object per line" },
    { command: "sib tail heartbeat.received -f", description: "follow new events until Ctrl-C" }
  ])
)
