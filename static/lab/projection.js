// The `projection` panel of `view.panels` (docs/lab-page.md): a stream's event store and the read models its
// projecting groups build from it, live. The latest events appended to each partition; per read model its newest
// rows, how many versions it is behind the log, its lag, the reads it served and how many were stale, and a Rebuild
// button for the run's owner; and "state at version k", answered by the run's state API. Driven by
// `stream.appended`, `projection.updated`, `projection.rebuilt` and `projection.read`; redrawn at most once per frame.
import { h } from "./util.js";

const EVENTS_PER_PARTITION = 4; // the newest appended events shown per partition
const ROWS_SHOWN = 4; // the most recently updated rows shown per read model
const KEYS_OFFERED = 100; // the newest order keys offered in the state form

/** One read model's live state: rows by key (the newest generation only), reads, lag. */
function readModel(group) {
  return { ...group, rows: new Map(), newest: [], versionSum: 0, doubled: 0, generation: 0, rebuilds: 0, lagMs: null, reads: 0, stale: 0, staleByClass: new Map() };
}

/** A call to the run's API under `ctx.runsUrl`: `{ok, data}` or `{ok: false, error, fields}` (a 400 names fields). */
async function call(ctx, path, init = {}) {
  try {
    const response = await fetch(`${ctx.runsUrl}/${path}`, init);
    const data = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
    return response.ok ? { ok: true, data } : { ok: false, error: data.error || `HTTP ${response.status}`, fields: data.fields || {} };
  } catch (err) {
    return { ok: false, error: `The lab could not be reached (${err.message}).`, fields: {} };
  }
}

