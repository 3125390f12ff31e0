/**
 * The browser side of the ops page, part 4: the live figures as tables. Topics with size, head and
 * rate; groups with cursor, head, lag in events and in time, in-flight, retrying, dead letters and
 * owner (a partitioned group one row per partition, with a part column then); below them, each
 * partitioned group's members with the partitions they hold and their last heartbeat. Redrawn from
 * each `OverviewJson` the server sends (about once a second).
 */
import type { GroupJson, MemberJson, OverviewJson, TopicJson } from "../wire.ts"
import { type El, h, oneLine } from "./dom.ts"
import { count, duration, rate, time } from "./format.ts"

interface Column<Row> {
  readonly header: string
  readonly cell: (row: Row) => string | El
  readonly numeric?: boolean
}

const table = <Row>(columns: ReadonlyArray<Column<Row>>, rows: ReadonlyArray<Row>, empty: string, rowClass = ""): Array<El> => [
  h("thead", {}, h("tr", {}, ...columns.map((c) => h("th", { class: c.numeric === true ? "num" : undefined }, c.header)))),
  h(
    "tbody",
    {},
    ...(rows.length === 0
      ? [h("tr", {}, h("td", { colspan: columns.length, class: "empty" }, empty))]
      : rows.map((r) => h("tr", { class: rowClass }, ...columns.map((c) => h("td", { class: c.numeric === true ? "num" : undefined }, c.cell(r))))))
  )
]

const topicColumns = (at: number): ReadonlyArray<Column<TopicJson>> => [
  { header: "topic", cell: (t) => h("span", { title: t.description === null ? undefined : oneLine(t.description) }, oneLine(t.name)) },
  { header: "events", cell: (t) => count(t.events), numeric: true },
  { header: "first seq", cell: (t) => (t.firstSeq === null ? "-" : String(t.firstSeq)), numeric: true },
  { header: "head seq", cell: (t) => String(t.headSeq), numeric: true },
  { header: "rate", cell: (t) => rate(t.ratePerSec), numeric: true },
  { header: "last published", cell: (t) => (t.lastPublishedAt === null ? "-" : `${duration(Math.max(0, at - t.lastPublishedAt))} ago`) },
  { header: "", cell: (t) => (t.compaction ? "compacted" : "") }
]

const owner = (g: GroupJson): string =>
  g.owner === null ? "none" : `pid ${g.owner.pid ?? "?"} on ${oneLine(g.owner.host ?? "?")}`

/** The groups' columns; `part` only when some group is partitioned. */
const groupColumns = (partitioned: boolean): ReadonlyArray<Column<GroupJson>> => [
  { header: "group", cell: (g) => oneLine(g.group) },
  { header: "topic", cell: (g) => oneLine(g.topic) },
  ...(partitioned ? [{ header: "part", cell: (g: GroupJson) => (g.partition === null ? "-" : String(g.partition)), numeric: true }] : []),
  { header: "cursor", cell: (g) => String(g.cursor), numeric: true },
  { header: "head", cell: (g) => String(g.headSeq), numeric: true },
  { header: "lag", cell: (g) => count(g.lag), numeric: true },
  { header: "lag time", cell: (g) => (g.lag === 0 ? "-" : duration(g.lagMs)), numeric: true },
  { header: "in flight", cell: (g) => String(g.inFlight), numeric: true },
  { header: "retrying", cell: (g) => String(g.retrying), numeric: true },
  { header: "redelivered", cell: (g) => String(g.redelivered), numeric: true },
  { header: "dead letters", cell: (g) => h("span", { class: g.deadLetters > 0 ? "bad" : undefined }, String(g.deadLetters)), numeric: true },
  { header: "owner", cell: owner }
]

const member = (m: MemberJson, at: number): El =>
  h(
    "li",
    { class: "member" },
    h("strong", {}, `${m.pid ?? "?"}@${oneLine(m.host ?? "?")}`),
    m.partitions.length === 0 ? " holds no partition now" : ` holds ${m.partitions.length === 1 ? "partition" : "partitions"} ${m.partitions.join(", ")}`,
    h("span", { class: "meta" }, ` \u00b7 last beat ${duration(Math.max(0, at - m.lastBeatAt))} ago`)
  )

/** Each partitioned group's members, by group (in the order the server sends them). */
const memberLists = (o: OverviewJson): Array<El> => {
  const groups = [...new Set(o.members.map((m) => m.group))]
  return groups.map((group) =>
    h(
      "div",
      { class: "members" },
      h("h3", {}, `members of ${oneLine(group)}`),
      h("ul", {}, ...o.members.filter((m) => m.group === group).map((m) => member(m, o.at)))
    )
  )
}

/** Draws the topics and groups tables, the members of partitioned groups and the header's figures from `o`. */
export const drawFigures = (o: OverviewJson, topics: El, groups: El, members: El, updated: El): void => {
  topics.replaceChildren(...table(topicColumns(o.at), o.topics, "no topics yet", "topic"))
  groups.replaceChildren(...table(groupColumns(o.groups.some((g) => g.partition !== null)), o.groups, "no consumer groups yet", "group"))
  members.replaceChildren(...memberLists(o))
  updated.textContent = o.error === null ? `updated ${time(o.at)}` : `reading failed at ${time(o.at)}: ${oneLine(o.error)} (figures from before)`
  updated.className = o.error === null ? "" : "bad"
}
