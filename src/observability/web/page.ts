/**
 * The ops page's static parts: the HTML skeleton (no data in it: everything shown comes from the
 * JSON routes and is set as text by the script), the style sheet, the script (`pageScript.ts`,
 * built from `browser/`), and the headers every page route sends: a strict Content-Security-Policy
 * (only this server's own script, style and connections; no inline script or style, no frames, no
 * forms posting elsewhere), no MIME sniffing, no referrer, no framing.
 */
export { pageScript } from "./pageScript.ts"

export const contentSecurityPolicy = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'"
].join("; ")

/** Headers of every ops page reply (the page, its assets, its JSON and its events). */
export const pageHeaders: Readonly<Record<string, string>> = {
  "content-security-policy": contentSecurityPolicy,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin"
}

export const pageHtml = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>sib ops</title>
<link rel="stylesheet" href="app.css">
<script src="app.js" defer></script>
</head>
<body>
<header>
  <h1>sib ops</h1>
  <span id="status">connecting&hellip;</span>
  <span id="mode"></span>
  <span id="updated"></span>
</header>
<p id="notice" role="status"></p>
<main>
  <section>
    <h2>Topics</h2>
    <table id="topics"></table>
  </section>
  <section>
    <h2>Groups</h2>
    <table id="groups"></table>
    <div id="members"></div>
  </section>
  <section>
    <h2>Dead letters <span id="dead-letter-count"></span></h2>
    <label>group <select id="dead-letter-group"><option value="">every group</option></select></label>
    <div id="dead-letters"><p class="empty">loading&hellip;</p></div>
    <p id="dead-letter-pages" hidden><button type="button" id="dead-letters-previous">Previous</button> <button type="button" id="dead-letters-next">Next</button></p>
  </section>
  <section>
    <h2>Events</h2>
    <form id="browse">
      <label>topic <select id="browse-topic"></select></label>
      <label>show <select id="browse-mode">
        <option value="latest">the latest</option>
        <option value="seq">from seq</option>
        <option value="time">from time</option>
        <option value="id">the event with id</option>
      </select></label>
      <input id="browse-value" disabled>
      <button type="submit" id="browse-go">Show</button>
    </form>
    <table id="events"></table>
    <button type="button" id="browse-next" hidden>Next page</button>
  </section>
  <section id="detail" hidden>
    <h2 id="detail-title">Event</h2>
    <div id="event"></div>
    <h3>Causation</h3>
    <div id="trace"></div>
  </section>
</main>
</body>
</html>
`

export const pageCss = `:root { color-scheme: light dark; --bad: #c62828; --good: #2e7d32; --line: #8884; --muted: #888; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, sans-serif; }
header { display: flex; gap: 1.5em; align-items: baseline; padding: 0.6em 1em; border-bottom: 1px solid var(--line); }
header h1 { font-size: 1.2em; margin: 0; }
main { padding: 0 1em 2em; }
section { margin-top: 1.2em; }
h2 { font-size: 1.05em; margin: 0 0 0.4em; }
h3, h4 { font-size: 1em; margin: 0.8em 0 0.3em; }
table { border-collapse: collapse; min-width: 60%; }
th, td { text-align: left; padding: 0.25em 0.6em; border-bottom: 1px solid var(--line); vertical-align: top; }
td { max-width: 32em; overflow-wrap: anywhere; }
th { font-weight: 600; color: var(--muted); }
.num { text-align: right; font-variant-numeric: tabular-nums; }
.empty, .meta { color: var(--muted); }
.bad { color: var(--bad); }
.good { color: var(--good); }
#notice { margin: 0.4em 1em; min-height: 1.4em; }
pre { margin: 0.3em 0; padding: 0.5em; background: #8881; overflow: auto; max-height: 24em; white-space: pre-wrap; word-break: break-word; }
.payload-line { font-family: ui-monospace, monospace; font-size: 0.9em; word-break: break-all; }
.dead-letter { border: 1px solid var(--line); border-left: 3px solid var(--bad); padding: 0.5em 0.8em; margin: 0.5em 0; }
.dead-letter header { padding: 0; border: 0; gap: 0.3em; flex-wrap: wrap; overflow-wrap: anywhere; min-width: 0; }
.dead-letter { overflow-wrap: anywhere; }
.dead-letter button { margin-left: 0.5em; }
.confirm-drop { color: var(--bad); }
.dead-letter p { margin: 0.3em 0; }
.label { color: var(--muted); }
.error, .location { font-family: ui-monospace, monospace; white-space: pre-wrap; word-break: break-word; }
form label { margin-right: 0.8em; }
#browse-value { min-width: 22em; }
dl.fields { display: grid; grid-template-columns: max-content 1fr; gap: 0.2em 1em; margin: 0; }
dl.fields dt { color: var(--muted); }
dl.fields dd { margin: 0; word-break: break-all; }
ul.trace, ul.trace ul { list-style: none; padding-left: 1.4em; margin: 0.2em 0; }
ul.groups { margin: 0.2em 0; padding-left: 1.2em; }
.members ul { list-style: none; margin: 0.2em 0; padding-left: 0.6em; }
.state-dead { color: var(--bad); }
.state-done { color: var(--good); }
`
