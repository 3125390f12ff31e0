/** Bus options (`Bus.layer`, `Bus.sqlite`, `createRuntime`): payload size, the cross-process poll, maintenance. */
import { maintenanceSpec } from "./maintenanceSpec.ts"
import { custom, integer, invalid, object, spec } from "./spec.ts"

export const busSpec = spec("bus", {
  maxPayloadBytes: integer({ min: 1, default: 1024 * 1024, doc: "Largest event accepted, in bytes of JSON (payload, headers, tags, causes and key)." }),
  pollIntervalMs: integer({ min: 1, unit: "milliseconds", default: 50, doc: "How often to look for commits by other processes on the same database." }),
  host: custom("HostInfo", { doc: "Host facts for lease takeover (tests replace them)." }, (v, path) =>
    typeof v === "object" && v !== null && typeof (v as { isAlive?: unknown }).isAlive === "function" ? v : invalid(path, "{ pid, hostname, isAlive }", v)),
  maintenance: custom("false | object", {
    defaultDoc: "every 60 s, at most 1000 deletions per transaction",
    doc: "Compaction and retention on a Clock schedule (`false`: only when asked, `compact`/`prune`); see the maintenance options."
  }, (v, path) => {
    if (v === false) return false
    return object(maintenanceSpec.fields, { doc: "" }).check(v, path)
  })
})
