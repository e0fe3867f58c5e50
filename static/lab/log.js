// The event log: a virtualised listbox. It keeps every loggable event (100k is fine) in time order, but the DOM
// holds only a window of rows around what is visible, reused frame to frame. Rows have a fixed height, so
// nothing is measured per event: the viewport's height comes from a ResizeObserver, the scroll position from
// scroll events. One tab stop; arrow keys, Page Up/Down, Home and End move inside; Enter follows a request.
// Each row says what its event type means, from the event contract (lab/model/events.py, `#event-contract`): as
// its tooltip, and for the active row in the box under the log, which describes it to screen readers. Both are
// written only when a row is drawn or becomes active, never per event.
import { h, toggleLabel } from "./util.js";

const ROW_PX = 20;
const OVERSCAN = 80;
// Shown even when the log is thinned because the page is struggling to keep up.
const NOTABLE = new Set(["run.started", "run.finished", "toggle", "breaker.state", "dlq.added", "request.finished", "call.finished", "message.processed", "message.dropped", "message.missed", "retry.scheduled", "handler.error", "request.lost", "message.redelivered", "driver.takeover"]);

export function describe(e) {
  const t = `${(e.t || 0).toFixed(2)}s`;
  switch (e.type) {
    case "run.started": return `${t} run started (${e.experiment || "run"}${e.preset ? `, ${e.preset}` : ""})`;
    case "request.created": return `${t} ${e.correlation_id} created`;
    case "request.attempt": return e.attempt > 1 ? `${t} ${e.correlation_id} attempt ${e.attempt}` : null;
    case "call.started": return `${t} ${e.from} → ${e.to} call (${e.correlation_id}, attempt ${e.attempt})`;
    case "call.finished": return `${t} ${e.from} ← ${e.to} ${e.outcome} in ${e.duration_ms} ms${e.reason ? ` — ${e.reason}` : ""}`;
    case "message.published": return `${t} ${e.from} ⇢ ${e.queue || `queue ${e.to}`} (${e.message_id})`;
    case "message.consumed": return `${t} ${e.to} took ${e.message_id}${e.queue ? ` from ${e.queue}` : ""} (attempt ${e.attempt})`;
    case "message.processed": return `${t} ${e.to} ${e.outcome} ${e.message_id}${e.duplicate ? " (duplicate!)" : ""}`;
    case "message.dropped": return `${t} message to ${e.to} dropped in transit`;
    case "message.missed": return `${t} ${e.subscription} missed ${e.correlation_id}: ${e.reason}`;
    case "retry.scheduled": return `${t} retry of ${e.correlation_id} in ${e.delay_ms} ms (next attempt ${e.next_attempt})`;
    case "dlq.added": return `${t} ${e.message_id} → dead-letter queue: ${e.reason}`;
    case "request.finished": return `${t} ${e.correlation_id} ${e.outcome === "ok" ? "succeeded" : "FAILED"} after ${e.latency_ms} ms${e.reason ? ` — ${e.reason}` : ""}`;
    case "breaker.state": return `${t} breaker${e.target ? ` on ${e.target}` : ""} ${e.from} → ${e.to} (${e.reason})`;
    case "toggle": return `${t} toggle by ${e.by}: ${toggleLabel(e.values)}`;
    case "run.finished": return `${t} run ${e.status}`;
    case "handler.error": return `${t} handler error${e.correlation_id ? ` in ${e.correlation_id}` : ""}${e.message_id ? ` on ${e.message_id}` : ""}: ${e.error}`;
    case "request.lost": return `${t} ${e.correlation_id} lost — ${e.reason}`;
    case "message.redelivered": return `${t} ${e.message_id} redelivered — ${e.reason}`;
    case "driver.takeover": return `${t} another worker took over the load driver (${e.lost} requests lost)`;
    case "service.event": return `${t} ${e.service} emitted ${e.name}${e.correlation_id ? ` (${e.correlation_id})` : ""}`;
    case "queue.depth": case "pool.usage": case "fidelity": return null; // samples: charts and badges show them
    default: return `${t} ${e.type}${e.from ? ` ${e.from}` : ""}${e.to ? ` → ${e.to}` : ""}${e.correlation_id ? ` (${e.correlation_id})` : ""}`;
  }
}

/** What a row's event type means: its tooltip. A type the contract does not know says so. */
function meaningOf(e, spec) {
  return spec ? `${e.type}: ${spec.meaning}` : `${e.type}: not in the event contract, so this page cannot say what it means`;
}

