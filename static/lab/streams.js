// The stream panel, for every stream link in `view.streams`: each partition's end offset, and per consumer group
// the consumer that owns it, the offset it has committed and how far behind it is (from `stream.lag` samples and
// `stream.rebalanced`), the events it processed out of key order (per request class when the run has classes),
// and a rewind control. After the run, the summary's stream figures under the names quizzes use. The replay
// scrubber shows the panel as it stood at the scrubbed second (`showAt`), rebuilt from that prefix of the log.
import { h, fmt } from "./util.js";

export function createStreams(container, exp, { send }) {
  const view = exp.view || {};
  const links = view.streams || [];
  container.hidden = !links.length;
  let state, summary = null, dirty = true, asOf = null; // asOf: the scrubbed second, null at the live end
  const classOf = new Map();
  const inputs = new Map(); // "<link>.<group>" → its rewind offset input and error line
  const defaults = Object.fromEntries((exp.parameters || []).map((p) => [p.name, p.default]));

  function reset() {
    state = Object.fromEntries(links.map((l) => [l.link, {
      partitions: 0, ends: {}, rewound: null,
      groups: Object.fromEntries(l.groups.map((g) => [g.id, { lags: {}, owner: {}, consumers: null, late: 0, retried: 0, processed: 0, parked: 0, byClass: {} }])),
    }]));
    classOf.clear();
    summary = null;
    asOf = null;
    dirty = true;
  }

  /** The panel as it stood `t` seconds into the run (null: at its end), from the run's events. */
  function showAt(events, t) {
    const planned = Object.fromEntries(links.map((l) => [l.link, state[l.link].planned]));
    reset();
    for (const l of links) state[l.link].planned = planned[l.link];
    for (const e of events) if (t === null || (e.t || 0) <= t) add(e);
    asOf = t;
  }

  function group(e) {
    return state[e.link]?.groups[e.group];
  }
  function add(e) {
    const s = state[e.link];
    switch (e.type) {
      case "run.started":
        for (const l of links) state[l.link].partitions = Number(e.config?.[l.partitions_param]) || 0;
        break;
      case "request.created":
        if (view.group_by && e[view.group_by]) classOf.set(e.correlation_id, e[view.group_by]);
        return;
      case "stream.appended":
        if (!s) return;
        s.ends[e.partition] = Math.max(s.ends[e.partition] || 0, e.offset + 1);
        s.partitions = Math.max(s.partitions, e.partition + 1);
        break;
      case "stream.lag":
        for (const [where, lag] of Object.entries(e.lags || {})) {
          const [link, name, p] = where.split("/");
          const g = state[link]?.groups[name];
          if (g) g.lags[p] = { lag, end: e.ends?.[`${link}/${p}`] };
        }
        break;
      case "stream.rebalanced": {
        const g = group(e);
        if (!g) return;
        g.consumers = e.consumers;
        g.owner = {};
        for (const [consumer, parts] of Object.entries(e.assignment || {})) for (const p of parts) g.owner[p] = consumer;
        break;
      }
      case "stream.processed": {
        const g = group(e);
        if (!g || e.outcome === "crashed") return;
        g.processed += 1;
        const name = classOf.get(e.correlation_id);
        const c = name ? (g.byClass[name] ||= { late: 0, processed: 0 }) : null;
        if (c) c.processed += 1;
        if (e.out_of_order) {
          g.late += 1;
          if (c) c.late += 1;
          if ((e.attempt || 1) > 1) g.retried += 1;
        }
        break;
      }
      case "stream.parked":
        if (group(e)) group(e).parked += 1;
        break;
      case "stream.rewound":
        if (s) s.rewound = e;
        break;
      case "run.finished":
        summary = e.summary?.streams || null;
        break;
      default:
        return;
    }
    dirty = true;
  }

  function rewind(link, groupId, input, error, liveValue) {
    error.hidden = true;
    const offset = Number(input.value);
    if (!Number.isInteger(offset) || offset < 0) {
      showError(`${link}.${groupId}.rewind_to`, "must be a whole number of 0 or more");
      return;
    }
    const name = `${link}.${groupId}.rewind`;
    const go = () => send({ [`${name}_to`]: offset, [name]: true });
    if (liveValue(name)) { // a rewind switches on once: switch it off first, so the engine is armed again
      send({ [name]: false });
      setTimeout(go, 600);
    } else go();
  }

  function showError(field, text) {
    const entry = inputs.get(field.replace(/\.rewind(_to)?$/, ""));
    if (!entry) return false;
    entry.error.textContent = text ? `${field}: ${text}` : "";
    entry.error.hidden = !text;
    entry.input.setAttribute("aria-invalid", text ? "true" : "false");
    return true;
  }

  // The rewind controls are built once, so a redraw never takes a button or a half-typed offset away.
  const live = new Map(links.map((l) => [l.link, h("div", { class: "stream-live" })]));
  let liveValue = () => false;
  const buttons = [];
  const sections = links.map((l) => {
    const form = h("div", { class: "stream-rewind", role: "group", "aria-label": `Rewind a consumer group of ${l.label}` });
    for (const g of l.groups) {
      const id = `rewind-${l.link}-${g.id}`.replace(/[^A-Za-z0-9_-]/g, "-");
      const input = h("input", { id, type: "number", min: "0", step: "1", value: "0", inputmode: "numeric" });
      const error = h("p", { id: `${id}-error`, class: "bad", role: "alert", hidden: true });
      input.setAttribute("aria-describedby", error.id);
      const button = h("button", { type: "button", class: "secondary", text: `Rewind ${g.id}` });
      button.addEventListener("click", () => rewind(l.link, g.id, input, error, liveValue));
      inputs.set(`${l.link}.${g.id}`, { input, error });
      buttons.push(input, button);
      form.append(h("div", { class: "rewind-row" }, h("label", { for: id, text: `${g.id}: replay from offset` }), input, button, error));
    }
    return h("div", { class: "stream", "data-link": l.link }, live.get(l.link), form);
  });
  if (links.length) container.replaceChildren(h("h2", { id: "streams-h", text: "Stream partitions and consumer groups" }), ...sections);

  function build() {
    for (const l of links) {
      const s = state[l.link];
      const parts = [];
      const count = s.partitions || s.planned || 1;
      const at = asOf === null ? "" : `, as of ${asOf.toFixed(1)} s into the run`;
      const table = h("table", { class: "data stream-table" }, h("caption", { text: `${l.label}: ${count} partitions${at}` }));
      const head = table.createTHead().insertRow();
      head.append(h("th", { scope: "col", text: "Partition" }), h("th", { scope: "col", text: "End offset" }));
      for (const g of l.groups) head.append(h("th", { scope: "col", text: `${g.id}: consumer · committed · lag` }));
      const body = table.createTBody();
      for (let p = 0; p < count; p++) {
        const tr = body.insertRow();
        tr.append(h("th", { scope: "row", text: `p${p}` }));
        tr.insertCell().textContent = fmt(s.ends[p] ?? 0);
        for (const g of l.groups) {
          const gs = s.groups[g.id];
          const sample = gs.lags[p];
          const committed = sample && sample.end !== undefined ? sample.end - sample.lag : null;
          const owner = gs.owner[p] !== undefined ? `#${gs.owner[p]}` : "—";
          const cell = tr.insertCell();
          cell.textContent = `${owner} · ${fmt(committed)} · ${fmt(sample?.lag)}`;
          if (sample && sample.lag > 0) cell.className = "behind";
        }
      }
      parts.push(table);
      const list = h("ul", { class: "stream-groups" });
      for (const g of l.groups) {
        const gs = s.groups[g.id];
        const idle = gs.consumers !== null && gs.consumers > count ? `; ${gs.consumers - count} idle (more consumers than partitions)` : "";
        const classes = Object.entries(gs.byClass);
        const split = classes.length > 1 ? ` (${classes.map(([c, v]) => `${c}: ${v.late}`).join(", ")})` : "";
        const retried = gs.retried ? `, ${gs.retried} of them retries` : "";
        const parked = gs.parked ? `; resequencer held back ${gs.parked}` : "";
        list.append(h("li", { "data-group": g.id, text: `${g.id}: ${fmt(gs.consumers)} consumers${idle}; ${gs.processed} processed, ${gs.late} out of key order${split}${retried}${parked}.` }));
      }
      parts.push(list);
      if (s.rewound) parts.push(h("p", { class: "hint", text: `${s.rewound.group} rewound to offset ${s.rewound.to_offset} at ${s.rewound.t.toFixed(1)} s: ${s.rewound.replay} events to replay.` }));
      if (summary) parts.push(summaryTable(summary));
      live.get(l.link).replaceChildren(...parts);
    }
  }

  function summaryTable(figures) {
    const table = h("table", { class: "data" }, h("caption", { text: "Per consumer group, as the run's summary counts it" }));
    const head = table.createTHead().insertRow();
    for (const title of ["Name in quizzes", "Value"]) head.append(h("th", { scope: "col", text: title }));
    const body = table.createTBody();
    for (const [name, g] of Object.entries(figures.groups || {})) {
      for (const key of ["processed", "out_of_order", "out_of_order_after_retry", "replayed", "parked", "max_lag"]) {
        const tr = body.insertRow();
        tr.append(h("th", { scope: "row" }, h("code", { text: `streams.groups.${name}.${key}` })));
        tr.insertCell().textContent = fmt(g[key]);
      }
    }
    return table;
  }

  reset();
  return {
    add,
    reset,
    showAt,
    showError,
    /** Redraw what changed, at most once per frame; `canRewind` while the learner's own run goes. */
    render({ live: values, canRewind }) {
      if (!links.length) return;
      liveValue = (name) => !!values?.[name];
      for (const el of buttons) el.disabled = !canRewind;
      for (const l of links) { // before a run: as many partitions as the settings ask for
        const planned = Number(values?.[l.partitions_param]) || defaults[l.partitions_param] || 1;
        if (state[l.link].planned !== planned) {
          state[l.link].planned = planned;
          dirty = true;
        }
      }
      if (!dirty) return;
      build();
      dirty = false;
    },
  };
}
