"""One Redis connection pool per process, and the key naming every module shares."""

import functools
from typing import Any

import redis
import redis.asyncio as aioredis
from django.conf import settings
from redis.connection import HiredisRespSerializer


@functools.cache
def redis_client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, decode_responses=True, health_check_interval=30)


class HiredisPackedConnection(aioredis.Connection):
    """An asyncio connection that packs commands with hiredis' C packer, as redis-py's synchronous client does when
    hiredis is installed: its asyncio client packs them in Python, an eighth of the lab engine's CPU."""

    def pack_command(self, *args: Any) -> list[bytes]:
        return HiredisRespSerializer().pack(*args)


def async_redis_client(**options: Any) -> aioredis.Redis:
    """A new asyncio client with a pool of its own (its connections belong to the event loop that opens them)."""
    return aioredis.Redis.from_url(
        settings.REDIS_URL, decode_responses=True, connection_class=HiredisPackedConnection, **options
    )


def rkey(*parts: object) -> str:
    """`rkey("run", run_id, "events")` → "comms_lab:run:<id>:events" with the configured prefix."""
    return ":".join([settings.REDIS_KEY_PREFIX, *map(str, parts)])
