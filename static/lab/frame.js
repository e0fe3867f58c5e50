// One requestAnimationFrame loop for the whole page. Modules ask for work in the next frame (`schedule`), or
// register a per-frame callback while they have something moving (`onFrame`, e.g. particles). The loop also
// measures frame times and reports a degrade level when the budget is exceeded, so the page can do less.
const once = new Map();
const every = new Set();
let queued = false;
let lastNow = 0;
let chained = false; // the previous frame was ours too, so the interval between them is a frame time

const BUDGET_MS = 33; // two frames at 60 Hz
const RECOVER_MS = 20;
const WINDOW = 30;
const times = [];
let level = 0;
let goodFrames = 0;
let levelListener = () => {};

export function schedule(key, fn) {
  once.set(key, fn);
  wake();
}

/** fn(now) runs every frame until it returns false. */
export function onFrame(fn) {
  every.add(fn);
  wake();
}

export function onDegrade(listener) {
  levelListener = listener;
}

export function degradeLevel() {
  return level;
}

/** Back to full detail (the run is over: nothing is moving any more). */
export function resetDegrade() {
  times.length = 0;
  goodFrames = 0;
  if (level !== 0) {
    level = 0;
    levelListener(0, null);
  }
}

/** For tests and the benchmark: the frame times measured so far. */
export function frameStats() {
  const sorted = times.slice().sort((a, b) => a - b);
  return { level, median: sorted[Math.floor(sorted.length / 2)] ?? null, samples: sorted.length };
}

function wake() {
  if (queued) return;
  queued = true;
  requestAnimationFrame(tick);
}

function measure(now) {
  if (chained) {
    times.push(now - lastNow);
    if (times.length > WINDOW) times.shift();
    if (times.length === WINDOW) {
      const sorted = times.slice().sort((a, b) => a - b);
      const median = sorted[WINDOW >> 1];
      if (median > BUDGET_MS && level < 2) {
        level++;
        times.length = 0;
        goodFrames = 0;
        levelListener(level, median);
      } else if (median < RECOVER_MS && level > 0 && ++goodFrames > 180) {
        level--;
        goodFrames = 0;
        levelListener(level, median);
      }
    }
  }
  lastNow = now;
}

function tick(now) {
  queued = false;
  measure(now);
  const tasks = [...once.values()];
  once.clear();
  for (const fn of tasks) fn(now);
  for (const fn of [...every]) if (fn(now) === false) every.delete(fn);
  chained = every.size > 0 || once.size > 0;
  if (chained) wake();
}
