"""Pages against a minimal view on the same daphne: requests/s and p99 for /lessons/, a lesson, /quizzes/, a
quiz page and the home page, as a returning learner (the session and CSRF cookies a browser sends back, some
progress) and as a first visit (no cookies).

Starts daphne with production settings (DEBUG=0, hashed static files through WhiteNoise) on a throwaway SQLite
database, with COMMS_LAB_BENCH=1 so that /bench/minimal/ exists (a view returning "hello" behind the same
middleware). Each page is measured right after the baseline, alternating, BENCH_ROUNDS times, with wrk
(`apt-get install wrk`; a Python load generator stands in when wrk is missing). Prints every figure beside its
baseline and the ratio, checks the targets of issue 14 and that static files are cached for a year, and exits
non-zero when a target is missed.

Environment: BENCH_SECONDS (per measurement, default 5), BENCH_ROUNDS (default 2), BENCH_CONNECTIONS (50),
BENCH_PAGES (space-separated paths instead of the five above).
"""

from __future__ import annotations

import http.client
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from comms_lab.stack import free_port, web_command  # noqa: E402

SECONDS = int(os.environ.get("BENCH_SECONDS", "5"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "50"))
BASELINE = "/bench/minimal/"
PAGES = os.environ.get("BENCH_PAGES", "/lessons/ /lessons/sync-vs-async/ /quizzes/ /quizzes/sync-vs-async/ /").split()
# Issue 14: returning learner rps >= 0.7x and p99 <= 1.5x the minimal view; first visit >= 0.6x and <= 2x.
TARGETS = {"returning": (0.7, 1.5), "first visit": (0.6, 2.0)}
YEAR_S = 365 * 24 * 3600

SEED = textwrap.dedent(
    """
    import django, time, uuid
    django.setup()
    from comms_lab.sessions import SessionStore
    from comms_lab.learners import SESSION_KEY, Learner
    from lessons import services as lessons
    from quizzes import services as quizzes
    store = SessionStore()
    store[SESSION_KEY] = uuid.uuid4().hex
    store.create()
    learner = Learner(user_id=None, anonymous_id=store[SESSION_KEY])
    lessons.record_reading(learner=learner, slug="why-patterns-matter", seconds=300)
    lessons.mark_lesson_completed(learner=learner, slug="why-patterns-matter", reason="read")
    lessons.record_reading(learner=learner, slug="sync-vs-async", seconds=120)
    quizzes.start_attempt(learner=learner, quiz="sync-vs-async")
    print(store.session_key)
    """
)


@dataclass(frozen=True)
class Result:
    rps: float
    p99_ms: float
    errors: int
    cpu_ms: float = 0.0  # daphne's CPU time per request: steadier than rps on a machine that is busy elsewhere


SERVER_PID = [0]


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc (Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(url: str, cookie: str) -> Result:
    command = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{SECONDS}s", "--latency", "--timeout", "10s", url]
    if cookie:
        command[1:1] = ["-H", f"Cookie: {cookie}"]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])  # type: ignore[index]
    value, unit = re.search(r"\s99%\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
    p99 = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    timeouts = re.search(r"timeout (\d+)", out)
    return Result(rps=rps, p99_ms=p99, errors=(int(bad[1]) if bad else 0) + (int(timeouts[1]) if timeouts else 0))


def python_load(url: str, cookie: str) -> Result:
    """wrk's stand-in: CONNECTIONS keep-alive connections in threads, for SECONDS."""
    host, port, path = re.match(r"http://([^:/]+):(\d+)(/.*)", url).groups()  # type: ignore[union-attr]
    headers = {"Cookie": cookie} if cookie else {}
    latencies: list[float] = []
    errors = [0]
    stop = time.monotonic() + SECONDS

    def client() -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        while time.monotonic() < stop:
            started = time.perf_counter()
            try:
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                response.read()
                if response.status >= 400:
                    errors[0] += 1
            except OSError:
                errors[0] += 1
                conn = http.client.HTTPConnection(host, int(port), timeout=10)
                continue
            latencies.append((time.perf_counter() - started) * 1000)

    threads = [threading.Thread(target=client) for _ in range(CONNECTIONS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99)] if latencies else float("inf")
    return Result(rps=len(latencies) / SECONDS, p99_ms=p99, errors=errors[0])


def measure(url: str, cookie: str) -> Result:
    before = cpu_seconds(SERVER_PID[0])
    result = wrk(url, cookie) if shutil.which("wrk") else python_load(url, cookie)
    used = cpu_seconds(SERVER_PID[0]) - before
    requests = result.rps * SECONDS
    return Result(result.rps, result.p99_ms, result.errors, 1000 * used / requests if requests else 0.0)


def wait_for(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)  # noqa: S310 - our own server on loopback
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"the server did not answer at {url}")


