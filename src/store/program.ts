/**
 * Store programs: the store's policy written once, as generators that yield the statements they
 * need and receive each result back. A dialect's `Driver` runs them: SQLite steps through a
 * program synchronously inside one transaction; an asynchronous driver would await each statement.
 * The policy never sees a connection, so it cannot depend on one dialect's API.
 *
 *   function* cursorFloor(q, group, topic) {
 *     const row = yield* get<CursorsTable>(q.getCursor, { topic, group })
 *     return row === undefined ? 0 : num(row.floor)
 *   }
 */
import type { Event, EventDraft } from "./records.ts"
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

/** A store program: yields statements, receives their answers, returns `A`. */
export type Program<A> = Generator<Statement, A, unknown>

type Params<P extends string> = { readonly [K in P]: unknown }

export function* run<P extends string>(template: Template<P>, values: Params<P>): Program<number> {
  return (yield { kind: "run", template, values }) as number
}

export function* get<R, P extends string = string>(template: Template<P>, values: Params<P>): Program<R | undefined> {
  return (yield { kind: "get", template, values }) as R | undefined
}

export function* all<R, P extends string = string>(template: Template<P>, values: Params<P>): Program<ReadonlyArray<R>> {
  return (yield { kind: "all", template, values }) as ReadonlyArray<R>
}

export function* events<P extends string>(template: Template<P>, values: Params<P>): Program<EventRows> {
  return (yield { kind: "events", template, values }) as EventRows
}

export function* append(drafts: ReadonlyArray<EventDraft>): Program<ReadonlyArray<number | undefined>> {
  return (yield { kind: "append", drafts }) as ReadonlyArray<number | undefined>
}

/** Runs a program synchronously, answering each statement with `answer` (a synchronous driver). */
export const runSync = <A>(program: Program<A>, answer: (statement: Statement) => unknown): A => {
  let step = program.next()
  while (!step.done) step = program.next(answer(step.value))
  return step.value
}
