/**
 * The option reference tables, generated from the specs (`npm run docs` writes them into the
 * README between `<!-- options:NAME -->` markers; a test keeps them in sync). One table per option
 * set; nested sets are listed as `parent.name` rows.
 */
import { busSpec } from "./busSpec.ts"
import { limitsSpec } from "./limitsSpec.ts"
import { maintenanceSpec } from "./maintenanceSpec.ts"
import { outboxSpec, relaySpec, rowBackoffSpec } from "./outboxSpec.ts"
import { publishSpec } from "./publishSpec.ts"
import { describe, markdownTable } from "./spec.ts"
import { groupBackoffSpec, subscribeSpec } from "./subscribeSpec.ts"
import { retentionSpec, topicSpec } from "./topicSpec.ts"

/** The tables by marker name. */
export const optionTables: ReadonlyMap<string, string> = new Map([
  ["subscribe", markdownTable(describe(subscribeSpec, { backoff: groupBackoffSpec }))],
  ["publish", markdownTable(describe(publishSpec))],
  ["topic", markdownTable(describe(topicSpec, { retention: retentionSpec }))],
  ["bus", markdownTable(describe(busSpec, { maintenance: maintenanceSpec }))],
  ["outbox", markdownTable(describe(outboxSpec))],
  ["relay", markdownTable(describe(relaySpec, { backoff: rowBackoffSpec }))],
  ["limits", markdownTable(describe(limitsSpec))]
])

/** `text` (a README) with every `<!-- options:NAME -->` block replaced by its table. */
export const withOptionTables = (text: string): string =>
  text.replace(/<!-- options:([a-z]+) -->\n[\s\S]*?<!-- options:\1 -->/g, (whole, name: string) => {
    const table = optionTables.get(name)
    return table === undefined ? whole : `<!-- options:${name} -->\n${table}\n<!-- options:${name} -->`
  })
