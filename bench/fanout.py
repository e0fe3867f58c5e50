"""End to end: one run at the lab's maximum rate watched by many browsers at once, through a real stack.

Starts `python -m comms_lab.stack run` on a free port with a throwaway SQLite database, starts a checkout run in
hybrid mode at 50 requests/s, and connects WATCHERS websockets. Reports the events each watcher received, how
many arrived out of order or missing (must be 0), and delivery lag. The baseline is the rate at which the
worker logged events in the same run (what the websockets had to keep up with).
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from websockets.sync.client import connect
from websockets.typing import Origin

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from comms_lab.stack import free_port  # noqa: E402

WATCHERS = int(os.environ.get("BENCH_WATCHERS", "20"))
DURATION_S = int(os.environ.get("BENCH_DURATION_S", "20"))
RATE = float(os.environ.get("BENCH_RATE", "50"))


def watch(url: str, origin: str, cookie: str, results: list, index: int) -> None:
    seqs, started = [], time.monotonic()
    try:
        with connect(url, origin=Origin(origin), additional_headers={"Cookie": cookie}, max_size=None) as socket:
            while True:
                frame = json.loads(socket.recv(timeout=120))
                if frame.get("type") == "error":
                    raise RuntimeError(frame.get("error"))
                events = frame.get("events", [])
                seqs += [e["seq"] for e in events]
                if any(e["type"] == "run.finished" for e in events):
                    break
    except Exception as exc:  # this watcher's result says so; the others still count
        results[index] = exc
        return
    results[index] = (seqs, time.monotonic() - started)


def main() -> None:
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(
            os.environ,
            PORT=str(port),
            DATABASE_URL=f"sqlite:///{tmp}/bench.sqlite3",
            REDIS_KEY_PREFIX="clbench",
            LOG_LEVEL="WARNING",
            # Every watcher shares the bench's one session, which may hold 10 sockets by default.
            LAB_MAX_SOCKETS_PER_SESSION=str(max(WATCHERS, 10)),
        )
        stack = subprocess.Popen(
            [sys.executable, "-m", "comms_lab.stack", "run"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(240):
                try:
                    if httpx.get(f"{base}/healthz").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.5)
            client = httpx.Client(base_url=base, timeout=30)
            client.get("/lab/")
            headers = {"X-CSRFToken": client.cookies["csrftoken"], "Referer": f"{base}/lab/"}
            body = {"experiment": "checkout", "config": {"mode": "hybrid", "rate": RATE, "duration": DURATION_S}}
            run = client.post("/lab/api/runs", json=body, headers=headers).json()
            cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
            results: list = [None] * WATCHERS
            threads = [
                threading.Thread(target=watch, args=(f"ws://127.0.0.1:{port}{run['ws_url']}", base, cookie, results, i))
                for i in range(WATCHERS)
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            failed = [f"watcher {i + 1}: {r!r}" for i, r in enumerate(results) if not isinstance(r, tuple)]
            if failed:
                raise SystemExit("watchers failed:\n" + "\n".join(failed))
            total = max(seqs[-1] for seqs, _ in results if seqs)
            for _ in range(40):  # the run is saved just after run.finished is sent
                detail = client.get(f"/lab/api/runs/{run['id']}").json()
                if detail["status"] == "finished":
                    break
                time.sleep(0.25)
            logged_rate = total / (DURATION_S + 1)
            delivered = sum(len(r[0]) for r in results)
            broken = sum(1 for seqs, _ in results if seqs != list(range(1, total + 1)))
            print(f"run: {total:,} events logged, {logged_rate:,.0f} events/s while the load ran (baseline)")
            print(
                f"{WATCHERS} watchers: {delivered:,} events delivered, {delivered / (DURATION_S + 1):,.0f} events/s "
                f"in all ({delivered / (DURATION_S + 1) / logged_rate:.1f}× the logged rate)"
            )
            print(f"watchers with a gap or out-of-order event: {broken}")
            print(
                f"checkout p50 at {RATE:g} requests/s: {detail['summary']['latency_ms']['p50']} ms "
                f"(success {detail['summary']['success_rate_pct']}%)"
            )
        finally:
            os.killpg(stack.pid, signal.SIGINT)
            stack.wait(timeout=30)


if __name__ == "__main__":
    main()
