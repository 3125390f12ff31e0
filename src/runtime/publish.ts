/**
 * Turning a publish request into an event draft: every check a publish must pass happens here,
 * before anything is written (topic name, options, key, headers, tags, JSON safety, size, the
 * topic's schema), and the id and timestamp are chosen. Pure apart from the id generator.
 */
import { maxIdLength, maxKeyLength, publishOptionNames } from "../options/publishSpec.ts"
import type { Event, EventDraft, Json } from "../store/records.ts"
import { PublishError } from "./busErrors.ts"
import { jsonProblem, utf8Length } from "./json.ts"
import { type Topic, topicNameProblem } from "./Topic.ts"

export interface PublishOptions {
  /** The event id (default: a new UUIDv7). Publishing an id that exists returns the stored event. */
  readonly id?: string | undefined
  /** Orders events (`ordering: "key"`), chooses the partition, and is the compaction key. */
  readonly key?: string | undefined
  readonly headers?: Readonly<Record<string, string>> | undefined
  readonly tags?: ReadonlyArray<string> | undefined
  /** The id(s) of the event(s) that caused this one. */
  readonly causedBy?: string | ReadonlyArray<string> | undefined
}

/** One event of a `publishAll` batch. */
export interface PublishItem extends PublishOptions {
  readonly topic: string
  readonly payload: unknown
}

export interface PublishLimits {
  readonly maxPayloadBytes: number
}

/** Where a prepared event's id, time and publisher come from. */
export interface Stamp {
  readonly id: () => string
  readonly ts: number
  readonly sid: string
}

/** A checked event: the row to write and the parts of the record the caller gets back. */
export interface Prepared {
  readonly draft: EventDraft
  readonly payload: Json
  readonly key: string | undefined
  readonly headers: Readonly<Record<string, string>> | undefined
  readonly causedBy: ReadonlyArray<string> | undefined
  readonly tags: ReadonlyArray<string> | undefined
}

const optionNames = publishOptionNames

const fail = (topic: string, reason: PublishError["reason"], detail: string) => new PublishError({ topic, reason, detail })

const stringList = (v: unknown): v is ReadonlyArray<string> => Array.isArray(v) && v.every((x) => typeof x === "string")

/** The number of characters (code points) of `text`. */
const characters = (text: string): number => {
  let n = 0
  for (const _ of text) n++
  return n
}

