"""Sessions kept in the database and read through Redis: a returning learner's page costs one Redis GET instead of a
database connection and a query (issue 14). `SESSION_ENGINE` points here.

Django's `cached_db` store writes every change to the database first and then to the cache, so the database stays
the record (the retention clean-up and the tests read it there) and Redis only saves the reads. Only the server
holds session data, so a session can still be ended on the server (log-out, a password change), unlike signed
cookies. What differs from Django's store is that an unreachable Redis never fails a page: reading falls back to
the database, and a new session's key is checked against the database alone. Ending a session while Redis is down
still fails (a 503 naming Redis), because the cached copy could not be removed and would outlive the log-out.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from django.conf import settings
from django.contrib.sessions.backends import cached_db, db
from django.core.cache import BaseCache, caches
from redis import RedisError

log = logging.getLogger(__name__)


@functools.cache
def _shared_cache() -> BaseCache:
    """One session cache client per process. Django's `caches[...]` is per request under ASGI, and each would open
    a new connection to Redis (most of what a cached session cost when measured)."""
    return caches.create_connection(settings.SESSION_CACHE_ALIAS)


class SessionStore(cached_db.SessionStore):
    def __init__(self, session_key: str | None = None) -> None:
        super().__init__(session_key)
        self._cache = _shared_cache()

    def load(self) -> dict[str, Any]:
        try:
            return super().load()  # type: ignore[no-any-return]
        except RedisError as exc:  # the cache could not be filled after a read from the database
            log.warning("session read from the database only, Redis unreachable: %s", exc)
            row = self._get_session_from_db()  # type: ignore[attr-defined]
            return self.decode(row.session_data) if row else {}

    def exists(self, session_key: str) -> bool:
        try:
            return bool(super().exists(session_key))
        except RedisError:
            return bool(session_key) and db.SessionStore.exists(self, session_key)
