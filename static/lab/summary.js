// The run's numbers after it finishes, each under the name lessons and quizzes use (the summary key) beside a
// plain label and a one-line definition. A run of all classes side by side shows per-class figures, never a
// blended headline latency.
import { h, fmt } from "./util.js";

const ROWS = [
  ["requests", "Requests", (s) => fmt(s.requests), "Requests that finished, ok or failed."],
  ["unfinished", "Unfinished", (s) => fmt(s.unfinished), "Requests still open when the run ended: counted, never dropped."],
  ["success_rate_pct", "Success rate", (s) => fmt(s.success_rate_pct, "%"), "Share of finished requests that succeeded."],
  ["latency_ms.p50", "Latency p50 / p95 / p99", (s) => `${fmt(s.latency_ms?.p50, " ms")} / ${fmt(s.latency_ms?.p95, " ms")} / ${fmt(s.latency_ms?.p99, " ms")}`, "Half, 95% and 99% of requests finished within these times.", "latency"],
  ["throughput_rps", "Throughput (attempts/s)", (s) => fmt(s.throughput_rps), "Attempts per second, retries included."],
  ["goodput_rps", "Goodput (successes/s)", (s) => fmt(s.goodput_rps), "Successful requests per second: what users got."],
  ["attempts_per_request", "Attempts per request", (s) => fmt(s.attempts_per_request), "Attempts per finished request, the first included: 1 means no retries, 3 means the load tripled."],
  ["retries_per_request", "Retries per request", (s) => fmt(s.retries_per_request), "Extra attempts per request; above 0 the load is amplified."],
  ["retry_waves.peak", "Most retries in one slot", (s) => `${fmt(s.retry_waves.peak)} in ${fmt(s.retry_waves.bucket_ms, " ms")}`, "Client retries sent in the busiest slot; a dozen or more means they went out in step."],
  ["retry_waves.peak_to_mean", "Retry peak ÷ mean", (s) => `${fmt(s.retry_waves.peak_to_mean)}× (mean ${fmt(s.retry_waves.mean)} per slot over ${fmt(s.retry_waves.lasted_s, " s")})`, "How bunched the retries were: the busiest slot against the average one while retries went on. Jitter lowers it."],
  ["lost", "Lost", (s) => fmt(s.lost), "Requests whose worker died mid-flight: counted as lost, never hidden.", "lost"],
  ["dlq_count", "Dead letters", (s) => fmt(s.dlq_count), "Messages moved to the dead-letter queue after their last attempt.", "queues"],
  ["max_queue_depth", "Largest queue depth", (s) => fmt(s.max_queue_depth), "Most messages waiting in one queue at any sample.", "queues"],
  ["final_queue_depth", "Final queue depth", (s) => fmt(typeof s.final_queue_depth === "object" && s.final_queue_depth ? Object.values(s.final_queue_depth).reduce((a, b) => a + b, 0) : s.final_queue_depth), "Messages still waiting when the run ended (0: everything drained).", "queues"],
  ["pool_full_pct", "Time pools were full", (s) => Object.entries(s.pool_full_pct).map(([pool, pct]) => `${pool} ${fmt(pct, "%")}`).join(", "), "Share of the run each thread pool had every thread taken: the next caller waited or was turned away."],
  ["breaker_opened", "Breaker opened", (s) => fmt(s.breaker_opened, " times"), "How often the circuit breaker tripped open.", "breaker"],
  ["calls_while_open", "Calls reaching the guarded service while open", (s) => fmt(s.calls_while_open), "Should be 0: an open breaker refuses calls without trying.", "breaker"],
  ["duplicates_processed", "Duplicates processed", (s) => fmt(s.duplicates_processed), "Messages handled twice (idempotent consumers skip them).", "queues"],
  ["missed_messages", "Copies missed while away", (s) => fmt(s.missed_messages), "Matching messages a non-durable subscription never got because its subscriber was away.", "topics"],
];

// What `calls.<service>` counts: sync calls that did not complete normally, per called service.
const CALL_FIGURES = [
  ["timed_out", "Timed out", "The caller gave up waiting after its timeout."],
  ["abandoned", "Abandoned work", "Of those, calls the service went on working on after its caller had left: threads spent on answers nobody reads."],
  ["short_circuited", "Short-circuited", "Calls an open circuit breaker answered at once, without calling the service."],
];

function callsTable(calls) {
  const table = h("table", { class: "data calls" }, h("caption", { text: "Calls that did not complete, by called service" }));
  const head = table.createTHead().insertRow();
  head.append(h("th", { scope: "col", text: "Service" }));
  for (const [key, label] of CALL_FIGURES) head.append(h("th", { scope: "col" }, `${label} `, h("code", { text: key })));
  const body = table.createTBody();
  for (const [target, counts] of Object.entries(calls)) {
    const tr = body.insertRow();
    tr.append(h("th", { scope: "row" }, h("code", { text: `calls.${target}` })));
    for (const [key] of CALL_FIGURES) tr.insertCell().textContent = fmt(counts[key]);
  }
  const meanings = h("dl", { class: "hint calls-meaning" }, ...CALL_FIGURES.flatMap(([key, label, meaning]) => [h("dt", {}, h("code", { text: key })), h("dd", { text: `${label}: ${meaning}` })]));
  return [table, meanings];
}

// The constructs whose figures the main table leaves out: listed whole below it, each under its dotted name.
const FAMILIES = ["sagas", "replies", "streams", "effects", "messages", "pool_full_pct"];

