/**
 * The browser side of the ops page, its entry: wires the page's skeleton (`page.ts` on the server)
 * to the server. It takes the token from the URL fragment and checks it (valid: Requeue and Drop
 * buttons; none or invalid: read-only), then listens to `events` (server-sent events: the live
 * figures about once a second, redrawn as they come, the dead letters reloaded when their digest
 * moves), and drives the event browser (a topic's latest events, from a seq, from a time, or one
 * event by id) and the event view with its causation tree. Built into one script by
 * `npm run page` (see `pageScript.ts`).
 */
import type { DeadLetterJson, DeadLettersJson, EventInfoJson, EventPageJson, OverviewJson, TraceJson } from "../wire.ts"
import { act, checkToken, forgetToken, getJson, RequestError, takeToken } from "./client.ts"
import { drawDeadLetters } from "./deadLetters.ts"
import { browser, byId, h, type InputEl, oneLine } from "./dom.ts"
import { drawEvent, drawEventPage, drawTrace } from "./events.ts"
import { drawFigures } from "./figures.ts"

const status = byId("status")
const mode = byId("mode")
const notice = byId("notice")
const say = (text: string, bad = false) => {
  notice.textContent = text
  notice.className = bad ? "bad" : "good"
}
const messageOf = (e: unknown) => (e instanceof Error ? oneLine(e.message) : "the request failed")

let token: string | undefined
let digest: string | undefined

// ---- dead letters --------------------------------------------------------------------------------

const acting = (verb: "requeue" | "drop") => async (d: DeadLetterJson) => {
  if (token === undefined) return
  try {
    const answer = await act(`api/${verb}`, token, { group: d.group, eventId: d.eventId })
    say(oneLine(answer.message), !answer.ok)
  } catch (e) {
    say(messageOf(e), true)
    if (e instanceof RequestError && e.status === 401) readOnly("the server refused the token")
  }
  await loadDeadLetters()
}

/** Whose dead letters the list shows ("": every group's), a page of them at a time. */
const deadLetterGroup = byId<InputEl>("dead-letter-group")
const deadLetterPage = 100
/** Where the page shown starts (by group, then seq). */
let deadLetterOffset = 0

/** The latest load of the list: an older one answering after it is not drawn over it. */
let deadLettersLoad = 0

const loadDeadLetters = async () => {
  const load = ++deadLettersLoad
  try {
    let list = await getJson<DeadLettersJson>("api/dead-letters", { group: deadLetterGroup.value, offset: deadLetterOffset, limit: deadLetterPage })
    // The page emptied (its dead letters requeued or dropped): the last page that has some.
    if (list.deadLetters.length === 0 && deadLetterOffset > 0) {
      deadLetterOffset = Math.max(0, Math.floor((list.total - 1) / deadLetterPage) * deadLetterPage)
      list = await getJson<DeadLettersJson>("api/dead-letters", { group: deadLetterGroup.value, offset: deadLetterOffset, limit: deadLetterPage })
    }
    if (load !== deadLettersLoad) return
    drawDeadLetters(list, byId("dead-letters"), byId("dead-letter-count"), {
      requeue: token === undefined ? undefined : acting("requeue"),
      drop: token === undefined ? undefined : acting("drop"),
      open: openEvent
    })
    byId("dead-letter-pages").hidden = list.total <= deadLetterPage
    byId<InputEl>("dead-letters-previous").disabled = list.offset === 0
    byId<InputEl>("dead-letters-next").disabled = list.offset + list.deadLetters.length >= list.total
  } catch (e) {
    say(`dead letters: ${messageOf(e)}`, true)
  }
}

// ---- the event view ------------------------------------------------------------------------------

async function openEvent(id: string): Promise<void> {
  const detail = byId("detail")
  detail.hidden = false
  byId("detail-title").textContent = `Event ${oneLine(id)}`
  try {
    const [info, trace] = await Promise.all([getJson<EventInfoJson>("api/event", { id }), getJson<TraceJson>("api/trace", { id })])
    drawEvent(info, byId("event"), openEvent)
    drawTrace(trace, byId("trace"), openEvent)
  } catch (e) {
    byId("event").replaceChildren(h("p", { class: "bad" }, messageOf(e)))
    byId("trace").replaceChildren()
  }
}

// ---- the event browser ---------------------------------------------------------------------------

const topicSelect = byId<InputEl>("browse-topic")
const modeSelect = byId<InputEl>("browse-mode")
const valueInput = byId<InputEl>("browse-value")
const nextButton = byId<InputEl>("browse-next")
let next: { topic: string; after: number } | undefined

const showPage = (page: EventPageJson) => {
  drawEventPage(page, byId("events"), openEvent)
  next = page.next === null ? undefined : { topic: page.topic, after: page.next }
  nextButton.hidden = next === undefined
}

