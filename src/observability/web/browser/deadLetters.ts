/**
 * The browser side of the ops page, part 5: the dead letters, one card each: group, topic and seq,
 * the event (a link to its view), attempts and times, the error with its `.sib` location, the
 * stack and the payload; with Requeue and Drop buttons when the page holds a valid token (none
 * otherwise: the page is then read-only, and the server would refuse anyway). Drop cannot be
 * undone, so it asks first, in the card itself (the event and group named, Cancel focused): only
 * "Drop it" sends the request.
 */
import type { DeadLetterJson, DeadLettersJson } from "../wire.ts"
import { type El, h, oneLine, visible } from "./dom.ts"
import { location, payloadBlock, time } from "./format.ts"

export interface DeadLetterActions {
  /** Undefined: read-only, no buttons. */
  readonly requeue: ((d: DeadLetterJson) => void) | undefined
  readonly drop: ((d: DeadLetterJson) => void) | undefined
  readonly open: (eventId: string) => void
}

/**
 * The card's buttons: Requeue and Drop, or, once Drop is pressed, its question with "Drop it" and
 * Cancel (which puts the buttons back). Null on a read-only page.
 */
const buttons = (d: DeadLetterJson, actions: DeadLetterActions): El | null => {
  const { drop, requeue } = actions
  if (requeue === undefined && drop === undefined) return null
  const box = h("span", { class: "actions" })
  const offer = () =>
    box.replaceChildren(...[
      requeue === undefined ? null : h("button", { type: "button", class: "requeue", onclick: () => requeue(d) }, "Requeue"),
      drop === undefined ? null : h("button", { type: "button", class: "drop", onclick: () => ask(drop) }, "Drop")
    ].filter((b): b is El => b !== null))
  const ask = (dropIt: (d: DeadLetterJson) => void) => {
    const cancel = h("button", { type: "button", class: "cancel-drop", onclick: offer }, "Cancel")
    box.replaceChildren(h(
      "span",
      { class: "confirm-drop", role: "group" },
      `Drop the dead letter of event ${oneLine(d.eventId)} in group ${oneLine(d.group)} for good? `,
      h("button", {
        type: "button",
        class: "confirm-drop-yes",
        onclick: () => {
          box.replaceChildren("dropping\u2026")
          dropIt(d)
        }
      }, "Drop it"),
      cancel
    ))
    cancel.focus()
  }
  offer()
  return box
}

const card = (d: DeadLetterJson, actions: DeadLetterActions): El =>
  h(
    "article",
    { class: "dead-letter", "data-event-id": d.eventId, "data-group": d.group },
    h(
      "header",
      {},
      h("strong", {}, oneLine(d.group)),
      " \u00b7 ",
      `${oneLine(d.topic)} #${d.seq}`,
      " \u00b7 ",
      h("a", { href: "#", class: "event-link", onclick: (e) => (e.preventDefault(), actions.open(d.eventId)) }, oneLine(d.eventId)),
      d.key === null ? null : ` \u00b7 key ${oneLine(d.key)}`,
      buttons(d, actions)
    ),
    h(
      "p",
      { class: "meta" },
      `${d.attempts} attempt${d.attempts === 1 ? "" : "s"}, first failed ${time(d.firstFailedAt)}, dead since ${time(d.deadAt)}${d.holdsKey ? "; holds its key" : ""}`
    ),
    h("p", { class: "error" }, h("span", { class: "label" }, "error "), visible(d.errorMessage)),
    d.location === null ? null : h("p", { class: "location" }, h("span", { class: "label" }, "at "), location(d.location)),
    d.errorStack === null ? null : h("details", {}, h("summary", {}, "stack"), h("pre", { class: "stack" }, visible(d.errorStack))),
    !d.found
      ? h("p", { class: "meta" }, "the event is no longer stored (pruned or compacted)")
      : d.preview === null
      ? h("details", { open: true }, h("summary", {}, "payload"), h("pre", { class: "payload" }, payloadBlock(d.payload)))
      : h(
        "details",
        {},
        h("summary", {}, `payload (${d.preview.chars.toLocaleString("en-US")} characters of JSON; the event view shows it all)`),
        h("pre", { class: "payload" }, `${visible(d.preview.text)}\u2026`)
      )
  )

/** Draws the list (or says there is none). */
export const drawDeadLetters = (list: DeadLettersJson, into: El, heading: El, actions: DeadLetterActions): void => {
  const shown = list.deadLetters.length
  heading.textContent = list.total === 0
    ? ""
    : list.total > shown
    ? shown === 0 ? `(${list.total})` : `(${(list.offset + 1).toLocaleString("en-US")}\u2013${(list.offset + shown).toLocaleString("en-US")} of ${list.total.toLocaleString("en-US")})`
    : `(${list.total})`
  into.replaceChildren(...(list.deadLetters.length === 0 ? [h("p", { class: "empty" }, "no dead letters")] : list.deadLetters.map((d) => card(d, actions))))
}
