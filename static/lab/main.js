// comms_lab's lab page: wires the modules together. Everything experiment-specific comes from the experiment's
// JSON (its `diagram` and `view`); see docs/lab-page.md. Events change state at once, but the DOM is touched at
// most once per animation frame (charts a few times a second).
import { $, h } from "./util.js";
import { schedule, onFrame, onDegrade, frameStats, resetDegrade } from "./frame.js";
import { createStore } from "./store.js";
import { createMetrics } from "./metrics.js";
import { createConnection } from "./connection.js";
import { createTopology, renderLegend, W, H } from "./topology.js";
import { createParticles } from "./particles.js";
import { createCharts } from "./charts.js";
import { createLog, describe } from "./log.js";
import { createControls } from "./controls.js";
import { renderSummary } from "./summary.js";
import { renderJourney } from "./journey.js";
import { createPanels } from "./panels.js";
import { createSagaPanel } from "./sagas.js";
import { createSubscriptions } from "./subscriptions.js";
import { createEffects } from "./effects.js";
import { createStreams } from "./streams.js";
import { createDebrief } from "./debrief.js";

const exp = JSON.parse($("experiment-data").textContent);
let runInfo = JSON.parse($("run-data").textContent);
const eventContract = JSON.parse($("event-contract").textContent);
const view = exp.view || {};
const diagramNodes = exp.diagram?.nodes || [];
const clientId = diagramNodes.find((n) => n.kind === "client")?.id;
const dlqId = diagramNodes.find((n) => n.kind === "dlq")?.id;
const nodeIds = new Set(diagramNodes.map((n) => n.id));
const reducedMotion = window.matchMedia("(prefers-reduced-motion: reduce)");
const viewState = { paused: false, speed: 1, scrubbing: false };
const READ_ONLY = "This is someone else's run, shared by its link: it is read-only, with the settings it ran with.";
const calm = () => reducedMotion.matches || $("calm").checked;

const store = createStore();
const metrics = createMetrics(exp);
const effects = createEffects($("effects"), exp);
const controls = createControls(exp, {
  onToggle(name, value) {
    if (runInfo && runInfo.can_control && !store.finished) connection.send({ type: "toggle", values: { [name]: value } });
  },
  onPresetChange() {
    debrief.setPreset(controls.presetSlug());
  },
  onFormChange() {
    if (!isLive()) previewForm();
  },
});
const topology = createTopology($("topology"), exp, {
  hasFaults: controls.hasFaults,
  onNodeActivate(id) {
    const n = topology.nodes.get(id);
    controls.openFaults(n, { left: (100 * n.cx) / W, top: (100 * (n.cy + 34)) / H });
  },
});
renderLegend($("legend"), exp);
const streams = createStreams($("streams"), exp, { send: (values) => connection.send({ type: "toggle", values }) });
const particles = createParticles($("particles"), topology, { isCalm: calm, speed: () => viewState.speed });
const charts = createCharts($("charts"), exp, {
  nodeLabel: (id) => diagramNodes.find((n) => n.id === id)?.label || id,
  state: () => store,
});
const panels = createPanels($("panels"), exp, {
  run: () => runInfo,
  live: () => isLive(),
  runsUrl: $("lab").dataset.runsUrl,
  csrfToken: () => csrfToken(),
  invalidate: () => invalidate(),
});
const debrief = createDebrief(exp, {
  predictionsUrl: $("lab").dataset.predictionsUrl,
  csrfToken,
  presetUrl: (slug) => `${$("lab").dataset.experimentUrl}?preset=${encodeURIComponent(slug)}`,
});
const log = createLog($("event-log"), { contract: eventContract, meaningBox: $("event-log-meaning"), onSelect: showJourney, invalidate: () => invalidate() });
const sagas = view.sagas?.length ? createSagaPanel($("sagas"), view.sagas, { onOpen: (id) => showJourney({ correlation_id: id }) }) : null;
const subscriptions = createSubscriptions($("subscriptions"), exp);
const connection = createConnection({
  store,
  onEvents: receive,
  onError: showServerError,
  onState(state) {
    const note = $("connection-note");
    note.hidden = state !== "reconnecting";
    if (state === "reconnecting") note.textContent = `Connection lost: reconnecting, to resume after event ${store.lastSeq}…`;
  },
});

function isLive() {
  return !!runInfo && !store.finished && (store.status === "running" || store.status === "queued" || store.status === "starting…");
}

// ---------- events ----------
let frameMaxT = 0;
function receive(events, frame) {
  frameMaxT = 0;
  for (const e of events) if (e.t > frameMaxT) frameMaxT = e.t;
  const gap = store.receive(events, { replay: !!frame.replay });
  invalidate();
  return gap;
}

