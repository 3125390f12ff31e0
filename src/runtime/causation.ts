/**
 * An event's causation tree, read from the store alone, as plain data: its causes (the events its
 * `causedBy` names, recursively up to the roots) and its effects (the events whose `causedBy`
 * names it, recursively down), each with its progress in every group (`Inspect.event`) and the
 * time from cause to effect. Bounded in depth, in children per event, in events in all and in the
 * events searched for effects, so fan-outs and `causedBy` cycles end. `sib trace` prints it; the
 * ops page (`observability/web`) sends it as JSON. Rendering belongs to them, not here.
 */
import * as Effect from "effect/Effect"
import type { Event } from "../store/records.ts"
import type { AdminStore } from "../store/Store.ts"
import type { StoreError } from "../store/storeErrors.ts"
import type { EventInfo, InspectShape } from "./Inspect.ts"

/** How far a trace goes. */
export interface CausationBounds {
  /** Levels of causes and of effects below the event. */
  readonly depth: number
  /** Children kept per event (the rest are counted in `more`). */
  readonly breadth: number
  /** Events after a cause (by seq) searched for its effects: `caused_by` has no index. */
  readonly scan: number
  /** Events in all, both directions together, the event itself included (at least 1). */
  readonly maxEvents: number
}

export const defaultCausationBounds: CausationBounds = { depth: 10, breadth: 20, scan: 100_000, maxEvents: 500 }

/**
 * One event of the tree. `info` is undefined when the id is not stored (pruned, compacted, or never
 * published); `repeated` when it is in this direction's tree already (a diamond or a cycle), with
 * no children. `lagMs`: from the cause's publish to the effect's publish on the edge above it.
 * `more`: children not kept (breadth, depth or the event budget).
 */
export interface CausationNode {
  readonly id: string
  readonly info: EventInfo | undefined
  readonly repeated: boolean
  readonly lagMs: number | undefined
  readonly children: ReadonlyArray<CausationNode>
  readonly more: number
}

export type CausationDirection = "causes" | "effects"

/** One direction's top level: the event's direct causes (or effects) and how many were left out. */
export interface CausationBranch {
  readonly children: ReadonlyArray<CausationNode>
  readonly more: number
}

export interface CausationTree {
  readonly root: EventInfo
  readonly causes: CausationBranch
  readonly effects: CausationBranch
  /** The event budget (`maxEvents`) ran out: some children were not followed. */
  readonly truncated: boolean
}

/** The two reads a trace needs: an event with its progress, and the events one event caused. */
export interface CausationReads {
  readonly event: InspectShape["event"]
  readonly eventsCausedBy: AdminStore["eventsCausedBy"]
}

/** The tree around `root` (as `Inspect.event` returned it), within `bounds`. */
export const causationTree = (reads: CausationReads, bounds: CausationBounds, root: EventInfo): Effect.Effect<CausationTree, StoreError> => {
  let budget = Math.max(bounds.maxEvents, 1) - 1
  let truncated = false
  const tree = (direction: CausationDirection) => {
    const seen = new Set([root.event.id])
    const childrenOf = (parent: Event, level: number): Effect.Effect<{ children: Array<CausationNode>; more: number }, StoreError> =>
      Effect.gen(function*() {
        const wanted = level >= bounds.depth ? 0 : bounds.breadth
        let ids: ReadonlyArray<string | Event>
        let total: number
        if (direction === "causes") {
          const named = [...new Set(parent.causedBy ?? [])]
          ids = named.slice(0, wanted)
          total = named.length
        } else {
          const found = yield* reads.eventsCausedBy(parent.id, parent.seq, parent.seq + bounds.scan, wanted)
          ids = found.events.slice(0, wanted)
          total = found.total
        }
        const children: Array<CausationNode> = []
        for (const item of ids) {
          const id = typeof item === "string" ? item : item.id
          if (budget <= 0) {
            truncated = true
            break
          }
          budget--
          if (seen.has(id)) {
            children.push({ id, info: undefined, repeated: true, lagMs: undefined, children: [], more: 0 })
            continue
          }
          seen.add(id)
          const info = yield* reads.event(id)
          if (info === undefined) {
            children.push({ id, info: undefined, repeated: false, lagMs: undefined, children: [], more: 0 })
            continue
          }
          const lagMs = direction === "causes" ? parent.ts - info.event.ts : info.event.ts - parent.ts
          const below = yield* childrenOf(info.event, level + 1)
          children.push({ id, info, repeated: false, lagMs, ...below })
        }
        return { children, more: total - children.length }
      })
    return childrenOf(root.event, 0)
  }
  return Effect.gen(function*() {
    const causes = yield* tree("causes")
    const effects = yield* tree("effects")
    return { root, causes, effects, truncated }
  })
}
