/**
 * A loaded program: what its top level declared (topics, consumer groups, initial publishes,
 * timers, watches, tests), collected while the files loaded. Nothing of it touches the bus until `start`,
 * so a program with any error registers nothing.
 */
import type { Span } from "../diagnostics/Span.ts"
import type { Callable } from "../reader/Value.ts"
import type { SubscribeOptions } from "../runtime/subscribeOptions.ts"
import type { PublishOptions } from "../runtime/publish.ts"
import type { TopicOptions } from "../runtime/Topic.ts"
import type { Namespace } from "../lang/Namespace.ts"

export interface TopicDef {
  readonly name: string
  readonly options: TopicOptions
  readonly span: Span
}

export interface SubscriptionDef {
  readonly topics: ReadonlyArray<string>
  readonly group: string
  readonly handler: Callable
  readonly options: SubscribeOptions
  readonly span: Span
}

export interface PublishDef {
  readonly topic: string
  readonly payload: unknown
  readonly options: PublishOptions
  readonly span: Span
}

export interface TimerDef {
  readonly kind: "every" | "after"
  readonly ms: number
  readonly fn: Callable
  readonly span: Span
}

/** A live subscription of the program (`watch!`): its function is called with every new event. */
export interface WatchDef {
  readonly topics: ReadonlyArray<string>
  readonly fn: Callable
  readonly span: Span
}

export interface TestDef {
  readonly name: string
  readonly body: Callable
  readonly span: Span
}

/**
 * What a program's subscribe filters see of the run that started it: filters are made when the
 * program loads, before any start; `startProgram` sets it (a test's expectations, while the test runs).
 */
export interface FilterServices {
  expectations: unknown
}

export class ProgramBuilder {
  readonly filterServices: FilterServices = { expectations: undefined }
  readonly topics: Array<TopicDef> = []
  readonly subscriptions: Array<SubscriptionDef> = []
  readonly publishes: Array<PublishDef> = []
  readonly timers: Array<TimerDef> = []
  readonly watches: Array<WatchDef> = []
  readonly tests: Array<TestDef> = []

  topic(name: string): TopicDef | undefined {
    for (let i = this.topics.length - 1; i >= 0; i--) if (this.topics[i]!.name === name) return this.topics[i]
    return undefined
  }
}

export interface Program {
  /** The files loaded, in load order (entry files and what they required). */
  readonly files: ReadonlyArray<string>
  /** Source text by file, for rendering diagnostics. */
  readonly sources: ReadonlyMap<string, string>
  readonly topics: ReadonlyArray<TopicDef>
  readonly subscriptions: ReadonlyArray<SubscriptionDef>
  readonly publishes: ReadonlyArray<PublishDef>
  readonly timers: ReadonlyArray<TimerDef>
  readonly watches: ReadonlyArray<WatchDef>
  readonly tests: ReadonlyArray<TestDef>
  readonly namespace: Namespace
  readonly filterServices: FilterServices
}