const queueOf = (e) => (e.queue && nodeIds.has(e.queue) ? e.queue : nodeIds.has(`q.${e.to}`) ? `q.${e.to}` : null);
function animate(e) {
  const failed = e.outcome !== undefined && e.outcome !== "ok";
  switch (e.type) {
    case "request.created": return particles.hop(clientId, view.entry, "sync", false);
    case "request.finished": return particles.hop(view.entry, clientId, "sync", failed);
    case "call.started": return particles.hop(e.from, e.to, "sync", false);
    case "call.finished": // a call the breaker refused never reached its target: no dot travels back from it
      return e.outcome === "short_circuited" ? undefined : particles.hop(e.to, e.from, "sync", failed);
    case "message.published": return particles.hop(e.from, queueOf(e), "async", false);
    case "message.consumed": return particles.hop(queueOf(e), e.to, "async", false);
    case "dlq.added": return dlqId && particles.hop(queueOf(e), dlqId, "async", true);
  }
}

const ANNOUNCE = new Set(["toggle", "breaker.state", "run.started", "run.finished"]);
let firstDeadLetter = true;
store.onEvent((e) => {
  metrics.add(e);
  panels.add(e);
  effects.add(e);
  log.add(e);
  sagas?.add(e);
  subscriptions.add(e);
  streams.add(e);
  if (!store.finished && !viewState.paused && e.t >= frameMaxT - 1) animate(e);
  if (e.type === "run.started") {
    topology.setActiveClasses(e.config || {});
    controls.syncInputs(e.config || {}, { settings: true });
    startLiveLoop();
  } else if (e.type === "toggle") controls.syncInputs(e.values);
  else if (e.type === "run.finished") onFinished(e);
  else if (e.type === "fidelity") showFidelity(e);
  if (ANNOUNCE.has(e.type) || (e.type === "dlq.added" && firstDeadLetter)) {
    if (e.type === "dlq.added") firstDeadLetter = false;
    announce(describe(e));
  }
});

// ---------- rendering, once per frame ----------
let lastCharts = 0;
let lastLog = 0;
let chartTimer = null;
let chartsDrawn = -1;
let logTimer = null;
function invalidate() {
  schedule("render", render);
}
function render(now) {
  const level = frameStats().level;
  subscriptions.render();
  if (!viewState.paused) {
    panels.render();
    if (level === 0 || now - lastLog > 250) {
      log.render();
      lastLog = now;
    } else if (!logTimer) {
      logTimer = setTimeout(() => { logTimer = null; invalidate(); }, 260);
    }
    // Each chart is redrawn about 4 times a second, one chart per frame, so no frame carries all of them.
    const step = 250 / Math.max(1, charts.count());
    if (viewState.scrubbing) {
      // the scrubber draws the charts itself
    } else if (!isLive()) {
      if (chartsDrawn !== metrics.version) {
        chartsDrawn = metrics.version;
        charts.render(metrics);
        renderMarkers();
      }
    } else if (now - lastCharts >= step) {
      lastCharts = now;
      charts.renderNext(metrics);
      renderMarkers();
    }
    if (isLive() && !chartTimer && !viewState.scrubbing) {
      chartTimer = setTimeout(() => { chartTimer = null; invalidate(); }, step + 2);
    }
  }
  if (!viewState.scrubbing) topology.update({ live: store.live, config: store.config, metrics, running: isLive() });
  if (!viewState.paused) sagas?.render();
  effects.render(store.finished && !viewState.scrubbing);
  streams.render({ live: store.live, canRewind: isLive() && !!runInfo?.can_control });
  renderStatus();
}

let markerCount = -1;
function renderMarkers() {
  if (metrics.markers.length === markerCount) return;
  markerCount = metrics.markers.length;
  const list = $("markers");
  if (!markerCount) {
    list.replaceChildren(h("li", { class: "empty-item", text: "No toggles yet: every change you make appears here and as a dashed line on the charts." }));
    return;
  }
  list.replaceChildren(...metrics.markers.map((m) => h("li", { text: `${m.t.toFixed(1)} s — ${m.label}` })));
}

let statusText = "";
function renderStatus() {
  let text = store.status;
  const duration = store.config.duration || 1;
  if (store.status === "running") {
    text = metrics.maxT > duration ? "draining queues…" : `running: ${Math.floor(metrics.maxT)} of ${duration} s · ${metrics.requests} requests, ${metrics.ok} ok`;
  }
  if (text !== statusText) $("run-status").textContent = statusText = text;
  const pct = store.finished ? 100 : Math.min(99, Math.round((100 * metrics.maxT) / duration));
  const bar = $("run-progress");
  if (bar.dataset.pct !== String(pct)) {
    bar.dataset.pct = pct;
    bar.setAttribute("aria-valuenow", pct);
    bar.firstElementChild.style.width = `${pct}%`;
  }
}
function setStatus(text) {
  store.status = text;
  invalidate();
}

