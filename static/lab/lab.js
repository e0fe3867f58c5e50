/* comms_lab live lab: start a run, stream its events over a websocket (gap-checked), animate the topology,
   plot live charts with toggle markers, follow a message's journey, and replay finished runs with a scrubber. */
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const exp = JSON.parse($("experiment-data").textContent);
  let runInfo = JSON.parse($("run-data").textContent);
  const lab = $("lab");
  const svgNS = "http://www.w3.org/2000/svg";
  const params = Object.fromEntries(exp.parameters.map((p) => [p.name, p]));
  const reducedMotionQuery = window.matchMedia("(prefers-reduced-motion: reduce)");
  const MAX_PARTICLES = 80;
  const MAX_LOG_LINES = 400;

  // ---------- run state fed by events ----------
  const run = {
    events: [], bySeq: new Map(), lastSeq: 0, buffered: new Map(), askedReplayAfter: -1,
    config: {}, live: {}, status: "not started", finished: false, summary: null,
  };

  function resetRun() {
    run.events = []; run.bySeq.clear(); run.lastSeq = 0; run.buffered.clear(); run.askedReplayAfter = -1;
    run.finished = false; run.summary = null; metrics.reset(); logView.reset(); topo.reset();
  }

  // ---------- metrics derived from events (rebuilt from scratch for the scrubber) ----------
  const arrivalsTarget = exp.slug === "cascade" ? "inventory" : "email";
  const metrics = {
    reset() {
      this.secs = new Map(); this.arrivals = new Map(); this.depth = []; this.depthKeys = []; this.markers = [];
      this.breaker = []; this.latencies = []; this.dlq = 0; this.maxT = 0; this.requests = 0; this.ok = 0;
    },
    sec(t) {
      const s = Math.floor(t);
      if (!this.secs.has(s)) this.secs.set(s, { lat: [], byGroup: {}, ok: 0, failed: 0, attempts: 0 });
      return this.secs.get(s);
    },
    add(e) {
      const t = e.t || 0;
      this.maxT = Math.max(this.maxT, t);
      switch (e.type) {
        case "request.finished": {
          const b = this.sec(t); b.lat.push(e.latency_ms); e.outcome === "ok" ? b.ok++ : b.failed++;
          const group = e.mode || e.path;
          if (group) (b.byGroup[group] = b.byGroup[group] || []).push(e.latency_ms);
          this.latencies.push(e.latency_ms); this.requests++; if (e.outcome === "ok") this.ok++;
          break;
        }
        case "request.attempt": this.sec(t).attempts++; break;
        case "call.started": case "message.consumed":
          if (e.to === arrivalsTarget) { const k = Math.floor(t * 10); this.arrivals.set(k, (this.arrivals.get(k) || 0) + 1); }
          break;
        case "queue.depth": case "pool.usage": {
          const values = e.depths || e.pools || {};
          for (const k of Object.keys(values)) if (!this.depthKeys.includes(k)) this.depthKeys.push(k);
          this.depth.push({ t, values });
          break;
        }
        case "breaker.state": this.breaker.push({ t, to: e.to, reason: e.reason }); break;
        case "toggle": this.markers.push({ t, label: toggleLabel(e.values, e.by) }); break;
        case "dlq.added": this.dlq++; break;
      }
    },
  };
  metrics.reset();

  function toggleLabel(values, by) {
    const parts = Object.entries(values || {}).map(([k, v]) => `${k}=${typeof v === "number" ? +v.toFixed(3) : v}`);
    return (by && by !== "learner" ? by + ": " : "") + parts.join(", ");
  }

  function percentile(sorted, p) {
    if (!sorted.length) return null;
    const pos = (sorted.length - 1) * p / 100, lo = Math.floor(pos), hi = Math.ceil(pos);
    return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
  }

  // ---------- charts (uPlot) ----------
  const css = getComputedStyle(document.documentElement);
  const color = (name) => css.getPropertyValue(name).trim() || "#888";
  const palette = ["#0b57d0", "#b3261e", "#7b3fb8", "#146c2e", "#8a5300", "#00838f"];

  function markerPlugin(getMarkers) {
    return {
      hooks: {
        draw: [(u) => {
          const ctx = u.ctx; ctx.save();
          ctx.strokeStyle = color("--warn"); ctx.fillStyle = color("--text"); ctx.setLineDash([4, 3]);
          ctx.lineWidth = 1.5 * devicePixelRatio; ctx.font = `${11 * devicePixelRatio}px system-ui`;
          getMarkers().forEach((m, i) => {
            const x = u.valToPos(m.t, "x", true);
            if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) return;
            ctx.beginPath(); ctx.moveTo(x, u.bbox.top); ctx.lineTo(x, u.bbox.top + u.bbox.height); ctx.stroke();
            ctx.fillText(m.label.slice(0, 28), x + 3, u.bbox.top + 12 * devicePixelRatio * (1 + (i % 3)));
          });
          ctx.restore();
        }],
      },
    };
  }

  function makeChart(el, series, opts = {}) {
    if (typeof uPlot === "undefined") return null;
    const width = Math.max(260, el.clientWidth || 320);
    const chart = new uPlot({
      width, height: 180, plugins: [markerPlugin(opts.markers || (() => metrics.markers))],
      scales: { x: { time: false }, ...(opts.scales || {}) },
      axes: [{ stroke: color("--muted"), grid: { stroke: color("--border") }, label: opts.xLabel || "run second" },
        ...(opts.axes || [{ stroke: color("--muted"), grid: { stroke: color("--border") } }])],
      series: [{ label: opts.xLabel || "t" }, ...series],
    }, [[], ...series.map(() => [])], el);
    return chart;
  }

  const charts = {};
  function buildCharts() {
    const line = (label, i, extra = {}) => ({ label, stroke: palette[i], width: 2, spanGaps: true, ...extra });
    // Each mode (checkout) or path (cascade) also gets its own median line, so side-by-side runs compare at a glance.
    charts.groups = exp.slug === "cascade" ? ["browse", "checkout"] : ["sync", "hybrid"];
    charts.latency = makeChart($("chart-latency"), [line("p50", 0), line("p95", 4), line("p99", 1),
      ...charts.groups.map((g, i) => line(`p50 ${g}`, 2 + i * 3, { dash: [6, 4], width: 1.5 }))]);
    charts.throughput = makeChart($("chart-throughput"), [line("attempts/s", 2), line("goodput/s", 3),
      line("success %", 0, { scale: "pct", dash: [5, 3] })], {
      scales: { pct: { range: [0, 100] } },
      axes: [{ stroke: color("--muted"), grid: { stroke: color("--border") } },
        { scale: "pct", side: 1, stroke: color("--muted"), grid: { show: false } }],
    });
    const depthKeys = exp.slug === "cascade" ? ["gateway", "orders", "inventory", "bulkhead"] : ["inventory", "email", "warehouse", "analytics"];
    $("chart-depth-caption").textContent = exp.slug === "cascade" ? "Threads in use per pool (real leases in Redis)" : "Queue depth (messages waiting in Redis)";
    $("chart-arrivals-caption").textContent = `Calls reaching ${arrivalsTarget} per 100 ms (retry waves show here)`;
    charts.depthKeys = depthKeys;
    charts.depth = makeChart($("chart-depth"), depthKeys.map((k, i) => line(k, i, { paths: undefined })));
    charts.arrivals = makeChart($("chart-arrivals"), [line("calls", 2, { fill: "rgba(123,63,184,.25)" })]);
    charts.histogram = makeChart($("chart-histogram"), [{
      label: "requests", stroke: palette[0], fill: "rgba(11,87,208,.35)",
      paths: typeof uPlot !== "undefined" && uPlot.paths && uPlot.paths.bars ? uPlot.paths.bars({ size: [0.9] }) : undefined,
    }], { xLabel: "latency ms", markers: () => histogramMarkers });
  }
  let histogramMarkers = [];

  function renderCharts() {
    const secs = [...metrics.secs.keys()].sort((a, b) => a - b);
    const lat = { p50: [], p95: [], p99: [] }, att = [], good = [], pct = [];
    const groupMedians = charts.groups.map(() => []);
    for (const s of secs) {
      const b = metrics.secs.get(s), sorted = b.lat.slice().sort((x, y) => x - y);
      lat.p50.push(percentile(sorted, 50)); lat.p95.push(percentile(sorted, 95)); lat.p99.push(percentile(sorted, 99));
      charts.groups.forEach((g, i) => groupMedians[i].push(percentile((b.byGroup[g] || []).slice().sort((x, y) => x - y), 50)));
      att.push(b.attempts); good.push(b.ok);
      pct.push(b.ok + b.failed ? (100 * b.ok) / (b.ok + b.failed) : null);
    }
    charts.latency && charts.latency.setData([secs, lat.p50, lat.p95, lat.p99, ...groupMedians]);
    charts.throughput && charts.throughput.setData([secs, att, good, pct]);
    if (charts.depth) {
      const xs = metrics.depth.map((d) => d.t);
      charts.depth.setData([xs, ...charts.depthKeys.map((k) => metrics.depth.map((d) => d.values[k] ?? null))]);
    }
    if (charts.arrivals) {
      const last = Math.ceil(metrics.maxT * 10), xs = [], ys = [];
      for (let k = 0; k <= last; k++) { xs.push(k / 10); ys.push(metrics.arrivals.get(k) || 0); }
      charts.arrivals.setData([xs, ys]);
    }
    if (charts.histogram) {
      const sorted = metrics.latencies.slice().sort((a, b) => a - b);
      const max = sorted.length ? sorted[sorted.length - 1] : 0;
      const width = niceBin(max / 24), xs = [], ys = [];
      for (let x = 0; x <= max + width; x += width) { xs.push(x + width / 2); ys.push(0); }
      for (const v of sorted) ys[Math.min(ys.length - 1, Math.floor(v / width))]++;
      histogramMarkers = sorted.length ? [50, 95, 99].map((p) => ({ t: percentile(sorted, p), label: `p${p} ${Math.round(percentile(sorted, p))} ms` })) : [];
      charts.histogram.setData([xs, ys]);
    }
    renderBreakerLane();
    renderMarkers();
  }
  function renderMarkers() {
    const list = $("markers");
    if (!metrics.markers.length) return;
    list.replaceChildren(...metrics.markers.map((m) => {
      const li = document.createElement("li"); li.textContent = `${m.t.toFixed(1)} s — ${m.label}`; return li;
    }));
  }
  function niceBin(raw) {
    const steps = [5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000];
    return steps.find((s) => s >= raw) || 10000;
  }
  function renderBreakerLane() {
    const lane = $("breaker-lane"), end = Math.max(metrics.maxT, 1);
    lane.replaceChildren();
    if (exp.slug !== "cascade") { lane.textContent = "No breaker in this experiment."; return; }
    const segments = [{ t: 0, to: "CLOSED" }, ...metrics.breaker];
    segments.forEach((seg, i) => {
      const next = i + 1 < segments.length ? segments[i + 1].t : end;
      const span = document.createElement("span");
      span.className = seg.to; span.style.width = `${Math.max(0, (100 * (next - seg.t)) / end)}%`;
      span.title = `${seg.to} from ${seg.t.toFixed(1)} s${seg.reason ? " (" + seg.reason + ")" : ""}`;
      span.textContent = seg.to; lane.appendChild(span);
    });
    lane.setAttribute("aria-label", "Breaker state over time: " + segments.map((s) => `${s.to} at ${s.t.toFixed(1)} s`).join(", "));
  }
  window.addEventListener("resize", () => {
    for (const [key, chart] of Object.entries(charts)) {
      if (chart && chart.root) chart.setSize({ width: Math.max(260, chart.root.parentElement.clientWidth - 4), height: 180 });
    }
  });

  // ---------- topology and particles ----------
  const topo = {
    nodes: new Map(), edges: new Map(), particles: 0, counters: new Map(),
    build() {
      const svg = $("topology");
      const W = 1000, H = 440;
      for (const n of exp.topology.nodes) this.nodes.set(n.id, { ...n, cx: 70 + n.x * (W - 140), cy: 40 + n.y * (H - 80) });
      const edgeLayer = document.createElementNS(svgNS, "g"), nodeLayer = document.createElementNS(svgNS, "g");
      this.particleLayer = document.createElementNS(svgNS, "g");
      for (const e of exp.topology.edges) {
        const a = this.nodes.get(e.from), b = this.nodes.get(e.to);
        const path = document.createElementNS(svgNS, "line");
        Object.entries({ x1: a.cx, y1: a.cy, x2: b.cx, y2: b.cy }).forEach(([k, v]) => path.setAttribute(k, v));
        path.setAttribute("class", `edge ${e.kind}`);
        const count = document.createElementNS(svgNS, "text");
        count.setAttribute("class", "edge-count"); count.setAttribute("x", (a.cx + b.cx) / 2); count.setAttribute("y", (a.cy + b.cy) / 2 - 6);
        edgeLayer.append(path, count);
        this.edges.set(`${e.from}>${e.to}`, { ...e, a, b, el: path, countEl: count, modes: e.modes });
      }
      for (const n of this.nodes.values()) {
        const g = document.createElementNS(svgNS, "g");
        g.setAttribute("class", `node ${n.kind}`); g.setAttribute("transform", `translate(${n.cx},${n.cy})`);
        const rect = document.createElementNS(svgNS, "rect");
        Object.entries({ x: -76, y: -28, width: 152, height: 56, rx: 8 }).forEach(([k, v]) => rect.setAttribute(k, v));
        const label = document.createElementNS(svgNS, "text"); label.setAttribute("y", -4); label.textContent = n.label;
        const badge = document.createElementNS(svgNS, "text"); badge.setAttribute("y", 16); badge.setAttribute("class", "badge-text");
        g.append(rect, label, badge); nodeLayer.appendChild(g);
        n.el = g; n.badge = badge;
      }
      svg.append(edgeLayer, nodeLayer, this.particleLayer);
    },
    reset() { this.particleLayer && this.particleLayer.replaceChildren(); this.particles = 0; this.counters.clear(); this.refresh(); },
    activateMode(mode) {
      for (const e of this.edges.values()) {
        const active = !e.modes.length || mode === "side_by_side" || e.modes.includes(mode);
        e.el.classList.toggle("idle", !active);
      }
    },
    calm() { return reducedMotionQuery.matches || $("calm").checked; },
    move(from, to, kind, failed) {
      let edge = this.edges.get(`${from}>${to}`), reverse = false;
      if (!edge) { edge = this.edges.get(`${to}>${from}`); reverse = true; }
      if (!edge) return;
      const key = `${edge.from}>${edge.to}`;
      if (this.calm() || this.particles >= MAX_PARTICLES) {
        this.counters.set(key, (this.counters.get(key) || 0) + 1);
        return;
      }
      const dot = document.createElementNS(svgNS, "circle");
      dot.setAttribute("class", `particle ${kind}${failed ? " failed" : ""}`); dot.setAttribute("r", 5);
      const [p, q] = reverse ? [edge.b, edge.a] : [edge.a, edge.b];
      const duration = 550 / view.speed, start = performance.now();
      this.particleLayer.appendChild(dot); this.particles++;
      const step = (now) => {
        const f = Math.min(1, (now - start) / duration);
        dot.setAttribute("cx", p.cx + (q.cx - p.cx) * f); dot.setAttribute("cy", p.cy + (q.cy - p.cy) * f);
        if (f < 1) requestAnimationFrame(step); else { dot.remove(); this.particles--; }
      };
      requestAnimationFrame(step);
    },
    flushCounters() {
      for (const [key, edge] of this.edges) {
        const n = this.counters.get(key) || 0;
        edge.countEl.textContent = n ? `${n} msg/s` : "";
      }
      this.counters.clear();
    },
    refresh() {
      const latestDepth = metrics.depth.length ? metrics.depth[metrics.depth.length - 1].values : {};
      for (const n of this.nodes.values()) {
        n.el.classList.remove("down", "slow");
        let text = "", cls = "ok";
        if (n.kind === "service") {
          const down = run.live[`${n.id}.down`], slow = (run.live[`${n.id}.latency_ms`] || 0) > 0;
          const errors = run.live[`${n.id}.error_rate`] || 0;
          if (down) { text = "DOWN"; cls = "bad"; n.el.classList.add("down"); }
          else if (slow) { text = `slow +${run.live[`${n.id}.latency_ms`]} ms`; cls = "warn"; n.el.classList.add("slow"); }
          else if (errors) { text = `${Math.round(errors * 100)}% errors`; cls = "warn"; }
          else if (n.id !== "client") text = "up";
          if (exp.slug === "cascade" && latestDepth[n.id] !== undefined) {
            const size = run.config[`${n.id}_pool`]; text += ` · pool ${latestDepth[n.id]}/${size}`;
          }
          if (n.id === "inventory" && exp.slug === "cascade" && run.live["breaker.enabled"]) {
            const state = metrics.breaker.length ? metrics.breaker[metrics.breaker.length - 1].to : "CLOSED";
            text += ` · ${state}`; if (state !== "CLOSED") cls = state === "OPEN" ? "bad" : "warn";
          }
        } else if (n.kind === "queue") {
          const d = latestDepth[n.id.replace("q.", "")]; text = d === undefined ? "" : `${d} waiting`; cls = d > 0 ? "warn" : "ok";
        } else if (n.kind === "dlq") { text = `${metrics.dlq} dead`; cls = metrics.dlq ? "bad" : "ok"; }
        n.badge.textContent = text; n.badge.setAttribute("class", `badge-text ${cls}`);
      }
    },
  };

  // ---------- event log, announcements and journeys ----------
  const logView = {
    reset() { $("event-log").replaceChildren(); },
    describe(e) {
      const t = `${(e.t || 0).toFixed(2)}s`;
      switch (e.type) {
        case "run.started": return `${t} run started (${e.experiment}${e.preset ? ", " + e.preset : ""})`;
        case "request.created": return `${t} ${e.correlation_id} created`;
        case "request.attempt": return e.attempt > 1 ? `${t} ${e.correlation_id} attempt ${e.attempt}` : null;
        case "call.started": return `${t} ${e.from} → ${e.to} call (${e.correlation_id}, attempt ${e.attempt})`;
        case "call.finished": return `${t} ${e.from} ← ${e.to} ${e.outcome} in ${e.duration_ms} ms${e.reason ? " — " + e.reason : ""}`;
        case "message.published": return `${t} ${e.from} ⇢ queue ${e.to} (${e.message_id})`;
        case "message.consumed": return `${t} ${e.to} took ${e.message_id} (attempt ${e.attempt})`;
        case "message.processed": return `${t} ${e.to} ${e.outcome} ${e.message_id}${e.duplicate ? " (duplicate!)" : ""}`;
        case "message.dropped": return `${t} message to ${e.to} dropped in transit`;
        case "retry.scheduled": return `${t} retry of ${e.correlation_id} in ${e.delay_ms} ms (next attempt ${e.next_attempt})`;
        case "dlq.added": return `${t} ${e.message_id} → dead-letter queue: ${e.reason}`;
        case "request.finished": return `${t} ${e.correlation_id} ${e.outcome === "ok" ? "succeeded" : "FAILED"} after ${e.latency_ms} ms${e.reason ? " — " + e.reason : ""}`;
        case "breaker.state": return `${t} breaker ${e.from} → ${e.to} (${e.reason})`;
        case "toggle": return `${t} toggle by ${e.by}: ${toggleLabel(e.values)}`;
        case "run.finished": return `${t} run ${e.status}`;
        default: return null;
      }
    },
    add(e) {
      const text = this.describe(e);
      if (!text) return;
      const list = $("event-log"), li = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button"; button.textContent = text;
      if (e.correlation_id) button.addEventListener("click", () => showJourney(e.correlation_id));
      li.appendChild(button);
      if (e.type === "toggle") li.className = "toggle";
      if (e.type === "breaker.state") li.className = "breaker";
      if (e.outcome === "failed" || e.type === "dlq.added") li.className = "failed";
      const stick = list.scrollTop + list.clientHeight >= list.scrollHeight - 24;
      list.appendChild(li);
      while (list.children.length > MAX_LOG_LINES) list.firstChild.remove();
      if (stick) list.scrollTop = list.scrollHeight;
      if (["toggle", "breaker.state", "run.started", "run.finished", "dlq.added"].includes(e.type)) announce(text);
    },
  };
  let lastAnnounce = 0;
  function announce(text) {
    const now = performance.now();
    if (now - lastAnnounce < 1500) return;
    lastAnnounce = now; $("announcer").textContent = text;
  }
  function showJourney(correlationId) {
    const steps = run.events.filter((e) => e.correlation_id === correlationId);
    const box = $("journey");
    box.replaceChildren();
    const h = document.createElement("p");
    h.innerHTML = `<strong></strong> — ${steps.length} events`; h.firstChild.textContent = correlationId;
    const ol = document.createElement("ol"); ol.className = "journey-list";
    for (const e of steps) { const li = document.createElement("li"); li.textContent = logView.describe(e) || e.type; ol.appendChild(li); }
    box.append(h, ol);
    $("journey-h").scrollIntoView({ block: "nearest" });
  }

  // ---------- applying events (with pause) ----------
  const view = { paused: false, speed: 1, held: [] };
  function applyToView(e) {
    if (view.paused) { view.held.push(e); return; }
    switch (e.type) {
      case "call.started": topo.move(e.from, e.to, "sync"); break;
      case "call.finished": topo.move(e.to, e.from, "sync", e.outcome !== "ok"); break;
      case "message.published": topo.move(e.from, `q.${e.to}`, "async"); break;
      case "message.consumed": topo.move(`q.${e.to}`, e.to, "async"); break;
      case "request.created": topo.move("client", exp.slug === "cascade" ? "gateway" : "order", "sync"); break;
      case "request.finished": topo.move(exp.slug === "cascade" ? "gateway" : "order", "client", "sync", e.outcome !== "ok"); break;
    }
    logView.add(e);
  }
  function ingest(e) {
    run.events.push(e); run.bySeq.set(e.seq, e);
    if (e.type === "run.started") { run.config = e.config; run.live = { ...e.config }; topo.activateMode(e.config.mode); setStatus("running"); }
    if (e.type === "toggle") { Object.assign(run.live, e.values); syncToggleInputs(e.values); }
    if (e.type === "run.finished") { run.finished = true; run.summary = e.summary; setStatus(e.status); renderSummary(e.summary); onFinished(); }
    metrics.add(e);
    applyToView(e);
  }
  function receive(events) {
    for (const e of events) {
      if (typeof e.seq !== "number" || e.seq <= run.lastSeq || run.buffered.has(e.seq)) continue;
      run.buffered.set(e.seq, e);
    }
    while (run.buffered.has(run.lastSeq + 1)) {
      const e = run.buffered.get(run.lastSeq + 1); run.buffered.delete(run.lastSeq + 1); run.lastSeq++; ingest(e);
    }
    if (run.buffered.size && run.askedReplayAfter !== run.lastSeq) {
      run.askedReplayAfter = run.lastSeq; // a gap: ask the server for everything after what we have
      send({ type: "replay", after: run.lastSeq });
    }
    scheduleRender();
  }
  let renderQueued = false;
  function scheduleRender() {
    if (renderQueued) return;
    renderQueued = true;
    setTimeout(() => { renderQueued = false; renderCharts(); topo.refresh(); updateProgress(); }, 250);
  }
  setInterval(() => topo.flushCounters(), 1000);

  // ---------- websocket ----------
  let socket = null;
  function send(message) { if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message)); }
  function connect(info) {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const share = new URLSearchParams(location.search).get("share");
    let url = `${scheme}://${location.host}${info.ws_url}`;
    if (share) url += `?share=${encodeURIComponent(share)}`;
    socket = new WebSocket(url);
    socket.addEventListener("open", () => { if (run.lastSeq) send({ type: "replay", after: run.lastSeq }); });
    socket.addEventListener("message", (msg) => {
      const frame = JSON.parse(msg.data);
      if (Array.isArray(frame.events)) receive(frame.events);
      else if (frame.type === "error") showToggleError(frame);
      else if (typeof frame.seq === "number") receive([frame]);
    });
    socket.addEventListener("close", () => {
      if (!run.finished) setTimeout(() => connect(info), 1000); // reconnect; the open handler asks for a replay
    });
  }

  // ---------- controls ----------
  function presetBySlug(slug) { return exp.presets.find((p) => p.slug === slug); }
  function currentPreset() { return presetBySlug($("preset").value); }
  function startValues() { return { ...Object.fromEntries(exp.parameters.map((p) => [p.name, p.default])), ...(currentPreset() || {}).config }; }

  function inputFor(p, value, onChange) {
    let input;
    if (p.type === "bool") { input = document.createElement("input"); input.type = "checkbox"; input.checked = !!value; }
    else if (p.type === "choice") {
      input = document.createElement("select");
      for (const c of p.choices) { const o = document.createElement("option"); o.value = c; o.textContent = c; input.appendChild(o); }
      input.value = value;
    } else {
      input = document.createElement("input"); input.type = "number"; input.min = p.minimum; input.max = p.maximum;
      input.step = p.type === "int" ? 1 : "any"; input.value = value; input.inputMode = "decimal";
    }
    input.id = `p-${p.name.replace(/\W/g, "-")}`; input.name = p.name; input.dataset.param = p.name;
    if (onChange) input.addEventListener("change", () => onChange(p, input));
    return input;
  }
  function readInput(p, input) {
    if (p.type === "bool") return input.checked;
    if (p.type === "choice") return input.value;
    const v = Number(input.value);
    if (input.value === "" || Number.isNaN(v) || v < p.minimum || v > p.maximum || (p.type === "int" && !Number.isInteger(v))) {
      throw new Error(`${p.name}: must be ${p.type === "int" ? "a whole number" : "a number"} from ${p.minimum} to ${p.maximum}${p.unit ? " " + p.unit : ""}`);
    }
    return v;
  }
  function row(p, input) {
    const wrap = document.createElement("div"); wrap.className = "toggle-row";
    const label = document.createElement("label"); label.htmlFor = input.id;
    label.textContent = p.label + (p.unit && p.type !== "bool" ? ` (${p.unit})` : "");
    if (p.help) label.title = p.help;
    const error = document.createElement("span"); error.className = "field-error"; error.id = `${input.id}-error`; error.hidden = true;
    input.setAttribute("aria-describedby", error.id);
    wrap.append(label, input, error);
    return wrap;
  }
  function setFieldError(name, text) {
    const input = document.querySelector(`[data-param="${name}"]`);
    if (!input) return false;
    const el = $(`${input.id}-error`); el.textContent = text; el.hidden = !text;
    input.setAttribute("aria-invalid", text ? "true" : "false");
    return true;
  }

  function buildControls() {
    const select = $("preset");
    const none = document.createElement("option"); none.value = ""; none.textContent = "Custom (defaults)"; select.appendChild(none);
    for (const p of exp.presets) { const o = document.createElement("option"); o.value = p.slug; o.textContent = p.title; select.appendChild(o); }
    select.value = lab.dataset.preset || exp.default_preset;
    select.addEventListener("change", fillForm);
    fillForm();
  }
  function fillForm() {
    const preset = currentPreset(), values = startValues();
    $("notice").textContent = preset ? `What to notice: ${preset.notice}` : "Defaults, no scripted faults: change anything you like.";
    const settings = $("settings-fields"); settings.replaceChildren();
    const toggles = $("toggles"); toggles.replaceChildren();
    const groups = new Map();
    for (const p of exp.parameters) {
      if (!p.live) { settings.appendChild(row(p, inputFor(p, values[p.name]))); continue; }
      if (!groups.has(p.group)) groups.set(p.group, []);
      groups.get(p.group).push(p);
    }
    for (const [group, list] of groups) {
      const details = document.createElement("details");
      const [kind, name] = group.split(":");
      const summary = document.createElement("summary");
      summary.textContent = kind === "faults" ? `Faults: ${name}` : `Policy: ${name}`;
      details.appendChild(summary);
      const scripted = preset && preset.script.some((s) => Object.keys(s.values).some((k) => k.startsWith(name + ".")));
      if (scripted || (preset && Object.keys(preset.config).some((k) => k.startsWith(name + ".")))) details.open = true;
      for (const p of list) details.appendChild(row(p, inputFor(p, values[p.name], onToggle)));
      toggles.appendChild(details);
    }
  }
  function syncToggleInputs(values) {
    for (const [name, value] of Object.entries(values)) {
      const input = document.querySelector(`#toggles [data-param="${name}"]`);
      if (!input || document.activeElement === input) continue;
      if (input.type === "checkbox") input.checked = !!value; else input.value = value;
    }
  }
  function onToggle(p, input) {
    let value;
    try { value = readInput(p, input); setFieldError(p.name, ""); } catch (err) { setFieldError(p.name, err.message); return; }
    if (runInfo && !run.finished && runInfo.can_control) send({ type: "toggle", values: { [p.name]: value } });
  }
  function showToggleError(frame) {
    let shown = false;
    for (const [field, text] of Object.entries(frame.fields || {})) shown = setFieldError(field.replace(/^config\./, ""), text) || shown;
    if (!shown) announceError(frame.error);
  }
  function announceError(text) { const el = $("form-error"); el.textContent = text; el.hidden = !text; }

  function collectConfig() {
    const base = startValues(), config = {};
    for (const input of document.querySelectorAll("#run-form [data-param], #toggles [data-param]")) {
      const p = params[input.dataset.param];
      const value = readInput(p, input);
      if (value !== base[p.name]) config[p.name] = value;
    }
    return config;
  }
  function csrfToken() { const m = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/); return m ? decodeURIComponent(m[1]) : ""; }

  async function startRun(ev) {
    ev.preventDefault();
    announceError("");
    document.querySelectorAll(".field-error").forEach((el) => { el.hidden = true; });
    let config;
    try { config = collectConfig(); } catch (err) { announceError(err.message); return; }
    const body = { experiment: exp.slug, config };
    if ($("preset").value) body.preset = $("preset").value;
    $("start").disabled = true; setStatus("starting…");
    const response = await fetch(lab.dataset.runsUrl, {
      method: "POST", headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() }, body: JSON.stringify(body),
    });
    const data = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
    if (!response.ok) {
      $("start").disabled = false; setStatus("not started");
      for (const [field, text] of Object.entries(data.fields || {})) setFieldError(field.replace(/^config\./, ""), text);
      announceError(data.retry_after_s ? `${data.error} Try again in ${data.retry_after_s} s.` : data.error);
      return;
    }
    resetRun(); runInfo = data; setStatus("queued"); showShare();
    $("stop").disabled = false;
    history.replaceState(null, "", data.url);
    connect(data);
  }
  function showShare() {
    if (!runInfo || !runInfo.share_url) return;
    $("share").hidden = false; $("share-link").href = runInfo.share_url;
  }
  function setStatus(text) { run.status = text; $("run-status").textContent = text; }
  function updateProgress() {
    const bar = $("run-progress");
    const duration = run.config.duration || 1, pct = run.finished ? 100 : Math.min(99, Math.round((100 * metrics.maxT) / duration));
    bar.setAttribute("aria-valuenow", pct); bar.firstElementChild.style.width = `${pct}%`;
    if (!run.finished && run.status === "running" && metrics.maxT > duration) $("run-status").textContent = "draining queues…";
    else if (!run.finished && run.status === "running") $("run-status").textContent = `running: ${Math.floor(metrics.maxT)} of ${duration} s · ${metrics.requests} requests, ${metrics.ok} ok`;
  }
  function onFinished() {
    $("start").disabled = false; $("stop").disabled = true;
    const scrubber = $("scrubber"); scrubber.hidden = false;
    const scrub = $("scrub"); scrub.max = metrics.maxT.toFixed(1); scrub.value = scrub.max; $("scrub-out").textContent = "end";
  }

  function renderSummary(s) {
    if (!s) return;
    const fmt = (v, unit = "") => (v === null || v === undefined ? "—" : `${typeof v === "number" ? +v.toFixed(2) : v}${unit}`);
    const rows = [["Requests", fmt(s.requests)], ["Success rate", fmt(s.success_rate_pct, "%")],
      ["Latency p50 / p95 / p99", `${fmt(s.latency_ms.p50, " ms")} / ${fmt(s.latency_ms.p95, " ms")} / ${fmt(s.latency_ms.p99, " ms")}`],
      ["Throughput (attempts/s)", fmt(s.throughput_rps)], ["Goodput (successes/s)", fmt(s.goodput_rps)],
      ["Retries per request", fmt(s.retries_per_request)], ["Dead letters", fmt(s.dlq_count)],
      ["Largest queue depth", fmt(s.max_queue_depth)], ["Breaker opened", fmt(s.breaker_opened, " times")],
      ["Calls reaching inventory while open", fmt(s.calls_while_open)], ["Duplicates processed", fmt(s.duplicates_processed)]];
    const table = document.createElement("table"); table.className = "data";
    table.innerHTML = "<caption class='sr-only'>Run summary</caption><tbody></tbody>";
    for (const [k, v] of rows) { const tr = table.tBodies[0].insertRow(); const th = document.createElement("th"); th.scope = "row"; th.textContent = k; tr.appendChild(th); tr.insertCell().textContent = v; }
    const groups = s.by_mode || s.by_path;
    const parts = [table];
    if (groups) {
      const by = document.createElement("table"); by.className = "data";
      by.innerHTML = `<caption>By ${s.by_mode ? "mode" : "path"}</caption><thead><tr><th scope="col">${s.by_mode ? "Mode" : "Path"}</th><th scope="col">Requests</th><th scope="col">Success</th><th scope="col">p50</th><th scope="col">p95</th><th scope="col">p99</th></tr></thead><tbody></tbody>`;
      for (const [name, g] of Object.entries(groups)) {
        const tr = by.tBodies[0].insertRow();
        [name, g.requests, fmt(g.success_rate_pct, "%"), fmt(g.latency_ms.p50, " ms"), fmt(g.latency_ms.p95, " ms"), fmt(g.latency_ms.p99, " ms")].forEach((v) => { tr.insertCell().textContent = v; });
      }
      parts.push(by);
    }
    $("summary").replaceChildren(...parts);
  }

  // ---------- replay scrubber ----------
  let playTimer = null;
  function scrubTo(t) {
    metrics.reset(); run.live = { ...run.config };
    for (const e of run.events) {
      if ((e.t || 0) > t) break;
      metrics.add(e); if (e.type === "toggle") Object.assign(run.live, e.values);
    }
    $("scrub-out").textContent = `${Number(t).toFixed(1)} s`;
    renderCharts(); topo.refresh();
  }
  $("scrub").addEventListener("input", (ev) => scrubTo(Number(ev.target.value)));
  $("replay-play").addEventListener("click", () => {
    if (playTimer) { clearInterval(playTimer); playTimer = null; $("replay-play").textContent = "Play"; return; }
    const scrub = $("scrub"); if (Number(scrub.value) >= Number(scrub.max)) scrub.value = 0;
    $("replay-play").textContent = "Pause";
    playTimer = setInterval(() => {
      const next = Math.min(Number(scrub.max), Number(scrub.value) + 0.25 * view.speed);
      scrub.value = next; scrubTo(next);
      if (next >= Number(scrub.max)) { clearInterval(playTimer); playTimer = null; $("replay-play").textContent = "Play"; }
    }, 250);
  });

  // ---------- wiring ----------
  $("run-form").addEventListener("submit", startRun);
  $("stop").addEventListener("click", () => { send({ type: "stop" }); $("stop").disabled = true; setStatus("stopping…"); });
  $("pause").addEventListener("click", () => {
    view.paused = !view.paused;
    $("pause").setAttribute("aria-pressed", String(view.paused));
    $("pause").textContent = view.paused ? "Resume view" : "Pause view";
    if (!view.paused) { const held = view.held; view.held = []; held.forEach(applyToView); }
  });
  $("speed").addEventListener("change", (ev) => { view.speed = Number(ev.target.value); });

  topo.build(); buildCharts(); buildControls(); topo.refresh();
  if (runInfo) {
    if (runInfo.preset) { $("preset").value = runInfo.preset; fillForm(); }
    setStatus(runInfo.status); showShare();
    if (!runInfo.can_control) { $("start").disabled = true; document.querySelectorAll("#toggles [data-param]").forEach((i) => { i.disabled = true; }); }
    else if (runInfo.status === "running" || runInfo.status === "queued") $("stop").disabled = false;
    connect(runInfo);
  }
})();
