// Sagas: every order's saga instances with their state and a timeline (forward steps above, compensations in their
// own lane below), and each orchestrator's state machine with how many instances stand at each step. Driven by the
// experiment's `view.sagas` (the sagas its document defines) and the run's saga.* events; nothing here knows an
// experiment. An orchestrated order is one instance; a choreographed order is one instance per participant, judged
// together. Selecting an order (click, or Enter/Space on it) lists its saga steps and opens its messages' journey.
import { h } from "./util.js";

const MAX_ROWS = 200; // the newest orders are listed; the counts above the list cover all of them
const STATE_LABEL = {
  running: "running",
  compensating: "compensating",
  completed: "completed",
  compensated: "compensated",
  failed: "half-done",
  stuck: "stuck",
};
const END_STATES = ["completed", "compensated", "failed", "stuck"];

function outcomeClass(outcome) {
  if (outcome === "ok" || outcome === "late_ok") return "ok";
  if (outcome === "timeout" || String(outcome).startsWith("late_")) return "warn";
  return "bad";
}

/** A saga event in words, for the selected order's list. */
export function describeSagaEvent(e) {
  const t = `${(e.t || 0).toFixed(2)}s`;
  const who = e.saga.includes(":") ? e.saga.split(":").pop() : "orchestrator";
  switch (e.type) {
    case "saga.started": return `${t} ${who} saga started: ${(e.steps || []).join(" → ")}`;
    case "saga.step": return `${t} ${who}: ${e.step} ${e.outcome}`;
    case "saga.compensating": return `${t} ${who} compensating${e.failed_step ? ` after ${e.failed_step} failed` : ""}: ${(e.steps || []).join(", ") || "nothing to undo"}`;
    case "saga.compensation": return `${t} ${who}: ${e.compensation} (undoes ${e.step}) ${e.outcome}, attempt ${e.attempt}${e.retry_in_ms != null ? `, retry in ${e.retry_in_ms} ms` : ""}`;
    case "saga.crashed": return `${t} ${who} crashed ${e.moment} at ${e.step}`;
    case "saga.resumed": return `${t} ${who} resumed from Redis${e.next_step ? ` at ${e.next_step}` : ""} (restart ${e.restart})`;
    case "saga.ended": return `${t} ${who} saga ended ${STATE_LABEL[e.state] || e.state}`;
    default: return null;
  }
}

