/**
 * The core macros, as Syntax -> Syntax functions: defn, when, when-not, cond, and, or, ->, ->>,
 * if-let, when-let, case. Each checks its shape and fails with a located Expand diagnostic that
 * shows the expected shapes. Their output carries the call site's span; temporaries are fresh
 * symbols (`and__12`) that cannot capture user names.
 */
import { type Diagnostic, diagnostic } from "../diagnostics/Diagnostic.ts"
import * as S from "../reader/Syntax.ts"

export type Expansion = { readonly ok: true; readonly form: S.Syntax } | { readonly ok: false; readonly diagnostic: Diagnostic }

export interface CoreMacro {
  readonly name: string
  readonly shapes: ReadonlyArray<string>
  readonly doc: string
  readonly example: string
  readonly expand: (form: S.SList, fresh: (base: string) => string) => Expansion
}

const ok = (form: S.Syntax): Expansion => ({ ok: true, form })

const shapeError = (macro: CoreMacro | { name: string; shapes: ReadonlyArray<string> }, form: S.Syntax, problem: string): Expansion => ({
  ok: false,
  diagnostic: diagnostic("Expand", "expand/bad-shape", `${macro.name}: ${problem}`, form.span, {
    hints: [`expected ${macro.shapes.map((s) => `(${macro.name} ${s})`).join(" or ")}`]
  })
})

const sym = (name: string, at: S.Syntax) => S.symbol(name, at.span)
const list = (at: S.Syntax, ...items: Array<S.Syntax>) => S.list(items, at.span)
const doBody = (at: S.Syntax, body: ReadonlyArray<S.Syntax>): S.Syntax =>
  body.length === 1 ? body[0]! : S.list([sym("do", at), ...body], at.span)

const isParams = (s: S.Syntax | undefined): s is S.SVector | S.SList => s !== undefined && (s.kind === "vector" || s.kind === "list")

const defn: CoreMacro = {
  name: "defn",
  shapes: ["name [params] body...", "name \"doc\" [params] body..."],
  doc: "Defines a function: (def name (fn name [params] body...)). Parameter lists may be vectors or lists; `& rest` collects the remaining arguments and `& {:key default}` binds keyword arguments.",
  example: "(defn greet [name & {:greeting \"hello\"}] (str greeting \", \" name))",
  expand: (form) => {
    const [, name, ...rest] = form.items
    if (name === undefined || name.kind !== "symbol") return shapeError(defn, form, "the first argument must be the function's name")
    const hasDoc = rest[0]?.kind === "string" && rest.length > 1
    const params = hasDoc ? rest[1] : rest[0]
    if (!isParams(params)) return shapeError(defn, form, "the parameter list is missing")
    const body = rest.slice(hasDoc ? 2 : 1)
    return ok(list(form, sym("def", form), name, S.list([sym("fn", form), name, params, ...body], form.span)))
  }
}

const when: CoreMacro = {
  name: "when",
  shapes: ["test body..."],
  doc: "Evaluates the body when the test is true; nil otherwise.",
  example: "(when (> 12 10) :big) ;=> :big",
  expand: (form) => {
    const [, test, ...body] = form.items
    if (test === undefined) return shapeError(when, form, "the test is missing")
    return ok(list(form, sym("if", form), test, doBody(form, body), S.nil(form.span)))
  }
}

const whenNot: CoreMacro = {
  name: "when-not",
  shapes: ["test body..."],
  doc: "Evaluates the body when the test is false or nil.",
  example: "(when-not (empty? [7 8]) (first [7 8])) ;=> 7",
  expand: (form) => {
    const [, test, ...body] = form.items
    if (test === undefined) return shapeError(whenNot, form, "the test is missing")
    return ok(list(form, sym("if", form), test, S.nil(form.span), doBody(form, body)))
  }
}

const cond: CoreMacro = {
  name: "cond",
  shapes: ["test expr test expr ... :else expr"],
  doc: "The expression of the first true test; nil when none is true. `:else` is always true.",
  example: "(let [n 0] (cond (< n 0) \"negative\" (= n 0) \"zero\" :else \"positive\")) ;=> \"zero\"",
  expand: (form) => {
    const clauses = form.items.slice(1)
    if (clauses.length % 2 === 1) return shapeError(cond, clauses[clauses.length - 1]!, "every test needs an expression after it")
    let acc: S.Syntax = S.nil(form.span)
    for (let i = clauses.length - 2; i >= 0; i -= 2) acc = list(form, sym("if", form), clauses[i]!, clauses[i + 1]!, acc)
    return ok(acc)
  }
}

