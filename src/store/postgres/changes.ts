/**
 * The Postgres dialect's change detection, on the store's side: the `changes` counter every write
 * raises (migration 0003), the statement that raises it and NOTIFYs the schema's channel, and the
 * change token (the counter less this process's own raises). It does not hold connections.
 *
 * **The token is exact.** Each raise answers the version it made, so the token read at version V
 * is V less the number of own versions at or below V. A raise still on its way when the token's
 * answer arrives may or may not be in V, so the token waits for those (one commit's round trip) and
 * then counts: own commits never move the token, another process's always do. (Subtracting a
 * count of finished raises instead misread a commit whose answer was still on its way as another
 * process's, which woke every group of the process for nothing.) A raise whose answer is lost
 * with its connection counts as not made: if it was committed after all, the token moves once.
 *
 * **NOTIFY names its sender.** The payload is this store's origin id, so the LISTEN connection
 * drops the process's own notifications and every one it passes on is another process's commit.
 */
import { quoteLiteral } from "./listener.ts"

/** The statement that raises the counter and notifies `channel` with `origin` as the payload; it answers the new version. */
export const announceSql = (channel: string, origin: string) =>
  `with raised as (update changes set version = version + 1 where id = 1 returning version) ` +
  `select version, pg_notify(${quoteLiteral(channel)}, ${quoteLiteral(origin)}) from raised`

/** The version a query result of `announceSql` (alone, or the first of a simple query of several) answers. */
export const versionOf = (result: unknown): number | undefined => {
  const first = (Array.isArray(result) ? result[0] : result) as { rows?: Array<{ version?: unknown }> } | undefined
  const v = first?.rows?.[0]?.version
  return typeof v === "number" ? v : undefined
}

export class OwnRaises {
  /** Own versions not yet folded into `folded`. */
  private versions: Array<number> = []
  /** How many own versions are at or below `foldedUpTo`. */
  private folded = 0
  private foldedUpTo = 0
  private readonly inFlight = new Set<Promise<unknown>>()
  /** Token reads run one at a time, so the versions they read never go down. */
  private last: Promise<unknown> = Promise.resolve()

  /**
   * Sends a statement (or simple query) that raises the counter once; its result's version is
   * recorded as this process's own. The result is passed through; a failure records nothing.
   */
  raise<A>(send: () => Promise<A>, version: (result: A) => number | undefined): Promise<A> {
    const p = send().then((result) => {
      const v = version(result)
      if (v !== undefined) this.versions.push(v)
      return result
    })
    const tracked = p.then(() => undefined, () => undefined).finally(() => this.inFlight.delete(tracked))
    this.inFlight.add(tracked)
    return p
  }

  /** The token for the counter read by `read`: the version less the own raises it includes. */
  token(read: () => Promise<number>): Promise<number> {
    const next = this.last.then(async () => {
      const version = await read()
      // Raises sent before this answer came may be in it: wait until their versions are known.
      if (this.inFlight.size > 0) await Promise.all([...this.inFlight])
      let own = this.folded
      const later: Array<number> = []
      for (const v of this.versions) {
        if (v <= version) own++
        else later.push(v)
      }
      if (version >= this.foldedUpTo) {
        this.versions = later
        this.folded = own
        this.foldedUpTo = version
      }
      return version - own
    })
    this.last = next.catch(() => undefined)
    return next
  }
}