// Keep frames flowing (and measured) while a run is live, so a struggling page notices and degrades.
let liveLoop = false;
function startLiveLoop() {
  if (liveLoop) return;
  liveLoop = true;
  onFrame(() => {
    liveLoop = isLive();
    if (!liveLoop) resetDegrade();
    return liveLoop;
  });
}
onDegrade((level, median) => {
  particles.setLevel(level);
  log.setThin(level >= 1);
  const note = $("perf-note");
  note.hidden = level === 0;
  if (level === 1) note.textContent = `This page is busy (frames took ${Math.round(median)} ms), so it shows less: fewer moving dots (the rest are counted beside each edge), and the event log lists outcomes only, 4 times a second.`;
  if (level === 2) note.textContent = `This page is very busy (frames took ${Math.round(median)} ms): no moving dots, only counts per edge, and the event log lists outcomes only, 4 times a second.`;
  invalidate();
});

// The engine measures how late it ran things; past 5% the timings on this page are not the model's.
function showFidelity(e) {
  const note = $("fidelity-note");
  const bad = e.ok === false;
  note.hidden = !bad;
  if (bad) note.textContent = `The machine running this lab is too busy: work ran ${Math.round(e.lag_pct)}% later than planned, so timings here drift from the model, and lab-graded questions will not grade this run.`;
}

// ---------- announcements (state changes only, never every event) ----------
let lastAnnounce = 0;
let pendingAnnounce = null;
function announce(text) {
  if (!text) return;
  const now = performance.now();
  if (now - lastAnnounce >= 1500) {
    lastAnnounce = now;
    $("announcer").textContent = text;
    return;
  }
  if (!pendingAnnounce) setTimeout(() => { const t = pendingAnnounce; pendingAnnounce = null; announce(t); }, 1500 - (now - lastAnnounce));
  pendingAnnounce = text;
}

// ---------- journey of one request ----------
function showJourney(e) {
  renderJourney($("journey"), e.correlation_id, store.events, describe);
  $("journey-id").value = e.correlation_id;
}
$("journey-search").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const id = $("journey-id").value.trim();
  if (id) renderJourney($("journey"), id, store.events, describe);
});

// ---------- errors from the server ----------
function showServerError(frame) {
  let shown = false;
  for (const [field, text] of Object.entries(frame.fields || {})) {
    const name = field.replace(/^config\./, "");
    shown = [streams.showError(name, text), controls.setFieldError(name, text)].some(Boolean) || shown;
  }
  if (!shown) showFormError(frame.error);
}
function showFormError(text) {
  const el = $("form-error");
  el.textContent = text || "";
  el.hidden = !text;
}

