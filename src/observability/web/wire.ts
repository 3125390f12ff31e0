/**
 * What the ops page's JSON routes and server-sent events carry: the types (which the browser code
 * imports as types only, so both sides agree at compile time) and the conversions from the
 * runtime's records. Times are epoch milliseconds; every string is data to be shown as text. It
 * holds no I/O: the routes read (`opsRoutes.ts`), the feed polls (`feed.ts`).
 */
import type { CausationBranch, CausationNode, CausationTree } from "../../runtime/causation.ts"
import { type EventInfo, type EventProgress, type GroupInfo, partitionsHeld, type TopicInfo } from "../../runtime/Inspect.ts"
import type { DeadLetter, Event, GroupMember } from "../../store/records.ts"

/** A topic on the page: its size (as last counted) and its publish rate. */
export interface TopicJson {
  readonly name: string
  /** Events stored (counted every few seconds, with the events published since added). */
  readonly events: number
  readonly firstSeq: number | null
  /** The topic's highest seq (0 when it has none). */
  readonly headSeq: number
  readonly lastPublishedAt: number | null
  /** Events per second over the last seconds; null until two samples a second apart exist. */
  readonly ratePerSec: number | null
  readonly description: string | null
  readonly compaction: boolean
}

/** A group's position on one topic, or on one partition of it for a partitioned group (`Inspect.groups`). */
export interface GroupJson {
  readonly group: string
  readonly topic: string
  /** The partition this row is (a partitioned group has one row per partition); null: the group is consumed whole. */
  readonly partition: number | null
  readonly cursor: number
  readonly headSeq: number
  readonly lag: number
  readonly lagMs: number
  readonly inFlight: number
  readonly retrying: number
  /** Runs that were redeliveries (an event's second run or later), over the group's life. */
  readonly redelivered: number
  readonly deadLetters: number
  readonly skipped: number
  readonly owner: { readonly pid: number | null; readonly host: string | null; readonly leaseExpiresAt: number | null } | null
}

/** A member (a process) of a partitioned group, with the partitions it runs now. */
export interface MemberJson {
  readonly group: string
  /** The member's id (its bus's session id). */
  readonly member: string
  readonly pid: number | null
  readonly host: string | null
  /** The partitions whose lease it holds now (on any of the group's topics), ascending. */
  readonly partitions: ReadonlyArray<number>
  readonly joinedAt: number
  /** Its last heartbeat, by its own clock (the page shows its age from the figures' `at`). */
  readonly lastBeatAt: number
}

/** The live figures, sent every second over `GET /events` (and once by `GET /api/overview`). */
export interface OverviewJson {
  readonly at: number
  readonly topics: ReadonlyArray<TopicJson>
  readonly groups: ReadonlyArray<GroupJson>
  /** The members of the partitioned groups, by group then join time (empty when none is partitioned). */
  readonly members: ReadonlyArray<MemberJson>
  /** Dead letters in all, and a digest of the first ones: the page reloads its list when it changes. */
  readonly deadLetters: { readonly count: number; readonly digest: string }
  /** Why the last read failed (the figures are then the previous ones), or null. */
  readonly error: string | null
}

/** Where in a `.sib` file a failure happened, read from its stack (`at app.sib:3:7`) or message. */
export interface SibLocation {
  readonly file: string
  readonly line: number
  readonly column: number
}

export interface EventJson {
  readonly id: string
  readonly topic: string
  readonly seq: number
  readonly ts: number
  readonly key: string | null
  readonly partition: number | null
  readonly headers: Readonly<Record<string, string>> | null
  readonly payload: unknown
  readonly causedBy: ReadonlyArray<string>
  readonly tags: ReadonlyArray<string>
  readonly sid: string | null
}

export interface DeadLetterJson {
  readonly group: string
  readonly topic: string
  readonly seq: number
  readonly eventId: string
  readonly key: string | null
  readonly attempts: number
  readonly errorMessage: string
  readonly errorStack: string | null
  readonly location: SibLocation | null
  readonly firstFailedAt: number
  readonly lastFailedAt: number
  readonly deadAt: number
  readonly holdsKey: boolean
  /** The event's payload; `found` is false when the event itself is gone (pruned or compacted). */
  readonly found: boolean
  /** The payload, when its JSON is at most `payloadPreviewChars` long (else null, and `preview` holds its start). */
  readonly payload: unknown
  /** A large payload's JSON text: its first `payloadPreviewChars` characters, and how long it is (the event view has it all). */
  readonly preview: { readonly text: string; readonly chars: number } | null
}

/** How much of a dead letter's payload the list carries: 100 dead letters of 1 MB each made every refresh 100 MB. */
export const payloadPreviewChars = 8192

export interface DeadLettersJson {
  readonly deadLetters: ReadonlyArray<DeadLetterJson>
  /** Dead letters in all (the list holds `limit` of them from `offset`, by group then seq). */
  readonly total: number
  /** How many came before the list's first (`?offset=`). */
  readonly offset: number
}

