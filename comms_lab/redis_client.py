"""One Redis connection pool per process, and the key naming every module shares."""

import functools

import redis
from django.conf import settings


@functools.cache
def redis_client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, decode_responses=True, health_check_interval=30)


def rkey(*parts: object) -> str:
    """`rkey("run", run_id, "events")` → "comms_lab:run:<id>:events" with the configured prefix."""
    return ":".join([settings.REDIS_KEY_PREFIX, *(str(p) for p in parts)])
