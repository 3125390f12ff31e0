/**
 * `watch!` (issue 12): a program's live subscription. Its function gets every event published to
 * its topics after the program started, by any process on the database; a wrong arity or topic is
 * refused at load.
 */
import { afterEach, describe, expect, it } from "vitest"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { createRuntime, type Runtime, runSibTests, SibError } from "../../src/index.ts"
import { storeFactories } from "../helpers/stores.ts"
import { makeTmpDir } from "../helpers/tmp.ts"

const program = `(define-topic "orders")
(watch! ["orders" "audit"] (fn [e] (publish! "seen" {:topic e.topic :id e.payload.id})))
(deftest "a watch sees every new event of its topics, and no other"
  (publish! "orders" {:id 1})
  (publish! "audit" {:id 2})
  (publish! "other" {:id 3})
  (advance! "10ms")
  (expect= [["orders" 1] ["audit" 2]] (map (fn [e] [e.payload.topic e.payload.id]) (published "seen"))))
`

describe("watch!", () => {
  it("runs under sib test's clock, and a wrong function or topic is refused at load", async () => {
    const dir = makeTmpDir()
    writeFileSync(join(dir, "w.sib"), program)
    const report = await runSibTests(join(dir, "w.sib"))
    expect([report.passed, report.failed]).toEqual([1, 0])
    writeFileSync(join(dir, "bad.sib"), `(watch! "orders" (fn [] nil))\n(watch! 42 (fn [e] nil))\n`)
    const refused = await runSibTests(join(dir, "bad.sib")).then(() => undefined, (e: unknown) => e)
    expect((refused as SibError).diagnostics.map((d) => d.message)).toEqual([
      "watch!: a watch calls its function with the event, but fn takes []",
      "watch!: a topic is a name or a descriptor from define-topic, got a number"
    ])
  })
})

describe.each(storeFactories)("watch! across processes ($name)", (factory) => {
  const open: Array<Runtime> = []
  afterEach(async () => {
    for (const rt of open.splice(0)) await rt.close()
  })

  it("every process running the program sees what any process publishes", async () => {
    const db = factory.shared()
    const dir = makeTmpDir()
    writeFileSync(join(dir, "w.sib"), `(watch! "orders" (fn [e] (publish! "seen" {:by "watcher" :id e.payload.id})))\n`)
    const a = await createRuntime({ db })
    const b = await createRuntime({ db })
    open.push(a, b)
    await a.load(join(dir, "w.sib"))
    await b.publish("orders", { id: 7 })
    const deadline = Date.now() + 5000
    while ((await b.read("seen", 0, 10)).length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10))
    expect((await b.read("seen", 0, 10)).map((e) => e.payload)).toEqual([{ by: "watcher", id: 7 }])
  })
})
