/** Outbox options (`Outbox.make`, `createOutbox`) and relay options (`OutboxRelay.start`, `startRelay`). */
import { backoffSpec } from "./backoffSpec.ts"
import { conflict, custom, integer, invalid, number, object, spec, string } from "./spec.ts"

export const outboxSpec = spec("outbox", {
  db: custom("Kysely", { doc: "The application's database (the root Kysely, not a transaction)." }, (v, path) => {
    const kysely = typeof v === "object" && v !== null && typeof (v as { insertInto?: unknown }).insertInto === "function" &&
      typeof (v as { selectFrom?: unknown }).selectFrom === "function"
    if (!kysely) return invalid(path, "a Kysely instance on the application's database", v)
    if ((v as { isTransaction?: unknown }).isTransaction === true) {
      return conflict(path, "db is a transaction: give the root Kysely (the relay needs its own use of the database); pass transactions to add")
    }
    return v
  }),
  table: string({ default: "sib_outbox", doc: "The outbox table's name (letters, digits and _)." }),
  maxPayloadBytes: integer({ min: 1, default: 1024 * 1024, doc: "The largest message accepted by add (its JSON, in bytes)." })
})

/** Delay before a refused row is tried again. */
export const rowBackoff = { initialMs: 1000, factor: 2, maxMs: 60_000, jitter: 0.2 } as const
export const rowBackoffSpec = backoffSpec(rowBackoff, "outbox row")

export const relaySpec = spec("relay", {
  batchSize: integer({ min: 1, max: 5000, default: 100, doc: "Rows claimed and published per round." }),
  leaseMs: integer({ min: 1, unit: "milliseconds", default: 30_000, doc: "How long a claim keeps other relays off a row." }),
  pollIntervalMs: integer({ min: 1, unit: "milliseconds", default: 1000, doc: "How often an idle relay looks for rows added elsewhere." }),
  recheckMs: integer({ min: 1, unit: "milliseconds", default: 20, doc: "The first short wait after a local add found nothing committed yet." }),
  maxAttempts: integer({ min: 1, default: 10, doc: "Refused publishes before a row is marked failed." }),
  backoff: object(rowBackoffSpec.fields, { defaultDoc: "1 s doubling to 60 s, +/- 20 %", doc: "Delay before a refused row is tried again." }),
  retentionMs: number({ min: 0, infinite: true, defaultDoc: "86400000 (one day)", doc: "How long sent rows are kept (Infinity keeps them)." }),
  pruneIntervalMs: integer({ min: 1, unit: "milliseconds", default: 60_000, doc: "How often sent rows are pruned." }),
  pruneBatchSize: integer({ min: 1, max: 10_000, default: 1000, doc: "Rows deleted per prune statement." }),
  owner: string({ pattern: /^.+$/, patternDoc: "a non-empty string", defaultDoc: "a new UUIDv7", doc: "This relay's name in claimed_by." })
})
