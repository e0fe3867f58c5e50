// Live charts built from `exp.view.charts` with the vendored uPlot (window.uPlot): latency, throughput, queue
// depth, pool usage, arrivals per bucket, a latency histogram and a breaker lane. Every chart keeps a readout of
// its latest values (no hovering needed), toggle markers whose labels never clip or pile up, and colours from
// CSS variables, rebuilt when the colour scheme changes. render() is cheap enough for a few times a second.
import { h, percentile, byNumber } from "./util.js";
import { RETRY_WAVES_CAPTION, retryWavesData, retryWavesSeries } from "./retrywaves.js";

const HEIGHT = 220;
const CAPTIONS = {
  latency: "Latency per second: p50, p95, p99, and the median of each {group} (ms)",
  throughput: "Throughput (attempts/s), goodput (successes/s) and success rate (%)",
  queue_depth: "Queue depth (messages waiting in Redis)",
  pool_usage: "Threads in use per pool (real leases in Redis)",
  arrivals: "Calls reaching {target} per {bucket} ms",
  histogram: "Latency histogram with p50 / p95 / p99",
  breaker_lane: "Circuit breaker state on {target} over time",
  retry_waves: RETRY_WAVES_CAPTION,
};

function cssColour(name, fallback) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
}
function palette() {
  return [1, 2, 3, 4, 5, 6].map((i) => cssColour(`--chart-${i}`, "#888"));
}
function niceBin(raw) {
  return [5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000].find((s) => s >= raw) || 10000;
}
const round = (v) => (v === null || v === undefined ? "—" : Math.round(v));

/** Dashed vertical markers with labels placed in rows so they neither clip at the edges nor overlap. */
function markerPlugin(getMarkers) {
  return {
    hooks: {
      draw: [(u) => {
        const markers = getMarkers();
        if (!markers.length) return;
        const ctx = u.ctx, dpr = devicePixelRatio || 1;
        const left = u.bbox.left, right = left + u.bbox.width, top = u.bbox.top;
        const text = cssColour("--text", "#222"), bg = cssColour("--bg", "#fff"), line = cssColour("--warn", "#8a5300");
        ctx.save();
        ctx.font = `${11 * dpr}px system-ui, sans-serif`;
        ctx.textBaseline = "middle";
        ctx.textAlign = "left"; // uPlot leaves its axis alignment on the context
        const rowEnds = [];
        markers.forEach((m, i) => {
          const x = u.valToPos(m.t, "x", true);
          if (!(x >= left - 1 && x <= right + 1)) return;
          ctx.strokeStyle = line;
          ctx.lineWidth = 1.5 * dpr;
          ctx.setLineDash([4 * dpr, 3 * dpr]);
          ctx.beginPath();
          ctx.moveTo(x, top);
          ctx.lineTo(x, top + u.bbox.height);
          ctx.stroke();
          for (const label of [m.label, String(m.number ?? i + 1)]) {
            const w = ctx.measureText(label).width;
            let lx = x + 3 * dpr;
            if (lx + w > right) lx = Math.max(left, x - 3 * dpr - w);
            let row = rowEnds.findIndex((end) => lx > end + 6 * dpr);
            if (row < 0) row = rowEnds.length;
            if (row >= 3 && label === m.label) continue; // too crowded: show its number from the markers list
            if (row >= 4) break;
            rowEnds[row] = lx + w;
            const y = top + (row + 0.5) * 13 * dpr + 2 * dpr;
            ctx.fillStyle = bg;
            ctx.globalAlpha = 0.85;
            ctx.fillRect(lx - 1 * dpr, y - 6.5 * dpr, w + 2 * dpr, 13 * dpr);
            ctx.globalAlpha = 1;
            ctx.fillStyle = text;
            ctx.fillText(label, lx, y);
            break;
          }
        });
        ctx.restore();
      }],
    },
  };
}

