/**
 * The names a program starts with: the language's built-ins (core, domain and testing; the `sib/`
 * test helpers protected), `bus`, and the host's functions and objects. `(declare-host name ...)`
 * names host functions the program uses: each is checked before any form runs, and one that no
 * host gives is a stand-in where the load allows it (`sib check`, `sib test`) and an error
 * otherwise. Loading the program into this namespace is load.ts's.
 */
import { type Diagnostic, diagnostic } from "../diagnostics/Diagnostic.ts"
import type { Span } from "../diagnostics/Span.ts"
import type * as S from "../reader/Syntax.ts"
import { toCallable } from "../lang/builtins.ts"
import { hostEntry, type HostValue, HostValueError } from "../lang/host.ts"
import { Namespace } from "../lang/Namespace.ts"
import { coreBuiltins, protectedBuiltins } from "../lang/core.ts"
import { busObject, domainBuiltins, hostStandIn } from "./domain.ts"
import { testingBuiltins } from "./testing.ts"

/**
 * The namespace a program starts from: the language's built-ins, `bus`, and the host's names. A
 * host value the language cannot take is left out and described in `problems` (when given; else
 * its `HostValueError` is thrown).
 */
export const baseNamespace = (host: Readonly<Record<string, HostValue>> | undefined, problems?: Array<string>): Namespace => {
  const entries: Array<readonly [string, unknown, string | undefined]> = []
  for (const b of [...coreBuiltins, ...domainBuiltins, ...testingBuiltins.filter((t) => !t.name.startsWith("sib/"))]) {
    entries.push([b.name, toCallable(b), b.doc])
  }
  entries.push(["bus", busObject, "The bus: (.publish bus topic payload options) and (.subscribe bus topic group handler options)."])
  for (const [name, v] of Object.entries(host ?? {})) {
    try {
      entries.push([name, hostEntry(name, v), "registered by the application"])
    } catch (e) {
      if (!(e instanceof HostValueError) || problems === undefined) throw e
      problems.push(e.message)
    }
  }
  const protectedEntries = [...protectedBuiltins, ...testingBuiltins.filter((t) => t.name.startsWith("sib/"))]
    .map((b) => [b.name, toCallable(b)] as const)
  return new Namespace(entries, protectedEntries)
}

/** The doc of a declared host function's stand-in (`sib check`, `sib test`). */
const standInDoc = "a host function the program declares (declare-host); a stand-in that logs its call and returns nil here"

/**
 * Host names declared into `ns`, their problems added to `diagnostics`: `host` is what the
 * application gives; `undeclaredHost` says what a declared name it does not give is (see
 * `LoadOptions.undeclaredHost`).
 */
export const hostDeclarations = (
  ns: Namespace,
  host: Readonly<Record<string, HostValue>> | undefined,
  undeclaredHost: "error" | "stand-in" | undefined,
  diagnostics: Array<Diagnostic>
) => {
  const hostNames = new Set(Object.keys(host ?? {}))
  /**
   * `(declare-host name ...)`: the program uses these host functions. A host gives each (checked
   * here, before any form runs); else it is a stand-in where the loader allows (`sib check`,
   * `sib test`), and an error otherwise.
   */
  const declareHost = (form: S.SList) => {
    const names = form.items.slice(1)
    if (names.length === 0) {
      diagnostics.push(diagnostic("Compile", "compile/bad-shape", "declare-host names the host functions the program uses", form.span, { hints: ["(declare-host send-email call-model)"] }))
    }
    for (const n of names) {
      if (n.kind !== "symbol") {
        diagnostics.push(diagnostic("Compile", "compile/bad-shape", "declare-host takes names (symbols), not values", n.span, { hints: ["(declare-host send-email call-model)"] }))
        continue
      }
      standInOrProblem(n.name, n.span)
    }
  }
  const standInOrProblem = (name: string, span: Span) => {
    if (hostNames.has(name)) return
    const existing = ns.lookup(name)
    if (existing !== undefined && existing.kind === "builtin" && existing.doc !== standInDoc) {
      diagnostics.push(diagnostic("Compile", "compile/host", `${name} is a built-in of the language, not a host function`, span, { hints: ["host functions have names of their own"] }))
      return
    }
    if (existing !== undefined && existing.kind !== "builtin") {
      diagnostics.push(diagnostic("Compile", "compile/host", `${name} is declared as a host function and defined by the program`, span))
      return
    }
    // Without a host, the name still stands for something, so its uses are not reported again.
    ns.cells.set(name, { name, value: hostStandIn(name), kind: "builtin", span, doc: standInDoc })
    if ((undeclaredHost ?? "error") === "stand-in") return
    diagnostics.push(diagnostic("Compile", "compile/host", `the program uses the host function ${name}, which the application does not register`, span, {
      hints: [`register it before loading (registerHost("${name}", fn), or the host option), or check and test the program with sib check / sib test`]
    }))
  }
  return { declareHost, standInOrProblem }
}
