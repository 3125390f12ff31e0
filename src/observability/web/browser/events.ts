/**
 * The browser side of the ops page, part 6: events. A topic's page of events (seq, time, key, id,
 * payload on one line); one event in full with what each group did with it; and its causation tree
 * (`TraceJson`): causes above, up to the roots, effects below, each with the time from cause to
 * effect and its groups' states. Every id is a link to that event.
 */
import type { EventInfoJson, EventPageJson, ProgressJson, TraceJson, TraceNodeJson } from "../wire.ts"
import { type El, h, oneLine, visible } from "./dom.ts"
import { duration, location, payloadBlock, payloadLine, time } from "./format.ts"

export type Open = (eventId: string) => void

const link = (id: string, open: Open): El => h("a", { href: "#", class: "event-link", onclick: (e) => (e.preventDefault(), open(id)) }, oneLine(id))

/** The rows of a page of events. */
export const drawEventPage = (page: EventPageJson, into: El, open: Open): void => {
  into.replaceChildren(
    h("thead", {}, h("tr", {}, h("th", { class: "num" }, "seq"), h("th", {}, "time"), h("th", {}, "key"), h("th", {}, "id"), h("th", {}, "payload"))),
    h(
      "tbody",
      {},
      ...(page.events.length === 0
        ? [h("tr", {}, h("td", { colspan: 5, class: "empty" }, `no events of ${oneLine(page.topic)} there`))]
        : page.events.map((e) =>
          h(
            "tr",
            { class: "event", "data-event-id": e.id },
            h("td", { class: "num" }, String(e.seq)),
            h("td", {}, time(e.ts)),
            h("td", {}, e.key === null ? "" : oneLine(e.key)),
            h("td", {}, link(e.id, open)),
            h("td", { class: "payload-line" }, payloadLine(e.payload))
          )
        ))
    )
  )
}

const progressText = (p: ProgressJson): string => {
  const attempts = p.attempts === null ? "" : ` (${p.attempts} attempt${p.attempts === 1 ? "" : "s"})`
  const at = p.location === null ? "" : ` at ${location(p.location)}`
  const error = p.error === null ? "" : `: ${oneLine(p.error)}`
  return `${p.state}${attempts}${error}${at}`
}

const groupStates = (groups: ReadonlyArray<ProgressJson>, topic: string): El =>
  groups.length === 0
    ? h("p", { class: "meta" }, `no group consumes ${oneLine(topic)}`)
    : h("ul", { class: "groups" }, ...groups.map((g) => h("li", { class: `state-${g.state}` }, h("strong", {}, oneLine(g.group)), ": ", progressText(g))))

/** One event in full: its fields, payload, and every group's progress (with errors and stacks). */
export const drawEvent = (info: EventInfoJson, into: El, open: Open): void => {
  const e = info.event
  const field = (name: string, value: El | string) => [h("dt", {}, name), h("dd", {}, value)]
  into.replaceChildren(
    h(
      "dl",
      { class: "fields" },
      ...field("id", oneLine(e.id)),
      ...field("topic", `${oneLine(e.topic)} #${e.seq}`),
      ...field("time", time(e.ts)),
      ...(e.key === null ? [] : field("key", oneLine(e.key))),
      ...(e.partition === null ? [] : field("partition", String(e.partition))),
      ...(e.headers === null ? [] : field("headers", Object.entries(e.headers).map(([k, v]) => `${oneLine(k)}=${oneLine(v)}`).join("  "))),
      ...(e.causedBy.length === 0 ? [] : field("caused by", h("span", {}, ...e.causedBy.flatMap((id, i) => [i === 0 ? "" : " ", link(id, open)])))),
      ...(e.tags.length === 0 ? [] : field("tags", e.tags.map(oneLine).join(", ")))
    ),
    h("pre", { class: "payload" }, payloadBlock(e.payload)),
    groupStates(info.groups, e.topic),
    ...info.groups.filter((g) => g.errorStack !== null).map((g) =>
      h("details", {}, h("summary", {}, `${oneLine(g.group)}: stack`), h("pre", { class: "stack" }, visible(g.errorStack!)))
    )
  )
}

const node = (n: TraceNodeJson, direction: "causes" | "effects", open: Open): El => {
  const arrow = direction === "causes" ? "\u2190 " : "\u2192 "
  if (n.kind === "repeated") return h("li", { class: "trace-node" }, arrow, link(n.id, open), " (shown above)")
  if (n.kind === "missing") return h("li", { class: "trace-node" }, arrow, oneLine(n.id), " (not stored: pruned, compacted or never published)")
  const e = n.info.event
  const lag = n.lagMs === null ? "" : direction === "causes" ? ` (${duration(n.lagMs)} before)` : ` (+${duration(n.lagMs)})`
  return h(
    "li",
    { class: "trace-node", "data-event-id": e.id },
    arrow,
    h("strong", {}, `${oneLine(e.topic)} #${e.seq}`),
    ` ${time(e.ts)}${e.key === null ? "" : ` key ${oneLine(e.key)}`} `,
    link(e.id, open),
    lag,
    h("div", { class: "payload-line" }, payloadLine(e.payload)),
    groupStates(n.info.groups, e.topic),
    n.children.length === 0 && n.more === 0
      ? null
      : h("ul", {}, ...n.children.map((c) => node(c, direction, open)), n.more > 0 ? h("li", { class: "meta" }, `\u2026 and ${n.more} more`) : null)
  )
}

const branch = (title: string, nodes: ReadonlyArray<TraceNodeJson>, more: number, direction: "causes" | "effects", open: Open): El =>
  h(
    "div",
    { class: `trace-${direction}` },
    h("h4", {}, title),
    nodes.length === 0 && more === 0
      ? h("p", { class: "meta" }, "none")
      : h("ul", { class: "trace" }, ...nodes.map((n) => node(n, direction, open)), more > 0 ? h("li", { class: "meta" }, `\u2026 and ${more} more`) : null)
  )

/** The causation tree: causes, then effects. */
export const drawTrace = (trace: TraceJson, into: El, open: Open): void => {
  into.replaceChildren(
    branch("caused by", trace.causes, trace.moreCauses, "causes", open),
    branch("effects", trace.effects, trace.moreEffects, "effects", open),
    ...(trace.truncated ? [h("p", { class: "meta" }, "(the tree stopped at its event limit)")] : [])
  )
}
