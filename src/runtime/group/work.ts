/**
 * One event on its way through a group (`Work`), the stub that stands for it while it is parked
 * behind a busy key (`Parked`), and what is derived from it as plain data: its delivery row, a
 * run's outcome, the group filter's verdict, and the failure texts that attempt and dead-letter
 * records keep. No fibers, no store.
 */
import * as Cause from "effect/Cause"
import type * as Fiber from "effect/Fiber"
import type { Delivery, Event } from "../../store/records.ts"
import type { HandlerTransaction } from "../../store/Store.ts"
import type { GroupTopicSeries } from "../../observability/BusMetrics.ts"
import type { AckFloor } from "../AckFloor.ts"
import type { Prepared } from "../publish.ts"

/** A handler's own settlement of its run (`ctx.ack`, `ctx.nack`, or the handle's). */
export type Decision = { readonly _tag: "ack" } | { readonly _tag: "nack"; readonly delayMs: number | undefined }

/** How a run ended, as the settling step sees it. */
export type Outcome =
  | { readonly _tag: "ack" }
  | { readonly _tag: "fail"; readonly message: string; readonly stack: string | null; readonly delayMs?: number | undefined }

/**
 * One event on its way through the group. Made by `new`, not by an object literal: V8 pretenures a
 * literal's allocation site when a young-generation collection finds most of its objects alive,
 * which a buffer full of fresh work can cause (see `PlainEvent` in store/records.ts).
 */
export class Work {
  readonly event: Event
  /** The ack floor it counts against; undefined for requeued dead letters (below the floor). */
  readonly floor: AckFloor | undefined
  /** Runs started, including the current one. */
  attempts: number
  /** Record each start before running (suspects, requeued events, a crashed owner's region). */
  readonly precise: boolean
  /** It may have been running when its owner crashed: it runs while suspects are isolated. */
  suspect: boolean = false
  readonly requeued: boolean
  /** A delivery row exists for it (deleted when it is acked). */
  hasRow: boolean
  notBefore: number
  firstFailedAt: number | null
  lastFailedAt: number | null
  lastError: string | null
  lastErrorStack: string | null
  /** The filter threw when the event was fetched; the worker evaluates it again. */
  filterPending: boolean = false
  /**
   * Its last attempt was charged by a crash that cannot tell which fetched event was running (a
   * suspect's charge), not by a run of its own: it runs once more before that attempt can make it
   * a dead letter (an event that never ran is never dead-lettered by a crash).
   */
  crashCharged: boolean = false
  /** Payload bytes it holds in the buffer (its page's average; 0 when read back alone). */
  bytes: number = 0
  /** Increments per run; an ack from an earlier run is refused. */
  run: number = 0
  decision: Decision | undefined = undefined
  onDecision: (() => void) | undefined = undefined
  /** When the current run times out (start + ackTimeoutMs), on the monotonic clock. */
  deadline: number = 0
  /** The worker running it, while it runs. */
  fiber: Fiber.Fiber<unknown, unknown> | undefined = undefined
  /** Why the current run was ended from outside (its ack timeout, the group stopping), if it was. */
  cutShort: "timeout" | "stop" | undefined = undefined
  /** The handler returned (in manual mode the delivery then waits for its ack). */
  handlerDone: boolean = false
  /** Events the current run published, written with its ack. */
  publishes: Array<Prepared> | undefined = undefined
  /** The database transaction the current run opened (`ctx.transaction`), committed with its ack. */
  tx: HandlerTransaction | undefined = undefined
  /** Its (topic, group) metrics, looked up at its first run (undefined with metrics off). */
  series: GroupTopicSeries | undefined = undefined
  /** When the current run started (`performance.now()`; 0 when no run is measured). */
  startedAt: number = 0
  /** Its place among the runs in flight (`Runs`, a list in start order): in it, and its neighbours. */
  inFlight: boolean = false
  olderRun: Work | undefined = undefined
  newerRun: Work | undefined = undefined

  constructor(event: Event, floor: AckFloor | undefined, row: Delivery | undefined, precise: boolean) {
    this.event = event
    this.floor = floor
    this.attempts = row?.attempts ?? 0
    this.precise = precise
    this.requeued = floor === undefined
    this.hasRow = row !== undefined
    this.notBefore = row?.nextAttemptAt ?? 0
    this.firstFailedAt = row?.firstFailedAt ?? null
    this.lastFailedAt = row?.lastFailedAt ?? null
    this.lastError = row?.lastError ?? null
    this.lastErrorStack = row?.lastErrorStack ?? null
  }
}

/**
 * An event waiting behind a blocked key, kept as its seq only so it does not hold the buffer (and
 * its payload) while the key is held or retrying; it is read again when its turn comes.
 */