const and: CoreMacro = {
  name: "and",
  shapes: ["expr..."],
  doc: "The first false or nil value, else the last value (true with no arguments). Stops at the first false one.",
  example: "(let [m {:ready true}] (and (map? m) (get m :ready))) ;=> true",
  expand: (form, fresh) => {
    const args = form.items.slice(1)
    if (args.length === 0) return ok(S.boolean(true, form.span))
    // The whole chain at once, from the right (expanding one level at a time copied the rest each time).
    let acc = args[args.length - 1]!
    for (let i = args.length - 2; i >= 0; i--) {
      const t = sym(fresh("and"), form)
      acc = list(form, sym("let", form), S.vector([t, args[i]!], form.span), list(form, sym("if", form), t, acc, t))
    }
    return ok(acc)
  }
}

const or: CoreMacro = {
  name: "or",
  shapes: ["expr..."],
  doc: "The first value that is not false or nil, else the last value (nil with no arguments). Stops at the first true one.",
  example: "(or (get {} :limit) 100) ;=> 100",
  expand: (form, fresh) => {
    const args = form.items.slice(1)
    if (args.length === 0) return ok(S.nil(form.span))
    let acc = args[args.length - 1]!
    for (let i = args.length - 2; i >= 0; i--) {
      const t = sym(fresh("or"), form)
      acc = list(form, sym("let", form), S.vector([t, args[i]!], form.span), list(form, sym("if", form), t, t, acc))
    }
    return ok(acc)
  }
}

const thread = (name: "->" | "->>", last: boolean): CoreMacro => {
  const macro: CoreMacro = {
    name,
    shapes: ["x form..."],
    doc: last
      ? "Threads x through the forms as their last argument: (->> xs (map f) (filter g)) is (filter g (map f xs))."
      : "Threads x through the forms as their first argument: (-> m (assoc :a 1) (get :a)) is (get (assoc m :a 1) :a).",
    example: last ? "(->> (range 10) (filter odd?) (map inc)) ;=> [2 4 6 8 10]" : "(-> {:payload {:pid 42}} :payload :pid) ;=> 42",
    expand: (form) => {
      const [, x, ...steps] = form.items
      if (x === undefined) return shapeError(macro, form, "the value to thread is missing")
      let acc = x
      for (const step of steps) {
        if (step.kind === "list" && step.items.length > 0) {
          const [head, ...args] = step.items
          acc = S.list(last ? [head!, ...args, acc] : [head!, acc, ...args], step.span)
        } else {
          acc = S.list([step, acc], step.span)
        }
      }
      return ok(acc)
    }
  }
  return macro
}

/** `[name test]`: the name may be a pattern (`[{:keys [a]} test]`), destructured by the `let` it expands to. */
const bindingOf = (macro: CoreMacro, form: S.SList): { name: S.Syntax; test: S.Syntax } | Expansion => {
  const b = form.items[1]
  const name = b?.kind === "vector" ? b.items[0] : undefined
  if (b === undefined || b.kind !== "vector" || b.items.length !== 2 || (name!.kind !== "symbol" && name!.kind !== "vector" && name!.kind !== "map")) {
    return shapeError(macro, b ?? form, "the binding must be a vector [name test]")
  }
  return { name: name!, test: b.items[1]! }
}

const ifLet: CoreMacro = {
  name: "if-let",
  shapes: ["[name test] then else?"],
  doc: "Binds name (or a pattern) to the test's value and evaluates then when it is true, else the else branch.",
  example: "(if-let [state (get {42 {:name \"stt\"}} 42)] (:name state) \"unknown\") ;=> \"stt\"",
  expand: (form, fresh) => {
    const b = bindingOf(ifLet, form)
    if ("ok" in b) return b
    const [, , then, otherwise, ...extra] = form.items
    if (then === undefined) return shapeError(ifLet, form, "the then branch is missing")
    if (extra.length > 0) return shapeError(ifLet, extra[0]!, "too many branches")
    const t = sym(fresh("if-let"), form)
    return ok(list(form, sym("let", form), S.vector([t, b.test], form.span),
      list(form, sym("if", form), t, list(form, sym("let", form), S.vector([b.name, t], form.span), then), otherwise ?? S.nil(form.span))))
  }
}

const whenLet: CoreMacro = {
  name: "when-let",
  shapes: ["[name test] body..."],
  doc: "Binds name (or a pattern) to the test's value and evaluates the body when it is true; nil otherwise.",
  example: "(when-let [pid (get {:pid 42} :pid)] (inc pid)) ;=> 43",
  expand: (form, fresh) => {
    const b = bindingOf(whenLet, form)
    if ("ok" in b) return b
    const body = form.items.slice(2)
    const t = sym(fresh("when-let"), form)
    return ok(list(form, sym("let", form), S.vector([t, b.test], form.span),
      list(form, sym("if", form), t, S.list([sym("let", form), S.vector([b.name, t], form.span), ...body], form.span), S.nil(form.span))))
  }
}