export function createSagaPanel(box, specs, { onOpen }) {
  const machines = specs.filter((s) => !s.reaction);
  const participants = specs.filter((s) => s.reaction);
  let orders, instances, rows, dirty, selected, finished, countsDirty;

  function reset() {
    orders = new Map(); // order key → {key, correlationId, style, sagas: [instance], t0, t1}
    instances = new Map(); // saga id → instance
    rows = new Map(); // order key → its <li>
    dirty = new Set();
    selected = null;
    finished = false;
    countsDirty = true;
    list.replaceChildren();
    detail.replaceChildren(h("p", { class: "hint", text: "Select an order to see its saga steps and its messages." }));
  }

  // ---------- state from events ----------
  function add(e) {
    if (!e.type.startsWith("saga.") || e.type === "saga.states") return;
    let inst = instances.get(e.saga);
    if (e.type === "saga.started") {
      const key = e.reaction ? e.correlation_id : e.saga;
      let order = orders.get(key);
      if (!order) {
        const style = e.reaction ? "choreographed" : machines.find((m) => m.name === e.name)?.class || e.name;
        // awaits: services a participant's step handed the order to; started: participants that took it up
        order = { key, correlationId: e.correlation_id, style, sagas: [], events: [], t0: e.t, t1: e.t, awaits: new Set(), started: new Set() };
        orders.set(key, order);
      }
      inst = { id: e.saga, name: e.name, order, reaction: !!e.reaction, steps: e.steps || [], state: "running", next: 0, crashed: false, start: e.t, compStart: null, forward: [], comps: [], done: new Set(), undone: new Set() };
      instances.set(e.saga, inst);
      order.sagas.push(inst);
      if (e.reaction) order.started.add(e.service);
    }
    if (!inst) return;
    const order = inst.order;
    order.events.push(e);
    order.t1 = Math.max(order.t1, e.t);
    switch (e.type) {
      case "saga.step":
        inst.forward.push({ step: e.step, outcome: e.outcome, t: e.t });
        if (e.outcome === "ok") inst.next = e.index + 1;
        if (e.compensable && (e.outcome === "ok" || e.outcome === "late_ok")) inst.done.add(e.step);
        for (const service of e.hands_to || []) order.awaits.add(service);
        break;
      case "saga.compensating":
        inst.state = "compensating";
        inst.compStart = e.t;
        break;
      case "saga.compensation":
        inst.comps.push({ step: e.step, name: e.compensation, outcome: e.outcome, attempt: e.attempt, t: e.t });
        if (e.outcome === "ok") inst.undone.add(e.step);
        break;
      case "saga.crashed": inst.crashed = true; break;
      case "saga.resumed": inst.crashed = false; break;
      case "saga.ended": inst.state = e.state; break;
    }
    dirty.add(order.key);
    countsDirty = true;
  }

  function orderState(order) {
    const states = order.sagas.map((s) => s.state);
    if (states.includes("compensating")) return "compensating";
    if (states.includes("running")) return "running";
    for (const end of ["stuck", "failed"]) if (states.includes(end)) return end;
    const left = order.sagas.some((s) => [...s.done].some((step) => !s.undone.has(step)));
    // A choreographed order handed to a participant that never took it up (its event dead-lettered, dropped or
    // missed) is not complete: on its way while the run goes, stranded half-done once it has ended.
    const stranded = [...order.awaits].some((service) => !order.started.has(service));
    if (stranded && left) return finished ? "failed" : "running";
    if (states.every((s) => s === "completed")) return "completed";
    // A choreographed order: one participant failed; the others undo their steps when its event reaches them.
    if (!left) return "compensated";
    return finished ? "failed" : "compensating";
  }

  // ---------- rendering ----------
  const counts = h("p", { class: "saga-counts", role: "status" });
  const machineBox = h("div", { class: "saga-machines" });
  const list = h("ol", { class: "saga-list", "aria-label": "Saga instances, one per order" });
  const detail = h("div", { class: "saga-detail", "aria-live": "polite" });
  box.append(machineBox, counts, h("div", { class: "saga-lanes-key", "aria-hidden": "true" },
    h("span", { class: "saga-key-fwd", text: "steps" }), h("span", { class: "saga-key-comp", text: "compensations" })), list, detail);

  function lane(kind, marks, t0, span) {
    const track = h("span", { class: `saga-lane saga-lane-${kind}` });
    for (const m of marks) {
      const mark = h("span", { class: `saga-mark ${outcomeClass(m.outcome)}`, title: m.label });
      mark.style.left = `${(100 * (m.from - t0)) / span}%`;
      mark.style.width = `max(4px, ${(100 * (m.to - m.from)) / span}%)`;
      track.append(mark);
    }
    return track;
  }

  function timeline(order) {
    const t0 = order.t0, span = Math.max(order.t1 - t0, 0.001);
    const forward = [], comps = [], words = [];
    for (const inst of order.sagas) {
      let previous = inst.start;
      for (const f of inst.forward) {
        forward.push({ from: previous, to: f.t, outcome: f.outcome, label: `${f.step} ${f.outcome}` });
        words.push(`${f.step} ${f.outcome}`);
        if (f.outcome === "ok") previous = f.t;
      }
      let since = inst.compStart ?? inst.start;
      for (const c of inst.comps) {
        comps.push({ from: since, to: c.t, outcome: c.outcome, label: `${c.name} ${c.outcome} (attempt ${c.attempt})` });
        words.push(`${c.name} ${c.outcome}${c.attempt > 1 ? ` on attempt ${c.attempt}` : ""}`);
        since = c.t;
      }
    }
    return { forward: lane("fwd", forward, t0, span), comps: lane("comp", comps, t0, span), words };
  }

  function rowFor(order) {
    const state = orderState(order);
    const { forward, comps, words } = timeline(order);
    const crashed = order.sagas.some((s) => s.crashed);
    const label = `${order.key}, ${order.style}, ${STATE_LABEL[state]}${crashed ? ", orchestrator down" : ""}: ${words.join(", ") || "started"}`;
    const button = h("button", {
      type: "button",
      class: `saga-row${selected === order.key ? " selected" : ""}`,
      "aria-label": label,
      "aria-pressed": String(selected === order.key),
      "data-order": order.key,
      "data-state": state,
      onclick: () => select(order.key),
    },
    h("span", { class: "saga-id", text: order.key }),
    h("span", { class: "saga-style", text: order.style }),
    h("span", { class: `saga-state saga-${state}`, text: STATE_LABEL[state] + (crashed ? " (orchestrator down)" : "") }),
    h("span", { class: "saga-lanes", "aria-hidden": "true" }, forward, comps));
    return h("li", {}, button);
  }

  function select(key) {
    const previous = selected;
    selected = key;
    if (previous) dirty.add(previous);
    dirty.add(key);
    const order = orders.get(key);
    renderDetail(order);
    onOpen(order.correlationId);
    render();
  }

  function renderDetail(order) {
    if (!order) return;
    const lines = order.events.map(describeSagaEvent).filter(Boolean);
    detail.replaceChildren(
      h("h3", { text: `${order.key} (${order.style}): ${STATE_LABEL[orderState(order)]}` }),
      h("ol", { class: "saga-steps" }, ...lines.map((text) => h("li", { text }))),
      h("p", { class: "hint", text: "Its messages and calls are in the journey below." }));
  }

  function renderMachines() {
    const parts = [];
    for (const spec of machines) {
      const at = new Map(spec.steps.map((step) => [step, 0]));
      const ends = Object.fromEntries(["compensating", ...END_STATES].map((s) => [s, 0]));
      let down = 0;
      for (const inst of instances.values()) {
        if (inst.reaction || inst.name !== spec.name) continue;
        if (inst.crashed) down += 1;
        if (inst.state === "running") at.set(spec.steps[inst.next] ?? spec.steps.at(-1), (at.get(spec.steps[inst.next] ?? spec.steps.at(-1)) || 0) + 1);
        else ends[inst.state] += 1;
      }
      const box = (name, n, extra = "") => h("li", { class: `saga-state-box${n ? " busy" : ""}${extra}`, "aria-label": `${name}: ${n}` },
        h("span", { class: "saga-box-name", text: name }), h("span", { class: "saga-box-count", text: String(n) }));
      parts.push(h("figure", { class: "saga-machine" },
        h("figcaption", { text: `${spec.class || spec.name} saga, run by ${spec.service}: instances at each step${down ? ` (${down} waiting for it to restart)` : ""}` }),
        h("ol", { class: "saga-forward", "aria-label": "forward steps, in order" },
          ...spec.steps.map((step, i) => box(step, at.get(step) || 0, spec.compensations[i] ? "" : " final")),
          box(STATE_LABEL.completed, ends.completed, " end")),
        h("ol", { class: "saga-backward", "aria-label": "after a failure" },
          box(STATE_LABEL.compensating, ends.compensating),
          box(STATE_LABEL.compensated, ends.compensated, " end"),
          box(STATE_LABEL.stuck, ends.stuck, " end"),
          box(STATE_LABEL.failed, ends.failed, " end"))));
    }
    if (participants.length) {
      const per = participants.map((spec) => {
        let running = 0, undoing = 0, done = 0;
        for (const inst of instances.values()) {
          if (!inst.reaction || inst.name !== spec.name) continue;
          if (inst.state === "running") running += 1;
          else if (inst.state === "compensating") undoing += 1;
          else done += 1;
        }
        return `${spec.service}: ${running} running, ${undoing} undoing, ${done} ended`;
      });
      parts.push(h("p", { class: "saga-choreography", text: `Choreography has no coordinator: each service keeps its own saga per order (${per.join("; ")}).` }));
    }
    machineBox.replaceChildren(...parts);
  }

  function renderCounts() {
    const tally = Object.fromEntries(Object.keys(STATE_LABEL).map((s) => [s, 0]));
    for (const order of orders.values()) tally[orderState(order)] += 1;
    const text = Object.entries(tally).filter(([, n]) => n).map(([s, n]) => `${n} ${STATE_LABEL[s]}`).join(", ");
    counts.textContent = orders.size ? `${orders.size} orders: ${text}.` : "No saga has started yet.";
  }

  function render() {
    if (!countsDirty && !dirty.size) return;
    if (countsDirty) {
      renderMachines();
      renderCounts();
      countsDirty = false;
    }
    const keep = [...orders.keys()].slice(-MAX_ROWS);
    const shown = new Set(keep);
    for (const [key, li] of rows) if (!shown.has(key)) { li.remove(); rows.delete(key); }
    for (const key of keep) {
      if (rows.has(key) && !dirty.has(key)) continue;
      const li = rowFor(orders.get(key));
      const old = rows.get(key);
      if (old) {
        const focused = old.contains(document.activeElement);
        old.replaceWith(li);
        if (focused) li.firstElementChild.focus(); // keyboard users keep their place when a row is redrawn
      } else list.append(li);
      rows.set(key, li);
    }
    if (selected && dirty.has(selected)) renderDetail(orders.get(selected));
    dirty.clear();
  }

  function finish() {
    finished = true;
    for (const key of orders.keys()) dirty.add(key);
    countsDirty = true;
    render();
  }

  reset();
  box.hidden = false;
  return { add, render, reset, finish, size: () => orders.size };
}
