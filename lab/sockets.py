"""How many run sockets one browser session may hold open at once.

Each open socket costs daphne a coroutine and Redis a tail check per second, so one client opening hundreds
of tabs (or a script opening sockets in a loop) would tie both up. Open sockets are counted per holder (the
browser session, or the client address for a cookie-less viewer of a share link) in a Redis sorted set scored
by when each socket last said it was alive; a socket whose daphne died stops refreshing and drops out of the
count after `STALE_AFTER_S`, so a crash never locks a learner out.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings

from comms_lab.http import client_address
from comms_lab.redis_client import redis_client, rkey

STALE_AFTER_S = 30.0
REFRESH_EVERY_S = 10.0
# Close code for a socket over the cap; the page shows the reason and does not reconnect.
TOO_MANY_SOCKETS_CLOSE_CODE = 4429

# Drop stale entries, then add this socket only if the holder is under its cap. Returns the count after.
_CLAIM = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1] - ARGV[4])
if redis.call('ZSCORE', KEYS[1], ARGV[2]) == false and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  return -1
end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], math.ceil(ARGV[4]) + 1)
return redis.call('ZCARD', KEYS[1])
"""


def holder_of(scope: dict[str, Any]) -> tuple[str, int]:
    """Who a socket counts against, and that holder's cap: the session, or the address when there is none."""
    session = scope.get("session")
    session_key = getattr(session, "session_key", None)
    if session_key:
        return f"session:{session_key}", settings.LAB_MAX_SOCKETS_PER_SESSION
    return f"address:{client_address(scope)}", settings.LAB_MAX_SOCKETS_PER_ADDRESS


def _key(holder: str) -> str:
    return rkey("sockets", holder)


def claim(holder: str, socket_id: str, cap: int, *, now: float | None = None) -> bool:
    """Count this socket against its holder; False when the holder already has `cap` live sockets."""
    script = redis_client().register_script(_CLAIM)
    count = script(keys=[_key(holder)], args=[now or time.time(), socket_id, cap, STALE_AFTER_S])
    return int(count) >= 0


def refresh(holder: str, socket_id: str, *, now: float | None = None) -> None:
    """Say the socket is still open (its tail check does, every `REFRESH_EVERY_S`)."""
    pipe = redis_client().pipeline(transaction=False)
    pipe.zadd(_key(holder), {socket_id: now or time.time()}, xx=True)
    pipe.expire(_key(holder), int(STALE_AFTER_S) + 1)
    pipe.execute()


def release(holder: str, socket_id: str) -> None:
    redis_client().zrem(_key(holder), socket_id)