export interface Parked {
  readonly parked: true
  readonly seq: number
  readonly topic: string
  readonly key: string | undefined
  readonly floor: AckFloor
  readonly filterPending: boolean
  /** Read back as precise work (each start recorded): recovered after a crash. */
  readonly precise?: boolean
}

/** What waits in a key's lane. */
export type Slot = Work | Parked

export const isParked = (s: Slot): s is Parked => (s as Parked).parked === true

/** The key a slot's lane is chosen by. */
export const keyOfSlot = (s: Slot): string | undefined => (isParked(s) ? s.key : s.event.key)

/** Work for `event`, resuming the attempts its stored delivery row records (if any). */
export const newWork = (event: Event, floor: AckFloor | undefined, row: Delivery | undefined, precise: boolean): Work =>
  new Work(event, floor, row, precise)

/** The delivery row that records `work` in `state`. */
export const deliveryRow = (group: string, work: Work, state: Delivery["state"]): Delivery => ({
  group,
  topic: work.event.topic,
  seq: work.event.seq,
  eventId: work.event.id,
  attempts: work.attempts,
  state,
  nextAttemptAt: work.notBefore > 0 ? work.notBefore : null,
  lastError: work.lastError,
  lastErrorStack: work.lastErrorStack,
  firstFailedAt: work.firstFailedAt,
  lastFailedAt: work.lastFailedAt
})

/** The error an attempt is charged with when its process died while it may have been running. */
export const stoppedWhileRunning = "the process stopped while the handler was running"

/** A failed outcome with no stack (timeouts, nacks, interruptions). */
export const failure = (message: string, delayMs?: number): Outcome => ({ _tag: "fail", message, stack: null, delayMs })

/**
 * The group filter on one event: run it, skip it (done without a delivery), or the filter threw
 * (a failed attempt when a worker evaluates it; where events are fetched, the worker is left to
 * evaluate it again).
 */
export const filterVerdict = (filter: (event: Event) => boolean, event: Event): "run" | "skip" | Outcome => {
  try {
    return filter(event) ? "run" : "skip"
  } catch (e) {
    try {
      return { _tag: "fail", message: `filter threw: ${e instanceof Error ? e.message : String(e)}`, stack: e instanceof Error ? e.stack ?? null : null }
    } catch {
      return failure("filter threw: an error that cannot be printed")
    }
  }
}

const maxMessage = 8_192
const maxStack = 32_768

const clip = (text: string, max: number): string => (text.length > max ? `${text.slice(0, max)}... (${text.length - max} more characters)` : text)

/** Text for any thrown value, whatever it is (never throws itself). */
const textOf = (v: unknown): string => {
  try {
    if (typeof v === "string") return v
    if (typeof v === "number" || typeof v === "boolean" || typeof v === "bigint" || v === null || v === undefined) return String(v)
    const json = JSON.stringify(v)
    return json ?? String(v)
  } catch {
    try {
      return String(v)
    } catch {
      return "an error that cannot be printed"
    }
  }
}

/** How many `cause`s of an error the record follows. */
const maxCauses = 5

/** An error's causes (`new Error(m, { cause })`), each as "Caused by: " and its stack or text (never throws). */
const causeChain = (e: Error): string => {
  let out = ""
  const seen = new Set<unknown>([e])
  let current: unknown = e
  try {
    for (let i = 0; i < maxCauses; i++) {
      const cause = (current as { cause?: unknown }).cause
      if (cause === undefined || seen.has(cause)) break
      seen.add(cause)
      const text = cause instanceof Error && typeof cause.stack === "string" ? cause.stack : textOf(cause)
      out += `\nCaused by: ${text}`
      if (!(cause instanceof Error)) break
      current = cause
    }
  } catch {
    out += "\nCaused by: an error that cannot be printed"
  }
  return out
}

/** The message and stack of a handler failure, as the dead-letter record keeps them (with its causes). */
export const errorText = (cause: Cause.Cause<unknown>): { message: string; stack: string | null } => {
  try {
    const e = Cause.squash(cause)
    if (e instanceof Error) {
      let message: string
      try {
        message = textOf(e.message) || textOf(e.name)
      } catch {
        message = "an error whose message cannot be read"
      }
      let stack: string | null = null
      try {
        stack = typeof e.stack === "string" ? e.stack : null
      } catch {
        stack = null
      }
      const causes = causeChain(e)
      if (causes !== "") stack = `${stack ?? `Error: ${message}`}${causes}`
      return { message: clip(message || "Error", maxMessage), stack: stack === null ? null : clip(stack, maxStack) }
    }
    return { message: clip(textOf(e), maxMessage), stack: null }
  } catch {
    return { message: "an error that cannot be printed", stack: null }
  }
}
