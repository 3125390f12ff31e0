/**
 * `sib event <id>`: one event (payload, key, headers, causation, tags) and where it stands in every
 * group that consumes its topic: done, pending, running, retrying (with its attempts and last
 * error), a crash suspect, requeued, or dead (with the error and stack). It reads through
 * `Inspect.event`. Also the detail view of a failure, shared with `sib dlq --full`.
 */
import * as Effect from "effect/Effect"
import { Argument, Command, Flag } from "effect/cli"
import { jsonText, safeLines, safeText } from "../diagnostics/terminal.ts"
import type { EventInfo, EventProgress } from "../runtime/Inspect.ts"
import type { Event } from "../store/records.ts"
import { failWith, out, withInspect } from "./shared.ts"
import { isoTime } from "./table.ts"

/**
 * A group's progress as data: `state` is done, pending (not fetched yet), running, retrying (failed,
 * waiting for its next attempt), suspect (in flight when its process died; it re-runs alone),
 * requeued (a dead letter sent back) or dead; with attempts and the last error when it failed
 * (fields null when unknown, as in `sib dlq --json`).
 */
export const progressJson = (group: string, p: EventProgress): Record<string, unknown> => {
  switch (p.state) {
    case "done":
      return { group, state: "done" }
    case "pending":
      return { group, state: p.running ? "running" : "pending" }
    case "retrying": {
      const d = p.delivery
      return {
        group,
        state: d.state === "retry" ? "retrying" : d.state,
        attempts: d.attempts,
        errorMessage: d.lastError,
        errorStack: d.lastErrorStack,
        firstFailedAt: d.firstFailedAt,
        lastFailedAt: d.lastFailedAt,
        nextAttemptAt: d.nextAttemptAt
      }
    }
    case "dead": {
      const d = p.deadLetter
      return {
        group,
        state: "dead",
        attempts: d.attempts,
        errorMessage: d.errorMessage,
        errorStack: d.errorStack,
        firstFailedAt: d.firstFailedAt,
        lastFailedAt: d.lastFailedAt,
        deadAt: d.deadAt,
        holdsKey: d.holdsKey
      }
    }
  }
}