// ---------- starting, stopping, finishing ----------
function csrfToken() {
  const m = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
  return m ? decodeURIComponent(m[1]) : "";
}
async function startRun(ev) {
  ev.preventDefault();
  showFormError("");
  controls.clearErrors();
  let config;
  try {
    config = controls.collectConfig();
  } catch (err) {
    showFormError(err.message);
    return;
  }
  const body = { experiment: exp.slug, config };
  if (controls.presetSlug()) body.preset = controls.presetSlug();
  $("start").disabled = true;
  if (!(await debrief.beforeStart())) {
    $("start").disabled = false;
    return;
  }
  setStatus("starting…");
  const response = await fetch($("lab").dataset.runsUrl, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
    body: JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
  if (!response.ok) {
    $("start").disabled = false;
    setStatus("not started");
    for (const [field, text] of Object.entries(data.fields || {})) controls.setFieldError(field.replace(/^config\./, ""), text);
    showFormError(data.retry_after_s ? `${data.error} Try again in ${data.retry_after_s} s.` : data.error);
    return;
  }
  resetRun();
  runInfo = data;
  store.status = "queued";
  showShare();
  $("stop").disabled = false;
  controls.setLocked(true);
  history.replaceState(null, "", data.url);
  connection.connect(data);
  invalidate();
}
function resetRun() {
  store.reset();
  metrics.reset();
  panels.reset();
  effects.reset();
  debrief.reset();
  log.reset();
  sagas?.reset();
  subscriptions.reset();
  streams.reset();
  particles.clear();
  firstDeadLetter = true;
  markerCount = -1;
  $("fidelity-note").hidden = true;
  $("scrubber").hidden = true;
  $("summary").replaceChildren(h("p", { class: "empty", text: "The numbers appear when the run finishes." }));
}
function showShare() {
  if (!runInfo || !runInfo.share_url) return;
  $("share").hidden = false;
  $("share-link").href = runInfo.share_url;
}
function onFinished(e) {
  renderSummary($("summary"), e.summary, exp, store.config);
  sagas?.finish();
  debrief.show(e.summary, runInfo?.preset, { createdAt: runInfo?.can_control ? runInfo.created_at : null });
  $("start").disabled = !(runInfo && runInfo.can_control);
  $("stop").disabled = true;
  if (runInfo && !runInfo.can_control) controls.setLocked(true, READ_ONLY);
  else controls.setLocked(false, "This run has ended: toggles can no longer change it. Start a new run to try them.");
  const scrub = $("scrub");
  scrub.max = metrics.maxT.toFixed(1);
  scrub.value = scrub.max;
  setScrubLabel(null);
  $("scrubber").hidden = false;
}

// ---------- replay scrubber ----------
let playTimer = null;
function setScrubLabel(t) {
  const text = t === null ? "end" : `${Number(t).toFixed(1)} s`;
  $("scrub-out").textContent = text;
  $("scrub").setAttribute("aria-valuetext", t === null ? `end of the run, ${$("scrub").max} s` : `${text} into the run`);
}
function scrubTo(t) {
  viewState.scrubbing = false;
  metrics.reset();
  effects.reset();
  const live = { ...store.config };
  for (const e of store.events) {
    if ((e.t || 0) > t) continue;
    metrics.add(e);
    effects.add(e);
    if (e.type === "toggle") Object.assign(live, e.values);
  }
  const end = t >= Number($("scrub").max);
  streams.showAt(store.events, end ? null : t);
  setScrubLabel(end ? null : t);
  charts.render(metrics);
  markerCount = -1;
  renderMarkers();
  topology.update({ live, config: store.config, metrics, running: false });
  viewState.scrubbing = t < Number($("scrub").max);
  invalidate(); // the panels drawn once per frame (streams) show the scrubbed second
}
$("scrub").addEventListener("input", (ev) => scrubTo(Number(ev.target.value)));
$("scrub").addEventListener("keydown", (ev) => {
  const step = { ArrowRight: 1, ArrowUp: 1, ArrowLeft: -1, ArrowDown: -1 }[ev.key];
  if (!step) return;
  ev.preventDefault();
  const scrub = ev.target;
  const next = Math.max(0, Math.min(Number(scrub.max), Number(scrub.value) + step * (ev.shiftKey ? 0.1 : 1)));
  scrub.value = next.toFixed(1);
  scrubTo(next);
});
$("replay-play").addEventListener("click", () => {
  const button = $("replay-play"), scrub = $("scrub");
  if (playTimer) {
    clearInterval(playTimer);
    playTimer = null;
    button.textContent = "Play";
    return;
  }
  if (Number(scrub.value) >= Number(scrub.max)) scrub.value = 0;
  button.textContent = "Pause";
  playTimer = setInterval(() => {
    const next = Math.min(Number(scrub.max), Number(scrub.value) + 0.25 * viewState.speed);
    scrub.value = next;
    scrubTo(next);
    if (next >= Number(scrub.max)) {
      clearInterval(playTimer);
      playTimer = null;
      button.textContent = "Play";
    }
  }, 250);
});

// ---------- view controls ----------
$("run-form").addEventListener("submit", startRun);
$("stop").addEventListener("click", () => {
  connection.send({ type: "stop" });
  $("stop").disabled = true;
  setStatus("stopping…");
});
$("pause").addEventListener("click", () => {
  viewState.paused = !viewState.paused;
  particles.setPaused(viewState.paused);
  $("pause").setAttribute("aria-pressed", String(viewState.paused));
  $("pause").textContent = viewState.paused ? "Resume view" : "Pause view";
  invalidate();
});
$("speed").addEventListener("change", (ev) => {
  viewState.speed = Number(ev.target.value);
});
function reflectReducedMotion() {
  const box = $("calm");
  if (reducedMotion.matches) box.checked = true;
  box.disabled = reducedMotion.matches;
  $("calm-note").hidden = !reducedMotion.matches;
}
reducedMotion.addEventListener("change", reflectReducedMotion);
reflectReducedMotion();
window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => particles.readColours());

function previewForm() {
  const values = controls.formValues();
  store.live = values;
  topology.setActiveClasses(values);
  invalidate();
}

// ---------- start ----------
if (runInfo) {
  controls.setPreset(runInfo.preset || "");
  store.status = runInfo.status;
  showShare();
  if (!runInfo.can_control) {
    $("start").disabled = true;
    controls.setLocked(true, READ_ONLY);
  } else if (runInfo.status === "running" || runInfo.status === "queued") {
    $("stop").disabled = false;
    controls.setLocked(true);
  }
  connection.connect(runInfo);
} else {
  debrief.setPreset(controls.presetSlug());
  previewForm();
}
invalidate();

// For the browser tests and bench/browser.py: read-only views of the page's state, and a way to drop the socket.
window.commsLab = { store, metrics, connection, frameStats, particles, logSize: () => log.size(), sagaCount: () => sagas?.size() ?? 0, receive };
