// The retry-waves chart: the clients' retries (attempts after the first) per bucket (50 ms by default), on an axis
// of seconds since `spec.target` went down. Retries sent in step show as a comb of tall, thin teeth; jitter spreads
// them into a low band. Fed by metrics.js (`retryTimes`, `downAt`); drawn as bars by charts.js.

export const RETRY_WAVES_CAPTION = "Client retries per {bucket} ms, from the moment {target} went down";

/** One series of bars, one per bucket, so each tooth of a comb stands on its own. */
export function retryWavesSeries(colours) {
  const bars = window.uPlot?.paths?.bars ? window.uPlot.paths.bars({ size: [1] }) : undefined;
  return [{ label: "retries", stroke: colours[1], fill: `${colours[1]}99`, points: { show: false }, paths: bars }];
}

/** The bars' data and the readout: [x (s since the outage began), retries] per bucket. */
export function retryWavesData(spec, m) {
  const bucketS = (spec.bucket_ms || 50) / 1000;
  const origin = m.downAt[spec.target] ?? 0;
  const counts = new Map();
  for (const t of m.retryTimes) {
    const k = Math.floor((t - origin) / bucketS + 1e-9);
    counts.set(k, (counts.get(k) || 0) + 1);
  }
  const first = Math.min(-Math.round(1 / bucketS), ...counts.keys());
  const last = Math.max(Math.floor((m.maxT - origin) / bucketS), ...counts.keys());
  const xs = [], ys = [];
  let peak = 0, peakAt = 0;
  for (let k = first; k <= last; k++) {
    const c = counts.get(k) || 0;
    xs.push(+(k * bucketS).toFixed(3));
    ys.push(c);
    if (c > peak) { peak = c; peakAt = k * bucketS; }
  }
  const since = m.downAt[spec.target] === undefined ? "run start" : `${spec.target} went down`;
  const text = m.retryTimes.length
    ? `${m.retryTimes.length} retries; tallest slot ${peak} retries in ${spec.bucket_ms || 50} ms, ${peakAt.toFixed(2)} s after ${since}`
    : "No retries yet";
  return { data: [xs, ys], text };
}