export function createCharts(container, exp, { nodeLabel, state }) {
  const view = exp.view || {};
  const groups = view.group_by ? view.groups || [] : [];
  const specs = view.charts || [];
  const charts = [];
  let metrics = null;

  for (const [index, spec] of specs.entries()) {
    const caption = (spec.caption || CAPTIONS[spec.kind] || spec.kind)
      .replace("{group}", view.group_by || "class").replace("{target}", spec.target || "").replace("{bucket}", spec.bucket_ms || (spec.kind === "retry_waves" ? 50 : 100));
    const id = `chart-${spec.kind.replace(/_/g, "-")}${specs.findIndex((s) => s.kind === spec.kind) === index ? "" : `-${index}`}`;
    const body = spec.kind === "breaker_lane"
      ? h("div", { id, class: "lane", role: "img", "aria-label": "Circuit breaker state over time: no changes yet" })
      : h("div", { id, class: "chart" });
    const readout = h("p", { class: "readout", id: `${id}-readout` });
    const figure = h("figure", { class: `chart-figure ${spec.kind}` }, h("figcaption", { id: `${id}-caption`, text: caption }), body, readout);
    if (spec.kind === "breaker_lane") {
      figure.append(h("ul", { class: "lane-legend", "aria-label": "Breaker states" },
        ...["CLOSED", "OPEN", "HALF_OPEN"].map((st) => h("li", {}, h("span", { class: `swatch ${st}`, "aria-hidden": "true" }), h("span", { text: st === "HALF_OPEN" ? "HALF-OPEN: trial calls" : st === "OPEN" ? "OPEN: calls refused" : "CLOSED: calls pass" })))));
    }
    container.insertBefore(figure, container.querySelector(".markers-figure"));
    charts.push({ spec, body, readout, plot: null, width: 320 });
  }

  const histogramMarkers = { list: [] };

  function seriesFor(chart, colours) {
    const line = (label, i, extra = {}) => ({ label, stroke: colours[i % colours.length], width: 2, spanGaps: true, ...extra });
    const { spec } = chart;
    switch (spec.kind) {
      case "latency":
        return [line("p50", 0), line("p95", 4), line("p99", 1), ...groups.map((g, i) => line(`p50 ${g}`, 2 + i * 3, { dash: [6, 4], width: 1.5 }))];
      case "throughput":
        return [line("attempts/s", 2), line("goodput/s", 3), line("success %", 0, { scale: "pct", dash: [5, 3] })];
      case "queue_depth":
      case "pool_usage": {
        // samples hold until the next one (the engine sends one only when a figure changed, and all once a second)
        const steps = window.uPlot?.paths?.stepped ? window.uPlot.paths.stepped({ align: 1 }) : undefined;
        return (spec.series || []).map((id, i) => line(nodeLabel(id), i, { paths: steps }));
      }
      case "arrivals":
        return [line("calls", 2, { fill: `${colours[2]}40` })];
      case "retry_waves":
        return retryWavesSeries(colours);
      case "histogram":
        return [{ label: "requests", stroke: colours[0], fill: `${colours[0]}59`, points: { show: false }, paths: window.uPlot?.paths?.bars ? window.uPlot.paths.bars({ size: [0.9] }) : undefined }];
      default:
        return [];
    }
  }

  function build() {
    const colours = palette();
    const axis = { stroke: cssColour("--muted", "#666"), grid: { stroke: cssColour("--border", "#ccc") }, ticks: { stroke: cssColour("--border", "#ccc") } };
    for (const chart of charts) {
      if (chart.plot) chart.plot.destroy();
      chart.plot = null;
      if (chart.spec.kind === "breaker_lane" || typeof window.uPlot === "undefined") continue;
      const series = seriesFor(chart, colours);
      const histogram = chart.spec.kind === "histogram";
      const yRange = (u, min, max) => [0, Math.max(chart.spec.kind === "latency" ? 50 : 1, (max || 0) * 1.1)];
      const opts = {
        width: chart.width, height: HEIGHT,
        legend: { live: false },
        cursor: { drag: { x: false, y: false } },
        plugins: chart.spec.kind === "retry_waves" ? [] : [markerPlugin(histogram ? () => histogramMarkers.list : () => (metrics ? metrics.markers : []))],
        scales: { x: { time: false }, y: { range: yRange }, ...(chart.spec.kind === "throughput" ? { pct: { range: [0, 100] } } : {}) },
        axes: [{ ...axis, label: histogram ? "latency ms" : chart.spec.kind === "retry_waves" ? `seconds since ${chart.spec.target} went down` : "run second" },
          { ...axis, label: { latency: "ms", throughput: "per second", queue_depth: "messages", pool_usage: "threads", arrivals: "calls", histogram: "requests", retry_waves: "retries" }[chart.spec.kind] },
          ...(chart.spec.kind === "throughput" ? [{ ...axis, scale: "pct", side: 1, grid: { show: false }, label: "%" }] : [])],
        series: [{ label: histogram ? "latency" : "second" }, ...series],
      };
      chart.plot = new window.uPlot(opts, [[], ...series.map(() => [])], chart.body);
      chart.blend = undefined;
    }
    if (metrics) render(metrics);
  }

  function completeSeconds(m) {
    const running = !state().finished;
    const complete = (sec) => !running || sec + 1 <= m.maxT; // the current, unfinished second is not plotted
    return [...m.secs.keys()].filter(complete).sort(byNumber);
  }

  /** Every chart now (a finished run, the scrubber). */
  function render(m) {
    metrics = m;
    const secs = completeSeconds(m);
    for (const chart of charts) renderChart(chart, m, secs);
  }

  /** One chart per call, in turn, so a live run's chart work is spread over frames. */
  let cursor = 0;
  function renderNext(m) {
    metrics = m;
    if (!charts.length) return;
    const chart = charts[cursor++ % charts.length];
    renderChart(chart, m, chart.spec.kind === "latency" || chart.spec.kind === "throughput" ? completeSeconds(m) : null);
  }

  function renderChart(chart, m, secs) {
    {
      const { spec, plot, readout } = chart;
      let data = null, text = "";
      if (spec.kind === "latency") {
        const p = [[], [], []], per = groups.map(() => []);
        for (const sec of secs) {
          const b = m.secs.get(sec), sorted = b.lat.slice().sort(byNumber);
          p[0].push(percentile(sorted, 50)); p[1].push(percentile(sorted, 95)); p[2].push(percentile(sorted, 99));
          groups.forEach((g, i) => per[i].push(percentile((b.byGroup[g] || []).slice().sort(byNumber), 50)));
        }
        data = [secs, ...p, ...per];
        // All classes side by side: never a blended headline, only each class's own median.
        const cfg = state().config, blend = !(view.class_param && groups.length && cfg[view.class_param] === view.all_classes_value);
        if (plot && chart.blend !== blend) {
          for (const i of [1, 2, 3]) plot.setSeries(i, { show: blend });
          chart.blend = blend;
        }
        const last = secs.length - 1;
        if (last >= 0) {
          const parts = blend ? [`p50 ${round(p[0][last])} ms, p95 ${round(p[1][last])} ms, p99 ${round(p[2][last])} ms`] : [];
          groups.forEach((g, i) => { if (per[i][last] !== null) parts.push(`${g} p50 ${round(per[i][last])} ms`); });
          text = `Second ${secs[last]}: ${parts.join("; ")}`;
        }
      } else if (spec.kind === "throughput") {
        const duration = state().config.duration;
        const xs = secs.filter((sec) => !duration || sec < duration), att = [], good = [], pct = [];
        for (const sec of xs) {
          const b = m.secs.get(sec);
          att.push(b.attempts); good.push(b.ok); pct.push(b.ok + b.failed ? (100 * b.ok) / (b.ok + b.failed) : null);
        }
        data = [xs, att, good, pct];
        const last = xs.length - 1;
        if (last >= 0) text = `Second ${xs[last]}: ${att[last]} attempts/s, ${good[last]} successes/s, ${pct[last] === null ? "—" : Math.round(pct[last])}% success`;
      } else if (spec.kind === "queue_depth" || spec.kind === "pool_usage") {
        const now = spec.kind === "queue_depth" ? m.depthNow : m.poolsNow;
        let samples = spec.kind === "queue_depth" ? m.depth : m.pools;
        const last = samples[samples.length - 1];
        if (last && m.maxT > last.t) samples = [...samples, { t: m.maxT, values: now }]; // unchanged up to now
        const ids = spec.series || [];
        data = [samples.map((d) => d.t), ...ids.map((id) => samples.map((d) => d.values[id] ?? null))];
        if (samples.length) text = `Now: ${ids.map((id) => `${nodeLabel(id)} ${now[id] ?? "—"}`).join(", ")}`;
        const full = ids.filter((id) => m.poolsFullPct[id] !== undefined);
        if (spec.kind === "pool_usage" && full.length) text += `. Full so far: ${full.map((id) => `${nodeLabel(id)} ${Math.round(m.poolsFullPct[id])}% of the time`).join(", ")}`;
      } else if (spec.kind === "arrivals") {
        const counts = m.arrivals.get(spec.target) || new Map(), bucket = (spec.bucket_ms || 100) / 1000;
        const lastK = Math.floor(m.maxT / bucket), xs = [], ys = [];
        let peak = 0;
        for (let k = 0; k <= lastK; k++) { const c = counts.get(k) || 0; xs.push(+(k * bucket).toFixed(3)); ys.push(c); if (c > peak) peak = c; }
        data = [xs, ys];
        if (xs.length) text = `Peak ${peak} calls in ${spec.bucket_ms || 100} ms; last second ${ys.slice(-Math.round(1 / bucket)).reduce((a, b) => a + b, 0)} calls`;
      } else if (spec.kind === "histogram") {
        const sorted = m.latencies.slice().sort(byNumber);
        const max = sorted.length ? sorted[sorted.length - 1] : 0;
        const width = niceBin(max / 24), xs = [], ys = [];
        for (let x = 0; x <= max + width; x += width) { xs.push(x + width / 2); ys.push(0); }
        for (const v of sorted) ys[Math.min(ys.length - 1, Math.floor(v / width))]++;
        histogramMarkers.list = sorted.length ? [50, 95, 99].map((q, i) => ({ t: percentile(sorted, q), label: `p${q} ${round(percentile(sorted, q))} ms`, number: `p${q}` })) : [];
        data = [xs, ys];
        if (sorted.length) text = `${sorted.length} requests: ${histogramMarkers.list.map((x) => x.label).join(", ")}`;
      } else if (spec.kind === "retry_waves") {
        ({ data, text } = retryWavesData(spec, m));
      } else if (spec.kind === "breaker_lane") {
        renderLane(chart, m);
        return;
      }
      if (plot && data) plot.setData(data);
      if (readout.textContent !== text) readout.textContent = text;
    }
  }

  const stateLabel = (state) => (state === "HALF_OPEN" ? "HALF-OPEN" : state);

  function renderLane(chart, m) {
    const changes = m.breakers.get(chart.spec.target) || [];
    const end = Math.max(m.maxT, 1);
    const segments = [{ t: 0, to: "CLOSED" }, ...changes];
    const key = `${segments.length}:${Math.round(end * 4)}:${chart.width}`;
    if (chart.key === key) return;
    chart.key = key;
    chart.body.replaceChildren(...segments.map((seg, i) => {
      const next = i + 1 < segments.length ? segments[i + 1].t : end;
      const pct = Math.max(0, (100 * (next - seg.t)) / end);
      // A label only where it fits whole (never a clipped "HALF-OP"); the colour, its title and the readout
      // below name every segment anyway.
      const label = stateLabel(seg.to);
      const fits = (pct / 100) * (chart.width || 320) >= label.length * 8 + 8;
      const span = h("span", { class: seg.to, title: `${label} from ${seg.t.toFixed(1)} s${seg.reason ? ` (${seg.reason})` : ""}`, text: fits ? label : "" });
      span.style.width = `${pct}%`; // CSSOM, not a style attribute: allowed by a strict CSP
      return span;
    }));
    chart.body.setAttribute("aria-label", `Circuit breaker state over time: ${segments.map((x) => `${stateLabel(x.to)} at ${x.t.toFixed(1)} s`).join(", ")}`);
    const opened = changes.filter((c) => c.to === "OPEN").length;
    const recent = changes.slice(-6).map((c) => `${stateLabel(c.to)} at ${c.t.toFixed(1)} s`).join(" · ");
    chart.readout.textContent = changes.length
      ? `Now ${stateLabel(segments[segments.length - 1].to)}; opened ${opened} ${opened === 1 ? "time" : "times"}. ${changes.length > 6 ? "Latest: " : ""}${recent}`
      : "";
  }

  const observer = new ResizeObserver((entries) => {
    for (const entry of entries) {
      const chart = charts.find((c) => c.body === entry.target);
      if (!chart) continue;
      chart.width = Math.max(240, Math.floor(entry.contentRect.width));
      if (chart.plot) chart.plot.setSize({ width: chart.width, height: HEIGHT });
    }
  });
  for (const chart of charts) observer.observe(chart.body);
  window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", build);
  build();

  return { render, renderNext, count: () => charts.length, rebuild: build };
}
