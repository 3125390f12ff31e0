/**
 * The store's admin operations as people see groups: a partitioned group's units (each stored
 * under `<group>#<p>`, see `group/units.ts`) folded back into their group. Dead letters, delivery
 * records and positions of a unit come back named by their group (positions with their
 * partition); an operation on a group (requeue, drop, move a cursor) applies to each of its
 * stored names. The bus's admin methods and `Inspect` read through it; the groups themselves use
 * the store as it is.
 */
import * as Effect from "effect/Effect"
import type { DeadLetter, Delivery, GroupPosition } from "../store/records.ts"
import type { AdminStore, StoreShape } from "../store/Store.ts"
import type { StoreError } from "../store/storeErrors.ts"
import { isOfGroup, parseUnit } from "./group/units.ts"

export interface FoldedAdmin extends AdminStore {
  /**
   * The names `group`'s state is stored under: its units (those with cursors), then the group's
   * own name (state it had when consumed whole, or had no units yet).
   */
  readonly namesOf: (group: string) => Effect.Effect<ReadonlyArray<string>, StoreError>
}

const bySeq = <A extends { readonly group: string; readonly seq: number }>(a: A, b: A) =>
  a.group < b.group ? -1 : a.group > b.group ? 1 : a.seq - b.seq

const renamed = <A extends { readonly group: string }>(record: A): A => {
  const { group, partition } = parseUnit(record.group)
  return partition === undefined ? record : { ...record, group }
}

export const foldUnits = (store: StoreShape): FoldedAdmin => {
  const { admin } = store

  // One read of the cursors table's names, not every cursor with its counts (this runs per metrics scrape and getCursor).
  const namesOf = (group: string) =>
    Effect.map(admin.cursorGroupsWithPrefix(`${group}#`), (names) => {
      const units = names.filter((name) => isOfGroup(name, group))
      return [...units.sort((a, b) => (parseUnit(a).partition ?? 0) - (parseUnit(b).partition ?? 0)), group]
    })

  /** The records of each stored name of `group` (every group when undefined), folded and ordered. */
  const perName = <A extends { readonly group: string; readonly seq: number }>(
    group: string | undefined,
    read: (name: string | undefined) => Effect.Effect<ReadonlyArray<A>, StoreError>
  ) =>
    Effect.gen(function*() {
      const names = group === undefined ? [undefined] : yield* namesOf(group)
      const out: Array<A> = []
      for (const name of names) for (const r of yield* read(name)) out.push(renamed(r))
      return out.sort(bySeq)
    })

  const groupPositions: Effect.Effect<ReadonlyArray<GroupPosition>, StoreError> = Effect.map(admin.groupPositions, (positions) =>
    positions.map((p) => {
      const { group, partition } = parseUnit(p.cursor.group)
      return partition === undefined ? p : { ...p, cursor: { ...p.cursor, group }, partition }
    }))

  return {
    ...admin,
    namesOf,
    groupPositions,
    deadLetters: (query) =>
      Effect.map(
        perName<DeadLetter>(query.group, (name) => admin.deadLetters({ ...query, group: name })),
        (all) => (query.limit === undefined ? all : all.slice(0, query.limit))
      ),
    deliveries: (query) =>
      query.group === undefined
        ? Effect.map(admin.deliveries(query), (all) => all.map(renamed))
        : perName<Delivery>(query.group, (name) => admin.deliveries({ ...query, group: name })),
    requeue: (group, seqs) =>
      Effect.gen(function*() {
        const out: Array<Delivery> = []
        for (const name of yield* namesOf(group)) for (const d of yield* admin.requeue(name, seqs)) out.push(renamed(d))
        return out.sort(bySeq)
      }),
    dropDeadLetter: (group, seq) =>
      Effect.gen(function*() {
        for (const name of yield* namesOf(group)) if (yield* admin.dropDeadLetter(name, seq)) return true
        return false
      })
  }
}
