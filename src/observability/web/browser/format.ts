/**
 * The browser side of the ops page, part 3: numbers, times and payloads as the page shows them.
 * Times are UTC (`2026-12-07 01:48:12.718Z`), ages are measured from the server's own time (the
 * `at` of its figures), never from the browser's clock. Every result is text for `h`.
 */
import type { SibLocation } from "../wire.ts"
import { oneLine, visible } from "./dom.ts"

export const time = (ms: number | null): string => (ms === null ? "-" : new Date(ms).toISOString().replace("T", " "))

/** A duration in words: `850 ms`, `12.5 s`, `3 min`, `2.1 h`, `4.0 d`. */
export const duration = (ms: number): string => {
  if (ms < 1000) return `${Math.round(ms)} ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`
  if (ms < 3_600_000) return `${Math.round(ms / 60_000)} min`
  if (ms < 86_400_000) return `${(ms / 3_600_000).toFixed(1)} h`
  return `${(ms / 86_400_000).toFixed(1)} d`
}

export const count = (n: number): string => n.toLocaleString("en-US")

export const rate = (perSec: number | null): string =>
  perSec === null ? "-" : perSec === 0 ? "0/s" : perSec < 10 ? `${perSec.toFixed(2)}/s` : `${Math.round(perSec).toLocaleString("en-US")}/s`

/** A payload as JSON on one line, cut to `width` characters. */
export const payloadLine = (payload: unknown, width = 120): string => {
  const text = oneLine(JSON.stringify(payload) ?? "undefined")
  return text.length > width ? `${text.slice(0, width - 1)}\u2026` : text
}

/** A payload as indented JSON (JSON escapes control characters; `visible` the rest). */
export const payloadBlock = (payload: unknown): string => visible(JSON.stringify(payload, null, 2) ?? "undefined")

export const location = (l: SibLocation | null): string => (l === null ? "" : `${oneLine(l.file)}:${l.line}:${l.column}`)
