/**
 * The Postgres dialect's LISTEN connection: one per process, not from the pool, turning the
 * NOTIFYs of the schema's write transactions into wake-ups (`commitNotifications`). A
 * notification whose payload is this process's own origin id is its own commit and is dropped.
 */
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import pg from "pg"
import { describeCause } from "../storeErrors.ts"
import type { PostgresLocation } from "./location.ts"

/** An SQL identifier, quoted. */
export const quoteIdent = (s: string) => `"${s.replace(/"/g, "\"\"")}"`

/** An SQL string literal, quoted. */
export const quoteLiteral = (s: string) => `'${s.replace(/'/g, "''")}'`

/**
 * A LISTEN connection of its own for the life of the scope: `notify(true)` on each notification of
 * `channel` sent by another process (a payload other than `origin`). A lost connection is logged
 * and opened again with backoff (on the Clock), and `notify(true)` is called once it is back
 * (whatever was committed meanwhile may have been missed; a poll runs underneath, so a lost
 * notification costs latency, never events).
 */
export const listen = (
  location: PostgresLocation,
  channel: string,
  origin: string,
  notify: (committed: boolean) => void
): Effect.Effect<void, never, Scope.Scope> => {
  const connect = Effect.tryPromise(async () => {
    const client = new pg.Client({ connectionString: location.connectionString, options: `-c search_path=${location.schema}` })
    client.on("error", () => {})
    try {
      await client.connect()
      await client.query(`listen ${quoteIdent(channel)}`)
    } catch (e) {
      await client.end().catch(() => undefined)
      throw e
    }
    return client
  })
  const backoff = Schedule.min([Schedule.exponential("100 millis", 2), Schedule.spaced("5 seconds")])
  /** One connection, from connecting (retried) until it is lost. */
  const session = Effect.acquireUseRelease(
    connect.pipe(
      Effect.tapError((e) => Effect.logWarning(`postgres listener: cannot connect (${describeCause(e.cause ?? e)}); retrying`)),
      Effect.retry(backoff)
    ),
    (client) =>
      Effect.callback<void>((resume) => {
        client.on("notification", (n) => {
          if (n.channel === channel && n.payload !== origin) notify(true)
        })
        client.on("end", () => resume(Effect.void))
        client.on("error", () => resume(Effect.void))
        // Connected (again): whatever was committed meanwhile is looked for now.
        notify(true)
      }),
    (client) => Effect.promise(() => client.end().catch(() => undefined))
  )
  return session.pipe(
    Effect.andThen(Effect.logWarning("postgres listener: connection lost; reconnecting (events are not lost: they are found by polling meanwhile)")),
    Effect.andThen(Effect.sleep("100 millis")),
    Effect.forever,
    Effect.forkScoped,
    Effect.asVoid
  )
}
