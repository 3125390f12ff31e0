/**
 * The language section: compiling a generated program (vs lexing it), and a handler compiled from
 * .sib (vs the same handler in TypeScript).
 */
import { alternate, fmt, n, type Row } from "../harness.ts"
import { compileRate, generateProgram, handlerRate, lexRate } from "../language.ts"

export const languageSection = async (): Promise<Array<Row>> => {
  const rows: Array<Row> = []
  const text = generateProgram(10_000)
  const lex = lexRate(text, 5)
  const compiled = await compileRate(text, 5)
  rows.push({
    name: `read + expand + compile a generated ${compiled.lines}-line program (vs lexing the same text)`,
    raw: `${Math.round(lex / 1000)}k lines/s`, sibus: `${Math.round(compiled.rate / 1000)}k lines/s`,
    ratio: `${(compiled.rate / lex).toFixed(2)} x`, target: ">= 20k lines/s", ok: compiled.rate >= 20_000
  })
  console.error(`compile: ${Math.round(compiled.rate)} lines/s (lexing ${Math.round(lex)} lines/s)`)
  const events = n(20_000)
  const m = await alternate((f) => handlerRate(f, events, "ts"), (f) => handlerRate(f, events, "sib"))
  // Cost per event is the inverse of the rate: .sib cost / TypeScript cost = TypeScript rate / .sib rate.
  const cost = 1 / m.ratio
  rows.push({
    name: `a handler compiled from .sib (map lookups, assoc, one publish!) vs the same handler in TypeScript, ${events / 1000}k backlog`,
    raw: `TypeScript ${fmt(m.baseline)}`, sibus: `.sib ${fmt(m.ours)}`, ratio: `${cost.toFixed(2)} x cost per event`,
    target: "<= 2 x", ok: cost <= 2
  })
  console.error(`handler: ts ${fmt(m.baseline)}, sib ${fmt(m.ours)}, cost ${cost.toFixed(2)} x`)
  return rows
}
