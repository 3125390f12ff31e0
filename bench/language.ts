/**
 * The language's figures: how fast a program reads, expands and compiles (lines per second on a
 * generated 10k-line file, against lexing the same text, the floor of reading it), and what a
 * handler compiled from `.sib` costs per event against the same handler written in TypeScript on
 * the core API (same backlog, same options, same work: map lookups, assoc, one publish).
 */
import { Effect } from "effect"
import { loadProgram } from "../src/program/load.ts"
import { startProgram } from "../src/program/start.ts"
import { lexer } from "../src/reader/lexer.ts"
import { Bus } from "../src/facade/Bus.ts"
import type { DeliveryContext } from "../src/runtime/ConsumerGroup.ts"
import type { Event } from "../src/store/records.ts"

/** One block of a realistic program (about 30 lines): a topic, helpers, a handler, a subscription. */
const block = (i: number) => `;; ---- service ${i} ------------------------------------------------
(define-topic "svc${i}.heartbeat" {:retentionDays 3 :schema {:pid :int :name :string :cpu? :number}})

(def limits-${i} {:cpu 0.9 :memory 0.8 :restarts 3})

(defn over-limit-${i}? [sample]
  (let [cpu (get sample :cpu 0)
        mem (get-in sample [:memory :used] 0)]
    (or (> cpu (:cpu limits-${i}))
        (> mem (:memory limits-${i})))))

(defn summarize-${i} [state sample]
  (-> state
      (assoc :last (:ts sample))
      (update :beats inc)
      (assoc-in [:cpu :latest] (get sample :cpu 0))))

(defn classify-${i} [sample]
  (cond
    (over-limit-${i}? sample) :hot
    (nil? (:name sample)) :anonymous
    :else :normal))

(defn on-heartbeat-${i} [e ctx]
  (let [p e.payload
        kind (classify-${i} p)]
    (when (= kind :hot)
      (publish! "svc${i}.alerts" {:pid (:pid p) :kind kind} :key (str (:pid p))))))

(subscribe! "svc${i}.heartbeat" "ops-${i}" on-heartbeat-${i} :from "earliest" :maxAttempts 3)
`

/** A program of at least `lines` lines. */
export const generateProgram = (lines: number): string => {
  const blocks: Array<string> = []
  let count = 0
  for (let i = 0; count < lines; i++) {
    const b = block(i)
    blocks.push(b)
    count += b.split("\n").length - 1
  }
  return blocks.join("\n")
}

/** Read, expand and compile (and run the top level of) `text`; lines per second over `rounds`, best round. */
export const compileRate = async (text: string, rounds: number): Promise<{ lines: number; rate: number }> => {
  const lines = text.split("\n").length
  // The generated program subscribes a group per service block, past the default limit of groups a
  // program may subscribe (maxGroups, 256): the limit is raised to what it declares.
  const groups = text.split("(subscribe! ").length - 1
  let best = Number.POSITIVE_INFINITY
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now()
    await Effect.runPromise(loadProgram([{ file: "generated.sib", text }], { limits: { maxGroups: Math.max(256, groups) } }))
    best = Math.min(best, performance.now() - t0)
  }
  return { lines, rate: lines / (best / 1000) }
}

/** Lexing the same text (every token, no parse): the floor of reading it; lines per second. */
export const lexRate = (text: string, rounds: number): number => {
  const lines = text.split("\n").length
  let best = Number.POSITIVE_INFINITY
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now()
    lexer.reset(text)
    let tokens = 0
    while (lexer.next() !== undefined) tokens++
    best = Math.min(best, performance.now() - t0)
    if (tokens < 0) console.log(tokens)
  }
  return lines / (best / 1000)
}

interface Beat {
  readonly pid: number
  readonly name: string
  readonly cpu: number
  readonly meta: { readonly owner: string; readonly region: string }
}

const beat = (i: number): Beat => ({ pid: i % 500, name: `svc-${i % 37}`, cpu: (i % 100) / 100, meta: { owner: `team-${i % 7}`, region: "eu" } })

const handlerSource = `
(def regions {"eu" "europe" "us" "americas"})
(defn project [e ctx]
  (let [p e.payload
        state (assoc p :seen true :load (* 2 (:cpu p)) :region (get regions (get-in p [:meta :region])))]
    (publish! "state" (assoc state :owner (get-in p [:meta :owner])) :key (str (:pid p)))))
(subscribe! "beats" "projector" project :from "earliest" :batchSize 1000)
`

const regions: Record<string, string> = { eu: "europe", us: "americas" }

/** The same handler on the core API. */
const tsHandler = (e: Event, ctx: DeliveryContext) => {
  const p = e.payload as unknown as Beat
  const state = { ...p, seen: true, load: 2 * p.cpu, region: regions[p.meta.region] }
  return Effect.asVoid(ctx.publish("state", { ...state, owner: p.meta.owner }, { key: String(p.pid) }))
}

/**
 * Consumes a backlog of `n` heartbeats with the handler (`.sib` or TypeScript); events per second,
 * from subscribing to the group's cursor passing the last event.
 */
export const handlerRate = (file: string, n: number, kind: "sib" | "ts"): Promise<number> =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const bus = yield* Bus
    for (let i = 0; i < n; i += 1000) {
      yield* bus.publishAll(Array.from({ length: Math.min(1000, n - i) }, (_, j) => ({ topic: "beats", payload: beat(i + j) })))
    }
    const last = (yield* bus.read("beats", n - 1, 1))[0]!.seq
    const program = kind === "sib" ? yield* loadProgram([{ file: "projector.sib", text: handlerSource }]) : undefined
    const t0 = performance.now()
    const running = program !== undefined
      ? yield* startProgram(program, bus)
      : { stop: (yield* bus.subscribe("beats", "projector", tsHandler, { from: "earliest", batchSize: 1000 })).unsubscribe }
    while (((yield* bus.getCursor("beats", "projector")) ?? 0) < last) yield* Effect.sleep(2)
    const rate = n / ((performance.now() - t0) / 1000)
    yield* running.stop
    const written = yield* bus.read("state", 0, 3)
    if (written.length < 3) throw new Error(`the ${kind} handler published nothing`)
    return rate
  }).pipe(Effect.provide(Bus.sqlite({ filename: file })))))
