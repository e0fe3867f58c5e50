"""A Celery worker's heartbeat in Redis, which /healthz counts: `<prefix>:workers:<node name>`, 6 s TTL.

The beat must outlive Redis blips: a failed write is logged and retried with backoff (0.5 s doubling to 2 s),
so the key is back within about 2 s of Redis returning, well inside the 10 s a health check may wait.
"""

from __future__ import annotations

import logging
import threading

from comms_lab.redis_client import redis_client, rkey

log = logging.getLogger(__name__)
HEARTBEAT_EVERY_S = 2.0
HEARTBEAT_TTL_S = 6
RETRY_FIRST_S = 0.5
RETRY_MAX_S = 2.0


def heartbeat_key(hostname: str) -> str:
    return rkey("workers", hostname)


def down_marker_key(hostname: str) -> str:
    """Set by `make run`'s supervisor while it restarts a dead worker (comms_lab.stack.WorkerMarkers)."""
    return rkey("workers-down", hostname)


class Heartbeat:
    def __init__(self, hostname: str) -> None:
        self.hostname = hostname
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.run, name="lab-heartbeat", daemon=True)
        self.failures = 0

    def start(self) -> Heartbeat:
        self.thread.start()
        return self

    def beat(self) -> None:
        pipe = redis_client().pipeline(transaction=False)
        pipe.set(heartbeat_key(self.hostname), "1", ex=HEARTBEAT_TTL_S)
        pipe.delete(down_marker_key(self.hostname))
        pipe.execute()

    def run(self) -> None:
        delay = RETRY_FIRST_S
        while not self.stopped.is_set():
            try:
                self.beat()
            except Exception as exc:  # any error: the thread must never die, or /healthz says "down" forever
                self.failures += 1
                if self.failures == 1 or self.failures % 30 == 0:
                    log.warning(
                        "worker heartbeat failed (%d in a row), retrying in %.1f s: %s", self.failures, delay, exc
                    )
                self.stopped.wait(delay)
                delay = min(delay * 2, RETRY_MAX_S)
                continue
            if self.failures:
                log.warning("worker heartbeat restored after %d failed attempts", self.failures)
                self.failures = 0
            delay = RETRY_FIRST_S
            self.stopped.wait(HEARTBEAT_EVERY_S)

    def stop(self) -> None:
        self.stopped.set()
        try:
            redis_client().delete(heartbeat_key(self.hostname))
        except Exception as exc:
            log.warning("could not remove the worker heartbeat: %s", exc)


_current: Heartbeat | None = None


def start(hostname: str) -> Heartbeat:
    global _current
    if _current is not None:
        _current.stopped.set()
    _current = Heartbeat(hostname).start()
    return _current


def stop() -> None:
    if _current is not None:
        _current.stop()
