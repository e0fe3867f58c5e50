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
Beside it, unsigned, is the key of the learner it names: one script returns the session and that learner's state
token (comms_lab.learner_state) in a single round trip, which a page would otherwise make next. The token is used
only when the signed session names the same learner, so an altered key in Redis cannot show another's progress.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from django.contrib.sessions.backends import db
from redis import RedisError
from redis.commands.core import Script

from comms_lab import learner_state
from comms_lab.learners import SESSION_KEY, Learner
from comms_lab.redis_client import redis_client, rkey

log = logging.getLogger(__name__)
# A cached copy lives at most this long: what a change saved while Redis was unreachable can leave behind.
CACHED_FOR_S = 3600


# KEYS[1]: the cached session, "<learner key>\n<signed session>"; ARGV[1]: where learner tokens live, less the key.
_READ_SESSION_LUA = """
local cached = redis.call('GET', KEYS[1])
if not cached then return {false, false} end
local learner = string.match(cached, '^([^\\n]+)\\n')
if not learner then return {cached, false} end
return {cached, redis.call('GET', ARGV[1] .. learner)}
"""


def _cache_key(session_key: str) -> str:
    return rkey("session", session_key)


@functools.cache
def _read_session_script() -> Script:
    """The script, registered once; each call names the client to run it on (the process's current one)."""
    return redis_client().register_script(_READ_SESSION_LUA)


def _learner_key(session: dict[str, Any]) -> str:
    """The `Learner.key` a session names, or "" for a visitor not yet known."""
    user_id = session.get("_auth_user_id")
    learner = Learner(user_id=int(user_id) if user_id else None, anonymous_id=session.get(SESSION_KEY, "") or "")
    return learner.key if learner.known else ""


class SessionStore(db.SessionStore):
    def load(self) -> dict[str, Any]:
        learner_state.prefetched("", None)
        if self.session_key:
            try:
                cached, token = _read_session_script()(
                    keys=[_cache_key(self.session_key)], args=[learner_state.token_key("")], client=redis_client()
                )
            except RedisError as exc:
                log.warning("session read from the database, Redis unreachable: %s", exc)
                cached = None
            if cached is not None:
                learner_key, _, encoded = cached.rpartition("\n")
                session = self.decode(encoded)
                if learner_key and learner_key == _learner_key(session):
                    learner_state.prefetched(learner_key, token)
                return session
        row = self._get_session_from_db()  # type: ignore[attr-defined]
        if row is None:
            return {}
        session = self.decode(row.session_data)
        self._cache(row.session_data, session, self.get_expiry_age(expiry=row.expire_date))
        return session

    def exists(self, session_key: str) -> bool:
        try:
            if redis_client().exists(_cache_key(session_key)):
                return True
        except RedisError:
            pass  # the database is the record
        return bool(super().exists(session_key))

    def save(self, must_create: bool = False) -> None:
        super().save(must_create)
        session = self._session  # type: ignore[attr-defined]
        self._cache(self.encode(session), session, self.get_expiry_age())

    def delete(self, session_key: str | None = None) -> None:
        super().delete(session_key)
        key = session_key or self.session_key
        if key:
            redis_client().delete(_cache_key(key))  # a RedisError here is a 503: the log-out did not complete

    def _cache(self, encoded: str, session: dict[str, Any], seconds: int) -> None:
        try:
            key = _cache_key(self._get_or_create_session_key())  # type: ignore[attr-defined]
            value = f"{_learner_key(session)}\n{encoded}"
            redis_client().set(key, value, ex=max(1, min(seconds, CACHED_FOR_S)))
        except RedisError as exc:
            log.warning("session not cached, Redis unreachable: %s", exc)
