/**
 * Retry delays for failed deliveries: exponential from `initialMs` by `factor`, capped at `maxMs`,
 * each delay spread by +/- `jitter` (a fraction) using the fiber's `Random`. A delay is a pure
 * function of the attempt number, so it can be recomputed after a restart and stored as
 * `next_attempt_at`; that is why this is not a stateful `Schedule`.
 */
import type * as Random from "effect/Random"

export interface Backoff {
  readonly initialMs: number
  readonly factor: number
  readonly maxMs: number
  readonly jitter: number
}

/** 0.5 s, 1 s, 2 s, 4 s, ... capped at 30 s, each +/- 20 %. */
export const defaultBackoff: Backoff = { initialMs: 500, factor: 2, maxMs: 30_000, jitter: 0.2 }

/** The delay before the run after `attempts` failed runs (attempts >= 1). */
export const retryDelay = (backoff: Backoff, attempts: number, random: Random.Random): number => {
  const base = backoff.initialMs * backoff.factor ** Math.max(0, attempts - 1)
  const spread = backoff.jitter === 0 ? 1 : 1 + backoff.jitter * (2 * random.nextDoubleUnsafe() - 1)
  return Math.max(0, Math.round(Math.min(backoff.maxMs, base * spread)))
}
