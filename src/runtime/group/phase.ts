/**
 * The phase of one consumer-group session: one value, changed only by the transitions below, each
 * of which asserts the phase it leaves (a transition from anywhere else is a bug and throws).
 *
 *   Claiming -> Recovering -> [Isolating ->] Running -> Draining -> Done
 *
 *   claimed   Claiming               -> Recovering
 *   isolate   Recovering             -> Isolating   (suspects were found)
 *   run       Recovering | Isolating -> Running     (opens the fetch gate)
 *   drain     Isolating | Running    -> Draining    (a stop was requested)
 *   done      Draining | Claiming    -> Done        (Claiming: stopped while standing by)
 *
 * - **Claiming**: taking the lease, or standing by while another live owner holds it. Nothing else
 *   exists yet; a stop ends the session here.
 * - **Recovering**: the lease is ours. Cursors are opened and the uncertain region charged
 *   (`recovery.ts`); the workers and background fibers start, the fetcher waits at its gate. No
 *   run starts before the session decides between Isolating and Running. A stop waits for that.
 * - **Isolating**: suspects run one at a time (limit 1), each start and ack committed before the
 *   next decision (acks are not pipelined); the fetcher stays gated and the writer does not lease
 *   new events to the group. Ends (-> Running) once nothing runs and nothing is ready: the
 *   suspects are settled, or waiting for their retry time.
 * - **Running**: the fetcher reads, `maxInFlight` handlers run, acks are pipelined, and while the
 *   fetcher waits for news the writer leases new events on append.
 * - **Draining**: a stop was requested. Nothing is fetched, no run starts, and work that becomes
 *   ready is dropped (the cursor redelivers it); running handlers get `drainTimeoutMs`, then are
 *   interrupted. Acks of finishing runs are still taken (pipelined, as in Running).
 * - **Done**: floors persisted with no lease mark, the lease released.
 *
 * Failure is not a phase: any of the session's fibers may fail it in any phase (a store error, a
 * lost lease). The session then ends from where it is: the acks still queued are cancelled
 * (`settle.ts`), and the session scope's finalizers interrupt its fibers and release the lease.
 */
import * as Latch from "effect/Latch"
import type { Gate } from "./dispatch.ts"

export type Phase =
  | { readonly _tag: "Claiming" }
  | { readonly _tag: "Recovering"; readonly crashed: boolean }
  | { readonly _tag: "Isolating"; readonly suspects: number }
  | { readonly _tag: "Running" }
  | { readonly _tag: "Draining" }
  | { readonly _tag: "Done" }

export class SessionPhase implements Gate {
  private phase: Phase = { _tag: "Claiming" }
  private readonly maxInFlight: number
  /** Open from Running on: the fetcher waits here. */
  readonly fetchGate = Latch.makeUnsafe(false)
  /** Runs may start and ready work is kept (Recovering, Isolating, Running). Set by each transition. */
  accepting = false
  /** Runs at once, at most: 1 while isolating. Set by each transition. */
  limit: number

  constructor(maxInFlight: number) {
    this.maxInFlight = maxInFlight
    this.limit = maxInFlight
  }

  get current(): Phase {
    return this.phase
  }

  /** A stop was requested (Draining, Done): no run starts, an interrupted run is not a failed attempt. */
  get stopping(): boolean {
    return this.phase._tag === "Draining" || this.phase._tag === "Done"
  }

  get isolating(): boolean {
    return this.phase._tag === "Isolating"
  }

  /** Acks may go to the writer without the worker waiting for their commit (not while isolating). */
  get pipelining(): boolean {
    return this.phase._tag !== "Isolating"
  }

  /** The writer may lease appended events to the group (while its fetcher waits for news). */
  get leasesOnAppend(): boolean {
    return this.phase._tag === "Running"
  }

  /** The lease is ours (from `Claiming`). */
  claimed(crashed: boolean): void {
    this.enter(["Claiming"], { _tag: "Recovering", crashed })
  }

  /** Suspects were found (from `Recovering`). */
  isolate(suspects: number): void {
    this.enter(["Recovering"], { _tag: "Isolating", suspects })
  }

  /** Normal consumption (from `Recovering`, or `Isolating` once it is quiet); opens the fetch gate. */
  run(): void {
    this.enter(["Recovering", "Isolating"], { _tag: "Running" })
    this.fetchGate.openUnsafe()
  }

  /** A stop was requested (from `Isolating` or `Running`). */
  drain(): void {
    this.enter(["Isolating", "Running"], { _tag: "Draining" })
  }

  /** Drained, persisted and released (from `Draining`), or stopped while standing by (from `Claiming`). */
  done(): void {
    this.enter(["Claiming", "Draining"], { _tag: "Done" })
  }

  private enter(from: ReadonlyArray<Phase["_tag"]>, to: Phase): void {
    if (!from.includes(this.phase._tag)) {
      throw new Error(`consumer group session: cannot go from ${this.phase._tag} to ${to._tag} (only from ${from.join(" or ")})`)
    }
    this.phase = to
    this.accepting = to._tag === "Recovering" || to._tag === "Isolating" || to._tag === "Running"
    this.limit = to._tag === "Isolating" ? 1 : this.maxInFlight
  }
}
