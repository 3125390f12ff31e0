/**
 * Promise runtimes for a suite that runs on every store factory: `freshRuntimes(factory)`, called
 * inside a `describe`, gives a function opening a runtime on a fresh database of that factory and
 * closes every runtime it opened after each test. Also `waitFor`, polling a condition in real time.
 */
import { afterEach } from "vitest"
import { createRuntime, type Runtime, type RuntimeOptions } from "../../src/index.ts"
import type { StoreFactory } from "./stores.ts"

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Resolves once `check` holds, polling every 5 ms; throws after `ms`. */
export const waitFor = async (check: () => boolean | Promise<boolean>, ms = 10_000) => {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("timed out waiting")
    await sleep(5)
  }
}

export const freshRuntimes = (factory: StoreFactory) => {
  const open: Array<Runtime> = []
  afterEach(async () => {
    for (const rt of open.splice(0)) await rt.close()
  })
  return async (options: Omit<RuntimeOptions, "db"> = {}): Promise<Runtime> => {
    const rt = await createRuntime({ ...options, db: factory.fresh() })
    open.push(rt)
    return rt
  }
}
