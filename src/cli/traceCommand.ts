/**
 * `sib trace <event-id>`: the causation tree of one event, read from the store alone. Up: its
 * causes (the events its `causedBy` names, recursively to the roots). Down: its effects (the events
 * whose `causedBy` names it, recursively). Each event with its topic, seq, time, key, payload, what
 * every group consuming its topic did with it (as `sib event`), and the time from cause to effect.
 * Bounded in depth, in children per event and in events in all, so fan-outs and `causedBy` cycles
 * (possible with `sib publish --records`) end; it does not follow events into other databases.
 * The tree is built by `runtime/causation.ts` (which the ops page uses too); this module prints it.
 */
import * as Effect from "effect/Effect"
import { Argument, Command, Flag } from "effect/cli"
import { jsonText, safeText } from "../diagnostics/terminal.ts"
import { type CausationDirection, type CausationNode, causationTree } from "../runtime/causation.ts"
import type { EventInfo, EventProgress } from "../runtime/Inspect.ts"
import type { Event } from "../store/records.ts"
import { plural, progressJson } from "./eventCommand.ts"
import { failWith, out, withInspect } from "./shared.ts"
import { isoTime } from "./table.ts"

// ---- JSON ----------------------------------------------------------------------------------------

const eventJson = (info: EventInfo) => {
  const e = info.event
  return {
    id: e.id,
    topic: e.topic,
    seq: e.seq,
    ts: e.ts,
    key: e.key ?? null,
    payload: e.payload,
    causedBy: e.causedBy ?? [],
    groups: info.groups.map((g) => progressJson(g.group, g.progress))
  }
}

const nodeJson = (node: CausationNode, direction: CausationDirection): Record<string, unknown> => {
  if (node.repeated) return { id: node.id, found: true, repeated: true }
  if (node.info === undefined) return { id: node.id, found: false }
  return {
    ...eventJson(node.info),
    found: true,
    repeated: false,
    lagMs: node.lagMs,
    [direction]: node.children.map((c) => nodeJson(c, direction)),
    more: node.more
  }
}

// ---- people --------------------------------------------------------------------------------------

const oneLine = (text: string | null, width = 100) => {
  if (text === null) return ""
  const first = safeText(text.split("\n")[0]!)
  return first.length > width ? `${first.slice(0, width - 3)}...` : first
}

const progressText = (p: EventProgress): string => {
  switch (p.state) {
    case "done":
      return "done"
    case "pending":
      return p.running ? "running" : "pending"
    case "retrying": {
      const d = p.delivery
      const state = d.state === "retry" ? "retrying" : d.state
      return `${state} (${plural(d.attempts, "attempt")})${d.lastError === null ? "" : `: ${oneLine(d.lastError)}`}`
    }
    case "dead":
      return `dead letter (${plural(p.deadLetter.attempts, "attempt")})${p.deadLetter.errorMessage === null ? "" : `: ${oneLine(p.deadLetter.errorMessage)}`}`
  }
}

const headline = (e: Event) => `${safeText(e.topic)} #${e.seq}  ${isoTime(e.ts)}${e.key === undefined ? "" : `  key ${safeText(e.key)}`}  ${safeText(e.id)}`

/** Payload and groups, each line with `pad` in front. */
const details = (info: EventInfo, pad: string): Array<string> => {
  const payload = JSON.stringify(info.event.payload) ?? "undefined"
  return [
    `${pad}payload ${safeText(payload.length > 100 ? `${payload.slice(0, 97)}...` : payload)}`,
    ...(info.groups.length === 0
      ? [`${pad}no group consumes ${safeText(info.event.topic)}`]
      : info.groups.map((g) => `${pad}${safeText(g.group)}: ${progressText(g.progress)}`))
  ]
}

const ms = (n: number) => (n < 10_000 ? `${n} ms` : `${(n / 1000).toFixed(1)} s`)

