/**
 * A group's lease: who may consume it. One row per group (`consumer_groups`) names the owner (a
 * runtime's sid, with its pid and host) and when the lease expires unless renewed.
 *
 * - The liveness rule, used everywhere a lease is judged (claiming, moving a cursor, `sib groups`):
 *   an owner is live while its lease has not expired and it is not a dead process on this host.
 * - Claiming: a session takes the lease when it is free, already its own, unrenewed for `leaseMs`
 *   of this process's monotonic time (see `claimLease`: never judged by comparing two processes'
 *   wall clocks), or held by a dead pid on this host (a restarted process takes over at once);
 *   otherwise it stands by, looking again at least every second. The claim is a compare-and-set
 *   on the owner.
 * - Renewal every `leaseMs / 3`; a renewal that finds another owner ends the session (`LeaseLost`).
 * - Fencing: every group write carries its owner; the store skips (and reports) the writes of a
 *   group another owner holds, which `fencedSubmit` turns into `LeaseLost`.
 * Releasing is the session's last step (or its scope's finalizer), see `session.ts`.
 */
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import type { StoreError } from "../../store/storeErrors.ts"
import type { GroupLease } from "../../store/records.ts"
import type { CommitResult, RuntimeStore } from "../../store/Store.ts"
import type { HostInfo } from "../HostInfo.ts"
import { type GroupConfig, storedName } from "../subscribeOptions.ts"
import type { WritePart, Writer } from "../Writer.ts"
import type { SessionError } from "./types.ts"

/** The session lost its lease (another owner took it, or the group was deleted): its writes were refused. */
export class LeaseLost extends Data.TaggedError("LeaseLost")<{}> {
  override get message() {
    return "the group's lease was taken over by another owner, or removed (the group was deleted)"
  }
}

/** The owner of `lease` is a process on this host (not us) that no longer runs. */
const diedHere = (lease: GroupLease, host: HostInfo): boolean =>
  lease.ownerHost === host.hostname && lease.ownerPid !== null && lease.ownerPid !== host.pid && !host.isAlive(lease.ownerPid)

/** The lease has a live owner: it is held, not expired, and its owner is not a dead process on this host. */
export const isLive = (lease: GroupLease | undefined, now: number, host: HostInfo): lease is GroupLease & { readonly ownerSid: string } =>
  lease !== undefined && lease.ownerSid !== null && (lease.expiresAt ?? 0) > now && !diedHere(lease, host)

/** Another live owner than `sid` holds the lease: `sid` must not consume the group or move its cursors. */
export const heldByOther = (lease: GroupLease | undefined, sid: string, now: number, host: HostInfo): lease is GroupLease =>
  isLive(lease, now, host) && lease.ownerSid !== sid

/** What a lease is for: its row's name, how long a claim lasts, and how messages name it. */
export interface LeaseSpec {
  readonly name: string
  readonly leaseMs: number
  /** "group orders", "timer at main.sib:4:1" */
  readonly label: string
}

/** A consumer group's lease. */
export const groupLease = (config: GroupConfig): LeaseSpec => ({
  name: storedName(config),
  leaseMs: config.leaseMs,
  label: config.unit === undefined ? `group ${config.group}` : `group ${config.group} (partition ${config.unit.partition})`
})

/**
 * Claims a lease, standing by while another live owner holds it (`standingBy` runs once, when it
 * starts to). Returns the previous owner (null when the lease was free).
 *
 * Expiry is judged by this process's monotonic clock alone: the owner's renewals change the
 * stored expiry, and a lease is taken once that value has stood still for `leaseMs` of monotonic
 * time here. The stored expiry was computed by the owner's wall clock, so comparing it with ours
 * would let a standby whose clock runs ahead take the lease from a live, renewing owner, and one
 * whose clock runs behind wait on a dead one. The cost: a lease whose owner died elsewhere is
 * taken `leaseMs` after this process first looks at it, however long ago it stopped being renewed
 * (a lease released on close, or held by a dead process on this host, is taken at once).
 */
export const claimLease = (
  spec: LeaseSpec,
  deps: { readonly store: RuntimeStore; readonly sid: string; readonly host: HostInfo },
  standingBy: Effect.Effect<unknown>
): Effect.Effect<string | null, StoreError> =>
  Effect.gen(function*() {
    const { store, sid, host } = deps
    let announced = false
    /** The lease as last seen (owner and stored expiry) and since when, in monotonic milliseconds. */
    let seen: { readonly token: string; readonly since: number } | undefined
    while (true) {
      const now = yield* Clock.currentTimeMillis
      const monotonic = Number((yield* Clock.monotonicTimeNanos) / 1_000_000n)
      const lease = yield* store.readLease(spec.name)
      const owner = lease?.ownerSid ?? null
      const token = `${owner}@${lease?.expiresAt ?? null}`
      if (seen?.token !== token) seen = { token, since: monotonic }
      const unrenewedFor = monotonic - seen.since
      const held = lease !== undefined && owner !== null && owner !== sid && !diedHere(lease, host) && unrenewedFor < spec.leaseMs
      if (!held) {
        const ok = yield* store.claimLease({
          group: spec.name,
          expectedOwner: owner,
          owner: sid,
          pid: host.pid,
          host: host.hostname,
          expiresAt: now + spec.leaseMs,
          now
        })
        if (ok) return owner
        continue
      }
      if (!announced) {
        announced = true
        yield* standingBy
        yield* Effect.logInfo(
          `${spec.label}: held by ${owner} (pid ${lease?.ownerPid ?? "?"} on ${lease?.ownerHost ?? "?"}); standing by`
        )
      }
      yield* Effect.sleep(Math.max(10, Math.min(1000, spec.leaseMs - unrenewedFor)))
    }
  })

/** Renews the lease every `leaseMs / 3` until interrupted; fails with `LeaseLost` once it is not ours. */
export const renewLease = (store: RuntimeStore, group: string, owner: string, leaseMs: number): Effect.Effect<never, StoreError | LeaseLost> =>
  Effect.gen(function*() {
    while (true) {
      yield* Effect.sleep(Math.max(1, Math.floor(leaseMs / 3)))
      const t = yield* Clock.currentTimeMillis
      const ok = yield* store.renewLease(group, owner, t + leaseMs, t)
      if (!ok) return yield* Effect.fail(new LeaseLost())
    }
  })

/** Submits a group's write; a write the store fenced (another owner holds the lease) fails with `LeaseLost`. */
export const fencedSubmit = (writer: Writer, group: string) => (part: WritePart): Effect.Effect<CommitResult, SessionError> =>
  writer.submit(part).pipe(
    Effect.flatMap((r) => (r.fenced.includes(group) ? Effect.fail(new LeaseLost()) : Effect.succeed(r)))
  )