export const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`

/** `text` indented under a label column (`width` wide), its lines escaped for the terminal. */
export const labelled = (label: string, text: string, width: number) => {
  const pad = " ".repeat(width)
  return safeLines(text).split("\n").map((line, i) => `${i === 0 ? label.padEnd(width) : pad}${line}`).join("\n")
}

/** A stack without the message it usually starts with (`message`, or `Name: message` on its first line). */
const withoutMessage = (stack: string, message: string | null): string => {
  if (message === null || message.length === 0) return stack
  if (stack.startsWith(message)) return stack.slice(message.length)
  const at = stack.indexOf(`: ${message}`)
  return at >= 0 && !stack.slice(0, at).includes("\n") ? stack.slice(at + 2 + message.length) : stack
}

/** The last error and its stack under labels, every line indented by `indent`. */
export const failureLines = (message: string | null, stack: string | null, indent: string, width = 7): Array<string> => {
  const lines: Array<string> = []
  if (message !== null) lines.push(labelled("error", message, width))
  const kept = (stack === null ? "" : withoutMessage(stack, message)).replace(/^\n/, "").split("\n")
  const margin = Math.min(...kept.filter((l) => l.trim().length > 0).map((l) => l.length - l.trimStart().length))
  const frames = kept.map((l) => l.slice(Number.isFinite(margin) ? margin : 0)).join("\n")
  if (frames.trim().length > 0) lines.push(labelled("stack", frames, width))
  return lines.flatMap((l) => l.split("\n")).map((l) => indent + l)
}

/** A payload as JSON: on one line when it fits in `width`, else indented over several. */
export const payloadText = (payload: unknown, width: number) => {
  const line = jsonText(payload)
  return line.length <= width ? line : jsonText(payload, 2)
}

/** The event's fields, one per line, for people. */
const eventLines = (e: Event): Array<string> => {
  const w = 11
  const lines = [
    labelled("event", e.id, w),
    labelled("topic", e.topic, w),
    labelled("seq", String(e.seq), w),
    labelled("time", isoTime(e.ts), w)
  ]
  // A key, a header, an id or a tag is one line each: a newline in one is shown escaped, never as a
  // line of its own (a header value could otherwise forge a "payload" line).
  if (e.key !== undefined) lines.push(labelled("key", safeText(e.key), w))
  if (e.partition !== undefined) lines.push(labelled("partition", String(e.partition), w))
  if (e.headers !== undefined) lines.push(labelled("headers", Object.entries(e.headers).map(([k, v]) => `${safeText(k)}=${safeText(v)}`).join("\n"), w))
  if (e.causedBy !== undefined) lines.push(labelled("caused by", e.causedBy.map(safeText).join("\n"), w))
  if (e.tags !== undefined) lines.push(labelled("tags", e.tags.map(safeText).join(", "), w))
  if (e.sid !== undefined) lines.push(labelled("publisher", e.sid, w))
  lines.push(labelled("payload", payloadText(e.payload, 80 - w), w))
  return lines
}

const progressLines = (group: string, p: EventProgress): Array<string> => {
  const name = safeText(group)
  switch (p.state) {
    case "done":
      return [`${name}: done`]
    case "pending":
      return [p.running ? `${name}: running` : `${name}: pending (not fetched yet)`]
    case "retrying": {
      const d = p.delivery
      const what = d.state === "retry"
        ? `retrying: failed ${plural(d.attempts, "time")}, next attempt ${d.nextAttemptAt === null ? "when the group runs" : `at ${isoTime(d.nextAttemptAt)}`}`
        : d.state === "suspect"
        ? `suspect: in flight when its process stopped (${plural(d.attempts, "attempt")} charged); it runs again alone`
        : d.state === "running"
        ? `running alone after a crash (${plural(d.attempts, "attempt")})`
        : `requeued from the dead letters (${plural(d.attempts, "earlier attempt")})`
      return [`${name}: ${what}`, ...failureLines(d.lastError, d.lastErrorStack, "  ")]
    }
    case "dead": {
      const d = p.deadLetter
      const held = d.holdsKey ? "; holds its key" : ""
      return [
        `${name}: dead letter after ${plural(d.attempts, "attempt")} (first failed ${isoTime(d.firstFailedAt)}, dead since ${isoTime(d.deadAt)}${held})`,
        ...failureLines(d.errorMessage, d.errorStack, "  ")
      ]
    }
  }
}

const human = ({ event, groups }: EventInfo): string =>
  [
    ...eventLines(event),
    "",
    ...(groups.length === 0 ? [`no group consumes ${safeText(event.topic)}`] : groups.flatMap((g) => progressLines(g.group, g.progress)))
  ].join("\n")

export const event = Command.make(
  "event",
  {
    id: Argument.String("event-id").pipe(Argument.withDescription("the event's id (as sib tail --json, sib dlq and sib publish print it)")),
    json: Flag.Boolean("json").pipe(Flag.withDescription("one JSON object: the event record with its groups"), Flag.withDefault(false))
  },
  Effect.fn(function*({ id, json }) {
    yield* withInspect((inspect) =>
      Effect.gen(function*() {
        const found = yield* inspect.event(id)
        if (found === undefined) return yield* failWith(`no event has the id ${id}`, 1)
        yield* out(json ? jsonText({ ...found.event, groups: found.groups.map((g) => progressJson(g.group, g.progress)) }) : human(found))
      }))
  })
).pipe(
  Command.withDescription("Show one event (payload, key, headers, causation) and where it stands in every group: done, pending, retrying, dead"),
  Command.withExamples([
    { command: "sib event 01a20e71-9f0e-7eff-89ae-d8bee08dda53", description: "the event, and per group its state, attempts and last error" },
    { command: "sib event 01a20e71-9f0e-7eff-89ae-d8bee08dda53 --json", description: "the same as one JSON object" }
  ])
)
