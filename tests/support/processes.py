"""Real processes for the tests: a Celery worker and a daphne server on the test database and Redis."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

from django.conf import settings
from django.db import connection

from comms_lab.redis_client import redis_client, rkey
from comms_lab.stack import free_port, web_command, worker_command

ROOT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    """The URL of the database pytest-django created, for processes outside this one."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(DATABASE_URL=database_url(), REDIS_URL=settings.REDIS_URL, REDIS_KEY_PREFIX=settings.REDIS_KEY_PREFIX)
    env.update(extra)
    return env


class Worker:
    """A real `celery worker -P threads` process; stop() and start() let a test take it down and back."""

    def __init__(self, concurrency: int = 100) -> None:
        self.concurrency = concurrency
        self.name = f"test-{os.getpid()}-{time.monotonic_ns()}@%h"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> None:
        self.proc = subprocess.Popen(
            worker_command(self.concurrency, self.name, "--without-mingle", "--without-gossip"),
            cwd=ROOT,
            env=child_env(),
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"celery worker exited with code {self.proc.returncode}")
            if any(True for _ in redis_client().scan_iter(rkey("workers", "*"))):
                return
            time.sleep(0.2)
        raise RuntimeError(f"celery worker sent no heartbeat within {timeout} s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


class WebServer:
    """daphne serving comms_lab on a free port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> None:
        self.proc = subprocess.Popen(
            web_command("127.0.0.1", self.port),
            cwd=ROOT,
            env=child_env(),
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"daphne exited with code {self.proc.returncode}")
            try:
                urllib.request.urlopen(f"{self.url}/healthz", timeout=2)
                return
            except urllib.error.HTTPError:
                return  # it answered, even if something it checks is down
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"daphne did not answer within {timeout} s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc = None
