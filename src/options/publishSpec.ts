/**
 * Publish options (`publish`, `publishAll` items, `ctx.publish`, `.sib`'s `publish!`). A publish is
 * on the hot path, so `prepare` (src/runtime/publish.ts) checks each value inline with its own
 * reasons (`key`, `headers`, ...); this spec holds the names, bounds and docs they share.
 */
import { custom, spec, string } from "./spec.ts"

export const maxKeyLength = 1024
export const maxIdLength = 255

export const publishSpec = spec("publish", {
  id: string({ defaultDoc: "a new UUIDv7", doc: `The event id (at most ${maxIdLength} characters); publishing an id that exists on the same topic returns the stored event and writes nothing; an id of an event of another topic is refused (PublishError, reason \"id\"; a batch is refused whole). Ids name one event across all topics.` }),
  key: string({ doc: `Orders events (ordering key), chooses the partition, and is the compaction key (at most ${maxKeyLength} characters).` }),
  headers: custom("Record<string, string>", { doc: "String headers stored with the event." }, (v) => v),
  tags: custom("string[]", { doc: "Labels stored with the event." }, (v) => v),
  causedBy: custom("string | string[]", { doc: "The id(s) of the event(s) that caused this one (a handler's ctx.publish sets it)." }, (v) => v)
})

export const publishOptionNames = Object.keys(publishSpec.fields)
