// Message particles on a canvas beneath the diagram's SVG: one clear, one transform and one fill per colour each
// frame, however many dots are moving. Past the cap (lower when the page is degraded, zero in counters mode) hops
// are counted per edge instead and shown as "+N/s" (or "N msg/s") beside the edge, refreshed each second.
import { onFrame } from "./frame.js";
import { W, H } from "./topology.js";

const KINDS = ["sync", "async", "failed"];
export const CAPS = [300, 60, 0]; // by degrade level

export function createParticles(canvas, topology, { isCalm, speed }) {
  const ctx = canvas.getContext("2d");
  const edges = topology.edges;
  let scale = 1;
  let dpr = 1;
  let cap = CAPS[0];
  let paused = false;
  // Parallel arrays: edge index, direction, kind, start time.
  let live = [];
  let counts = new Array(edges.length).fill(0);
  let lastFlush = performance.now();
  let running = false;
  let colours = {};

  function readColours() {
    const css = getComputedStyle(document.documentElement);
    colours = { sync: css.getPropertyValue("--sync").trim(), async: css.getPropertyValue("--async").trim(), failed: css.getPropertyValue("--bad").trim() };
  }
  readColours();

  new ResizeObserver((entries) => {
    const width = entries[0].contentRect.width;
    dpr = window.devicePixelRatio || 1;
    scale = width / W;
    canvas.width = Math.round(width * dpr);
    canvas.height = Math.round(H * scale * dpr);
  }).observe(canvas);

  function frame(now) {
    const duration = 550 / speed();
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.setTransform(dpr * scale, 0, 0, dpr * scale, 0, 0);
    live = live.filter((p) => now - p.start < duration);
    for (const kind of KINDS) {
      ctx.beginPath();
      let any = false;
      for (const p of live) {
        if (p.kind !== kind) continue;
        const { lut, n } = edges[p.edge].path;
        let f = Math.max(0, (now - p.start) / duration);
        if (p.reverse) f = 1 - f;
        const k = Math.min(n - 1, Math.floor(f * n)), r = f * n - k;
        const x = lut[2 * k] + (lut[2 * k + 2] - lut[2 * k]) * r, y = lut[2 * k + 1] + (lut[2 * k + 3] - lut[2 * k + 1]) * r;
        ctx.moveTo(x + 5, y);
        ctx.arc(x, y, 5, 0, 2 * Math.PI);
        any = true;
      }
      if (any) {
        ctx.fillStyle = colours[kind];
        ctx.fill();
      }
    }
    if (now - lastFlush >= 1000) {
      topology.setEdgeCounts(counts, isCalm());
      counts = new Array(edges.length).fill(0);
      lastFlush = now;
    }
    const keep = live.length > 0 || counts.some(Boolean) || topology.edges.some((e) => e.text);
    running = keep;
    return keep;
  }

  return {
    /** A hop from `from` to `to`; failed hops are red. */
    hop(from, to, kind, failed) {
      const found = topology.edgeFor(from, to);
      if (!found) return;
      const limit = isCalm() || paused ? 0 : cap;
      if (live.length >= limit) counts[found.edge.index]++;
      else live.push({ edge: found.edge.index, reverse: found.reverse, kind: failed ? "failed" : kind, start: performance.now() });
      if (!running) {
        running = true;
        lastFlush = performance.now();
        onFrame(frame);
      }
    },
    setLevel(level) {
      cap = CAPS[Math.min(level, CAPS.length - 1)];
      if (live.length > cap) live = live.slice(live.length - cap);
    },
    setPaused(value) {
      paused = value;
    },
    clear() {
      live = [];
      counts = new Array(edges.length).fill(0);
      topology.setEdgeCounts(counts, isCalm());
    },
    count: () => live.length,
    readColours,
  };
}