/** Checks one publish; returns the prepared event or the reason it is refused. */
export const prepare = (
  topicName: string,
  payload: unknown,
  options: PublishOptions | undefined,
  topic: Topic | undefined,
  limits: PublishLimits,
  next: Stamp
): Prepared | PublishError => {
  const nameProblem = topicNameProblem(topicName)
  if (nameProblem !== undefined) return fail(String(topicName), "topic", nameProblem)
  const given = options ?? {}
  if (typeof given !== "object" || given === null || Array.isArray(given)) {
    return fail(topicName, "options", "publish options must be an object")
  }
  // A topic with a key field keys an event published without a key by that payload field.
  const derived = given.key === undefined ? topic?.keyOf(payload) : undefined
  const o: PublishOptions = derived === undefined ? given : { ...given, key: derived }
  for (const name in given) {
    if (!optionNames.includes(name) && (given as Record<string, unknown>)[name] !== undefined) {
      return fail(topicName, "options", `unknown publish option ${JSON.stringify(name)}; valid options: ${optionNames.join(", ")}`)
    }
  }
  // Lengths are characters (code points), as the README counts them: 255 emoji are 510 UTF-16 units.
  if (o.id !== undefined && (typeof o.id !== "string" || o.id.length === 0 || (o.id.length > maxIdLength && characters(o.id) > maxIdLength))) {
    return fail(topicName, "options", `id must be a non-empty string of at most ${maxIdLength} characters`)
  }
  // SQLite stores text as UTF-8, where a lone surrogate becomes U+FFFD: two different ids (or keys)
  // would then be stored as the same one.
  if (o.id !== undefined && !o.id.isWellFormed()) return fail(topicName, "options", "id contains a lone UTF-16 surrogate (not valid Unicode text)")
  // Postgres text cannot hold U+0000 (SQLite would, so a program moving to Postgres would break).
  if (o.id !== undefined && o.id.includes("\u0000")) return fail(topicName, "options", "id contains the NUL character (U+0000), which the database cannot store")
  if (o.key !== undefined && (typeof o.key !== "string" || (o.key.length > maxKeyLength && characters(o.key) > maxKeyLength))) {
    return fail(topicName, "key", `key must be a string of at most ${maxKeyLength} characters, got ${
      typeof o.key === "string" ? `${characters(o.key)} characters` : o.key === null ? "null (leave key out for an event without a key)" : typeof o.key
    }`)
  }
  if (o.key !== undefined && !o.key.isWellFormed()) return fail(topicName, "key", "key contains a lone UTF-16 surrogate (not valid Unicode text)")
  if (o.key !== undefined && o.key.includes("\u0000")) return fail(topicName, "key", "key contains the NUL character (U+0000), which the database cannot store")
  if (topic?.options.compaction === true && o.key === undefined) {
    return fail(topicName, "key", topic.options.keyField === undefined
      ? "the topic is compacted, so every event needs a key (publish with { key })"
      : `the topic is compacted, so every event needs a key: publish with { key } or a payload field ${JSON.stringify(topic.options.keyField)}`)
  }
  let headersText: string | null = null
  if (o.headers !== undefined) {
    if (typeof o.headers !== "object" || o.headers === null || Array.isArray(o.headers) || Object.getPrototypeOf(o.headers) !== Object.prototype) {
      return fail(topicName, "headers", "headers must be a plain object of string values")
    }
    for (const k in o.headers) {
      const v = (o.headers as Record<string, unknown>)[k]
      if (typeof v !== "string") {
        return fail(topicName, "headers", `header ${JSON.stringify(k)} must be a string, got ${v === null ? "null" : typeof v}`)
      }
    }
    headersText = Object.keys(o.headers).length === 0 ? null : JSON.stringify(o.headers)
  }
  if (o.tags !== undefined && !stringList(o.tags)) return fail(topicName, "tags", "tags must be an array of strings")
  const causedBy = o.causedBy === undefined ? undefined : typeof o.causedBy === "string" ? [o.causedBy] : o.causedBy
  if (causedBy !== undefined && !stringList(causedBy)) {
    return fail(topicName, "options", "causedBy must be an event id or an array of event ids")
  }
  let payloadText: string
  try {
    const problem = jsonProblem(payload, "payload", limits.maxPayloadBytes)
    if (problem !== undefined) return fail(topicName, problem.reason, problem.detail)
    payloadText = JSON.stringify(payload)
  } catch (e) {
    return fail(topicName, "payload", `reading the payload failed: ${e instanceof Error ? e.message : String(e)}`)
  }
  const tagsText = o.tags === undefined || o.tags.length === 0 ? null : JSON.stringify(o.tags)
  const causedByText = causedBy === undefined || causedBy.length === 0 ? null : JSON.stringify(causedBy)
  // Headers, tags and causes count toward the limit too: the whole stored event is bounded.
  const extra = (headersText?.length ?? 0) + (tagsText?.length ?? 0) + (causedByText?.length ?? 0) + (o.key?.length ?? 0)
  if (payloadText.length + extra > limits.maxPayloadBytes / 3) {
    const bytes = utf8Length(payloadText) + (headersText === null ? 0 : utf8Length(headersText)) +
      (tagsText === null ? 0 : utf8Length(tagsText)) + (causedByText === null ? 0 : utf8Length(causedByText)) + utf8Length(o.key ?? "")
    if (bytes > limits.maxPayloadBytes) {
      return fail(topicName, "size", `the event is ${bytes} bytes as JSON (payload, headers, tags, causes and key), over the limit of ${limits.maxPayloadBytes} bytes`)
    }
  }
  // On a compacted topic a null payload is a tombstone (the key's deletion), not a value to check.
  if (topic !== undefined && !(payload === null && topic.options.compaction === true)) {
    const schemaProblem = topic.checkPayload(payload)
    if (schemaProblem !== undefined) return fail(topicName, "schema", schemaProblem)
  }
  const id = o.id ?? next.id()
  const partition = topic?.partitionOf(o.key, id)
  return {
    draft: {
      id,
      ts: next.ts,
      topic: topicName,
      key: o.key ?? null,
      partition: partition ?? null,
      headers: headersText,
      payload: payloadText,
      causedBy: causedByText,
      tags: tagsText,
      sid: next.sid,
      idGiven: o.id === undefined ? undefined : true
    },
    payload: payload as Json,
    key: o.key,
    headers: headersText === null ? undefined : o.headers,
    causedBy: causedBy === undefined || causedBy.length === 0 ? undefined : causedBy,
    tags: o.tags === undefined || o.tags.length === 0 ? undefined : o.tags
  }
}

/**
 * An event a handler published: written with the handler's ack, when it gets its `seq`. Until
 * then it is the record without one.
 */
export type PendingEvent = Omit<Event, "seq">

/** The record of a prepared event that is not written yet. */
export const pendingRecordOf = (p: Prepared): PendingEvent => {
  const { seq: _, ...pending } = recordOf(p, 0)
  return pending
}

/** The stored record of a prepared event that was written with `seq`. */
export const recordOf = (p: Prepared, seq: number): Event => {
  const d = p.draft
  const event: {
    id: string; seq: number; ts: number; topic: string; payload: Json
    key?: string; partition?: number; headers?: Readonly<Record<string, string>>
    causedBy?: ReadonlyArray<string>; tags?: ReadonlyArray<string>; sid?: string
  } = { id: d.id, seq, ts: d.ts, topic: d.topic, payload: p.payload }
  if (p.key !== undefined) event.key = p.key
  if (d.partition !== null) event.partition = d.partition
  if (p.headers !== undefined) event.headers = p.headers
  if (p.causedBy !== undefined) event.causedBy = p.causedBy
  if (p.tags !== undefined) event.tags = p.tags
  if (d.sid !== null) event.sid = d.sid
  return event
}
