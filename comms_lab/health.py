"""Liveness of what comms_lab needs: the database, Redis, and at least one Celery worker."""

from __future__ import annotations

from typing import Any

from django.db import connection

from comms_lab.redis_client import redis_client, rkey


def check_database() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception:
        return False


def check_redis() -> bool:
    try:
        return bool(redis_client().ping())
    except Exception:
        return False


def _names(pattern: str) -> list[str]:
    prefix = rkey(pattern.split(":")[0], "")
    return sorted(key.removeprefix(prefix) for key in redis_client().scan_iter(rkey(pattern), count=1000))


def live_workers() -> list[str]:
    """Node names of the workers whose heartbeat is fresh."""
    return _names("workers:*")


def worker_status() -> tuple[str, dict[str, str]]:
    """("ok" | "degraded" | "down", {node: why it is down}).

    Workers refresh a heartbeat key every 2 s (6 s TTL); one live key means the lab can run. `make run`'s
    supervisor marks a worker it is restarting (`workers-down:<node>`), which makes the status "degraded".
    """
    try:
        alive = live_workers()
        down_keys = list(redis_client().scan_iter(rkey("workers-down", "*"), count=1000))
        reasons = dict(zip(down_keys, redis_client().mget(down_keys), strict=True)) if down_keys else {}
    except Exception:
        return "down", {}
    restarting = {
        key.removeprefix(rkey("workers-down", "")): reason
        for key, reason in reasons.items()
        if reason is not None and key.removeprefix(rkey("workers-down", "")) not in alive
    }
    if not alive:
        return "down", restarting
    return ("degraded" if restarting else "ok"), restarting


def check_worker() -> bool:
    return worker_status()[0] != "down"


def health() -> dict[str, Any]:
    """What /healthz answers (503 unless every part is "ok"). A worker that `make run` is restarting while
    others run makes "worker" "degraded" and names it under "workers_restarting"."""
    worker, restarting = worker_status()
    status: dict[str, Any] = {
        "db": "ok" if check_database() else "down",
        "redis": "ok" if check_redis() else "down",
        "worker": worker,
    }
    if restarting:
        status["workers_restarting"] = restarting
    return status
