// The `dead_letters` panel of `view.panels` (docs/lab-page.md): the run's dead-letter queue, every queue's, live
// from `dlq.added` (a replayed run rebuilds it from its log, the same log `GET .../dead-letters` reads). The run's
// owner re-drives them while the run goes (`POST .../dead-letters`); each re-driven row then says whether the
// message was processed or came back (`dlq.redriven`, `message.processed` or, for a stream entry, `stream.processed`
// with `redriven`).
import { h } from "./util.js";

const MAX_ROWS = 15; // the rest are counted
const STATUS = {
  dead: "dead-lettered",
  redriven: "re-driven, waiting",
  processed: "processed after re-drive",
  again: "dead-lettered again",
};
const ORDER = ["dead", "again", "redriven", "processed"]; // rows still in the queue first: those are the ones to act on

export function deadLettersPanel(spec, page) {
  const letters = new Map(); // message_id -> {message_id, queue, attempts, last_error, status}
  let dirty = true;
  let busy = false; // a re-drive is on its way

  const body = h("tbody");
  const table = h("table", { class: "data dead-letters" }, h("caption", { class: "sr-only", text: `Messages in ${spec.label}` }));
  const head = table.createTHead().insertRow();
  for (const title of ["Message", "Queue", "Deliveries", "Last error", "Status"]) head.append(h("th", { scope: "col", text: title }));
  table.append(body);
  const more = h("p", { class: "hint dead-more" });
  const tally = h("p", { class: "dead-tally" });
  const button = h("button", { type: "button", class: "secondary", onclick: redrive, text: "Re-drive dead letters" });
  const note = h("p", { class: "hint dead-note" });
  const result = h("p", { class: "dead-result", role: "status" });
  const el = h(
    "section",
    { class: "panel dead-letters-panel", "aria-label": spec.label },
    h("h3", { text: spec.label }),
    h("p", { class: "hint", text: "A message goes here once it has failed its last allowed delivery. Fix the cause first (a live toggle), then re-drive: each goes back to the end of its queue as a first delivery." }),
    table,
    more,
    tally,
    h("div", { class: "dead-actions" }, button, note),
    result,
  );

  function add(e) {
    const found = letters.get(e.message_id);
    if (e.type === "dlq.added") {
      letters.set(e.message_id, {
        message_id: e.message_id,
        queue: e.queue || "",
        attempts: e.attempt,
        last_error: e.last_error || e.reason || "",
        status: found ? "again" : "dead",
      });
    } else if (e.type === "dlq.redriven" && found) {
      found.status = "redriven";
    } else if ((e.type === "message.processed" || e.type === "stream.processed") && e.redriven && e.outcome === "ok" && found) {
      found.status = "processed";
    } else if (e.type !== "run.started" && e.type !== "run.finished") return;
    dirty = true;
  }

  async function redrive() {
    busy = true;
    button.disabled = true;
    result.textContent = "Re-driving…";
    try {
      const response = await fetch(`${page.runsUrl}/${page.run().id}/dead-letters`, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRFToken": page.csrfToken() },
        body: "{}",
      });
      const data = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
      const n = data.redriven?.length || 0;
      result.textContent = response.ok
        ? `Re-drove ${n} dead letter${n === 1 ? "" : "s"} to the back of ${n === 1 ? "its queue" : "their queues"}; each row shows when it is processed.`
        : `Not re-driven: ${data.error}`;
    } catch {
      result.textContent = "Not re-driven: the server could not be reached.";
    }
    busy = false;
    dirty = true;
    page.invalidate();
  }

  function render() {
    if (!dirty) return;
    dirty = false;
    const counts = { dead: 0, redriven: 0, processed: 0, again: 0 };
    for (const letter of letters.values()) counts[letter.status]++;
    const rows = [];
    const shown = ORDER.flatMap((status) => (counts[status] ? [...letters.values()].filter((l) => l.status === status) : []));
    for (const letter of shown.slice(0, MAX_ROWS)) {
      const tr = h("tr", { class: `dead-${letter.status}` });
      tr.append(
        h("th", { scope: "row" }, h("code", { text: letter.message_id })),
        h("td", { text: letter.queue }),
        h("td", { text: String(letter.attempts ?? "") }),
        h("td", { text: letter.last_error }),
        h("td", { class: "dead-status", text: STATUS[letter.status] }),
      );
      rows.push(tr);
    }
    if (!rows.length) rows.push(h("tr", {}, h("td", { colSpan: 5, class: "empty-item", text: "No dead letters." })));
    body.replaceChildren(...rows);
    const hidden = letters.size - rows.length;
    more.textContent = hidden > 0 ? `…and ${hidden} more.` : "";
    more.hidden = !(hidden > 0);
    const waiting = counts.dead + counts.again;
    tally.textContent =
      `In the dead-letter queue: ${waiting} · re-driven and waiting: ${counts.redriven} · processed after re-drive: ${counts.processed}` +
      ` · dead-lettered again: ${counts.again}`;
    renderButton(waiting);
  }

  function renderButton(waiting) {
    const run = page.run();
    const owner = !!run?.can_control;
    button.hidden = !owner; // a watcher of a shared run sees the list, never the button
    note.hidden = !owner;
    if (!owner) return;
    const live = page.live();
    button.disabled = !live || !waiting || busy;
    button.textContent = waiting ? `Re-drive ${waiting} dead letter${waiting === 1 ? "" : "s"}` : "Re-drive dead letters";
    note.textContent = live ? "" : "The run has ended: dead letters can be re-driven only while it runs.";
  }

  function reset() {
    letters.clear();
    result.textContent = "";
    dirty = true;
  }

  return { el, add, render, reset };
}