const browse = async () => {
  const topic = topicSelect.value
  const how = modeSelect.value
  const value = valueInput.value.trim()
  try {
    if (how === "id") {
      if (value === "") return say("give an event id", true)
      return await openEvent(value)
    }
    if (topic === "") return say("no topic to browse yet", true)
    const query = how === "seq" ? { topic, seq: value } : how === "time" ? { topic, time: value } : { topic }
    showPage(await getJson<EventPageJson>("api/events", query))
  } catch (e) {
    say(messageOf(e), true)
  }
}

byId("browse").addEventListener("submit", (e) => {
  e.preventDefault()
  void browse()
})
nextButton.addEventListener("click", () => {
  if (next === undefined) return
  getJson<EventPageJson>("api/events", { topic: next.topic, after: next.after }).then(showPage, (e: unknown) => say(messageOf(e), true))
})
modeSelect.addEventListener("change", () => {
  const placeholder: Readonly<Record<string, string>> = { latest: "", seq: "seq, e.g. 1", time: "e.g. 2026-12-07T10:00:00Z", id: "event id" }
  valueInput.setAttribute("placeholder", placeholder[modeSelect.value] ?? "")
  valueInput.disabled = modeSelect.value === "latest"
})

deadLetterGroup.addEventListener("change", () => {
  deadLetterOffset = 0
  void loadDeadLetters()
})
byId("dead-letters-previous").addEventListener("click", () => {
  deadLetterOffset = Math.max(0, deadLetterOffset - deadLetterPage)
  void loadDeadLetters()
})
byId("dead-letters-next").addEventListener("click", () => {
  deadLetterOffset += deadLetterPage
  void loadDeadLetters()
})

/** Offers the groups that have dead letters, with their counts (the choice made stays). */
const syncDeadLetterGroups = (o: OverviewJson) => {
  const counts = new Map<string, number>()
  for (const g of o.groups) if (g.deadLetters > 0) counts.set(g.group, (counts.get(g.group) ?? 0) + g.deadLetters)
  const chosen = deadLetterGroup.value
  const names = [...counts.keys()].sort()
  if (chosen !== "" && !counts.has(chosen)) names.push(chosen)
  const labels = ["", ...names].map((n) => (n === "" ? "every group" : `${oneLine(n)} (${counts.get(n) ?? 0})`))
  const options = deadLetterGroup as unknown as { options: { length: number; [i: number]: { textContent: string | null } } }
  const current = Array.from({ length: options.options.length }, (_, i) => options.options[i]!.textContent ?? "")
  if (current.join("\n") === labels.join("\n")) return
  deadLetterGroup.replaceChildren(...["", ...names].map((n, i) => h("option", { value: n }, labels[i]!)))
  deadLetterGroup.value = chosen
}

/** Keeps the topic choices in step with the figures (the choice made stays). */
const syncTopics = (o: OverviewJson) => {
  const names = o.topics.map((t) => t.name)
  const options = topicSelect as unknown as { options: { length: number; [i: number]: { value: string } } }
  const current = Array.from({ length: options.options.length }, (_, i) => options.options[i]!.value)
  if (current.join("\n") === names.join("\n")) return
  const chosen = topicSelect.value
  topicSelect.replaceChildren(...names.map((n) => h("option", { value: n }, oneLine(n))))
  if (names.includes(chosen)) topicSelect.value = chosen
}

// ---- live figures --------------------------------------------------------------------------------

const live = () => {
  const source = new browser.EventSource("events")
  source.onopen = () => {
    status.textContent = "live"
    status.className = "good"
  }
  source.onerror = () => {
    status.textContent = "disconnected, retrying\u2026"
    status.className = "bad"
  }
  source.addEventListener("overview", (message) => {
    const o = JSON.parse(message.data) as OverviewJson
    drawFigures(o, byId("topics"), byId("groups"), byId("members"), byId("updated"))
    syncTopics(o)
    syncDeadLetterGroups(o)
    if (o.deadLetters.digest !== digest) {
      digest = o.deadLetters.digest
      void loadDeadLetters()
    }
  })
}

function readOnly(why: string): void {
  token = undefined
  forgetToken()
  mode.replaceChildren(h("span", { class: "bad" }, "read-only"), `: ${why}`)
}

const start = async () => {
  const given = takeToken()
  if (given === undefined) {
    mode.replaceChildren(h("span", {}, "read-only"), ": open the link sib printed at start-up (its #token=...) to requeue or drop")
  } else if (await checkToken(given).catch(() => false)) {
    token = given
    mode.replaceChildren(h("span", { class: "good" }, "actions enabled"))
  } else {
    readOnly("the token in the link is not this server's")
  }
  live()
}

void start()
