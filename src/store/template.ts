/**
 * Query templates: a statement built once with Kysely's query builder (so it is typed against the
 * schema and compiled for the dialect), with named placeholders where values go. Binding fills the
 * placeholders from a record in the compiled parameter order, so the hot path never rebuilds or
 * recompiles a query and can reuse one prepared statement.
 */
import type { Compilable } from "kysely"

const marker = "\u0000sibus-param:"

type Slot<P extends string> = { readonly name: P } | { readonly value: unknown }

export interface Template<P extends string> {
  readonly sql: string
  readonly slots: ReadonlyArray<Slot<P>>
}

/**
 * Builds a template. `param(name)` stands for a value supplied at bind time; any other value the
 * builder parameterizes is kept as a constant.
 */
export const template = <P extends string = never>(
  build: (param: (name: P) => any) => Compilable
): Template<P> => {
  const compiled = build((name) => `${marker}${name}`).compile()
  const slots = compiled.parameters.map((value): Slot<P> =>
    typeof value === "string" && value.startsWith(marker)
      ? { name: value.slice(marker.length) as P }
      : { value }
  )
  return { sql: compiled.sql, slots }
}

/** The parameter array for one execution of `t`. */
export const bind = <P extends string>(t: Template<P>, values: { readonly [K in P]: unknown }): Array<unknown> => {
  const out = new Array<unknown>(t.slots.length)
  for (let i = 0; i < t.slots.length; i++) {
    const slot = t.slots[i]!
    out[i] = "name" in slot ? values[slot.name] : slot.value
  }
  return out
}
