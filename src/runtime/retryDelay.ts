/**
 * Retry delays for failed deliveries: exponential from `initialMs` by `factor`, capped at `maxMs`,
 * each delay spread by +/- `jitter` (a fraction) using the fiber's `Random`. A delay is a pure
 * function of the attempt number, so it can be recomputed after a restart and stored as
 * `next_attempt_at`; that is why this is not a stateful `Schedule`.
 */
import type * as Random from "effect/Random"
import type { BackoffValues } from "../options/backoffSpec.ts"

/** Backoff settings (checked by their spec, src/options/backoffSpec.ts). */
export type Backoff = BackoffValues

export { defaultBackoff } from "../options/subscribeSpec.ts"

/** The delay before the run after `attempts` failed runs (attempts >= 1). */
export const retryDelay = (backoff: Backoff, attempts: number, random: Random.Random): number => {
  const base = backoff.initialMs * backoff.factor ** Math.max(0, attempts - 1)
  const spread = backoff.jitter === 0 ? 1 : 1 + backoff.jitter * (2 * random.nextDoubleUnsafe() - 1)
  return Math.max(0, Math.round(Math.min(backoff.maxMs, base * spread)))
}
