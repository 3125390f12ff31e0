/**
 * The runtime's typed failures, each with a message a person can act on. A failure of any of these
 * kinds changed nothing: a refused publish wrote nothing, a refused subscribe started nothing.
 */
import * as Data from "effect/Data"
import type { OptionProblem } from "../options/spec.ts"

/** A publish was refused before anything was written. */
export class PublishError extends Data.TaggedError("PublishError")<{
  readonly topic: string
  readonly reason: "topic" | "payload" | "size" | "headers" | "key" | "tags" | "options" | "schema" | "settled" | "id"
  readonly detail: string
  /** In `publishAll`, the index of the refused item. */
  readonly item?: number | undefined
  /** What was refused when it was not a publish: a handler's transaction opened after its delivery settled. */
  readonly operation?: "transaction" | undefined
}> {
  override get message(): string {
    return this.operation === "transaction"
      ? `cannot open the handler's transaction: ${this.detail}`
      : `cannot publish to ${JSON.stringify(this.topic)}: ${this.detail}`
  }
}

/** A subscription was refused (bad options, unknown start position, group already running here). */
export class SubscribeError extends Data.TaggedError("SubscribeError")<{
  readonly group: string
  readonly detail: string
  /** When an option is at fault: which, and why (structured, for front ends to render their way). */
  readonly problem?: OptionProblem | undefined
}> {
  override get message(): string {
    return `cannot subscribe group ${JSON.stringify(this.group)}: ${this.detail}`
  }
}

/** A topic definition was refused. */
export class TopicError extends Data.TaggedError("TopicError")<{
  readonly topic: string
  readonly detail: string
  /** What was refused (default `define`). */
  readonly operation?: "define" | "purge" | "delete" | "read" | "watch" | "cursor" | undefined
  /** When an option is at fault: which, and why (structured, for front ends to render their way). */
  readonly problem?: OptionProblem | undefined
}> {
  override get message(): string {
    const topic = JSON.stringify(this.topic)
    return this.operation === "cursor" ? `cannot move a cursor on topic ${topic}: ${this.detail}` : `cannot ${this.operation ?? "define"} topic ${topic}: ${this.detail}`
  }
}

/** An ack or nack that does not match an outstanding delivery. */
export class AckError extends Data.TaggedError("AckError")<{
  readonly group: string
  readonly eventId: string
  readonly detail: string
}> {
  override get message(): string {
    return `cannot acknowledge event ${this.eventId} in group ${JSON.stringify(this.group)}: ${this.detail}`
  }
}

/** An operation on a group (cursor move, requeue) that its current state does not allow. */
export class GroupError extends Data.TaggedError("GroupError")<{
  readonly group: string
  readonly detail: string
}> {
  override get message(): string {
    // A query that named no group (or not a valid one) is refused as itself.
    return this.group === "" ? this.detail : `group ${JSON.stringify(this.group)}: ${this.detail}`
  }
}

/** The bus was closed; nothing more can be published or subscribed. */
export class BusClosedError extends Data.TaggedError("BusClosedError")<{
  readonly operation: string
}> {
  override get message(): string {
    return `cannot ${this.operation}: the bus is closed`
  }
}

/** A compaction or retention run was refused before it deleted anything (unknown topic, wrong settings). */
export class MaintenanceError extends Data.TaggedError("MaintenanceError")<{
  readonly operation: "compact" | "prune"
  readonly topic: string
  readonly detail: string
}> {
  override get message(): string {
    return `cannot ${this.operation} ${JSON.stringify(this.topic)}: ${this.detail}`
  }
}

/** Bus options that cannot be used (a bad maintenance setting, poll interval or payload limit). */
export class BusOptionsError extends Data.TaggedError("BusOptionsError")<{
  readonly detail: string
  /** Which option is at fault, and why (structured). */
  readonly problem?: OptionProblem | undefined
}> {
  override get message(): string {
    return `invalid bus options: ${this.detail}`
  }
}
