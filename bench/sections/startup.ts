/** The start-up section: whole `sib` processes against `node -e 0`. */
import { quick, type Row } from "../harness.ts"
import { startup } from "../startup.ts"

export const startupSection = async (): Promise<Array<Row>> => {
  const rows: Array<Row> = []
  const s = startup(quick ? 5 : 20)
  const targets: Record<string, number> = { "sib --help": 3, "sib topics": 4, "sib publish": 4 }
  const what: Record<string, string> = {
    "sib --help": "`sib --help`",
    "sib topics": "`sib topics` on a database holding one topic",
    "sib publish": "`sib publish` of one event to that database"
  }
  for (const c of s.commands) {
    const target = targets[c.name]!
    rows.push({
      name: `${what[c.name]}: a whole process, start to exit (vs \`node -e 0\`)`, raw: `${s.nodeMs.toFixed(0)} ms`, sibus: `${c.ms.toFixed(0)} ms`,
      ratio: `${c.ratio.toFixed(2)} x`, target: `<= ${target} x`, ok: c.ratio <= target
    })
    console.error(`${c.name}: ${c.ms.toFixed(0)} ms, node -e 0 ${s.nodeMs.toFixed(0)} ms, ${c.ratio.toFixed(2)} x`)
  }
  return rows
}
