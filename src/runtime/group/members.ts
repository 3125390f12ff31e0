/**
 * Who is consuming a partitioned group now, as one member sees it. Each member raises its row's
 * `beats` counter every `leaseMs / 3` (`RuntimeStore.beatMember`); a watcher counts a member live
 * while its counter has moved within the last `leaseMs` of the watcher's own monotonic clock (a
 * member first seen counts as live for that long). Stored times are never compared with this
 * process's clock, so a member whose wall clock is off by an hour is judged like any other. A
 * member that is a dead process on this host is gone at once.
 */
import type { GroupMember } from "../../store/records.ts"
import type { HostInfo } from "../HostInfo.ts"

export class MemberWatch {
  /** Per member: the counter last seen, and when (monotonic ms) it was first seen at that value. */
  private readonly seen = new Map<string, { readonly beats: number; readonly since: number }>()
  private readonly self: string
  private readonly timeoutMs: number
  private readonly host: HostInfo

  constructor(args: { readonly self: string; readonly timeoutMs: number; readonly host: HostInfo }) {
    this.self = args.self
    this.timeoutMs = args.timeoutMs
    this.host = args.host
  }

  /**
   * Takes in the stored rows read at monotonic time `now`; answers the live members (this one
   * always among them) and the rows of members judged gone.
   */
  observe(rows: ReadonlyArray<GroupMember>, now: number): { readonly live: ReadonlyArray<string>; readonly gone: ReadonlyArray<GroupMember> } {
    const live = new Set<string>([this.self])
    const gone: Array<GroupMember> = []
    const present = new Set<string>()
    for (const row of rows) {
      present.add(row.member)
      if (row.member === this.self) continue
      const before = this.seen.get(row.member)
      if (before === undefined || before.beats !== row.beats) this.seen.set(row.member, { beats: row.beats, since: now })
      const since = this.seen.get(row.member)!.since
      const diedHere = row.host === this.host.hostname && row.pid !== null && row.pid !== this.host.pid && !this.host.isAlive(row.pid)
      if (diedHere || now - since >= this.timeoutMs) gone.push(row)
      else live.add(row.member)
    }
    for (const member of this.seen.keys()) if (!present.has(member)) this.seen.delete(member)
    return { live: [...live].sort(), gone }
  }
}
