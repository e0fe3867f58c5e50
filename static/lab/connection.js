// The run's websocket. The first connection asks for the whole log (after=0); every reconnection asks only for
// what came after the last event the page holds (after=<last seq>), so nothing is downloaded twice. A hole in
// the live stream is filled with one replay request per position.
export function createConnection({ store, onEvents, onError, onState }) {
  let socket = null;
  let info = null;
  let closedByUs = false;
  let attempts = 0;
  let askedAfter = -1;
  let timer = null;

  function url(after) {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const params = new URLSearchParams();
    const share = new URLSearchParams(location.search).get("share");
    if (share) params.set("share", share);
    params.set("after", String(after));
    return `${scheme}://${location.host}${info.ws_url}?${params}`;
  }

  function open() {
    clearTimeout(timer);
    closedByUs = false;
    const ws = new WebSocket(url(store.lastSeq));
    socket = ws;
    askedAfter = -1;
    ws.addEventListener("open", () => {
      attempts = 0;
      onState("open");
    });
    ws.addEventListener("message", (msg) => {
      const frame = JSON.parse(msg.data);
      if (Array.isArray(frame.events)) {
        const gap = onEvents(frame.events, frame);
        if (gap && askedAfter !== store.lastSeq) {
          askedAfter = store.lastSeq;
          send({ type: "replay", after: store.lastSeq });
        }
      } else if (frame.type === "error") onError(frame);
    });
    ws.addEventListener("close", (ev) => {
      if (socket !== ws) return;
      socket = null;
      // 4404: no such run (or no access); 4429: too many lab sockets open in this browser session (the error
      // frame before the close says so). Reconnecting would not help either.
      if (closedByUs || store.finished || ev.code === 4404 || ev.code === 4429) {
        onState(ev.code === 4404 ? "gone" : ev.code === 4429 ? "refused" : "closed");
        return;
      }
      onState("reconnecting");
      const delay = Math.min(5000, 500 * 2 ** attempts++);
      timer = setTimeout(open, delay);
    });
  }

  function send(message) {
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify(message));
      return true;
    }
    return false;
  }

  return {
    connect(runInfo) {
      info = runInfo;
      if (socket) {
        closedByUs = true;
        socket.close();
      }
      attempts = 0;
      open();
    },
    send,
    /** Close the socket as a network failure would; the page reconnects by itself. */
    drop() {
      if (socket) socket.close(4000, "dropped");
    },
    close() {
      closedByUs = true;
      if (socket) socket.close();
    },
  };
}
