// Live counters for the effects an experiment promises to have exactly once (`view.effects`, from its
// `effect_once` invariants): per request class, how many accepted orders had the effect once, more than once or
// not (yet), and how many effects hit orders that were never accepted. An order is accepted when its request
// succeeded or its record was saved, as the invariant counts it (lab/model/invariants.py). O(1) per event; the
// table is written at most once per frame.
import { h } from "./util.js";

const BUCKETS = ["accepted", "once", "repeated", "missing", "orphaned"];

/** Which counter an order is in: accepted ones by how often the effect hit them, others only if it did. */
function bucketOf(order) {
  if (order.accepted) return order.count === 0 ? "missing" : order.count === 1 ? "once" : "repeated";
  return order.count > 0 ? "orphaned" : null;
}

export function createEffects(el, exp) {
  const view = exp.view || {};
  const effects = view.effects || [];
  const groupBy = view.group_by;
  let state, version, drawn;

  function reset() {
    state = new Map(effects.map((fx) => [fx.event, { orders: new Map(), classes: new Map() }]));
    version = 0;
    drawn = -1;
  }
  reset();

  function counters(fx, cls) {
    if (!fx.classes.has(cls)) fx.classes.set(cls, Object.fromEntries(BUCKETS.map((b) => [b, 0])));
    return fx.classes.get(cls);
  }

  function update(fx, id, change) {
    let order = fx.orders.get(id);
    if (!order) fx.orders.set(id, (order = { cls: "all", accepted: false, count: 0 }));
    const before = bucketOf(order);
    const wasAccepted = order.accepted;
    change(order);
    const after = bucketOf(order);
    const c = counters(fx, order.cls);
    if (before) c[before] -= 1;
    if (after) c[after] += 1;
    if (order.accepted && !wasAccepted) c.accepted += 1;
    version += 1;
  }

  function add(e) {
    if (!e.correlation_id) return;
    for (const [event, fx] of state) {
      if (e.type === "request.created" && !fx.orders.has(e.correlation_id)) {
        const cls = groupBy && e[groupBy] !== undefined ? String(e[groupBy]) : "all";
        fx.orders.set(e.correlation_id, { cls, accepted: false, count: 0 });
      } else if ((e.type === "request.finished" && e.outcome === "ok") || e.type === "db.committed") {
        update(fx, e.correlation_id, (o) => { o.accepted = true; });
      } else if (e.type === "service.event" && e.name === event) {
        update(fx, e.correlation_id, (o) => { o.count += 1; });
      }
    }
  }

  function render(finished) {
    if (!effects.length) return;
    el.hidden = false;
    if (drawn === version && el.dataset.finished === String(finished)) return;
    drawn = version;
    el.dataset.finished = String(finished);
    const tables = [];
    for (const [event, fx] of state) {
      const table = h("table", { class: "data effects-table" },
        h("caption", { text: `'${event}' per order, live: exactly once, repeated or missing` }));
      const head = table.createTHead().insertRow();
      const missing = finished ? "Never (lost)" : "Not yet";
      for (const title of [groupBy ? "Class" : "Orders", "Accepted", "Exactly once", "More than once", missing, "Never accepted"]) {
        head.append(h("th", { scope: "col", text: title }));
      }
      const body = table.createTBody();
      const classes = [...fx.classes.entries()].sort(([a], [b]) => order(a) - order(b));
      if (!classes.length) body.insertRow().append(h("td", { colspan: 6, class: "empty", text: "No orders yet." }));
      for (const [cls, c] of classes) {
        const row = body.insertRow();
        row.dataset.class = cls;
        row.append(h("th", { scope: "row", text: cls }));
        for (const key of BUCKETS) {
          const bad = c[key] > 0 && (key === "repeated" || key === "orphaned" || (key === "missing" && finished));
          row.append(h("td", { class: bad ? `bad ${key}` : key, text: String(c[key]) }));
        }
      }
      tables.push(table);
    }
    el.replaceChildren(...tables);
  }

  const order = (cls) => {
    const i = (view.groups || []).indexOf(cls);
    return i < 0 ? 1e9 : i;
  };

  return { add, reset, render };
}
