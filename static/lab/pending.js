// The `pending_requests` panel of `view.panels` (docs/lab-page.md): the requester's pending-request table for one
// reply link, live. A row appears with `request.sent` and leaves when a
// reply completes it (`reply.received`, possibly another request's reply when matching goes by arrival order) or
// its deadline passes (`reply.timeout`); late replies are counted under the table, as the requester drops them.
import { h } from "./util.js";

const MAX_ROWS = 12; // the oldest waiting requests; the rest are counted

export function pendingPanel(spec) {
  const waiting = new Map(); // request_id -> request.sent event, in the order sent
  const counts = { matched: 0, mismatched: 0, timedOut: 0, late: 0 };
  let now = 0;
  let dirty = true;

  const body = h("tbody");
  const more = h("p", { class: "hint pending-more" });
  const tally = h("p", { class: "pending-tally" });
  const caption = h("caption", { text: `Requests waiting for a reply on ${spec.label}` });
  const table = h("table", { class: "data pending" }, caption);
  const head = table.createTHead().insertRow();
  for (const title of ["Request id", "Correlation id", "Sent at", "Waiting", "Deadline"]) head.append(h("th", { scope: "col", text: title }));
  table.append(body);
  const el = h(
    "section",
    { class: "panel pending-panel", "aria-label": `Pending requests on ${spec.label}` },
    h("h3", { text: "Pending requests" }),
    h("p", { class: "hint", text: "The requester's table: each request waits here, by its id, until its reply or its deadline comes." }),
    table,
    more,
    tally,
  );

  function add(e) {
    if (e.t > now) now = e.t;
    if (e.type === "request.sent" && e.queue === spec.link) {
      waiting.set(e.request_id, e);
    } else if (e.type === "reply.received" && waiting.has(e.request_id)) {
      waiting.delete(e.request_id);
      if (e.in_reply_to === e.request_id) counts.matched++;
      else counts.mismatched++;
    } else if (e.type === "reply.timeout" && waiting.has(e.request_id)) {
      waiting.delete(e.request_id);
      counts.timedOut++;
    } else if (e.type === "reply.late") {
      counts.late++;
    } else return;
    dirty = true;
  }

  function render() {
    if (!dirty) return;
    dirty = false;
    const rows = [];
    for (const e of waiting.values()) {
      if (rows.length >= MAX_ROWS) break;
      const waited = Math.max(0, Math.round((now - e.t) * 1000));
      const tr = h("tr", { class: waited > 0.8 * e.deadline_ms ? "near-deadline" : "" });
      tr.append(
        h("th", { scope: "row" }, h("code", { text: e.request_id })),
        h("td", {}, h("code", { text: e.correlation_id })),
        h("td", { text: `${e.t.toFixed(2)} s` }),
        h("td", { text: `${waited} ms` }),
        h("td", { text: `${Math.round(e.deadline_ms)} ms` }),
      );
      rows.push(tr);
    }
    if (!rows.length) rows.push(h("tr", {}, h("td", { colSpan: 5, class: "empty-item", text: "No request is waiting." })));
    body.replaceChildren(...rows);
    const hidden = waiting.size - Math.min(waiting.size, MAX_ROWS);
    more.textContent = hidden ? `…and ${hidden} more waiting.` : "";
    more.hidden = !hidden;
    tally.textContent =
      `Waiting: ${waiting.size} · completed by their own reply: ${counts.matched} · by another request's reply: ${counts.mismatched}` +
      ` · deadline passed: ${counts.timedOut} · late replies dropped: ${counts.late}`;
  }

  function reset() {
    waiting.clear();
    Object.keys(counts).forEach((k) => { counts[k] = 0; });
    now = 0;
    dirty = true;
  }

  return { el, add, render, reset };
}
