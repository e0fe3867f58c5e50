// The subscriptions table: for every topic subscription in view.subscriptions, its live binding and filter, whether
// its subscriber is in or away, whether it is durable, and what it got: copies published to it, processed, missed
// while away (non-durable only) and waiting now. Counts are folded from events (O(1) each); the table is rewritten
// at most once per animation frame, only when something changed.
import { h } from "./util.js";

export function createSubscriptions(container, exp) {
  const specs = exp.view?.subscriptions || [];
  const rows = new Map();
  let live = {};
  let dirty = true;

  function reset() {
    live = Object.fromEntries(exp.parameters.map((p) => [p.name, p.default]));
    for (const sub of specs) rows.set(sub.id, { copies: 0, processed: 0, missed: 0, waiting: 0 });
    dirty = true;
  }

  function add(e) {
    if (!specs.length) return;
    if (e.type === "run.started") Object.assign(live, e.config || {});
    else if (e.type === "toggle") Object.assign(live, e.values || {});
    else if (e.type === "message.published" && rows.has(e.queue)) rows.get(e.queue).copies += 1;
    else if (e.type === "message.processed" && e.outcome === "ok" && rows.has(e.queue)) rows.get(e.queue).processed += 1;
    else if (e.type === "message.missed" && rows.has(e.subscription)) rows.get(e.subscription).missed += 1;
    else if (e.type === "queue.depth") {
      for (const [id, row] of rows) row.waiting = e.depths?.[id] ?? row.waiting;
    } else return;
    dirty = true;
  }

  function render() {
    if (!specs.length || !dirty) return;
    dirty = false;
    const head = ["Subscription", "Consumer", "Binding", "Filter", "Subscriber", "Durable", "Copies", "Processed", "Missed", "Waiting"];
    const body = specs.map((sub) => {
      const row = rows.get(sub.id);
      const away = live[`${sub.id}.subscribed`] === false;
      const filter = live[`${sub.id}.filter`] || "";
      return h(
        "tr", { "data-subscription": sub.id, class: away ? "away" : "" },
        h("th", { scope: "row", text: sub.id }),
        h("td", { text: sub.to }),
        h("td", {}, h("code", { text: live[`${sub.id}.binding`] ?? "#" })),
        h("td", {}, filter ? h("code", { text: filter }) : h("span", { class: "hint", text: "none" })),
        h("td", { text: away ? "away" : "in" }),
        h("td", { text: sub.durable ? "yes" : "no" }),
        h("td", { class: "num", text: String(row.copies) }),
        h("td", { class: "num", text: String(row.processed) }),
        h("td", { class: `num${row.missed ? " bad" : ""}`, text: String(row.missed) }),
        h("td", { class: "num", text: String(row.waiting) }),
      );
    });
    container.replaceChildren(
      h("table", { class: "subscriptions" },
        h("caption", { text: "Subscriptions: what each one matches and what it got" }),
        h("thead", {}, h("tr", {}, ...head.map((text) => h("th", { scope: "col", text })))),
        h("tbody", {}, ...body)),
    );
  }

  reset();
  container.hidden = !specs.length;
  return { add, render, reset };
}
