"""`make run`'s supervisor (python -m comms_lab.stack run) as an operator meets it: a worker killed with -9 is
restarted with backoff while daphne and Redis stay up, /healthz names it meanwhile; a killed Redis comes back on
its port and data; Celery beat runs beside them; SIGTERM stops everything, leaving no process behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from comms_lab.stack import free_port
from tests.faults.conftest import healthz, wait_for
from tests.support.processes import ROOT, database_url

pytestmark = pytest.mark.integration


def children(pid: int) -> dict[int, str]:
    """Direct children of `pid` with their command lines (from /proc)."""
    found = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            found[int(child)] = cmdline
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_a_killed_worker_is_restarted_while_the_web_stays_up_and_sigterm_leaves_nothing_behind(
    tmp_path: Path, transactional_db: None
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}  # the stack starts its own embedded Redis
    env.update(
        PORT=str(port),
        DATABASE_URL=database_url(),
        REDIS_DATA_DIR=str(tmp_path / "redis"),
        WORKER_PROCESSES="1",
        WORKER_CONCURRENCY="8",
        REDIS_KEY_PREFIX="h2-supervisor",
    )
    log = tmp_path / "stack.log"
    argv = [sys.executable, "-m", "comms_lab.stack", "run"]
    stack = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    pids: dict[int, str] = {}
    try:
        wait_for(lambda: healthz(url)[0] == 200, timeout=90, every=0.3, what="the stack to be healthy")
        pids = children(stack.pid)
        programs = sorted(cmd.split()[0].rsplit("/", 1)[-1] for cmd in pids.values())
        assert programs == ["python", "python", "python", "redis-server"]  # worker, beat, daphne
        worker = next(pid for pid, cmd in pids.items() if " celery " in cmd and " worker " in cmd)
        killed_at = time.monotonic()
        os.kill(worker, signal.SIGKILL)

        _, body = wait_for(
            lambda: (lambda s: s if s[0] == 503 else None)(healthz(url)), timeout=10, what="/healthz to name the worker"
        )
        assert body["worker"] == "down" and body["redis"] == "ok"
        assert "exited with code -9" in next(iter(body["workers_restarting"].values()))
        assert httpx.get(f"{url}/lessons/", timeout=10).status_code == 200  # the web carries on meanwhile

        wait_for(lambda: healthz(url)[0] == 200, timeout=60, every=0.3, what="the restarted worker to heartbeat")
        print(f"worker back {time.monotonic() - killed_at:.1f} s after kill -9")
        text = log.read_text()
        assert f"worker (pid {worker}) exited with code -9; restarting it in 1 s" in text
        assert "restarting worker (restart #1)" in text
        assert stack.poll() is None
        pids = children(stack.pid)
        assert worker not in pids and len(pids) == 4
        assert list((tmp_path / "redis").glob("appendonly.aof*")), "the embedded Redis keeps an append-only file"

        redis_pid = next(pid for pid, cmd in pids.items() if "redis-server" in cmd)
        os.kill(redis_pid, signal.SIGKILL)
        wait_for(lambda: healthz(url)[1].get("redis") == "down", timeout=5, what="/healthz to name Redis")
        wait_for(lambda: healthz(url)[0] == 200, timeout=20, every=0.1, what="Redis restarted and all healthy")
        assert f"redis (pid {redis_pid}) exited with code -9; restarting it in 1 s" in log.read_text()
        pids = children(stack.pid)
        assert redis_pid not in pids and len(pids) == 4
    finally:
        stack.send_signal(signal.SIGTERM)
        stack.wait(timeout=30)
    assert stack.returncode == 0
    wait_for(lambda: not any(alive(pid) for pid in pids), timeout=5, what="every child to be gone")
    assert "got SIGTERM; stopping everything" in log.read_text()
