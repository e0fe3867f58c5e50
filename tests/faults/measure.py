"""Measure the figures in docs/reliability.md on a real `make run` stack (python -m comms_lab.stack run).

    .venv/bin/python -m tests.faults.measure [--rate 50] [--duration 20]

Starts the stack on a free port with a throw-away SQLite database and Redis data directory, then: starts a lab
run, measures Redis memory per logged event, kills a worker with -9 and times its restart, kills the embedded
Redis with -9 and times the supervisor's restart and /healthz's recovery (checking what the append-only file
kept), and finally times SIGTERM until no child is left. Prints one line per figure. Uses only processes it
started itself.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import redis

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from comms_lab.stack import free_port  # noqa: E402


def children(pid: int) -> dict[int, str]:
    found = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            found[int(child)] = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    return found


def health(url: str) -> tuple[int, dict]:
    try:
        response = httpx.get(f"{url}/healthz", timeout=5)
        return response.status_code, response.json()
    except httpx.HTTPError:
        return 0, {}


def until(predicate: Callable[[], object], timeout: float, every: float = 0.05) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():
            return time.monotonic() - start
        time.sleep(every)
    raise SystemExit(f"timed out after {timeout} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=50)
    parser.add_argument("--duration", type=int, default=20)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="comms-lab-measure-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env.update(
        PORT=str(port),
        DATABASE_URL=f"sqlite:///{tmp / 'db.sqlite3'}",
        REDIS_DATA_DIR=str(tmp / "redis"),
        REDIS_KEY_PREFIX="measure",
        WORKER_PROCESSES=env.get("WORKER_PROCESSES", "2"),
        DEBUG="1",
    )
    log = tmp / "stack.log"
    stack = subprocess.Popen(
        [sys.executable, "-m", "comms_lab.stack", "run"],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        up = until(lambda: health(url)[0] == 200, 120, 0.2)
        print(f"stack healthy {up:.1f} s after start (migrate + load_content + Redis + workers + daphne)")
        found = re.search(r"embedded Redis at (\S+),", log.read_text())
        assert found, "the stack did not say where its embedded Redis is"
        redis_url = found.group(1)
        r = redis.Redis.from_url(redis_url, decode_responses=True)
        base = r.info("memory")["used_memory"]
        client = httpx.Client(base_url=url, timeout=30)
        client.get("/lab/")
        client.headers["X-CSRFToken"] = client.cookies["csrftoken"]
        config = {"duration": args.duration, "rate": args.rate, "mode": "hybrid"}
        run = client.post("/lab/api/runs", json={"experiment": "checkout", "config": config}).json()
        time.sleep(args.duration * 0.6)
        stream = f"measure:run:{run['id']}:events"
        events, used = r.xlen(stream), r.info("memory")["used_memory"]
        per_event = (r.memory_usage(stream) or 0) / max(events, 1)
        grown = (used - base) / 2**20
        print(
            f"run at {args.rate:g} req/s: {events} events after {args.duration * 0.6:.0f} s; stream "
            f"{per_event:.0f} B/event (MEMORY USAGE), Redis used_memory +{grown:.1f} MiB"
        )

        workers = {pid: cmd for pid, cmd in children(stack.pid).items() if " celery " in cmd and " worker " in cmd}
        victim = next(iter(workers))
        os.kill(victim, signal.SIGKILL)
        seen = until(lambda: health(url)[1].get("worker") in ("degraded", "down"), 10)
        back = until(lambda: health(url)[0] == 200, 60, 0.1)
        print(f"worker kill -9: /healthz named it after {seen:.2f} s; healthy again {seen + back:.1f} s after the kill")

        r.set("measure:durable", "1")
        before = r.xlen(stream)
        time.sleep(1.2)  # appendfsync everysec
        redis_pid = next(pid for pid, cmd in children(stack.pid).items() if "redis-server" in cmd)
        os.kill(redis_pid, signal.SIGKILL)
        killed = time.monotonic()
        until(lambda: health(url)[1].get("redis") == "down", 5)
        until(lambda: health(url)[1].get("redis") == "ok", 30, 0.05)
        redis_back = time.monotonic() - killed
        until(lambda: health(url)[0] == 200, 30, 0.05)
        healthy = time.monotonic() - killed
        after = r.xlen(stream)
        kept = r.get("measure:durable") == "1"
        print(
            f"Redis kill -9: restarted by the supervisor, answering {redis_back:.1f} s after the kill, /healthz 200 "
            f"after {healthy:.1f} s; append-only file kept the key written 1.2 s before: {kept}; "
            f"run log {before} events 1.2 s before the kill, {after} after the restart"
        )
        status = client.get(f"/lab/api/runs/{run['id']}").json()["status"]
        print(f"the run after the Redis restart: {status}")
    finally:
        pids = list(children(stack.pid))
        started = time.monotonic()
        stack.send_signal(signal.SIGTERM)
        stack.wait(timeout=60)
        left = [pid for pid in pids if Path(f"/proc/{pid}").exists()]
        print(f"SIGTERM: stack exited {stack.returncode} in {time.monotonic() - started:.1f} s; children left: {left}")
        print(f"(logs in {log})")


if __name__ == "__main__":
    main()
