/** Maintenance options (a bus's `maintenance`): the schedule and pacing of compaction and retention. */
import { integer, number, spec } from "./spec.ts"

export const maintenanceSpec = spec("maintenance", {
  intervalMs: integer({ min: 1, unit: "milliseconds", default: 60_000, doc: "How often the bus compacts and prunes every topic." }),
  batchSize: integer({
    min: 1, max: 100_000, default: 1000,
    doc: "Most events deleted in one transaction; a pass shrinks its batches when one holds the write lock longer than 20 ms (growing back when they are quick)."
  }),
  pauseRatio: number({
    min: 0, default: 1,
    doc: "Rest after each step, as a multiple of the time the step and its checkpoint took (1: the lock is free at least half the time a pass runs; 0 only yields)."
  })
})
