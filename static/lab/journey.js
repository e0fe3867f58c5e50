// One request's trace as a waterfall: the request itself, each sync call (per attempt), each message's wait in
// its queue and its handling, retries and dead letters, as bars on a shared time axis with their numbers in text.
// All of the request's events follow in a list.
import { h } from "./util.js";

export function renderJourney(box, correlationId, events, describe) {
  const steps = events.filter((e) => e.correlation_id === correlationId);
  if (!steps.length) {
    box.replaceChildren(h("p", { class: "empty", text: `No events for “${correlationId}” in this run.` }));
    return;
  }
  const times = steps.map((e) => e.t || 0);
  const t0 = Math.min(...times), t1 = Math.max(...times);
  const rows = [];
  const open = new Map();
  const start = (key, label, t) => open.set(key, { label, start: t });
  const close = (key, t, outcome, reason) => {
    const row = open.get(key);
    if (!row) return false;
    open.delete(key);
    rows.push({ ...row, end: t, outcome, reason });
    return true;
  };
  for (const e of steps) {
    const t = e.t || 0, attempt = e.attempt || 1, call = `call:${e.message_id}:${attempt}`;
    switch (e.type) {
      case "request.created": start("request", `request${e.mode || e.path ? ` (${e.mode || e.path})` : ""}`, t); break;
      case "request.finished": close("request", t, e.outcome, e.reason); break;
      case "call.started": start(call, `${e.from} → ${e.to}, attempt ${attempt}`, t); break;
      case "call.finished":
        if (!close(call, t, e.outcome, e.reason)) rows.push({ label: `${e.from} → ${e.to}, attempt ${attempt}`, start: t, end: t, outcome: e.outcome, reason: e.reason });
        break;
      case "message.published": start(`wait:${e.message_id}`, `${e.queue || e.to}: waiting`, t); break;
      case "message.consumed":
        close(`wait:${e.message_id}`, t, "ok");
        start(`work:${e.message_id}:${attempt}`, `${e.to} handles it, attempt ${attempt}`, t);
        break;
      case "message.processed": close(`work:${e.message_id}:${attempt}`, t, e.outcome); break;
      case "retry.scheduled": rows.push({ label: `retry after ${e.delay_ms} ms`, start: t, end: t + (e.delay_ms || 0) / 1000, outcome: "retry" }); break;
      case "dlq.added": rows.push({ label: "dead-lettered", start: t, end: t, outcome: "failed", reason: e.reason }); break;
      case "request.lost": rows.push({ label: "request lost", start: t, end: t, outcome: "failed", reason: e.reason }); break;
    }
  }
  for (const row of open.values()) rows.push({ ...row, end: t1, outcome: "unfinished" });
  rows.sort((a, b) => a.start - b.start);
  const end = Math.max(t1, ...rows.map((r) => r.end));
  const span = Math.max(end - t0, 0.001);
  const list = h("ol", { class: "waterfall" }, ...rows.map((r) => {
    const ms = Math.round((r.end - r.start) * 1000);
    const ok = r.outcome === "ok";
    const bar = h("span", { class: "wf-bar" });
    bar.style.marginLeft = `${(100 * (r.start - t0)) / span}%`;
    bar.style.width = `max(3px, ${(100 * (r.end - r.start)) / span}%)`;
    return h("li", { class: ok ? "ok" : r.outcome === "retry" || r.outcome === "unfinished" ? "warn" : "bad" },
      h("span", { class: "wf-label", text: `${r.label} · +${Math.round((r.start - t0) * 1000)} ms, ${ms} ms · ${r.outcome}${r.reason ? ` (${r.reason})` : ""}` }),
      h("span", { class: "wf-track", "aria-hidden": "true" }, bar));
  }));
  const all = h("details", {}, h("summary", { text: `All ${steps.length} events` }),
    h("ol", { class: "journey-list" }, ...steps.map((e) => describe(e)).filter(Boolean).map((text) => h("li", { text }))));
  box.replaceChildren(
    h("p", {}, h("strong", { text: correlationId }), ` — ${Math.round((end - t0) * 1000)} ms from first to last event`),
    list, all);
}
