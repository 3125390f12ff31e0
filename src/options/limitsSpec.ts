/**
 * The limits of `.sib` code (the `limits` option of `rt.load`, `runSibTests`, `loadProgram`,
 * `startProgram`): what a run and a load may spend. See docs/language.md ("Limits") for what each
 * operation costs.
 */
import { integer, spec } from "./spec.ts"

const MiB = 1024 * 1024

export const limitsSpec = spec("limits", {
  maxSteps: integer({ min: 1, default: 1_000_000, doc: "work per run: calls, collection elements built, copied or walked, 16 characters of text built" }),
  maxBytes: integer({ min: 1, default: 64 * MiB, defaultDoc: "64 MiB", doc: "memory a run allocates (estimated): collections, strings, keywords, and the events it publishes" }),
  maxBytesInFlight: integer({ min: 1, default: 256 * MiB, defaultDoc: "256 MiB", doc: "memory of every run in progress in the process together (handlers waiting on I/O hold theirs)" }),
  maxBlockMs: integer({ min: 1, unit: "milliseconds", default: 1000, doc: "how long a run may compute without pausing (on the runtime's Clock, checked every few thousand steps); a handler also stops at its `ackTimeoutMs`" }),
  maxDepth: integer({ min: 1, default: 400, doc: "nested calls" }),
  maxCollection: integer({ min: 1, default: 1_000_000, doc: "elements in one collection" }),
  maxString: integer({ min: 1, default: 10_000_000, doc: "characters in one string" }),
  maxLoadSteps: integer({ min: 1, default: 8_000_000, doc: "work of a whole load (`sib check`, `sib run`, a reload): every top-level form and every macro expansion of every file" }),
  maxLoadBytes: integer({ min: 1, default: 128 * MiB, defaultDoc: "128 MiB", doc: "memory a whole load allocates (estimated)" }),
  maxExpandedForms: integer({ min: 1, default: 250_000, doc: "forms all macro expansions of a load may produce together" }),
  maxGroups: integer({ min: 1, default: 256, doc: "consumer groups a program subscribes (each one is a session with its fibers, lease and buffers)" }),
  maxConsumers: integer({ min: 1, default: 1024, doc: "consumers a program's groups run in one process together: a group is one per partition of its most partitioned topic (1 when none is), each a session with its fibers, lease and buffers" }),
  maxTimers: integer({ min: 1, default: 256, doc: "every! and after! timers a program declares" }),
  maxSourceTokens: integer({ min: 1, default: 200_000, doc: "tokens a load reads, every file together (a 10,000-line program has about 66,000): what reading holds in memory grows with them" }),
  maxSourceChars: integer({ min: 1, default: MiB, defaultDoc: "1 MiB (1,048,576)", doc: "characters of source a load reads, every file together" })
})
