/**
 * The special forms: the few forms the compiler knows directly (everything else is a macro or a
 * function). Registered with their shapes, doc and an example; the language reference is generated
 * from this table. The compiler (compile.ts) switches on these names.
 */
export interface Special {
  readonly name: string
  readonly shapes: ReadonlyArray<string>
  readonly doc: string
  readonly example: string
  /** Only at the top level of a file. */
  readonly topLevel?: boolean
}

export const specials: ReadonlyArray<Special> = [
  { name: "def", shapes: ["name value", "name \"doc\" value"], doc: "Defines a global name (it may replace a built-in of the same name).", example: "(def limit 100) ;=> 100", topLevel: true },
  { name: "fn", shapes: ["[params] body...", "name [params] body..."], doc: "A function. Parameters are a vector or a list; `& rest` collects the remaining arguments as a list; `& {:key default ...}` binds keyword arguments (`:key value` pairs or one map) with defaults. A name lets the function call itself.", example: "((fn [x & {:scale 1}] (* x scale)) 5 :scale 3) ;=> 15" },
  { name: "let", shapes: ["[name value ...] body..."], doc: "Binds names in order (each value sees the earlier names) and evaluates the body.", example: "(let [a 1 b (+ a 1)] (* a b)) ;=> 2" },
  { name: "if", shapes: ["test then", "test then else"], doc: "then when test is true (anything but false and nil), else the else branch (or nil).", example: "(if (> 3 0) \"positive\" \"not positive\") ;=> \"positive\"" },
  { name: "do", shapes: ["body..."], doc: "Evaluates the forms in order; the value is the last one's.", example: "(do (log \"hi\") 42)" },
  { name: "quote", shapes: ["form"], doc: "The form itself, unevaluated, as data ('form is the same).", example: "'(a b c) ;=> (a b c)" },
  { name: "defmacro", shapes: ["name [params] body...", "name (params) body..."], doc: "Defines a macro: a function from code (as data) to code, run before compilation. Quasiquote (`) builds code, ~ inserts a value and ~@ splices a list.", example: "(defmacro unless (test body) `(if ~test nil ~body))", topLevel: true },
  { name: ".", shapes: ["object method args...", "(.method object args...)"], doc: "Calls a method of a host object the embedding application exposes (such as bus). Dotted names read fields: e.payload, topic.name.", example: "(.publish bus \"orders\" {:id 1} {})" },
  { name: "require", shapes: ["\"path.sib\""], doc: "Loads another file (relative to this one) into the program, once.", example: "(require \"topics.sib\")", topLevel: true },
  { name: "deftest", shapes: ["\"name\" body..."], doc: "A test, run by `sib test` on a fresh in-memory bus under a test clock. Inside: advance!, expect, expect=, published, dead-letters, attempts.", example: "(deftest \"adds\" (expect= 2 (+ 1 1)))", topLevel: true }
]

export const specialNames: ReadonlySet<string> = new Set(specials.map((s) => s.name))
