// The experiment's diagram as SVG, drawn from `exp.diagram`: nodes (boxes by kind), edges (solid sync calls,
// dashed async links, routed around boxes they would cross), badges with each node's live state, and edge
// counters. Particles are drawn by particles.js on a canvas beneath this SVG, using the edge paths made here.
import { h, s } from "./util.js";

export const W = 1000;
export const H = 440;
const SIZE = {
  service: [152, 62], orchestrator: [152, 62], client: [130, 50], queue: [140, 44], dlq: [140, 44],
  topic: [140, 44], stream: [140, 44], reply: [140, 44],
};
const QUEUE_KINDS = new Set(["queue", "dlq", "topic", "stream", "reply"]);

function box(n, pad = 0) {
  const [w, hgt] = SIZE[n.kind] || SIZE.service;
  return { x1: n.cx - w / 2 - pad, x2: n.cx + w / 2 + pad, y1: n.cy - hgt / 2 - pad, y2: n.cy + hgt / 2 + pad };
}
const inside = (p, b) => p.x > b.x1 && p.x < b.x2 && p.y > b.y1 && p.y < b.y2;

/** Where the segment from a (inside box b) to q leaves b. */
function exitPoint(a, q, b) {
  let t = 1;
  const dx = q.x - a.x, dy = q.y - a.y;
  if (dx > 0) t = Math.min(t, (b.x2 - a.x) / dx);
  if (dx < 0) t = Math.min(t, (b.x1 - a.x) / dx);
  if (dy > 0) t = Math.min(t, (b.y2 - a.y) / dy);
  if (dy < 0) t = Math.min(t, (b.y1 - a.y) / dy);
  return { x: a.x + dx * t, y: a.y + dy * t };
}

function crosses(points, obstacles) {
  for (let i = 0; i + 1 < points.length; i++) {
    const a = points[i], b = points[i + 1];
    const steps = Math.max(2, Math.ceil(Math.hypot(b.x - a.x, b.y - a.y) / 6));
    for (let k = 0; k <= steps; k++) {
      const p = { x: a.x + ((b.x - a.x) * k) / steps, y: a.y + ((b.y - a.y) * k) / steps };
      if (obstacles.some((o) => inside(p, o))) return true;
    }
  }
  return false;
}

/** A route from a to b that does not cross other nodes: straight if it can, else through the nearest gap. */
function route(a, b, others) {
  const obstacles = others.map((n) => box(n, 6));
  const straight = [{ x: a.cx, y: a.cy }, { x: b.cx, y: b.cy }];
  const hit = obstacles.filter((o) => crosses(straight, [o]));
  if (!hit.length) return straight;
  const minX = Math.min(...hit.map((o) => o.x1)) - 14, maxX = Math.max(...hit.map((o) => o.x2)) + 14;
  const column = obstacles.filter((o) => o.x2 > minX && o.x1 < maxX).sort((p, q) => p.y1 - q.y1);
  const lanes = [];
  let top = 8;
  for (const o of column) {
    if (o.y1 - top >= 10) lanes.push((top + o.y1) / 2);
    top = Math.max(top, o.y2);
  }
  if (H - 8 - top >= 10) lanes.push((top + H - 8) / 2);
  const midY = (a.cy + b.cy) / 2;
  lanes.sort((p, q) => Math.abs(p - midY) - Math.abs(q - midY));
  const [left, right] = a.cx < b.cx ? [minX, maxX] : [maxX, minX];
  for (const y of lanes) {
    const pts = [{ x: a.cx, y: a.cy }, { x: left, y }, { x: right, y }, { x: b.cx, y: b.cy }];
    if (!crosses(pts, obstacles)) return pts;
  }
  return straight;
}

