// The run as the page knows it: every event in seq order (gapless, without duplicates), the run's config and
// live values, and its status. Frames may arrive shuffled or with holes; `receive` buffers until the gap is filled
// and reports it so the connection can ask the server for exactly what is missing.
export function createStore() {
  const listeners = [];
  const st = {
    events: [],
    lastSeq: 0,
    buffered: new Map(),
    config: {},
    live: {},
    status: "not started",
    finished: false,
    summary: null,
    duplicates: 0,
  };

  st.onEvent = (fn) => listeners.push(fn);

  st.reset = () => {
    st.events = [];
    st.lastSeq = 0;
    st.buffered.clear();
    st.config = {};
    st.live = {};
    st.finished = false;
    st.summary = null;
    st.duplicates = 0;
  };

  /** Take a frame's events; returns true when a gap remains (events after a missing seq are held). */
  st.receive = (events, context = {}) => {
    for (const e of events) {
      if (typeof e.seq !== "number" || e.seq <= st.lastSeq || st.buffered.has(e.seq)) {
        st.duplicates++;
        continue;
      }
      st.buffered.set(e.seq, e);
    }
    let next = st.buffered.get(st.lastSeq + 1);
    while (next) {
      st.buffered.delete(next.seq);
      st.lastSeq = next.seq;
      ingest(next, context);
      next = st.buffered.get(st.lastSeq + 1);
    }
    return st.buffered.size > 0;
  };

  function ingest(e, context) {
    st.events.push(e);
    if (e.type === "run.started") {
      st.config = e.config || {};
      st.live = { ...st.config };
      st.status = "running";
    } else if (e.type === "toggle") {
      Object.assign(st.live, e.values);
    } else if (e.type === "run.finished") {
      st.finished = true;
      st.summary = e.summary;
      st.status = e.status;
    }
    for (const fn of listeners) fn(e, context);
  }

  return st;
}