function meaningOf(path, meanings) {
  // `*` in a name stands for a name of the run's own within one part of the path, as lab/model/figures.py reads it.
  for (const [name, meaning] of Object.entries(meanings || {})) {
    const pattern = name.split(".").map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^.]+")).join("\\.");
    if (new RegExp(`^${pattern}$`).test(path)) return meaning;
  }
  return "";
}

function numericLeaves(value, path, out) {
  if (typeof value === "number") out.push([path, value]);
  else if (value && typeof value === "object" && !Array.isArray(value)) {
    for (const [key, inner] of Object.entries(value)) numericLeaves(inner, `${path}.${key}`, out);
  }
  return out;
}

function allFiguresTable(summary, meanings) {
  const rows = FAMILIES.filter((f) => summary[f] && typeof summary[f] === "object").flatMap((f) => numericLeaves(summary[f], f, []));
  if (!rows.length) return [];
  const table = h("table", { class: "data all-figures" }, h("caption", { class: "sr-only", text: "Every figure of the run" }));
  const head = table.createTHead().insertRow();
  for (const title of ["Name in lessons", "Value", "What it means"]) head.append(h("th", { scope: "col", text: title }));
  const body = table.createTBody();
  for (const [path, value] of rows) {
    const tr = body.insertRow();
    tr.append(h("th", { scope: "row" }, h("code", { text: path })));
    tr.insertCell().textContent = fmt(value);
    tr.insertCell().textContent = meaningOf(path, meanings);
  }
  return [h("details", { class: "all-figures-box", open: "" }, h("summary", { text: `Every figure of this run under the name lessons and quizzes use (${rows.length})` }), table)];
}

export function renderSummary(el, summary, exp, config) {
  if (!summary) return;
  const view = exp.view || {};
  const nodes = exp.diagram?.nodes || [];
  const applies = {
    queues: nodes.some((n) => ["queue", "dlq", "topic", "stream", "reply"].includes(n.kind)),
    breaker: nodes.some((n) => n.breaker_param),
    topics: nodes.some((n) => n.kind === "topic"),
    lost: !!summary.lost,
  };
  const sideBySide = view.class_param && view.all_classes_value !== null && config[view.class_param] === view.all_classes_value;
  const table = h("table", { class: "data summary" }, h("caption", { class: "sr-only", text: "Run summary" }));
  const head = table.createTHead().insertRow();
  for (const title of ["Figure", "Name in lessons", "Value", "What it means"]) head.append(h("th", { scope: "col", text: title }));
  const body = table.createTBody();
  for (const [key, label, value, meaning, kind] of ROWS) {
    const top = key.split(".")[0];
    if (!(top in summary)) continue;
    if (kind === "latency" && sideBySide) continue; // two designs: see the per-class table
    if (kind in applies && !applies[kind]) continue; // a figure this experiment cannot have
    const tr = body.insertRow();
    tr.append(h("th", { scope: "row", text: label }));
    tr.insertCell().append(h("code", { text: key }));
    tr.insertCell().textContent = value(summary);
    tr.insertCell().textContent = meaning;
  }
  const parts = [table];
  const groupsKey = Object.keys(summary).find((k) => k.startsWith("by_") && summary[k] && typeof summary[k] === "object");
  if (groupsKey) {
    const name = groupsKey.slice(3);
    const by = h("table", { class: "data" }, h("caption", { text: `By ${name}${sideBySide ? ": the designs side by side, never blended" : ""}` }));
    const hr = by.createTHead().insertRow();
    for (const title of [name[0].toUpperCase() + name.slice(1), "Requests", "Success", "Goodput/s", "Attempts/request", "p50", "p95", "p99"]) hr.append(h("th", { scope: "col", text: title }));
    const tb = by.createTBody();
    for (const [group, g] of Object.entries(summary[groupsKey])) {
      const tr = tb.insertRow();
      tr.append(h("th", { scope: "row" }, h("code", { text: `${groupsKey}.${group}` })));
      for (const v of [g.requests, fmt(g.success_rate_pct, "%"), fmt(g.goodput_rps), fmt(g.attempts_per_request), fmt(g.latency_ms?.p50, " ms"), fmt(g.latency_ms?.p95, " ms"), fmt(g.latency_ms?.p99, " ms")]) tr.insertCell().textContent = v;
    }
    parts.push(by);
  }
  if (summary.calls && Object.keys(summary.calls).length) parts.push(...callsTable(summary.calls));
  parts.push(...allFiguresTable(summary, exp.figure_meanings));
  if (Array.isArray(summary.findings) && summary.findings.length) {
    parts.push(h("h3", { text: "Findings" }), h("ul", {}, ...summary.findings.map((f) => h("li", { text: typeof f === "string" ? f : f.text || JSON.stringify(f) }))));
  }
  if (Array.isArray(summary.invariants) && summary.invariants.length) {
    parts.push(h("h3", { text: "Invariants" }), h("ul", { class: "invariants" }, ...summary.invariants.map((i) =>
      h("li", { class: i.holds ? "ok" : "bad", text: `${i.holds ? "✓ holds" : "✗ violated"}: ${i.name}${i.violations ? ` (${i.violations} violations)` : ""}${i.explanation ? ` — ${i.explanation}` : ""}` }))));
  }
  el.replaceChildren(...parts);
}
