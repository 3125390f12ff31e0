/**
 * Store programs: the store's policy written once, as generators that yield the statements they
 * need and receive each result back. A dialect's `Driver` runs them: SQLite steps through a
 * program synchronously inside one transaction; an asynchronous driver would await each statement.
 * The policy never sees a connection, so it cannot depend on one dialect's API.
 *
 *   function* cursorFloor(q, group, topic): Program<number> {
 *     const row = (yield get(q.getCursor, { topic, group })) as CursorsTable | undefined
 *     return row === undefined ? 0 : num(row.floor)
 *   }
 */
import { decodeEventTuple, type Event, type EventDraft, type EventTuple } from "./records.ts"
import type { Template } from "./template.ts"

type Values = { readonly [name: string]: unknown }

/** One statement a program asks for, and the kind of answer it expects. */
export type Statement =
  /** Runs a write; answers how many rows it changed. */
  | { readonly kind: "run"; readonly template: Template<string>; readonly values: Values }
  /** Answers the first row, or undefined. */
  | { readonly kind: "get"; readonly template: Template<string>; readonly values: Values }
  /** Answers every row. */
  | { readonly kind: "all"; readonly template: Template<string>; readonly values: Values }
  /** Runs a query selecting `eventColumns`; answers an `EventRows` (decoded events and their payload bytes). */
  | { readonly kind: "events"; readonly template: Template<string>; readonly values: Values }
  /** Inserts events unless their id exists; answers, per draft, its new seq or undefined (the id existed). */
  | { readonly kind: "append"; readonly drafts: ReadonlyArray<EventDraft> }

/** Decoded events with the bytes of their stored payloads. */
export interface EventRows {
  readonly events: ReadonlyArray<Event>
  readonly bytes: number
}

/** Decodes the rows of an `events` statement (`eventColumns` order), counting their payload bytes. */
export const decodeEventRows = (rows: ReadonlyArray<EventTuple>): EventRows => {
  const events = new Array<Event>(rows.length)
  let bytes = 0
  for (let i = 0; i < rows.length; i++) {
    events[i] = decodeEventTuple(rows[i]!)
    bytes += rows[i]![7].length
  }
  return { events, bytes }
}

/** A store program: yields statements, receives their answers, returns `A`. */
export type Program<A> = Generator<Statement, A, unknown>

type Params<P extends string> = { readonly [K in P]: unknown }

// Statement constructors. A program yields one and casts the answer to what the kind promises
// (`yield*` through a helper generator would type it, at the price of a generator per statement
// on the commit path, measured at about a fifth of a commit's time).

/** A write; answers the number of rows it changed. */
export const run = <P extends string>(template: Template<P>, values: Params<P>): Statement => ({ kind: "run", template, values })

/** Answers the first row (`R`), or undefined. */
export const get = <P extends string>(template: Template<P>, values: Params<P>): Statement => ({ kind: "get", template, values })

/** Answers every row (`ReadonlyArray<R>`). */
export const all = <P extends string>(template: Template<P>, values: Params<P>): Statement => ({ kind: "all", template, values })

/** Answers an `EventRows`. */
export const events = <P extends string>(template: Template<P>, values: Params<P>): Statement => ({ kind: "events", template, values })

/** Answers `ReadonlyArray<number | undefined>`: per draft, its new seq, or undefined when its id existed. */
export const append = (drafts: ReadonlyArray<EventDraft>): Statement => ({ kind: "append", drafts })

/** Runs a program synchronously, answering each statement with `answer` (a synchronous driver). */
export const runSync = <A>(program: Program<A>, answer: (statement: Statement) => unknown): A => {
  let step = program.next()
  while (!step.done) step = program.next(answer(step.value))
  return step.value
}
