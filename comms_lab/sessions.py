"""Sessions kept in the database and read through Redis: a returning learner's page costs one Redis GET instead of a
database connection and a query (issue 14). `SESSION_ENGINE` points here.

Like Django's `cached_db` store, every change is written to the database first and then to Redis, so the
database stays the record (the retention clean-up and the tests read it there) and Redis only saves the reads.
Only the server holds session data, so a session can still be ended on the server (log-out, a password change),
unlike signed cookies. Two differences from `cached_db`:
- Redis is read with the process's shared client (`comms_lab.redis_client`). Django's Redis cache builds a client
  object per call and, under ASGI, a cache (with its own connection) per request: that cost more CPU than the
  database query it saved.
- An unreachable Redis never fails a page: reading falls back to the database, and a new session's key is checked
  against the database alone. Ending a session while Redis is down still fails (a 503 naming Redis), because
  the cached copy could not be removed and would outlive the log-out.

Redis holds the session's signed encoding (as in the database), so a copy altered there is refused like a forged one.
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.sessions.backends import db
from redis import RedisError

from comms_lab.redis_client import redis_client, rkey

log = logging.getLogger(__name__)
# A cached copy lives at most this long: what a change saved while Redis was unreachable can leave behind.
CACHED_FOR_S = 3600


def _cache_key(session_key: str) -> str:
    return rkey("session", session_key)


class SessionStore(db.SessionStore):
    def load(self) -> dict[str, Any]:
        if self.session_key:
            try:
                cached = redis_client().get(_cache_key(self.session_key))
            except RedisError as exc:
                log.warning("session read from the database, Redis unreachable: %s", exc)
                cached = None
            if cached is not None:
                return self.decode(cached)
        row = self._get_session_from_db()  # type: ignore[attr-defined]
        if row is None:
            return {}
        self._cache(row.session_data, self.get_expiry_age(expiry=row.expire_date))
        return self.decode(row.session_data)

    def exists(self, session_key: str) -> bool:
        try:
            if redis_client().exists(_cache_key(session_key)):
                return True
        except RedisError:
            pass  # the database is the record
        return bool(super().exists(session_key))

    def save(self, must_create: bool = False) -> None:
        super().save(must_create)
        self._cache(self.encode(self._session), self.get_expiry_age())  # type: ignore[attr-defined]

    def delete(self, session_key: str | None = None) -> None:
        super().delete(session_key)
        key = session_key or self.session_key
        if key:
            redis_client().delete(_cache_key(key))  # a RedisError here is a 503: the log-out did not complete

    def _cache(self, encoded: str, seconds: int) -> None:
        try:
            key = _cache_key(self._get_or_create_session_key())  # type: ignore[attr-defined]
            redis_client().set(key, encoded, ex=max(1, min(seconds, CACHED_FOR_S)))
        except RedisError as exc:
            log.warning("session not cached, Redis unreachable: %s", exc)