def static_caching(base: str) -> tuple[bool, str]:
    """A stylesheet linked from a page is served under a hashed name with a year or more of caching."""
    html = urllib.request.urlopen(f"{base}/lessons/").read().decode()  # noqa: S310
    href = re.search(r'href="(/static/css/site\.[0-9a-f]{12}\.css)"', html)
    if href is None:
        return False, "site.css is not linked under a hashed name"
    with urllib.request.urlopen(f"{base}{href[1]}") as response:  # noqa: S310
        control = response.headers.get("Cache-Control", "")
    age = re.search(r"max-age=(\d+)", control)
    return bool(age and int(age[1]) >= YEAR_S and "immutable" in control), f"{href[1]}: {control}"


def main() -> int:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(
            os.environ,
            DEBUG="0",
            SECRET_KEY=secrets.token_urlsafe(50),
            SECURE_SSL_REDIRECT="0",
            DATABASE_URL=f"sqlite:///{tmp}/bench.sqlite3",
            COMMS_LAB_BENCH="1",
            LOG_LEVEL="WARNING",
            REDIS_KEY_PREFIX="clbench-pages",
        )
        manage = [sys.executable, "manage.py"]
        subprocess.run([*manage, "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
        subprocess.run([*manage, "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
        session = subprocess.run(
            [sys.executable, "-c", SEED],
            cwd=ROOT,
            env={**env, "DJANGO_SETTINGS_MODULE": "comms_lab.settings"},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()[-1]
        daphne = subprocess.Popen(
            web_command("127.0.0.1", port),
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        SERVER_PID[0] = daphne.pid
        try:
            wait_for(f"{base}{BASELINE}")
            for path in [BASELINE, *PAGES]:  # warm: content loaded, page parts rendered
                for _ in range(3):
                    urllib.request.urlopen(f"{base}{path}")  # noqa: S310
            return report(base, f"sessionid={session}; csrftoken={csrf_cookie(base)}")
        finally:
            daphne.terminate()
            daphne.wait(timeout=10)


def csrf_cookie(base: str) -> str:
    """The CSRF cookie a browser got with its first page (every page has a form) and sends back from then on."""
    with urllib.request.urlopen(f"{base}/lessons/") as response:  # noqa: S310
        cookies = response.headers.get_all("Set-Cookie") or []
    found = next((re.match(r"csrftoken=([^;]+)", c) for c in cookies if c.startswith("csrftoken=")), None)
    if found is None:
        raise SystemExit("the lessons page set no csrftoken cookie")
    return found[1]


def report(base: str, returning_cookies: str) -> int:
    tool = "wrk" if shutil.which("wrk") else "python load generator (wrk not installed)"
    print(f"pages vs {BASELINE}: {CONNECTIONS} connections, {SECONDS} s each, {ROUNDS} rounds, {tool}")
    cookies = {"returning": returning_cookies, "first visit": ""}
    ratios: dict[tuple[str, str], list[tuple[float, float]]] = {}
    rows = []
    for round_no in range(1, ROUNDS + 1):
        for mode, cookie in cookies.items():
            for path in PAGES:
                baseline = measure(f"{base}{BASELINE}", cookie)
                page = measure(f"{base}{path}", cookie)
                ratios.setdefault((mode, path), []).append((page.rps / baseline.rps, page.p99_ms / baseline.p99_ms))
                rows.append((round_no, mode, path, page, baseline))
                print(
                    f"  r{round_no} {mode:11} {path:26} {page.rps:5.0f} req/s (min view {baseline.rps:5.0f}) "
                    f"p99 {page.p99_ms:6.1f} ms ({baseline.p99_ms:6.1f}) "
                    f"CPU {page.cpu_ms:4.1f} ms/req ({baseline.cpu_ms:4.1f})"
                    + (f"  ERRORS {page.errors + baseline.errors}" if page.errors or baseline.errors else ""),
                    flush=True,
                )
    failures = [f"{r[1]} {r[2]}: {r[3].errors + r[4].errors} errors or timeouts" for r in rows if r[3].errors]
    print(f"\n{'mode':11} {'page':26} {'rps ratio':>10} {'target':>7} {'p99 ratio':>10} {'target':>7}")
    for (mode, path), values in ratios.items():
        rps = statistics.mean(v[0] for v in values)
        p99 = statistics.mean(v[1] for v in values)
        want_rps, want_p99 = TARGETS[mode]
        ok = rps >= want_rps and p99 <= want_p99
        print(f"{mode:11} {path:26} {rps:9.2f}x {want_rps:>6}x {p99:9.2f}x {want_p99:>6}x  {'ok' if ok else 'MISSED'}")
        if not ok:
            failures.append(f"{mode} {path}: {rps:.2f}x rps (>= {want_rps}x), {p99:.2f}x p99 (<= {want_p99}x)")
    cached, detail = static_caching(base)
    print(f"\nstatic files: {detail} {'ok' if cached else 'MISSED (want max-age >= 1 year, immutable)'}")
    if not cached:
        failures.append(f"static caching: {detail}")
    if failures:
        print("\nMISSED:\n  " + "\n  ".join(failures))
        return 1
    print("\nevery page target met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