/** A group's progress with one event (`Inspect.EventProgress`, flattened). */
export interface ProgressJson {
  readonly group: string
  readonly state: "done" | "pending" | "running" | "retrying" | "suspect" | "requeued" | "dead"
  readonly attempts: number | null
  readonly error: string | null
  readonly errorStack: string | null
  readonly location: SibLocation | null
  /** The next attempt (retrying) or when it was dead-lettered (dead). */
  readonly at: number | null
}

export interface EventInfoJson {
  readonly event: EventJson
  readonly groups: ReadonlyArray<ProgressJson>
}

/** A page of a topic's events, ascending; `next` continues after the last one (null: none yet). */
export interface EventPageJson {
  readonly topic: string
  readonly events: ReadonlyArray<EventJson>
  readonly next: number | null
}

export type TraceNodeJson =
  | { readonly id: string; readonly kind: "repeated" }
  | { readonly id: string; readonly kind: "missing" }
  | {
    readonly id: string
    readonly kind: "event"
    readonly info: EventInfoJson
    readonly lagMs: number | null
    readonly children: ReadonlyArray<TraceNodeJson>
    readonly more: number
  }

export interface TraceJson {
  readonly root: EventInfoJson
  readonly causes: ReadonlyArray<TraceNodeJson>
  readonly moreCauses: number
  readonly effects: ReadonlyArray<TraceNodeJson>
  readonly moreEffects: number
  readonly truncated: boolean
}

/** What a request to act (requeue, drop) answers. */
export interface ActionJson {
  readonly ok: boolean
  readonly message: string
}

// ---- conversions ---------------------------------------------------------------------------------

/** A `.sib` reference's tail: `.sib:L:C` (its file name is what comes before it). */
const sibTail = /\.sib:(\d+):(\d+)/g

/** Longest file name looked for before a `.sib:L:C` (a path; a longer run is not one). */
const maxPathChars = 4096

/**
 * The first `.sib` location of a failure: a stack frame `at file.sib:L:C`, else `file.sib:L:C:` at
 * the start of the message, else the first space-free one anywhere. A path may hold spaces
 * ("my app/order handlers.sib"): a frame's location is the rest of its line (or what its
 * parentheses hold), a message's is where the message begins. Linear in the text (a stored error
 * can be 32 KB of one unbroken token, which a backtracking pattern would take seconds over).
 */
export const sibLocation = (stack: string | null, message: string | null): SibLocation | null =>
  (stack === null ? null : frameLocation(stack)) ??
    (message === null ? null : leadingLocation(message)) ??
    (stack === null ? null : anyLocation(stack)) ??
    (message === null ? null : anyLocation(message))

const locationAt = (file: string, m: RegExpExecArray): SibLocation | null =>
  file.length === 0 || file.length > maxPathChars ? null : { file: `${file}.sib`, line: Number(m[1]), column: Number(m[2]) }

/** A stack frame `at file.sib:L:C` or `at name (file.sib:L:C)`, the frame's whole location. */
const frameLocation = (stack: string): SibLocation | null => {
  for (const raw of stack.split("\n")) {
    const line = raw.trim()
    if (!line.startsWith("at ")) continue
    let body = line.slice(3)
    if (body.endsWith(")") && body.includes("(")) body = body.slice(body.lastIndexOf("(") + 1, -1)
    sibTail.lastIndex = 0
    const m = sibTail.exec(body)
    if (m === null || m.index + m[0].length !== body.length) continue
    const file = body.slice(0, m.index)
    if (file.includes("(") || file.includes(")")) continue
    const found = locationAt(file, m)
    if (found !== null) return found
  }
  return null
}

/** `file.sib:L:C` where the message's first line begins (after a `(` when it names a frame). */
const leadingLocation = (message: string): SibLocation | null => {
  const first = message.slice(0, message.indexOf("\n") === -1 ? message.length : message.indexOf("\n"))
  sibTail.lastIndex = 0
  const m = sibTail.exec(first)
  if (m === null) return null
  const before = first.slice(0, m.index)
  return locationAt(before.slice(before.lastIndexOf("(") + 1), m)
}

/** The first space-free `file.sib:L:C` anywhere in `text`. */
const anyLocation = (text: string): SibLocation | null => {
  sibTail.lastIndex = 0
  for (let m = sibTail.exec(text); m !== null; m = sibTail.exec(text)) {
    let start = m.index
    while (start > 0 && m.index - start <= maxPathChars && !/[\s():]/.test(text[start - 1]!)) start--
    // A run longer than a path could be is no file name.
    const found = start > 0 && !/[\s():]/.test(text[start - 1]!) ? null : locationAt(text.slice(start, m.index), m)
    if (found !== null) return found
  }
  return null
}

