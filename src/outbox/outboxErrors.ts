/**
 * The outbox's typed failures. `OutboxAddError` is a message refused by `add` before anything was
 * written; `OutboxOptionsError` is a bad option given to an outbox or a relay, reported when it is
 * made; `OutboxDbError` is a failure of the application's database (the one holding the outbox
 * table), naming the operation.
 */
import * as Data from "effect/Data"
import type { OptionProblem } from "../options/spec.ts"
import type { PublishError } from "../runtime/busErrors.ts"

const describe = (cause: unknown): string =>
  cause instanceof Error ? cause.message : typeof cause === "string" ? cause : JSON.stringify(cause) ?? String(cause)

/** A message `add` refused; nothing was written. */
export class OutboxAddError extends Data.TaggedError("OutboxAddError")<{
  readonly table: string
  /** The message's topic (empty when the message is not even an object). */
  readonly topic: string
  /** What was wrong: the reasons a publish is refused for, or `message` for its shape. */
  readonly reason: PublishError["reason"] | "message"
  readonly detail: string
  /** In `addAll`, the index of the refused message. */
  readonly item?: number | undefined
}> {
  override get message(): string {
    const where = this.item === undefined ? "" : `message ${this.item}: `
    const topic = this.topic === "" ? "" : ` (topic ${JSON.stringify(this.topic)})`
    return `cannot add to outbox ${this.table}${topic}: ${where}${this.detail}`
  }
}

/** An outbox or relay option that cannot be used. */
export class OutboxOptionsError extends Data.TaggedError("OutboxOptionsError")<{
  /** `outbox` or `relay`. */
  readonly of: "outbox" | "relay"
  readonly detail: string
  /** Which option is at fault, and why (structured). */
  readonly problem?: OptionProblem | undefined
}> {
  override get message(): string {
    return `invalid ${this.of} options: ${this.detail}`
  }
}

/** The application's database failed during `op` (ensure, add, claim, markSent, prune, ...). */
export class OutboxDbError extends Data.TaggedError("OutboxDbError")<{
  readonly table: string
  readonly op: string
  readonly cause: unknown
}> {
  override get message(): string {
    return `outbox ${this.table}: ${this.op} failed: ${describe(this.cause)}`
  }
}