function fieldValue(v) {
  if (v === undefined) return "(absent)";
  const text = typeof v === "string" ? v : JSON.stringify(v);
  return text.length > 80 ? `${text.slice(0, 79)}…` : text;
}

/** The box under the log, for the active row: its type, meaning and the contract's fields with this event's values. */
function explain(box, e, contract) {
  if (!e) {
    box.replaceChildren(h("p", { class: "hint", text: "Select a line to see what its event means here; pointing at a line shows it too." }));
    return;
  }
  const spec = contract[e.type];
  const said = h("p", { id: "event-log-meaning-text", class: spec ? "" : "bad" }, h("code", { text: e.type }), spec ? `: ${spec.meaning}` : ": not in the event contract (lab/model/events.py), so this page cannot say what it means.");
  const names = spec ? [...spec.fields, ...spec.optional.filter((name) => name in e)] : Object.keys(e).filter((name) => name !== "type");
  box.replaceChildren(said, h("dl", { class: "event-fields" }, ...names.map((name) => h("div", {}, h("dt", {}, h("code", { text: name })), h("dd", { text: fieldValue(e[name]) })))));
}

function rowClass(e) {
  if (e.type === "toggle") return "toggle";
  if (e.type === "breaker.state") return "breaker";
  if ((e.outcome && e.outcome !== "ok" && e.outcome !== "duplicate_skipped") || ["dlq.added", "message.dropped", "message.missed", "handler.error", "request.lost"].includes(e.type)) return "failed";
  return "";
}