const isConstant = (s: S.Syntax) => s.kind !== "list" && s.kind !== "symbol"

const caseMacro: CoreMacro = {
  name: "case",
  shapes: ["expr constant result ... default?"],
  doc: "Compares expr with literal constants (not evaluated; a list groups several) and evaluates the matching result, else the default, else nil.",
  example: "(case \"slow\" \"up\" :green (\"degraded\" \"slow\") :yellow :red) ;=> :yellow",
  expand: (form, fresh) => {
    const [, subject, ...clauses] = form.items
    if (subject === undefined) return shapeError(caseMacro, form, "the expression to compare is missing")
    const t = sym(fresh("case"), form)
    const hasDefault = clauses.length % 2 === 1
    let acc: S.Syntax = hasDefault ? clauses[clauses.length - 1]! : S.nil(form.span)
    for (let i = clauses.length - (hasDefault ? 3 : 2); i >= 0; i -= 2) {
      const test = clauses[i]!
      const constants = test.kind === "list" ? test.items : [test]
      const quoted = constants.map((c) => (isConstant(c) ? c : S.list([sym("quote", c), c], c.span)))
      // Several constants: nested ifs (not `or`, which a program may redefine).
      const check = quoted.slice(0, -1).reduceRight<S.Syntax>(
        (rest, q) => list(form, sym("if", form), list(form, sym("sib/=", form), t, q), S.boolean(true, test.span), rest),
        list(form, sym("sib/=", form), t, quoted[quoted.length - 1]!)
      )
      acc = list(form, sym("if", form), check, clauses[i + 1]!, acc)
    }
    return ok(list(form, sym("let", form), S.vector([t, subject], form.span), acc))
  }
}

/** Forms of an expectation's source kept for its failure message (which shows 2,000 characters at most). */
const maxShownForms = 500

/**
 * `s` cut to about `maxShownForms` forms, the rest of each collection as the symbol `...`: what an
 * expectation quotes to show itself. Quoting it whole copied the source of every expectation
 * nested inside it again (quadratic in the nesting).
 */
const shownForm = (s: S.Syntax): S.Syntax => {
  let left = maxShownForms
  const cut = (x: S.Syntax): S.Syntax => {
    left--
    if (x.kind !== "list" && x.kind !== "vector" && x.kind !== "map" && x.kind !== "set") return x
    const items: Array<S.Syntax> = []
    for (const item of x.items) {
      if (left <= 0) {
        items.push(S.symbol("...", item.span))
        break
      }
      items.push(cut(item))
    }
    return x.kind === "list" ? S.list(items, x.span) : x.kind === "vector" ? S.vector(items, x.span) : x.kind === "map" ? S.map(items, x.span) : S.set(items, x.span)
  }
  return cut(s)
}

const quoted = (s: S.Syntax) => S.list([S.symbol("quote", s.span), shownForm(s)], s.span)

const expect: CoreMacro = {
  name: "expect",
  shapes: ["test"],
  doc: "In a deftest: records a failure (with this location and the test's source) when test is false or nil; the test goes on. Also in a handler, filter, timer or watch while a deftest runs it (the failure is the test's); outside sib test it is an error.",
  example: "(expect (> (count (published \"alerts\")) 0))",
  expand: (form) => {
    const [, test, ...extra] = form.items
    if (test === undefined || extra.length > 0) return shapeError(expect, form, "expect takes one expression")
    return ok(list(form, sym("sib/expect", form), test, quoted(test)))
  }
}

const expectEqual: CoreMacro = {
  name: "expect=",
  shapes: ["expected actual"],
  doc: "In a deftest: records a failure showing both values when they are not equal (=); the test goes on. Also in a handler, filter, timer or watch while a deftest runs it (the failure is the test's).",
  example: "(expect= 2 (count (published \"alerts\")))",
  expand: (form) => {
    const [, expected, actual, ...extra] = form.items
    if (expected === undefined || actual === undefined || extra.length > 0) return shapeError(expectEqual, form, "expect= takes the expected value and the actual one")
    return ok(list(form, sym("sib/expect=", form), expected, actual, quoted(expected), quoted(actual)))
  }
}

export const coreMacros: ReadonlyMap<string, CoreMacro> = new Map(
  [defn, when, whenNot, cond, and, or, thread("->", false), thread("->>", true), ifLet, whenLet, caseMacro, expect, expectEqual].map((m) => [m.name, m])
)
