// The `consumers` panel of `view.panels` (docs/lab-page.md): one row per consumer of a queue with consumer knobs,
// following the live consumer count. Its bar shows what the consumer holds against the prefetch limit, split into
// the message in its hand and those prefetched behind it (from `consumer.load` samples), beside what it has
// processed (`message.processed`), so messages stranded behind one slow consumer while others idle stand out.
import { h } from "./util.js";

export function consumersPanel(spec, page) {
  const countParam = `${spec.link}.consumers`;
  const prefetchParam = `${spec.link}.prefetch`;
  const defaults = Object.fromEntries((page.exp.parameters || []).map((p) => [p.name, p.default]));
  let consumers = 0;
  let prefetch = 1;
  let held = [];
  let inHand = [];
  const processed = new Map(); // consumer number -> messages it processed
  let dirty = true;

  const body = h("tbody");
  const caption = h("caption", { class: "sr-only", text: `Consumers of ${spec.label}` }); // the heading says it
  const table = h("table", { class: "data consumers" }, caption);
  const head = table.createTHead().insertRow();
  const swatch = (part) => h("span", { class: `swatch ${part}`, "aria-hidden": "true" });
  head.append(
    h("th", { scope: "col", text: "Consumer" }),
    h("th", { scope: "col", text: "Buffer" }),
    h("th", { scope: "col" }, swatch("buffer-hand"), "In hand"),
    h("th", { scope: "col" }, swatch("buffer-ahead"), "Prefetched"),
    h("th", { scope: "col", text: "Processed" }),
  );
  table.append(body);
  const stranded = h("p", { class: "consumers-stranded" });
  const settings = h("p", { class: "hint consumers-settings" });
  const el = h(
    "section",
    { class: "panel consumers-panel", "aria-label": `Consumers of ${spec.label}` },
    h("h3", { text: `Consumers of ${spec.label}` }),
    h("p", { class: "hint", text: "Each consumer works on one message at a time; the rest of its buffer is prefetched and waits behind that one, even when other consumers are idle." }),
    settings,
    table,
    stranded,
  );

  function setFrom(values) {
    if (values[countParam] !== undefined) consumers = Number(values[countParam]);
    if (values[prefetchParam] !== undefined) prefetch = Math.max(1, Number(values[prefetchParam]));
  }

  function add(e) {
    if (e.type === "run.started") setFrom(e.config || {});
    else if (e.type === "toggle") setFrom(e.values || {});
    else if (e.type === "consumer.load" && e.held?.[spec.link]) {
      held = e.held[spec.link];
      inHand = e.in_hand?.[spec.link] || [];
    } else if (e.type === "message.processed" && e.queue === spec.link && e.outcome === "ok") {
      const number = e.consumer || 1;
      processed.set(number, (processed.get(number) || 0) + 1);
    } else return;
    dirty = true;
  }

  function bar(hand, ahead) {
    const track = h("span", { class: "buffer-bar", "aria-hidden": "true" });
    const width = (n) => `${Math.min(100, (100 * n) / prefetch)}%`;
    const handPart = h("span", { class: "buffer-hand" });
    const aheadPart = h("span", { class: "buffer-ahead" });
    handPart.style.width = width(hand);
    aheadPart.style.width = width(ahead);
    track.append(handPart, aheadPart);
    return track;
  }

  function render() {
    if (!dirty) return;
    dirty = false;
    const rows = [];
    const idle = [];
    let waitingBehind = 0;
    for (let i = 0; i < consumers; i++) {
      const hand = Math.min(1, inHand[i] || 0);
      const ahead = Math.max(0, (held[i] || 0) - hand);
      if (!hand && !ahead) idle.push(i + 1);
      waitingBehind += ahead;
      const tr = h("tr", { class: ahead > 0 ? "backed-up" : "" });
      tr.append(
        h("th", { scope: "row", text: `Consumer ${i + 1}` }),
        h("td", {}, bar(hand, ahead), h("span", { class: "sr-only", text: `holds ${hand + ahead} of ${prefetch}` })),
        h("td", { text: String(hand) }),
        h("td", { text: String(ahead) }),
        h("td", { text: String(processed.get(i + 1) || 0) }),
      );
      rows.push(tr);
    }
    if (!rows.length) rows.push(h("tr", {}, h("td", { colSpan: 5, class: "empty-item", text: "No consumer: messages wait in the queue." })));
    body.replaceChildren(...rows);
    settings.textContent = `${consumers} consumer${consumers === 1 ? "" : "s"}, prefetch ${prefetch}: each holds at most ${prefetch} message${prefetch === 1 ? "" : "s"}.`;
    stranded.textContent =
      waitingBehind && idle.length
        ? `${waitingBehind} prefetched message${waitingBehind === 1 ? " waits" : "s wait"} behind busy consumers while consumer${idle.length === 1 ? "" : "s"} ${idle.join(", ")} ${idle.length === 1 ? "is" : "are"} idle.`
        : `Prefetched and waiting: ${waitingBehind} · idle consumers: ${idle.length}.`;
    stranded.classList.toggle("warn", !!(waitingBehind && idle.length));
  }

  function reset() {
    setFrom(defaults); // until the run says otherwise: the document's consumer count and prefetch
    held = [];
    inHand = [];
    processed.clear();
    dirty = true;
  }

  reset();
  return { el, add, render, reset };
}
