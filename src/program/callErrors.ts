/**
 * How a domain form reports what is wrong with a call: every problem found, not only the first,
 * each placed under the part of the call it is about (an argument, an option's name or value).
 * The option problems the runtime's specs find are put in `.sib`'s words here (option names as
 * keywords, the closest valid names or words as hints). What the forms read is domainOperands.ts's.
 */
import { didYouMean, didYouMeanWord } from "../diagnostics/suggest.ts"
import { type Naming, type OptionProblem, problemText } from "../options/spec.ts"
import { type CallPart, failAll, isLimit, LangError } from "../lang/langError.ts"

export const keywordName = (name: string) => `:${name.length > 64 ? `${name.slice(0, 64)}...` : name}`

/** Option names as `.sib` writes them: `:name`, and a nested one as `:backoff :initialMs`. */
const sibNaming: Naming = { name: (n) => `:${n}`, path: (p) => p.split(".").map((n) => `:${n}`).join(" ") }

/**
 * An option problem the runtime's spec found, in `.sib`'s words (option names as keywords), as
 * language errors placed under the option they are about: one per unknown name (with the closest
 * valid names), one per value that does not fit (with the closest word when it is one of a few).
 */
export const optionErrors = (code: string, fn: string, problem: OptionProblem): ReadonlyArray<LangError> => {
  if (problem._tag === "conflict") {
    const message = problem.message.startsWith(`${fn}:`) ? problem.message : `${fn}: ${problem.message}`
    return [new LangError(code, message, problem.hint === undefined ? [] : [problem.hint], undefined, {
      part: problem.path === "" ? undefined : { path: problem.path, part: "entry" }
    })]
  }
  if (problem._tag === "invalid") {
    const hints = problem.choices !== undefined && typeof problem.got === "string" ? didYouMeanWord(problem.got, problem.choices, (c) => JSON.stringify(c)) : []
    return [new LangError(code, `${fn}: ${problemText(problem, sibNaming)}`, hints, undefined, { part: { path: problem.path, part: "entry" } })]
  }
  const where = problem.path === "" ? "" : ` in ${sibNaming.path(problem.path)}`
  return problem.names.map((n) =>
    new LangError(code, `${fn}: unknown option ${keywordName(n)}${where}`, [
      ...didYouMean(n, problem.valid, keywordName),
      `valid options${where}: ${problem.valid.map(keywordName).join(" ")}`
    ], undefined, { part: { path: problem.path === "" ? n : `${problem.path}.${n}`, part: "name" } }))
}

/**
 * The errors of option values written literally in a call (see `Builtin.options.literalProblems`):
 * values that do not fit, and unknown names in nested option maps. Rules across options are left
 * to the run (other options may be given in variables), as are unknown top-level names (the
 * compiler reports those).
 */
export const literalProblems = (code: string, fn: string, problems: ReadonlyArray<OptionProblem>): ReadonlyArray<LangError> =>
  problems.filter((p) => p._tag === "invalid" || (p._tag === "unknown" && p.path !== "")).flatMap((p) => optionErrors(code, fn, p))

/** Fails with every problem given (see `optionErrors`). */
export const optionFailure = (code: string, fn: string, ...problems: ReadonlyArray<OptionProblem>): never =>
  failAll(problems.flatMap((p) => optionErrors(code, fn, p)))

/**
 * Runs a check, keeping the language error it fails with in `errors` (placed under `part` when it
 * has no part of its own), so that a form reports every problem found, not only its first. A limit is never kept:
 * it ends the run.
 */
export const collecting = <A>(errors: Array<LangError>, check: () => A, part?: CallPart): A | undefined => {
  try {
    return check()
  } catch (e) {
    if (!(e instanceof LangError) || isLimit(e)) throw e
    errors.push(part === undefined || e.part !== undefined ? e : new LangError(e.code, e.message, e.hints, e.data, { part, more: e.more }))
    errors.push(...e.more)
    return undefined
  }
}

/** Fails with an error placed under a part of the call (an argument, an option). */
export const failOn = (part: CallPart, code: string, message: string, hints: ReadonlyArray<string> = []): never => {
  throw new LangError(code, message, hints, undefined, { part })
}