export const eventJson = (e: Event): EventJson => ({
  id: e.id,
  topic: e.topic,
  seq: e.seq,
  ts: e.ts,
  key: e.key ?? null,
  partition: e.partition ?? null,
  headers: e.headers ?? null,
  payload: e.payload,
  causedBy: e.causedBy ?? [],
  tags: e.tags ?? [],
  sid: e.sid ?? null
})

export const progressJson = (group: string, p: EventProgress): ProgressJson => {
  switch (p.state) {
    case "done":
      return { group, state: "done", attempts: null, error: null, errorStack: null, location: null, at: null }
    case "pending":
      return { group, state: p.running ? "running" : "pending", attempts: null, error: null, errorStack: null, location: null, at: null }
    case "retrying": {
      const d = p.delivery
      return {
        group,
        state: d.state === "retry" ? "retrying" : d.state,
        attempts: d.attempts,
        error: d.lastError,
        errorStack: d.lastErrorStack,
        location: sibLocation(d.lastErrorStack, d.lastError),
        at: d.nextAttemptAt
      }
    }
    case "dead": {
      const d = p.deadLetter
      return {
        group,
        state: "dead",
        attempts: d.attempts,
        error: d.errorMessage,
        errorStack: d.errorStack,
        location: sibLocation(d.errorStack, d.errorMessage),
        at: d.deadAt
      }
    }
  }
}

export const eventInfoJson = (info: EventInfo): EventInfoJson => ({
  event: eventJson(info.event),
  groups: info.groups.map((g) => progressJson(g.group, g.progress))
})

export const deadLetterJson = (d: DeadLetter, event: Event | undefined): DeadLetterJson => ({
  group: d.group,
  topic: d.topic,
  seq: d.seq,
  eventId: d.eventId,
  key: d.key,
  attempts: d.attempts,
  errorMessage: d.errorMessage,
  errorStack: d.errorStack,
  location: sibLocation(d.errorStack, d.errorMessage),
  firstFailedAt: d.firstFailedAt,
  lastFailedAt: d.lastFailedAt,
  deadAt: d.deadAt,
  holdsKey: d.holdsKey,
  found: event !== undefined,
  ...payloadOrPreview(event?.payload ?? null)
})

const payloadOrPreview = (payload: unknown): Pick<DeadLetterJson, "payload" | "preview"> => {
  const text = JSON.stringify(payload) ?? "null"
  return text.length <= payloadPreviewChars ? { payload, preview: null } : { payload: null, preview: { text: text.slice(0, payloadPreviewChars), chars: text.length } }
}

export const groupJson = (g: GroupInfo): GroupJson => ({
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
  owner: g.owner === undefined ? null : { pid: g.owner.pid, host: g.owner.host, leaseExpiresAt: g.owner.leaseExpiresAt }
})

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)

/**
 * The page's order of groups: by group, topic, then partition (Inspect gives a partitioned group's
 * rows in the order of their stored names, where `#10` comes before `#2`).
 */
export const byGroup = (a: GroupJson, b: GroupJson): number =>
  compare(a.group, b.group) || compare(a.topic, b.topic) || (a.partition ?? -1) - (b.partition ?? -1)

/** The members with the partitions each holds now: the rows of its group whose lease it owns. */
export const memberJson = (m: GroupMember, groups: ReadonlyArray<GroupInfo>): MemberJson => ({
  group: m.group,
  member: m.member,
  pid: m.pid,
  host: m.host,
  partitions: partitionsHeld(m, groups),
  joinedAt: m.joinedAt,
  lastBeatAt: m.updatedAt
})

/** A topic's figures as the feed keeps them (they move between full counts). */
export interface TopicFigures {
  readonly events: number
  readonly headSeq: number
  readonly lastPublishedAt: number | null
  readonly ratePerSec: number | null
}

export const topicJson = (t: TopicInfo, figures: TopicFigures): TopicJson => ({
  name: t.name,
  events: figures.events,
  firstSeq: t.stats?.firstSeq ?? null,
  headSeq: figures.headSeq,
  lastPublishedAt: figures.lastPublishedAt,
  ratePerSec: figures.ratePerSec,
  description: t.settings.description ?? null,
  compaction: t.settings.compaction
})

const nodeJson = (node: CausationNode): TraceNodeJson => {
  if (node.repeated) return { id: node.id, kind: "repeated" }
  if (node.info === undefined) return { id: node.id, kind: "missing" }
  return { id: node.id, kind: "event", info: eventInfoJson(node.info), lagMs: node.lagMs ?? null, children: node.children.map(nodeJson), more: node.more }
}

const branch = (b: CausationBranch) => b.children.map(nodeJson)

export const traceJson = (t: CausationTree): TraceJson => ({
  root: eventInfoJson(t.root),
  causes: branch(t.causes),
  moreCauses: t.causes.more,
  effects: branch(t.effects),
  moreEffects: t.effects.more,
  truncated: t.truncated
})