const nodeLines = (node: CausationNode, direction: CausationDirection, pad: string): Array<string> => {
  const arrow = direction === "causes" ? "<-" : "->"
  if (node.repeated) return [`${pad}${arrow} ${safeText(node.id)} (shown above)`]
  if (node.info === undefined) return [`${pad}${arrow} ${safeText(node.id)} (not stored: pruned, compacted or never published)`]
  const lag = node.lagMs === undefined ? "" : direction === "causes" ? `  (${ms(node.lagMs)} before)` : `  (+${ms(node.lagMs)})`
  const inner = `${pad}   `
  return [
    `${pad}${arrow} ${headline(node.info.event)}${lag}`,
    ...details(node.info, inner),
    ...node.children.flatMap((c) => nodeLines(c, direction, inner)),
    ...(node.more > 0 ? [`${inner}... and ${node.more} more`] : [])
  ]
}

const section = (title: string, direction: CausationDirection, part: { children: ReadonlyArray<CausationNode>; more: number }): Array<string> =>
  part.children.length === 0 && part.more === 0
    ? [`${title}: none`]
    : [
      `${title}:`,
      ...part.children.flatMap((c) => nodeLines(c, direction, "  ")),
      ...(part.more > 0 ? [`  ... and ${part.more} more`] : [])
    ]

// ---- the command ---------------------------------------------------------------------------------

const positive = (name: string, n: number) => (Number.isInteger(n) && n >= 0 ? undefined : `--${name} must be a whole number, 0 or more (got ${n})`)

export const trace = Command.make(
  "trace",
  {
    id: Argument.String("event-id").pipe(Argument.withDescription("the event's id (as sib tail --json, sib event and sib publish print it)")),
    depth: Flag.Int("depth").pipe(Flag.withDescription("levels of causes and of effects to follow (default 10)"), Flag.withDefault(10)),
    breadth: Flag.Int("breadth").pipe(Flag.withDescription("children shown per event, the rest counted as ... and K more (default 20)"), Flag.withDefault(20)),
    scan: Flag.Int("scan").pipe(
      Flag.withDescription("effects are searched for among this many events (by seq) published after their cause: a bounded scan, as caused_by has no index (default 100000)"),
      Flag.withDefault(100_000)
    ),
    maxEvents: Flag.Int("max-events").pipe(Flag.withDescription("events shown in all, causes and effects together (default 500)"), Flag.withDefault(500)),
    json: Flag.Boolean("json").pipe(Flag.withDescription("one JSON object: the event, its causes and its effects as nested trees"), Flag.withDefault(false))
  },
  Effect.fn(function*({ breadth, depth, id, json, maxEvents, scan }) {
    const bad = positive("depth", depth) ?? positive("breadth", breadth) ?? positive("scan", scan) ?? positive("max-events", maxEvents)
    if (bad !== undefined) return yield* failWith(bad)
    yield* withInspect((inspect, store) =>
      Effect.gen(function*() {
        const root = yield* inspect.event(id)
        if (root === undefined) return yield* failWith(`no event has the id ${id}`, 1)
        const reads = { event: inspect.event, eventsCausedBy: store.admin.eventsCausedBy }
        const { causes, effects, truncated } = yield* causationTree(reads, { breadth, depth, maxEvents, scan }, root)
        if (json) {
          return yield* out(jsonText({
            event: eventJson(root),
            causes: causes.children.map((c) => nodeJson(c, "causes")),
            moreCauses: causes.more,
            effects: effects.children.map((c) => nodeJson(c, "effects")),
            moreEffects: effects.more,
            truncated
          }))
        }
        yield* out([
          headline(root.event),
          ...details(root, "   "),
          ...section("caused by", "causes", causes),
          ...section("effects", "effects", effects),
          ...(truncated ? [`(stopped at ${maxEvents} events: pass --max-events for more)`] : [])
        ].join("\n"))
      }))
  })
).pipe(
  Command.withDescription(
    "Show an event's causation tree: its causes up to the roots, its effects down (a bounded scan, see --scan), and what each group did with each event"
  ),
  Command.withExamples([
    { command: "sib trace 01a20e71-9f0e-7eff-89ae-d8bee08dda53", description: "the tree, causes above and effects below, with each group's state" },
    { command: "sib trace 01a20e71-9f0e-7eff-89ae-d8bee08dda53 --depth 2 --breadth 5", description: "two levels each way, five children per event" },
    { command: "sib trace 01a20e71-9f0e-7eff-89ae-d8bee08dda53 --json", description: "the same as one JSON object" }
  ])
)
