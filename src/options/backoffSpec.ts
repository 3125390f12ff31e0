/**
 * Backoff options: retry delays growing from `initialMs` by `factor` up to `maxMs`, each spread by
 * +/- `jitter` (a fraction from 0 to 1). One rule for every backoff (a group's retries, an outbox
 * row's), each with its own defaults.
 */
import { conflict, type Invalid, number, spec } from "./spec.ts"

export interface BackoffValues {
  readonly initialMs: number
  readonly factor: number
  readonly maxMs: number
  readonly jitter: number
}

/** The backoff spec with these defaults. */
export const backoffSpec = (defaults: BackoffValues, what: string) =>
  spec(`${what} backoff`, {
    initialMs: number({ min: 0, default: defaults.initialMs, doc: "The first delay (ms)." }),
    factor: number({ min: 1, default: defaults.factor, doc: "Each delay is the previous one times this." }),
    maxMs: number({ min: 0, default: defaults.maxMs, doc: "The longest delay (ms); at least initialMs." }),
    jitter: number({ min: 0, max: 1, default: defaults.jitter, doc: "Each delay is spread by +/- this fraction of it." })
  })

/** The rule across fields: the longest delay is not shorter than the first. */
export const backoffProblem = (b: BackoffValues, path: string): Invalid | undefined =>
  b.maxMs >= b.initialMs ? undefined : conflict(`${path}.maxMs`, `${path}.maxMs (${b.maxMs}) must be at least ${path}.initialMs (${b.initialMs})`)