/** Samples along a polyline by arc length, so a particle moves at an even speed: LUT of (x, y) pairs. */
function sampler(points, n = 48) {
  const lengths = [0];
  for (let i = 1; i < points.length; i++) {
    lengths.push(lengths[i - 1] + Math.hypot(points[i].x - points[i - 1].x, points[i].y - points[i - 1].y));
  }
  const total = lengths[lengths.length - 1] || 1;
  const lut = new Float32Array((n + 1) * 2);
  let seg = 1;
  for (let k = 0; k <= n; k++) {
    const d = (total * k) / n;
    while (seg < points.length - 1 && lengths[seg] < d) seg++;
    const span = lengths[seg] - lengths[seg - 1] || 1, f = (d - lengths[seg - 1]) / span;
    lut[2 * k] = points[seg - 1].x + (points[seg].x - points[seg - 1].x) * f;
    lut[2 * k + 1] = points[seg - 1].y + (points[seg].y - points[seg - 1].y) * f;
  }
  return { lut, n };
}

export function createTopology(svg, exp, { onNodeActivate, hasFaults }) {
  const diagram = exp.diagram || { nodes: [], edges: [] };
  const view = exp.view || {};
  const nodes = new Map();
  const edges = new Map(); // "from>to" → edge
  const edgeList = [];

  for (const n of diagram.nodes) nodes.set(n.id, { ...n, cx: 70 + n.x * (W - 140), cy: 40 + n.y * (H - 80) });

  const edgeLayer = s("g", { class: "edges" });
  const countLayer = s("g", { class: "edge-counts" });
  const nodeLayer = s("g", { class: "nodes" });
  svg.append(
    s("defs", {}, ...["sync", "async"].map((k) => s("marker", {
      id: `arrow-${k}`, viewBox: "0 0 10 10", refX: "9", refY: "5", markerWidth: "7", markerHeight: "7",
      orient: "auto-start-reverse",
    }, s("path", { d: "M0,0 L10,5 L0,10 z", class: `arrow ${k}` })))),
    edgeLayer, nodeLayer, countLayer,
  );

  for (const e of diagram.edges) {
    const a = nodes.get(e.from), b = nodes.get(e.to);
    if (!a || !b) continue;
    const others = [...nodes.values()].filter((n) => n !== a && n !== b);
    const pts = route(a, b, others);
    pts[0] = exitPoint(pts[0], pts[1], box(a));
    pts[pts.length - 1] = exitPoint(pts[pts.length - 1], pts[pts.length - 2], box(b));
    const d = pts.map((p, i) => `${i ? "L" : "M"}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(" ");
    const el = s("path", { d, class: `edge ${e.kind}`, "marker-end": `url(#arrow-${e.kind})` });
    const mid = sampler(pts, 2).lut;
    const label = s("text", { class: "edge-count", x: mid[2].toFixed(1), y: (mid[3] - 7).toFixed(1) });
    edgeLayer.append(el);
    countLayer.append(label);
    const edge = { ...e, index: edgeList.length, el, label, path: sampler(pts), classes: e.classes || [], text: "" };
    edges.set(`${e.from}>${e.to}`, edge);
    edgeList.push(edge);
  }

  for (const n of nodes.values()) {
    const b = box(n);
    const w = b.x2 - b.x1, hgt = b.y2 - b.y1;
    const queueish = QUEUE_KINDS.has(n.kind);
    const label = s("text", { class: "node-label", y: queueish ? -5 : n.kind === "client" ? -3 : -12 });
    label.textContent = n.label;
    const badge = s("text", { class: "badge-text", y: queueish ? 13 : n.kind === "client" ? 14 : 7 });
    const sub = s("text", { class: "badge-sub", y: 23 });
    const g = s("g", { class: `node ${n.kind}`, transform: `translate(${n.cx},${n.cy})`, "data-node": n.id },
      s("rect", { x: -w / 2, y: -hgt / 2, width: w, height: hgt, rx: queueish ? 4 : 8 }), label, badge, sub);
    if (hasFaults(n.id)) {
      g.classList.add("clickable");
      g.setAttribute("tabindex", "0");
      g.setAttribute("role", "button");
      g.setAttribute("aria-describedby", "node-hint"); // its name is what it shows: label and badges
      g.setAttribute("aria-haspopup", "dialog");
      g.addEventListener("click", () => onNodeActivate(n.id));
      g.addEventListener("keydown", (ev) => {
        if (ev.key === "Enter" || ev.key === " ") {
          ev.preventDefault();
          onNodeActivate(n.id);
        }
      });
    }
    nodeLayer.append(g);
    Object.assign(n, { el: g, badge, sub, texts: ["", "", "", ""] });
  }

  function write(n, main, mainCls, subText, subCls) {
    const t = n.texts;
    if (t[0] !== main) n.badge.textContent = t[0] = main;
    if (t[1] !== mainCls) n.badge.setAttribute("class", `badge-text ${(t[1] = mainCls)}`);
    if (t[2] !== subText) n.sub.textContent = t[2] = subText;
    if (t[3] !== subCls) n.sub.setAttribute("class", `badge-sub ${(t[3] = subCls)}`);
  }

  return {
    nodes,
    edges: edgeList,
    /** The edge a hop travels on, and whether it travels against the edge's direction. */
    edgeFor(from, to) {
      const fwd = edges.get(`${from}>${to}`);
      if (fwd) return { edge: fwd, reverse: false };
      const back = edges.get(`${to}>${from}`);
      return back ? { edge: back, reverse: true } : null;
    },
    /** Dim the edges the chosen request class does not use. */
    setActiveClasses(config) {
      const chosen = view.class_param ? config[view.class_param] : null;
      for (const e of edgeList) {
        const active = !e.classes.length || !view.class_param || chosen === undefined ||
          chosen === view.all_classes_value || e.classes.includes(chosen);
        e.el.classList.toggle("idle", !active);
      }
    },
    setEdgeCounts(counts, calm) {
      for (const e of edgeList) {
        const n = counts[e.index] || 0;
        const text = n ? (calm ? `${n} msg/s` : `+${n}/s`) : "";
        if (text !== e.text) e.label.textContent = e.text = text;
      }
    },
    /** Badges from the live state; writes only what changed. */
    update({ live, config, metrics, running }) {
      for (const n of nodes.values()) {
        if (QUEUE_KINDS.has(n.kind)) {
          if (n.kind === "dlq") {
            const dead = metrics.dlqCount();
            write(n, `${dead} dead`, dead ? "bad" : "ok", "", "");
          } else {
            const d = metrics.depthNow[n.id];
            write(n, d === undefined ? "" : `${d} waiting`, d > 0 ? "warn" : "ok", "", "");
          }
          continue;
        }
        if (n.kind === "client") {
          write(n, running || metrics.created ? `${metrics.created} sent` : "", "muted", "", "");
          continue;
        }
        const down = !!live[`${n.id}.down`], slow = +live[`${n.id}.latency_ms`] || 0, err = +live[`${n.id}.error_rate`] || 0;
        let main = "up", cls = "ok";
        if (down) [main, cls] = ["DOWN", "bad"];
        else if (slow && err) [main, cls] = [`+${slow} ms, ${Math.round(err * 100)}% err`, "warn"]; // fits the box
        else if (slow) [main, cls] = [`slow +${slow} ms`, "warn"];
        else if (err) [main, cls] = [`${Math.round(err * 100)}% errors`, "warn"];
        n.el.classList.toggle("down", down);
        n.el.classList.toggle("slow", !down && (slow > 0 || err > 0));
        const subs = [];
        let subCls = "muted";
        if (n.pool_param && metrics.poolsNow[n.id] !== undefined) {
          const size = config[n.pool_param];
          subs.push(`pool ${metrics.poolsNow[n.id]}/${size ?? "?"}`);
          if (size && metrics.poolsNow[n.id] >= size) subCls = "bad";
        }
        if (n.breaker_param && live[n.breaker_param]) {
          const state = metrics.breakerNow[n.id] || "CLOSED";
          subs.push(state === "HALF_OPEN" ? "HALF-OPEN" : state);
          if (state === "OPEN") subCls = "bad";
          else if (state === "HALF_OPEN" && subCls !== "bad") subCls = "warn";
        }
        write(n, main, cls, subs.join(" · "), subCls);
      }
    },
  };
}

/** A legend for every mark the diagram and charts use, limited to the kinds this experiment has. */
export function renderLegend(container, exp) {
  const nodes = exp.diagram?.nodes || [];
  const edges = exp.diagram?.edges || [];
  const kinds = new Set(nodes.map((n) => n.kind));
  const edgeKinds = new Set(edges.map((e) => e.kind));
  const swatch = (...children) => s("svg", { width: "34", height: "18", viewBox: "0 0 34 18", "aria-hidden": "true" }, ...children);
  const item = (svgEl, text) => h("li", {}, svgEl, h("span", { text }));
  const items = [];
  if (edgeKinds.has("sync")) items.push(item(swatch(s("line", { x1: 2, y1: 9, x2: 32, y2: 9, class: "edge sync" })), "Synchronous call: the caller waits"));
  if (edgeKinds.has("async")) items.push(item(swatch(s("line", { x1: 2, y1: 9, x2: 32, y2: 9, class: "edge async" })), "Asynchronous message through a queue"));
  if (edges.some((e) => e.classes?.length)) items.push(item(swatch(s("line", { x1: 2, y1: 9, x2: 32, y2: 9, class: "edge sync idle" })), "Faded: not used by the chosen mode"));
  items.push(item(swatch(s("circle", { cx: 17, cy: 9, r: 5, class: "dot sync" })), "Request or reply on a sync call"));
  if (edgeKinds.has("async")) items.push(item(swatch(s("circle", { cx: 17, cy: 9, r: 5, class: "dot async" })), "Message on a queue"));
  items.push(item(swatch(s("circle", { cx: 17, cy: 9, r: 5, class: "dot failed" })), "Failed call or request"));
  items.push(item(swatch(s("text", { x: 17, y: 13, class: "edge-count", "text-anchor": "middle" }, "+9/s")), "Hops not drawn as dots (too many, or counters mode), per second"));
  items.push(item(swatch(s("rect", { x: 2, y: 2, width: 30, height: 14, rx: 3, class: "box service" })), "Service: badge says up, DOWN, slow or errors"));
  if (kinds.has("queue") || kinds.has("topic") || kinds.has("stream") || kinds.has("reply")) {
    items.push(item(swatch(s("rect", { x: 2, y: 2, width: 30, height: 14, rx: 2, class: "box queue" })), "Queue: “N waiting” is its real depth in Redis"));
  }
  if (kinds.has("dlq")) items.push(item(swatch(s("rect", { x: 2, y: 2, width: 30, height: 14, rx: 2, class: "box dlq" })), "Dead-letter queue: messages that gave up"));
  items.push(item(swatch(s("rect", { x: 2, y: 2, width: 30, height: 14, rx: 3, class: "box service down" })), "Red border: service down"));
  items.push(item(swatch(s("rect", { x: 2, y: 2, width: 30, height: 14, rx: 3, class: "box service slow" })), "Amber border: slow or failing"));
  if (nodes.some((n) => n.pool_param)) items.push(item(swatch(s("text", { x: 17, y: 13, class: "badge-sub", "text-anchor": "middle" }, "3/10")), "Pool: threads in use / pool size"));
  if (nodes.some((n) => n.breaker_param)) items.push(item(swatch(s("text", { x: 17, y: 13, class: "badge-sub bad", "text-anchor": "middle" }, "OPEN")), "Circuit breaker state (when enabled)"));
  items.push(item(swatch(s("line", { x1: 17, y1: 1, x2: 17, y2: 17, class: "marker-line" })), "On charts: a toggle you or the preset made"));
  container.replaceChildren(h("h3", { class: "sr-only", text: "Legend" }), h("ul", { class: "legend-list" }, ...items));
}
