/**
 * Promise handlers: the `ctx` a handler of the Promise API gets (`HandlerContext`), and how such a
 * handler runs as the bus's handler of a delivery (`runPromiseHandler`).
 *
 * A handler that returns synchronously completes the run at once (no callback, no suspension); a
 * promise resumes the run, through one callback, when it settles. The handler runs in the async scope of its
 * worker (an AsyncResource made once per worker's fiber context, inside `inHandler.run`, so
 * `inHandler` says which group's handler async code runs in): entering a scope sets its context
 * frame, where `AsyncLocalStorage.run` per delivery built a new one (a Map copied from the current
 * frame, ~650 bytes a delivery).
 */
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type { Kysely } from "kysely"
import { type AsyncLocalStorage, AsyncResource } from "node:async_hooks"
import type { DeliveryContext } from "../runtime/ConsumerGroup.ts"
import type { PendingEvent, PublishOptions } from "../runtime/publish.ts"
import type { Event } from "../store/records.ts"

/** What the current async code runs in: a group's handler, with that handler's fiber context. */
export type InHandler = AsyncLocalStorage<{ readonly group: string; readonly context: Context.Context<never> }>

/** The handler's view of its delivery, with Promise methods. */
export interface HandlerContext {
  readonly group: string
  readonly attempt: number
  /** Aborted when the handler is interrupted (ack timeout or shutdown). */
  readonly signal: AbortSignal
  readonly ack: () => Promise<void>
  readonly nack: (delayMs?: number) => Promise<void>
  /**
   * Publishes an event caused by this one, written in the transaction that acknowledges it (so
   * it exists exactly once if the handler succeeds, and never if it fails). The returned record
   * has no `seq` yet.
   */
  readonly publish: (topic: string, payload: unknown, options?: PublishOptions) => Promise<PendingEvent>
  /**
   * A Kysely transaction on the bus's database for the handler's own writes, committed together
   * with the ack and this run's publishes (rolled back if the handler fails). Opened on first call;
   * later calls return the same one. Other store work waits while it is open: keep it short.
   */
  readonly transaction: () => Promise<Kysely<any>>
}

export type PromiseHandler = (event: Event, ctx: HandlerContext) => unknown

/**
 * A Promise handler's `ctx`. Its methods and signal are getters on the prototype: a delivery
 * allocates one small object, not four closures and an AbortController (most handlers use
 * neither), and destructuring (`{ ack }`) still works. The signal is made when first read, and
 * aborted at once if the run was already interrupted.
 */
class PromiseHandlerContext implements HandlerContext {
  readonly group: string
  readonly attempt: number
  private readonly delivery: DeliveryContext
  /** The handler's fiber context: its ctx calls run there (so they work while `close()` drains). */
  private readonly context: Context.Context<never>
  private controller: AbortController | undefined = undefined
  private aborted = false

  constructor(delivery: DeliveryContext, context: Context.Context<never>) {
    this.group = delivery.group
    this.attempt = delivery.attempt
    this.delivery = delivery
    this.context = context
  }

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController()
      if (this.aborted) this.controller.abort()
    }
    return this.controller.signal
  }

  /** The run was interrupted (ack timeout or shutdown): the signal is aborted. */
  interrupted(): void {
    this.aborted = true
    this.controller?.abort()
  }

  get ack(): () => Promise<void> {
    const { delivery, context } = this
    return () => Effect.runPromiseWith(context)(delivery.ack)
  }

  get nack(): (delayMs?: number) => Promise<void> {
    const { delivery, context } = this
    return (delayMs) => Effect.runPromiseWith(context)(delivery.nack(delayMs))
  }

  get publish(): (topic: string, payload: unknown, options?: PublishOptions) => Promise<PendingEvent> {
    const { delivery, context } = this
    return (topic, payload, options) => Effect.runPromiseWith(context)(delivery.publish(topic, payload, options))
  }

  get transaction(): () => Promise<Kysely<any>> {
    const { delivery, context } = this
    return () => Effect.runPromiseWith(context)(delivery.transaction)
  }
}

/** `handler` as the bus's handler of `group`'s deliveries. */
export const runPromiseHandler = (inHandler: InHandler, group: string, handler: PromiseHandler) => {
  const scopes = new WeakMap<Context.Context<never>, AsyncResource>()
  // The workers of a group share one fiber context, so the last lookup is nearly always the answer.
  let lastContext: Context.Context<never> | undefined
  let lastScope: AsyncResource | undefined
  const scopeOf = (context: Context.Context<never>): AsyncResource => {
    if (context === lastContext) return lastScope!
    let scope = scopes.get(context)
    if (scope === undefined) {
      scope = inHandler.run({ group, context }, () => new AsyncResource("sibus.handler"))
      scopes.set(context, scope)
    }
    lastContext = context
    lastScope = scope
    return scope
  }
  return (event: Event, ctx: DeliveryContext) =>
    Effect.withFiber((fiber) => {
      const handlerContext = new PromiseHandlerContext(ctx, fiber.context)
      let result: unknown
      try {
        result = scopeOf(fiber.context).runInAsyncScope(handler, undefined, event, handlerContext)
      } catch (e) {
        return Effect.fail(e)
      }
      // Returned synchronously: the run completes without suspending.
      if (typeof (result as PromiseLike<unknown> | undefined)?.then !== "function") return result === undefined ? Effect.void : Effect.succeed(result)
      return Effect.callback<unknown, unknown>((resume) => {
        try {
          ;(result as PromiseLike<unknown>).then((value) => resume(Effect.succeed(value)), (e) => resume(Effect.fail(e)))
        } catch (e) {
          // A thenable whose then throws: a failed run, as awaiting it would reject.
          return resume(Effect.fail(e))
        }
        return Effect.sync(() => handlerContext.interrupted())
      })
    })
}
