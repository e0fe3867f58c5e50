"""What a returning learner has done, read from the database once and reused until they do something new.

A returning learner's lesson and quiz pages read the learner's rows on every view, and that (a new database
connection under ASGI plus the queries) was most of what such a page cost beyond a minimal view (issue 14). Here
each learner has a token in Redis that every write to their rows replaces (`forget_on_change` hooks the models'
save and delete signals); a page fetches the token (one GET) and reuses what this process read under the same
token, so a learner who only browses costs no query at all.

Why it stays true:
- The token is replaced when a row is saved or deleted and again once the transaction commits, so a page that
  read the rows just before a commit cannot keep them under the token that follows it.
- Tokens are random, never counters, so a Redis restart or flush cannot bring an old token back.
- Writes that bypass the signals (a bulk `update()`) call `changed` themselves.
- The session store reads the token in the same round trip as the session (`prefetched`, comms_lab/sessions.py);
  any change made during the request drops what it read, so a view reads its own writes.
- When Redis cannot be reached nothing is reused (pages read the database as before) and this process drops what
  it remembered; an entry is also never older than MAX_AGE_S, which bounds what a write that could not reach
  Redis leaves behind in other processes.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from django.db import transaction
from django.db.models import Model
from django.db.models.signals import post_delete, post_save
from redis import RedisError

from comms_lab.learners import Learner
from comms_lab.redis_client import redis_client, rkey

log = logging.getLogger(__name__)

MAX_AGE_S = 300
MAX_ENTRIES = 20_000  # a learner's entry is a few rows' worth of objects
TOKEN_TTL_S = 7 * 24 * 3600  # an idle learner's token expires; a new one is drawn on their next visit


class _Remembered:
    """This process's entries: (learner key, name) -> (token, stored at, value), least recently used out first."""

    def __init__(self) -> None:
        self.entries: OrderedDict[tuple[str, str], tuple[str, float, Any]] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: tuple[str, str], token: str) -> tuple[bool, Any]:
        with self.lock:
            entry = self.entries.get(key)
            if entry is None or entry[0] != token or time.monotonic() - entry[1] > MAX_AGE_S:
                return False, None
            self.entries.move_to_end(key)
            return True, entry[2]

    def put(self, key: tuple[str, str], token: str, value: Any) -> None:
        with self.lock:
            self.entries[key] = (token, time.monotonic(), value)
            self.entries.move_to_end(key)
            while len(self.entries) > MAX_ENTRIES:
                self.entries.popitem(last=False)

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()


_REMEMBERED = _Remembered()
# (learner key, token) that this request's session store read with the session; None when it read none.
_PREFETCHED: ContextVar[tuple[str, str] | None] = ContextVar("learner_state_prefetched", default=None)


def token_key(learner_key: str) -> str:
    """Where the learner's token lives in Redis."""
    return rkey("learner-state", learner_key)


def prefetched(learner_key: str, token: str | None) -> None:
    """The session store read this learner's token along with the session (one round trip instead of two): this
    request uses it. Every session load calls this, with no token when it read none, so nothing outlives it."""
    _PREFETCHED.set((learner_key, token) if learner_key and token else None)


def _token(learner: Learner) -> str | None:
    """The learner's current token, drawn now if they have none; None when Redis cannot be reached."""
    hint = _PREFETCHED.get()
    if hint is not None and hint[0] == learner.key:
        return hint[1]
    client = redis_client()
    try:
        token = client.get(token_key(learner.key))
        if token is None:
            client.set(token_key(learner.key), uuid.uuid4().hex, nx=True, ex=TOKEN_TTL_S)
            token = client.get(token_key(learner.key))
    except RedisError as exc:
        log.warning("learner state not reused, Redis unreachable: %s", exc)
        _REMEMBERED.clear()
        return None
    return str(token) if token is not None else None


def remembered[T](learner: Learner, name: str, read: Callable[[], T]) -> T:
    """`read()`, or what it returned for this learner and `name` since their rows last changed.

    `read` must depend only on the learner's rows (no clock): anything that changes with time is computed from
    its result by the caller. The value is shared between requests, so callers must not change it.
    """
    if not learner.known:
        return read()
    token = _token(learner)
    if token is None:
        return read()
    key = (learner.key, name)
    found, value = _REMEMBERED.get(key, token)
    if found:
        return value  # type: ignore[no-any-return]
    value = read()
    _REMEMBERED.put(key, token, value)
    return value


def forget(learner_key: str) -> None:
    """The learner's rows changed: nothing read before now is reused, in any process."""
    _PREFETCHED.set(None)
    try:
        redis_client().set(token_key(learner_key), uuid.uuid4().hex, ex=TOKEN_TTL_S)
    except RedisError as exc:
        log.warning("could not tell other processes that %s changed, Redis unreachable: %s", learner_key, exc)
        _REMEMBERED.clear()


def owner_key(row: Model) -> str:
    """The `Learner.key` of a row that belongs to a user or an anonymous learner."""
    user_id = getattr(row, "user_id", None)
    return Learner(user_id=user_id, anonymous_id=getattr(row, "anonymous_id", "") or "").key


def changed(learner_key: str) -> None:
    """The learner's rows were just written: forget now, and again once the transaction under way commits."""
    forget(learner_key)
    transaction.on_commit(lambda: forget(learner_key), robust=True)


def _row_changed(sender: type[Model], instance: Model, **_: Any) -> None:
    changed(owner_key(instance))


def forget_on_change(*models: type[Model]) -> None:
    """Every save or delete of one of these learner-owned models (with `user_id` and `anonymous_id`) replaces
    the owner's token."""
    for model in models:
        uid = f"learner_state.{model._meta.label}"
        post_save.connect(_row_changed, sender=model, dispatch_uid=f"{uid}.save", weak=False)
        post_delete.connect(_row_changed, sender=model, dispatch_uid=f"{uid}.delete", weak=False)


def forget_everything_here() -> None:
    """Drop what this process remembers (tests whose database is rolled back reuse user ids)."""
    _REMEMBERED.clear()
