/**
 * Child process for the consume rows of the performance section: opens a database that already
 * holds a backlog (written by the parent) and drains it with one group and a no-op handler, through
 * the Promise API (`sibus/promise`'s `createRuntime`) or the Effect API (`sibus`'s `Bus`), as a
 * user's process would: the built package (`dist/`, what the tarball ships; the parent builds it
 * first), default Node flags, and only the modules that API needs. Prints the rate (events/s,
 * from subscribing until the last event's handler ran) and the process's peak RSS in MB. Plain
 * JavaScript, unlike the rest of the bench: a .ts entry would load Node's type stripper (~12 MB)
 * into the process measured.
 *
 * `node bench/consumeProcess.js <file> <count> promise|effect [group]`
 */
import { join } from "node:path"
import { pathToFileURL } from "node:url"

const [file, countArg, api, groupArg] = process.argv.slice(2)
/** The group (a new one reads the backlog again from the start). */
const group = groupArg ?? `${api}-group`
const count = Number(countArg)
const options = { from: "earliest", ordering: "none", batchSize: 1000 }
const dist = (module) => pathToFileURL(join(import.meta.dirname, "..", "dist", module)).href

const viaPromise = async () => {
  const { createRuntime } = await import(dist("promise.js"))
  const rt = await createRuntime({ db: file, maintenance: false })
  let handled = 0
  let done
  const all = new Promise((resolve) => (done = resolve))
  const t0 = performance.now()
  const unsubscribe = await rt.subscribe("bench", group, () => {
    if (++handled === count) done()
  }, options)
  await all
  const rate = count / ((performance.now() - t0) / 1000)
  await unsubscribe()
  await rt.close()
  return rate
}

const viaEffect = async () => {
  const { Bus } = await import(dist("index.js"))
  const Effect = await import("effect/Effect")
  const Deferred = await import("effect/Deferred")
  return Effect.runPromise(Effect.gen(function*() {
    const bus = yield* Bus
    const all = yield* Deferred.make()
    let handled = 0
    const t0 = performance.now()
    const sub = yield* bus.subscribe("bench", group, () =>
      Effect.sync(() => {
        if (++handled === count) Deferred.doneUnsafe(all, Effect.void)
      }), options)
    yield* Deferred.await(all)
    const rate = count / ((performance.now() - t0) / 1000)
    yield* sub.unsubscribe
    return rate
  }).pipe(Effect.provide(Bus.open(file, { maintenance: false }))))
}

const rate = api === "promise" ? await viaPromise() : await viaEffect()
console.log(JSON.stringify({ rate, peakMb: process.resourceUsage().maxRSS / 1024 }))
