"""Liveness of what comms_lab needs: the database, Redis, and at least one Celery worker."""

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


def check_worker() -> bool:
    """Workers refresh a heartbeat key every 2 s (6 s TTL); one live key means the lab can run."""
    try:
        return next(redis_client().scan_iter(rkey("workers", "*"), count=100), None) is not None
    except Exception:
        return False


def health() -> dict[str, str]:
    return {
        "db": "ok" if check_database() else "down",
        "redis": "ok" if check_redis() else "down",
        "worker": "ok" if check_worker() else "down",
    }
