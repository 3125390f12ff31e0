/**
 * The domain forms: define-topic, publish!, subscribe!, latest, log, every!, after!, and the `bus`
 * host object. At the top level (load mode) they register into the program builder; inside
 * handlers, timers and tests they act on the bus through Effects. A publish inside a handler is
 * caused by the event being handled.
 *
 * This module holds latest and log, the host objects (the `bus`, a handler's `ctx`, a declared
 * host name's stand-in), and assembles domainBuiltins from topics.ts, publishing.ts,
 * subscriptions.ts and timers.ts; domainOperands.ts and callErrors.ts hold what the forms share.
 */
import * as Effect from "effect/Effect"
import { type Callable, type HostObject, kindOf, print, typeName, type Value } from "../reader/Value.ts"
import type { DeliveryContext } from "../runtime/ConsumerGroup.ts"
import { type Builtin, builtin } from "../lang/builtins.ts"
import { standInWithMethods } from "../lang/host.ts"
import { failOn } from "./callErrors.ts"
import { asString, durationMs, optionsOf, running, services, topicName } from "./domainOperands.ts"
import { admitLogLine } from "./logRate.ts"
import { doPublish, publish } from "./publishing.ts"
import { doSubscribe, subscribe, watch } from "./subscriptions.ts"
import { sleep, timer } from "./timers.ts"
import { defineTopic } from "./topics.ts"
import { fail } from "../lang/langError.ts"
import type { RunState } from "../lang/run.ts"

const latest = builtin({
  name: "latest", group: "domain", arglists: ["[topic key]"],
  doc: "The payload of the latest event with this key on the topic (a compacted topic holds the current state per key), or nil when the key has no event or its latest is a tombstone (a nil payload). One indexed read.",
  example: "(latest \"process.state\" \"42\")",
  modes: running, modeHint: "latest reads the bus, so it runs inside handlers, timers and tests",
  impl: ([topic, key], run) => {
    const name = topicName(topic!, "latest")
    if (services(run).bus === undefined) return fail("filter", "latest cannot run in a subscribe filter (a filter only decides)")
    // A key is a string, as publish! requires: another value is refused, never turned into text.
    if (typeof key !== "string") {
      return failOn({ argument: 1 }, "type", `latest: the key must be a string, got ${typeName(key!)}`, [
        ...asString(key!).map((h) => `${h} (or (str x) for a computed one)`)
      ])
    }
    const k = key
    return Effect.map(services(run).bus!.latestByKey(name, [k]), (m) => (m.get(k)?.payload ?? null) as Value)
  }
})

/** The longest log line a program writes; longer ones are cut. */
const maxLogChars = 10_000

const log = builtin({
  name: "log", group: "domain", arglists: ["[& values]"],
  doc: "Writes the values (strings as they are, others printed) to the runtime's log, on one line of at most 10,000 characters (a longer one is cut). Programs share a budget of 1 MiB of log a second (8 MiB at once): past it lines are dropped, and a line says how many. In a test the lines are kept with the test: sib test shows those of failing tests (--logs: of every test).",
  example: "(log \"stale process\" pid)",
  impl: (args, run) => {
    // A log line is bounded (a long value is cut) and paid for like any other printing.
    const line = args.map((a) => print(a, true, { meter: run.budget, maxChars: maxLogChars })).join(" ")
    const text = line.length > maxLogChars ? `${line.slice(0, maxLogChars)}...` : line
    const sink = services(run).log
    if (sink !== undefined) {
      sink(text)
      return null
    }
    // The runtime's log (a terminal, a file) takes at most so much a second from programs.
    const lines = admitLogLine(text, run.clock)
    if (lines.length === 0) return null
    return Effect.as(Effect.forEach(lines, (l) => Effect.log(l), { discard: true }), null)
  }
})

/**
 * What stands for a host name a program declares (`declare-host`) where no application gives it
 * (`sib check`, `sib test`): called as a function, or as an object with any method
 * (`(.page pager ...)`), it writes its call to the log (a test keeps the line) and returns nil.
 */
export const hostStandIn = (name: string): Callable =>
  standInWithMethods({
    [kindOf]: "fn",
    name,
    invoke: (run, args, span) => log.impl([`${name} (a declared host function; a stand-in here) called with`, ...args], run as RunState, span)
  }, (method) => ({
    [kindOf]: "fn",
    name: `.${method}`,
    invoke: (run, args, span) => log.impl([`${name}.${method} (a declared host object; a stand-in here) called with`, ...args], run as RunState, span)
  }))

export const domainBuiltins: ReadonlyArray<Builtin> = [defineTopic, publish, subscribe, latest, log, sleep, timer("every"), timer("after"), watch]

/** The `bus` host object: `(.publish bus topic payload opts)` and `(.subscribe bus topic group handler opts)`. */
export const busObject: HostObject = {
  [kindOf]: "host",
  kind: "bus",
  fields: {},
  methods: {
    publish: {
      [kindOf]: "fn", name: "publish",
      invoke: (run, args, span) => {
        if (args.length < 2 || args.length > 3) fail("arity", `.publish takes a topic, a payload and optional options, got ${args.length} arguments`)
        return doPublish(run as RunState, span, args[0]!, args[1]!, optionsOf(args.slice(2), ".publish", run as RunState), ".publish")
      }
    },
    subscribe: {
      [kindOf]: "fn", name: "subscribe",
      invoke: (run, args, span) => {
        if (args.length < 3 || args.length > 4) fail("arity", `.subscribe takes a topic, a group, a handler and optional options, got ${args.length} arguments`)
        return doSubscribe(run as RunState, span, args[0]!, args[1]!, args[2]!, optionsOf(args.slice(3), ".subscribe", run as RunState), ".subscribe")
      }
    }
  }
}

/** The handler's `ctx`: fields group and attempt; methods ack and nack. */
export const deliveryObject = (ctx: DeliveryContext): HostObject => ({
  [kindOf]: "host",
  kind: "delivery",
  fields: { group: ctx.group, attempt: ctx.attempt },
  methods: {
    ack: { [kindOf]: "fn", name: "ack", invoke: () => Effect.as(ctx.ack, null) },
    nack: {
      [kindOf]: "fn", name: "nack",
      invoke: (_run, args) => Effect.as(ctx.nack(args[0] === undefined || args[0] === null ? undefined : args[0] === 0 ? 0 : durationMs(args[0], ".nack")), null)
    }
  }
})
