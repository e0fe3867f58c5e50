"""Who is learning: a signed-in user, or an anonymous visitor identified by a stable id in their session.

The id survives Django's session-key rotation at log-in, so anonymous work (runs, progress, attempts) can be
merged into the account afterwards. Lessons, quizzes and the lab all use this one notion of a learner.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

SESSION_KEY = "learner_id"


@dataclass(frozen=True)
class Learner:
    user_id: int | None
    anonymous_id: str

    @property
    def known(self) -> bool:
        """False for a visitor who has done nothing worth keeping yet: no account, no anonymous id."""
        return bool(self.user_id or self.anonymous_id)

    @property
    def key(self) -> str:
        """A string naming this learner in Redis and logs."""
        return f"user:{self.user_id}" if self.user_id else f"anon:{self.anonymous_id}"


def anonymous_id(session: Any) -> str:
    """The session's stable learner id, created on first use."""
    value = session.get(SESSION_KEY)
    if not value:
        value = uuid.uuid4().hex
        session[SESSION_KEY] = value
    return value


def learner_for(request: Any) -> Learner:
    """The learner behind a request that is about to record something: creates the anonymous id (and so the
    session row) when there is none. Views that only read use `current_learner` instead."""
    user = getattr(request, "user", None)
    user_id = user.pk if user is not None and user.is_authenticated else None
    return Learner(user_id=user_id, anonymous_id=anonymous_id(request.session))


def current_learner(request: Any) -> Learner:
    """The learner behind a request that only reads: never writes the session.

    A first visit without cookies gets `Learner(None, "")`, whose `known` is False; readers return "nothing yet"
    for it without asking the database. The session row and the anonymous id appear only when the learner does
    something worth keeping (reads a lesson for a while, starts a quiz, starts a run) through `learner_for`.
    """
    user = getattr(request, "user", None)
    user_id = user.pk if user is not None and user.is_authenticated else None
    return Learner(user_id=user_id, anonymous_id=request.session.get(SESSION_KEY, "") or "")


def learner_for_scope(scope: dict[str, Any]) -> Learner | None:
    """The learner behind a websocket, or None when the session has never been seen (no anonymous id yet)."""
    user = scope.get("user")
    user_id = user.pk if user is not None and user.is_authenticated else None
    session = scope.get("session")
    anon = session.get(SESSION_KEY) if session is not None else None
    if user_id is None and not anon:
        return None
    return Learner(user_id=user_id, anonymous_id=anon or "")
