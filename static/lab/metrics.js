// Figures derived from a run's events, updated incrementally per event (O(1) each) and read once per frame by
// the charts, badges and counters. `reset` + `add` over a prefix of the log rebuilds them for the replay scrubber.
import { toggleLabel } from "./util.js";

export function createMetrics(exp) {
  const view = exp.view || {};
  const nodeIds = new Set((exp.diagram?.nodes || []).map((n) => n.id));
  const groupBy = view.group_by || null;
  const arrivalSpecs = (view.charts || []).filter((c) => c.kind === "arrivals");
  const breakerNodes = (exp.diagram?.nodes || []).filter((n) => n.breaker_param).map((n) => n.id);
  const m = {};

  /** A depth key from the engine: a queue node id, or (today) a service name whose queue is "q.<name>". */
  function queueId(key) {
    if (nodeIds.has(key)) return key;
    if (nodeIds.has(`q.${key}`)) return `q.${key}`;
    return key;
  }

  m.reset = function reset() {
    m.secs = new Map(); // run second → {lat, byGroup, ok, failed, attempts}
    m.latencies = [];
    m.latencyGroups = {};
    m.requests = 0;
    m.ok = 0;
    m.failed = 0;
    m.created = 0;
    m.retries = 0;
    m.maxT = 0;
    m.depth = []; // [{t, values: {queue node id: n}}]
    m.depthNow = {};
    m.dlqNow = null;
    m.dlqAdded = 0;
    m.pools = []; // [{t, values: {pool id: n}}]
    m.poolsNow = {};
    m.poolsFullPct = {}; // {pool id: % of the run so far with every thread taken}, from the engine's exact count
    m.breakers = new Map(); // target → [{t, to, reason}]
    m.breakerNow = {}; // target → state
    m.markers = []; // [{t, label}]
    m.arrivals = new Map(arrivalSpecs.map((c) => [c.target, new Map()]));
    m.retryTimes = []; // when each client retry (an attempt after the first) began
    m.downAt = {}; // service → when a toggle first switched it down
    m.version = 0;
  };

  function bucket(t) {
    const s = Math.floor(t);
    let b = m.secs.get(s);
    if (!b) {
      b = { lat: [], byGroup: {}, ok: 0, failed: 0, attempts: 0 };
      m.secs.set(s, b);
    }
    return b;
  }

  function arrive(target, t) {
    const spec = arrivalSpecs.find((c) => c.target === target);
    if (!spec) return;
    const k = Math.floor((t * 1000) / (spec.bucket_ms || 100));
    const counts = m.arrivals.get(target);
    counts.set(k, (counts.get(k) || 0) + 1);
  }

  m.add = function add(e) {
    const t = e.t || 0;
    if (t > m.maxT) m.maxT = t;
    m.version++;
    switch (e.type) {
      case "request.created":
        m.created++;
        break;
      case "request.finished": {
        const b = bucket(t);
        b.lat.push(e.latency_ms);
        if (e.outcome === "ok") {
          b.ok++;
          m.ok++;
        } else {
          b.failed++;
          m.failed++;
        }
        const group = groupBy ? e[groupBy] : null;
        if (group) {
          (b.byGroup[group] ||= []).push(e.latency_ms);
          (m.latencyGroups[group] ||= []).push(e.latency_ms);
        }
        m.latencies.push(e.latency_ms);
        m.requests++;
        break;
      }
      case "request.attempt":
        bucket(t).attempts++;
        if (e.attempt > 1) {
          m.retries++;
          m.retryTimes.push(t);
        }
        break;
      case "call.started":
        arrive(e.to, t);
        break;
      case "message.consumed":
        arrive(e.to, t);
        break;
      case "queue.depth": {
        const values = {};
        for (const [k, v] of Object.entries(e.depths || {})) values[queueId(k)] = v;
        m.depth.push({ t, values });
        m.depthNow = values;
        if (typeof e.dlq === "number") m.dlqNow = e.dlq;
        break;
      }
      case "pool.usage": {
        m.pools.push({ t, values: e.pools || {} });
        m.poolsNow = e.pools || {};
        if (e.full_s && t > 0) m.poolsFullPct = Object.fromEntries(Object.entries(e.full_s).map(([id, s]) => [id, (100 * s) / t]));
        if (e.breakers && typeof e.breakers === "object") Object.assign(m.breakerNow, e.breakers);
        else if (typeof e.breaker === "string" && breakerNodes.length) m.breakerNow[breakerNodes[0]] = e.breaker;
        break;
      }
      case "breaker.state": {
        const target = e.target || breakerNodes[0];
        if (!m.breakers.has(target)) m.breakers.set(target, []);
        m.breakers.get(target).push({ t, to: e.to, reason: e.reason });
        m.breakerNow[target] = e.to;
        break;
      }
      case "toggle":
        m.markers.push({ t, label: toggleLabel(e.values, e.by) });
        for (const [key, value] of Object.entries(e.values || {})) {
          if (value === true && key.endsWith(".down")) m.downAt[key.slice(0, -5)] ??= t;
        }
        break;
      case "dlq.added":
        m.dlqAdded++;
        break;
    }
  };

  m.dlqCount = () => (m.dlqNow === null ? m.dlqAdded : m.dlqNow);
  m.reset();
  return m;
}
