/**
 * Turns of the process between `.sib` runs: how long `.sib` code has computed since the event loop
 * last went round (the turn, which a run's budget measures against `maxBlockMs`), and how the runs
 * of different owners (a consumer group, a timer, a watch, a load: each a `Share`) take turns when
 * code keeps the process busy. It does not run code or count steps (run.ts does).
 *
 * Two rules keep one owner from starving the others:
 * - When a turn has been busy for `turnMs`, runs about to start wait in one queue; once the event
 *   loop has gone round they are let in with the owners in rotation (round robin), each checking
 *   the turn again as it begins: the first runs until the turn is busy, the others keep their
 *   place. A group with a backlog of heavy runs gets every other run, not every run, while a
 *   timer's or another group's run waits; cheap runs still go many to a turn.
 * - An owner whose run held the process for `turnMs` or more (without pausing) starts its next run
 *   no sooner than a quarter as long after it ended (a run stopped at `maxBlockMs`, 1 s, rests
 *   250 ms before its retry): what the others need several turns of the event loop for (a
 *   commit, a read, a run) gets done in between, even when the heavy owner's next run is ready
 *   before theirs reach the queue. Such an owner keeps four fifths of the process when alone;
 *   shorter runs never rest, so ordinary handlers are not slowed.
 *
 * Time is the runtime's `Clock`: on a TestClock it does not move while code runs, so nothing waits.
 */
import type * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"

/** How long runs may follow each other in one turn before the next one waits for the event loop. */
export const turnMs = 50
const turnNanos = BigInt(turnMs) * 1_000_000n
/** A run that held the process for `turnMs` or more makes its share rest a quarter as long. */
const restDivisor = 4n

/**
 * The process's turn: when .sib code began computing since the event loop last went round (a
 * setImmediate callback, which runs only once the loop turns, closes it). Every run and filter
 * shares it, so runs that follow each other without a pause (a group's workers, the filters of a
 * page) cannot together block timers and signals past `maxBlockMs`.
 */
const turn: { open: boolean; start: bigint; clock: Clock.Clock | undefined } = { open: false, start: 0n, clock: undefined }

/** Nanoseconds .sib code has been computing in this turn of the event loop (starting one if none is open). */
export const turnElapsed = (clock: Clock.Clock): bigint => {
  const now = clock.monotonicTimeNanosUnsafe()
  if (!turn.open || turn.clock !== clock) {
    turn.open = true
    turn.start = now
    turn.clock = clock
    setImmediate(() => {
      turn.open = false
    })
  }
  return now - turn.start
}

/** When the process's current turn began (starting one if none is open): a stretch of computing is named by it. */
export const turnStart = (clock: Clock.Clock): bigint => {
  turnElapsed(clock)
  return turn.start
}

const busy = (clock: Clock.Clock): boolean => turnElapsed(clock) >= turnNanos

/**
 * The runs of one owner (a group's handler, a timer, a watch, a load), taking turns with the
 * others'. `restUntil` is the Clock's monotonic time before which its next run does not start.
 */
export class Share {
  readonly name: string
  restUntil = 0n

  constructor(name: string) {
    this.name = name
  }

  /**
   * Records that a run of this share computed from `startNanos` to now without pausing: held for
   * `turnMs` or more, the share rests a quarter as long before its next run.
   */
  computed(clock: Clock.Clock, startNanos: bigint): void {
    this.held(clock, clock.monotonicTimeNanosUnsafe() - startNanos)
  }

  /** Records that a run of this share, ending now, held the process for `nanos` at its longest stretch. */
  held(clock: Clock.Clock, nanos: bigint): void {
    const now = clock.monotonicTimeNanosUnsafe()
    if (nanos >= turnNanos && now + nanos / restDivisor > this.restUntil) this.restUntil = now + nanos / restDivisor
  }
}

interface Waiter {
  readonly share: Share
  resume: () => void
}

/**
 * Runs waiting for a turn that is not busy. The first `front` of them were let in and found the
 * turn busy again (an earlier one of the same round ran first): they keep their place, ahead of
 * runs that came later.
 */
let waiting: Array<Waiter> = []
let front = 0
let armed = false

const arm = (clock: Clock.Clock): void => {
  if (armed) return
  armed = true
  setImmediate(() => admit(clock))
}

/**
 * Once the turn is not busy, lets every waiting run in, the shares in rotation: the first of each
 * share in the order the shares first appear, then the second of each, and so on. Each checks the
 * turn again as it begins, so the first runs until the turn is busy and the rest wait for the next
 * turn in the same order: a share with many runs waiting gets one of them in before another share's
 * next one.
 */
const admit = (clock: Clock.Clock): void => {
  armed = false
  if (waiting.length === 0) return
  if (busy(clock)) return arm(clock)
  const round = inRotation(waiting)
  waiting = []
  front = 0
  for (const w of round) w.resume()
}

const inRotation = (ws: ReadonlyArray<Waiter>): Array<Waiter> => {
  const byShare = new Map<Share, Array<Waiter>>()
  for (const w of ws) {
    const list = byShare.get(w.share)
    if (list === undefined) byShare.set(w.share, [w])
    else list.push(w)
  }
  if (byShare.size === 1) return ws.slice()
  const lists = [...byShare.values()]
  const out: Array<Waiter> = []
  for (let i = 0; out.length < ws.length; i++) for (const list of lists) if (i < list.length) out.push(list[i]!)
  return out
}

/** Waits for a turn that is not busy, in the queue (`first`: at the head, after the others let in with it). */
const waitForTurn = (clock: Clock.Clock, waiter: Waiter, first: boolean): Effect.Effect<void> =>
  Effect.callback<void>((resume) => {
    waiter.resume = () => resume(Effect.void)
    if (first) waiting.splice(front++, 0, waiter)
    else waiting.push(waiter)
    arm(clock)
    return Effect.sync(() => {
      const at = waiting.indexOf(waiter)
      if (at < 0) return
      waiting.splice(at, 1)
      if (at < front) front--
    })
  }).pipe(Effect.andThen(Effect.suspend(() => busy(clock) ? waitForTurn(clock, waiter, true) : Effect.void)))

/**
 * `effect` (a run of `share`) once it is its turn: at once when the share is not resting, no run
 * is waiting and this turn is not busy (as it is, with no extra step, on a TestClock); otherwise
 * after the share's rest and its place in the queue.
 */
export const paced = <A, E, R>(clock: Clock.Clock, share: Share, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.suspend(() => {
    const rest = share.restUntil - clock.monotonicTimeNanosUnsafe()
    if (rest > 0n) return Effect.andThen(Effect.sleep(Duration.nanos(rest)), paced(clock, share, effect))
    if (waiting.length === 0 && !busy(clock)) return effect
    return Effect.andThen(waitForTurn(clock, { share, resume: () => {} }, false), effect)
  })
