/**
 * The Effect API: a bus on a SQLite file, a topic with a schema, a consumer group whose handler
 * publishes a follow-up, and a clean close. The README shows this file (importing "sibus").
 * Run: node docs/examples/effect-api.ts [db-file]   (default ./events.db)
 */
import { Effect, Schema } from "effect"
import { Bus } from "../../src/index.ts"

const program = Effect.gen(function*() {
  const bus = yield* Bus
  yield* bus.defineTopic("orders.placed", {
    schema: Schema.Struct({ orderId: Schema.String, total: Schema.Number })
  })

  // A durable consumer group: it resumes from its stored cursor after a restart.
  const sub = yield* bus.subscribe("orders.placed", "billing", (event, ctx) =>
    Effect.gen(function*() {
      const { orderId, total } = event.payload as { orderId: string; total: number }
      yield* Effect.log(`billing ${orderId} (attempt ${ctx.attempt})`)
      yield* ctx.publish("invoices.created", { orderId, amount: total })
    }), { from: "earliest", maxAttempts: 3 })

  yield* bus.publish("orders.placed", { orderId: "o-1", total: 42.5 }, { key: "customer-7" })
  const last = yield* bus.publish("orders.placed", { orderId: "o-2", total: 10 }, { key: "customer-7" })

  // Billing's stored cursor passes an order once its invoice is committed (with its ack).
  while (((yield* bus.getCursor("orders.placed", "billing")) ?? 0) < last.seq) yield* Effect.sleep("10 millis")
  yield* sub.unsubscribe
  const invoices = yield* bus.read("invoices.created", 0, 100)
  yield* Effect.log(`invoices: ${invoices.map((e) => JSON.stringify(e.payload)).join(", ")}`)
})

Effect.runPromise(program.pipe(Effect.provide(Bus.sqlite({ filename: process.argv[2] ?? "events.db" }))))