export function projectionPanel(spec, ctx) {
  const models = new Map(spec.groups.map((g) => [g.id, readModel(g)]));
  const latest = new Map(); // key -> highest version seen in the log
  let latestSum = 0; // Σ latest versions: every version appended so far
  const recent = new Map(); // partition -> its newest appended events, newest last (a run may set its partitions)
  let appended = 0;
  let dirty = true;

  const slug = spec.link.replace(/[^a-z0-9_-]/gi, "-");
  const storeBody = h("tbody");
  const storeTotal = h("p", { class: "hint" });
  const storeTable = h(
    "table",
    { class: "data projection-store" },
    h("caption", { text: `Latest events in ${spec.label}, per partition` }),
    head(["Partition", "Offset", "Key", "Version", "Event", "Appended at"]),
    storeBody,
  );
  const groupViews = [...models.values()].map((m) => groupView(m));
  const query = stateForm();
  const el = h(
    "section",
    { class: "panel projection-panel", "aria-label": `Event store and read models of ${spec.label}` },
    h("h3", { text: "Event store and read models" }),
    h("p", { class: "hint", text: "Commands append events to the store; each projector folds them, at its own pace, into its read model, which the order page reads." }),
    storeTable,
    storeTotal,
    h("div", { class: "projection-groups" }, ...groupViews.map((g) => g.el)),
    query.el,
  );

  function head(titles) {
    const thead = h("thead");
    const row = thead.insertRow();
    for (const title of titles) row.append(h("th", { scope: "col", text: title }));
    return thead;
  }

  function groupView(model) {
    const behind = h("strong", { class: "projection-behind", "data-group": model.id });
    const status = h("span", { class: "projection-status" });
    const body = h("tbody");
    const note = h("p", { class: "projection-note", role: "status" });
    const button = h("button", {
      type: "button",
      class: "secondary",
      text: `Rebuild ${model.id} from the log`,
      "aria-describedby": `rebuild-help-${slug}-${model.id}`,
      onclick: () => rebuild(model, button, note),
    });
    const help = h("p", {
      class: "hint",
      id: `rebuild-help-${slug}-${model.id}`,
      text: "Wipes this read model and replays every event in the store into it.",
    });
    const checks = model.checks_version ? "skips a version it already has" : "applies every copy it is given, without a version check";
    const el = h(
      "section",
      { class: "projection-group", "aria-label": `Read model ${model.id}` },
      h("h4", { text: `${model.label}: read model ${model.id}` }),
      h("p", { class: "hint", text: `This projector ${checks}.` }),
      h("p", { class: "projection-tally" }, "Behind the log: ", behind, " ", status),
      h(
        "table",
        { class: "data projection-rows" },
        h("caption", { text: `Newest rows of ${model.id}` }),
        head(["Key", "Version", "Events counted", "Last event"]),
        body,
      ),
      h("div", { class: "projection-rebuild" }, button, help, note),
    );
    return { el, model, behind, status, body, button };
  }

  async function rebuild(model, button, note) {
    const run = ctx.run();
    if (!run || !run.can_control || !ctx.live()) return;
    button.disabled = true;
    note.textContent = "Asking for a rebuild…";
    const answer = await call(ctx, `${run.id}/toggles`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": ctx.csrfToken() },
      body: JSON.stringify({ values: { [model.rebuild_param]: true } }),
    });
    note.textContent = answer.ok ? `Rebuild of ${model.id} asked for: its rows empty, then refill from the log.` : answer.error;
    button.disabled = false;
    dirty = true;
  }

  function stateForm() {
    const errors = {};
    const field = (name, label, attrs) => {
      const id = `state-${slug}-${name}`;
      errors[name] = h("p", { class: "field-error", id: `${id}-error`, hidden: true });
      const input = h("input", { id, name, "aria-describedby": `${id}-error`, ...attrs });
      return { input, row: h("div", { class: "field" }, h("label", { for: id, text: label }), input, errors[name]) };
    };
    const keys = h("datalist", { id: `state-${slug}-keys` });
    const key = field("key", "Order key", { type: "text", list: `state-${slug}-keys`, autocomplete: "off", spellcheck: "false" });
    const version = field("version", "Version", { type: "number", min: "1", step: "1", inputMode: "numeric" });
    const general = h("p", { class: "field-error", hidden: true });
    const answer = h("div", { class: "projection-answer", "aria-live": "polite" });
    const button = h("button", { type: "submit", class: "secondary", text: "Show state at version" });
    const form = h(
      "form",
      { class: "projection-state", "aria-label": "State at version" },
      h("h4", { text: "State at version k" }),
      h("p", { class: "hint", text: "What did an order's row hold once the first k of its events were applied? The answer is folded from the run's event log." }),
      keys,
      key.row,
      version.row,
      button,
      general,
      answer,
    );
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const run = ctx.run();
      showErrors({});
      if (!run) {
        showErrors({ run: "Start a run first: the state is folded from a run's events." });
        return;
      }
      const params = new URLSearchParams({ link: spec.link, key: key.input.value.trim(), version: version.input.value.trim() });
      const reply = await call(ctx, `${run.id}/state?${params}`);
      if (!reply.ok) {
        showErrors(reply.fields && Object.keys(reply.fields).length ? reply.fields : { run: reply.error });
        answer.replaceChildren();
        return;
      }
      answer.replaceChildren(...describeState(reply.data));
    });
    function showErrors(fields) {
      for (const [name, input] of [["key", key.input], ["version", version.input]]) {
        const text = fields[name] || "";
        errors[name].textContent = text ? `${name}: ${text}` : "";
        errors[name].hidden = !text;
        input.setAttribute("aria-invalid", String(!!text));
      }
      const other = Object.entries(fields).filter(([name]) => name !== "key" && name !== "version");
      general.textContent = other.map(([name, text]) => (name === "run" ? text : `${name}: ${text}`)).join(" ");
      general.hidden = !other.length;
    }
    function reset() {
      showErrors({});
      answer.replaceChildren();
    }
    return { el: form, keys, reset };
  }

  function describeState(data) {
    const row = data.state;
    const list = h("ol", { class: "projection-history" });
    for (const e of data.events) list.append(h("li", { text: `v${e.key_seq} ${e.event || "(unnamed)"} at ${Number(e.t).toFixed(2)} s: ${JSON.stringify(e.body)}` }));
    return [
      h("p", { class: "projection-state-row", text: `${data.key} at version ${data.version} of ${data.versions}: ${row.events} events, last "${row.event}", data ${JSON.stringify(row.data)}` }),
      list,
    ];
  }

  function see(key, version) {
    const before = latest.get(key) || 0;
    if (version > before) {
      latest.set(key, version);
      latestSum += version - before;
      if (!before) {
        query.keys.append(h("option", { value: key }));
        if (query.keys.childElementCount > KEYS_OFFERED) query.keys.firstElementChild.remove();
      }
    }
  }

  function add(e) {
    if (e.link !== spec.link) return;
    if (e.type === "stream.appended") {
      appended++;
      see(e.key, e.key_seq);
      if (!recent.has(e.partition)) recent.set(e.partition, []);
      const shelf = recent.get(e.partition);
      shelf.push(e);
      if (shelf.length > EVENTS_PER_PARTITION) shelf.shift();
    } else if (e.type === "projection.updated") {
      const model = models.get(e.group);
      if (!model || !e.state) return;
      const generation = e.generation || 0;
      if (generation < model.generation) return; // an entry of a read model that has since been wiped
      if (generation > model.generation) wipe(model, generation);
      see(e.key, e.state.version);
      const old = model.rows.get(e.key);
      model.versionSum += e.state.version - (old ? old.version : 0);
      model.doubled += doubled(e.state) - (old ? doubled(old) : 0);
      model.rows.set(e.key, { ...e.state, t: e.t });
      const at = model.newest.indexOf(e.key); // the few most recently updated keys, newest last
      if (at >= 0) model.newest.splice(at, 1);
      model.newest.push(e.key);
      if (model.newest.length > ROWS_SHOWN) model.newest.shift();
      model.lagMs = e.lag_ms;
    } else if (e.type === "projection.rebuilt") {
      const model = models.get(e.group);
      if (!model) return;
      model.rebuilds++; // the rebuild's first rows (generation = rebuilds) may have come before this event
      if (model.rebuilds > model.generation) wipe(model, model.rebuilds);
    } else if (e.type === "projection.read") {
      const model = models.get(e.group);
      if (!model) return;
      model.reads++;
      const cls = ctx.groupBy && e[ctx.groupBy];
      if (cls) {
        const counts = model.staleByClass.get(cls) || { reads: 0, stale: 0 };
        counts.reads++;
        if (e.stale) counts.stale++;
        model.staleByClass.set(cls, counts);
      }
      if (e.stale) model.stale++;
    } else return;
    dirty = true;
  }

  /** 1 for a row that counted more events than its versions: a copy applied a second time. */
  function doubled(row) {
    return row.events > row.version ? 1 : 0;
  }

  function wipe(model, generation) {
    model.rows.clear();
    model.newest = [];
    model.versionSum = 0;
    model.doubled = 0;
    model.generation = generation;
  }

  function render() {
    const run = ctx.run();
    const canRebuild = !!run && run.can_control && ctx.live();
    for (const g of groupViews) {
      g.button.disabled = !canRebuild;
      g.button.title = canRebuild ? "" : run && !run.can_control ? "Only the run's owner can rebuild." : "Rebuilds happen during a run.";
    }
    if (!dirty) return;
    dirty = false;
    const storeRows = [];
    for (const partition of [...recent.keys()].sort((a, b) => a - b)) {
      for (const e of [...recent.get(partition)].reverse()) {
        storeRows.push(
          h(
            "tr",
            {},
            h("td", { text: String(partition) }),
            h("td", { text: String(e.offset) }),
            h("th", { scope: "row" }, h("code", { text: e.key })),
            h("td", { text: String(e.key_seq) }),
            h("td", { text: e.event || "" }),
            h("td", { text: `${e.t.toFixed(2)} s` }),
          ),
        );
      }
    }
    if (!storeRows.length) storeRows.push(h("tr", {}, h("td", { colSpan: 6, class: "empty-item", text: "No event appended yet." })));
    storeBody.replaceChildren(...storeRows);
    storeTotal.textContent = `${appended} events appended for ${latest.size} keys.`;
    for (const g of groupViews) renderGroup(g);
  }

  function renderGroup(g) {
    const m = g.model;
    const behind = Math.max(0, latestSum - m.versionSum);
    g.behind.textContent = `${behind} version${behind === 1 ? "" : "s"}`;
    g.behind.dataset.versions = String(behind);
    g.behind.classList.toggle("lagging", behind > 0);
    const lag = m.lagMs === null ? "" : ` · last event applied ${Math.round(m.lagMs)} ms after it was appended`;
    const classes = [...m.staleByClass].map(([cls, c]) => `${cls} ${c.stale} of ${c.reads}`).join(", ");
    const reads = m.reads
      ? ` · reads served: ${m.reads}, stale: ${m.stale}` + (m.staleByClass.size > 1 ? ` (${classes})` : "")
      : " · no page reads it";
    const rebuilt = m.generation ? ` · rebuilt ${m.generation} time${m.generation === 1 ? "" : "s"}` : "";
    const twice = m.doubled ? ` · ${m.doubled} row${m.doubled === 1 ? "" : "s"} counted an event twice` : "";
    g.status.textContent = `${lag}${reads}${twice}${rebuilt}`;
    const rows = [];
    for (const key of [...m.newest].reverse()) {
      const row = m.rows.get(key);
      const twice = row.events - row.version; // the naive projector counts a redelivered event again
      rows.push(
        h(
          "tr",
          { class: twice > 0 ? "drift" : "" },
          h("th", { scope: "row" }, h("code", { text: key })),
          h("td", { text: `${row.version} of ${latest.get(key) || row.version}` }),
          h("td", { text: twice > 0 ? `${row.events} (${twice} counted twice)` : String(row.events) }),
          h("td", { text: row.event || "" }),
        ),
      );
    }
    if (!rows.length) rows.push(h("tr", {}, h("td", { colSpan: 4, class: "empty-item", text: "The read model is empty." })));
    g.body.replaceChildren(...rows);
  }

  function reset() {
    for (const m of models.values()) {
      wipe(m, 0);
      Object.assign(m, { rebuilds: 0, lagMs: null, reads: 0, stale: 0, staleByClass: new Map() });
    }
    latest.clear();
    latestSum = 0;
    appended = 0;
    recent.clear();
    query.keys.replaceChildren();
    query.reset();
    dirty = true;
  }

  return { el, add, render, reset };
}
