"""Failed log-ins counted in Redis per username and client address, in a fixed window.

Counting per username *and* address means a guesser cannot lock a victim out from elsewhere, and one address
cannot hammer one account. The count lives in Redis so every web process shares it.
"""

from __future__ import annotations

import hashlib
import logging

import redis

from comms_lab.redis_client import redis_client, rkey

log = logging.getLogger(__name__)
MAX_FAILURES = 5
WINDOW_S = 300


def _key(username: str, address: str) -> str:
    digest = hashlib.sha256(username.strip().casefold().encode()).hexdigest()[:32]
    return rkey("login-failures", digest, address)


def blocked_for(username: str, address: str) -> int:
    """Seconds until this username may try again from this address; 0 when it may try now.

    If Redis is unreachable the limiter lets the attempt through (and logs it): losing the brake briefly is
    better than locking every learner out of their account.
    """
    try:
        pipe = redis_client().pipeline()
        pipe.get(_key(username, address))
        pipe.ttl(_key(username, address))
        count, ttl = pipe.execute()
    except redis.RedisError as exc:
        log.warning("log-in rate limit unavailable: %s", exc)
        return 0
    if count is None or int(count) < MAX_FAILURES:
        return 0
    return max(int(ttl), 1)


def record_failure(username: str, address: str) -> None:
    key = _key(username, address)
    try:
        pipe = redis_client().pipeline()
        pipe.set(key, 0, ex=WINDOW_S, nx=True)  # the window starts at the first failure
        pipe.incr(key)
        pipe.execute()
    except redis.RedisError as exc:
        log.warning("log-in failure not counted: %s", exc)


def clear(username: str, address: str) -> None:
    try:
        redis_client().delete(_key(username, address))
    except redis.RedisError as exc:
        log.warning("log-in failures not cleared: %s", exc)