export function createLog(list, { contract, meaningBox, onSelect, invalidate }) {
  let all = [];
  let notable = [];
  let thin = false;
  let viewH = 300;
  let scrollTop = 0;
  let stick = true;
  let active = -1; // index in the shown rows
  let dirty = true;
  let renderedTotal = 0;
  let written = -1; // the scrollTop this code last set
  let current = new Map(); // entry → its <li>
  let explained; // the entry the meaning box shows (null: none; undefined: the box is not drawn yet)
  const body = list.querySelector(".log-rows"); // padded to the full height; the scroller itself never is
  list.setAttribute("role", "listbox");
  list.setAttribute("aria-orientation", "vertical");

  new ResizeObserver((entries) => {
    viewH = entries[0].contentRect.height || viewH;
    dirty = true;
    invalidate();
  }).observe(list);
  list.addEventListener("scroll", () => {
    const top = list.scrollTop;
    if (top === written) return; // our own write, already accounted for
    written = -1;
    scrollTop = top;
    // Judged against what was drawn: rows added since then must not make the reader look scrolled away.
    stick = scrollTop + viewH >= renderedTotal * ROW_PX - ROW_PX;
    dirty = true;
    invalidate();
  }, { passive: true });

  const rows = () => (thin ? notable : all);

  function insert(arr, entry) {
    let i = arr.length;
    while (i > 0 && arr[i - 1].t > entry.t) i--; // events from parallel workers may be a little out of time order
    if (i === arr.length) arr.push(entry);
    else arr.splice(i, 0, entry);
  }

  function follow(index) {
    const entry = rows()[index];
    if (entry && entry.e.correlation_id) onSelect(entry.e);
  }

  function moveTo(index) {
    const shown = rows();
    if (!shown.length) return;
    active = Math.max(0, Math.min(shown.length - 1, index));
    const top = active * ROW_PX;
    if (top < scrollTop) scrollTop = top;
    else if (top + ROW_PX > scrollTop + viewH) scrollTop = top + ROW_PX - viewH;
    stick = active === shown.length - 1;
    list.scrollTop = written = scrollTop;
    dirty = true;
    invalidate();
  }

  list.addEventListener("keydown", (ev) => {
    const page = Math.max(1, Math.floor(viewH / ROW_PX) - 1);
    const start = active < 0 ? Math.floor(scrollTop / ROW_PX) : active;
    const moves = { ArrowDown: start + 1, ArrowUp: start - 1, PageDown: start + page, PageUp: start - page, Home: 0, End: rows().length - 1 };
    if (ev.key in moves) {
      ev.preventDefault();
      moveTo(moves[ev.key]);
    } else if ((ev.key === "Enter" || ev.key === " ") && active >= 0) {
      ev.preventDefault();
      follow(active);
    }
  });
  list.addEventListener("click", (ev) => {
    const li = ev.target.closest("li[data-index]");
    if (!li) return;
    active = Number(li.dataset.index);
    dirty = true;
    invalidate();
    follow(active);
  });
  // Tabbing in puts the active row where the reader is; a mouse press focuses the log too, but must not move it
  // (the row under the pointer is the one being clicked).
  let pressing = false;
  list.addEventListener("pointerdown", () => { pressing = true; });
  list.addEventListener("pointerup", () => { pressing = false; });
  list.addEventListener("focus", () => {
    if (!pressing && active < 0 && rows().length) moveTo(stick ? rows().length - 1 : Math.ceil(scrollTop / ROW_PX));
  });

  return {
    add(e) {
      if (e.type === "request.attempt" && !(e.attempt > 1)) return;
      if (describe(e) === null) return;
      const entry = { t: e.t || 0, e };
      insert(all, entry);
      if (NOTABLE.has(e.type)) insert(notable, entry);
      dirty = true;
    },
    reset() {
      for (const li of current.values()) li.remove();
      current = new Map();
      all = [];
      notable = [];
      active = -1;
      stick = true;
      scrollTop = 0;
      dirty = true;
    },
    setThin(value) {
      if (thin === value) return;
      thin = value;
      for (const li of current.values()) li.remove();
      current = new Map();
      active = -1;
      stick = true;
      dirty = true;
      invalidate();
    },
    size: () => all.length,
    /** Draw the visible window; call at most once per frame. */
    render() {
      if (!dirty) return;
      dirty = false;
      const shown = rows();
      const total = shown.length;
      if (stick) scrollTop = Math.max(0, total * ROW_PX - viewH);
      const first = Math.max(0, Math.floor(scrollTop / ROW_PX) - OVERSCAN);
      const last = Math.min(total, Math.ceil((scrollTop + viewH) / ROW_PX) + OVERSCAN);
      // Rows are keyed by entry: when the window moves by n rows only n <li> change text and place.
      const want = shown.slice(first, last);
      const wanted = new Set(want);
      const free = [];
      for (const [entry, li] of current) {
        if (!wanted.has(entry)) {
          free.push(li);
          li.remove();
        }
      }
      const next = new Map();
      for (let i = 0; i < want.length; i++) {
        const entry = want[i], index = first + i;
        let li = current.get(entry);
        if (!li) {
          li = free.pop() || document.createElement("li");
          const spec = contract[entry.e.type];
          li.setAttribute("role", "option");
          li.textContent = spec ? describe(entry.e) : `${describe(entry.e)} [unknown event type]`;
          li.className = spec ? rowClass(entry.e) : `${rowClass(entry.e)} unknown`;
          li.title = meaningOf(entry.e, spec);
          li.isActive = false;
          li.removeAttribute("id");
          li.removeAttribute("aria-describedby");
          li.setAttribute("aria-selected", "false");
          li.setAttribute("aria-setsize", total);
          li.index = -1;
        }
        if (li.index !== index) {
          li.index = index;
          li.dataset.index = index;
          li.setAttribute("aria-posinset", index + 1);
        }
        const isActive = index === active;
        if (li.isActive !== isActive) {
          li.isActive = isActive;
          li.classList.toggle("active", isActive);
          li.setAttribute("aria-selected", String(isActive));
          if (isActive) {
            li.id = "event-log-active";
            li.setAttribute("aria-describedby", "event-log-meaning-text");
          } else {
            li.removeAttribute("id");
            li.removeAttribute("aria-describedby");
          }
        }
        if (isActive) li.setAttribute("aria-setsize", total);
        if (body.children[i] !== li) body.insertBefore(li, body.children[i] || null);
        next.set(entry, li);
      }
      current = next;
      body.style.paddingTop = `${first * ROW_PX}px`;
      body.style.paddingBottom = `${(total - last) * ROW_PX}px`;
      if (active >= first && active < last) list.setAttribute("aria-activedescendant", "event-log-active");
      else list.removeAttribute("aria-activedescendant");
      renderedTotal = total;
      const activeEntry = shown[active] || null;
      if (activeEntry !== explained) {
        explained = activeEntry;
        explain(meaningBox, explained?.e, contract);
      }
      if (stick) list.scrollTop = written = scrollTop; // a write, never a read: the position comes from scroll events
    },
  };
}
