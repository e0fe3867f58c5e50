"""Rate limits for accounts, counted in Redis in fixed windows, so every web process shares them.

* Failed log-ins per user name and client address (LOGIN_FAILURES_PER_NAME in LOGIN_WINDOW_S). The name is
  counted as Django's log-in form authenticates it: NFKC-normalised (and case-folded), so `ａlice` with a
  full-width letter is the same counter as `alice`. Per name *and* address, so a guesser elsewhere cannot lock a
  victim out.
* Failed log-ins per client address across all names (LOGIN_FAILURES_PER_ADDRESS in LOGIN_WINDOW_S), against
  password spraying. The default (30) leaves room for a class behind one NAT address mistyping passwords.
* Accounts created per client address (SIGNUPS_PER_ADDRESS in SIGNUP_WINDOW_S) and password-reset e-mails
  asked for per client address (PASSWORD_RESETS_PER_ADDRESS per hour).

The client address comes from `comms_lab.http.client_address` (X-Forwarded-For only behind TRUSTED_PROXIES).
If Redis is unreachable the limiters let requests through and log it: losing the brake briefly is better than
locking every learner out of their account.
"""

from __future__ import annotations

import hashlib
import logging
import unicodedata
from dataclasses import dataclass

import redis
from django.conf import settings

from comms_lab.redis_client import redis_client, rkey

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limit:
    name: str
    setting: str
    window_setting: str | None = None
    window_default_s: int = 3600

    @property
    def limit(self) -> int:
        return int(getattr(settings, self.setting))

    @property
    def window_s(self) -> int:
        return int(getattr(settings, self.window_setting)) if self.window_setting else self.window_default_s

    def key(self, *parts: str) -> str:
        digest = hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]
        return rkey("limit", self.name, digest)


LOGIN_PER_NAME = Limit("login-name", "LOGIN_FAILURES_PER_NAME", "LOGIN_WINDOW_S")
LOGIN_PER_ADDRESS = Limit("login-address", "LOGIN_FAILURES_PER_ADDRESS", "LOGIN_WINDOW_S")
SIGNUP_PER_ADDRESS = Limit("signup-address", "SIGNUPS_PER_ADDRESS", "SIGNUP_WINDOW_S")
RESET_PER_ADDRESS = Limit("reset-address", "PASSWORD_RESETS_PER_ADDRESS")

# For the templates and docs: the defaults, read from settings at each call.
MAX_FAILURES = settings.LOGIN_FAILURES_PER_NAME
WINDOW_S = settings.LOGIN_WINDOW_S


def normalise(username: str) -> str:
    """The user name as the log-in form authenticates it (NFKC), case-folded and trimmed."""
    return unicodedata.normalize("NFKC", username).strip().casefold()


def wait_s(limit: Limit, *parts: str) -> int:
    """Seconds until the counter under `parts` is below its limit again; 0 when it is now."""
    key = limit.key(*parts)
    try:
        pipe = redis_client().pipeline()
        pipe.get(key)
        pipe.ttl(key)
        count, ttl = pipe.execute()
    except redis.RedisError as exc:
        log.warning("rate limit %s unavailable: %s", limit.name, exc)
        return 0
    if count is None or int(count) < limit.limit:
        return 0
    return max(int(ttl), 1)


def hit(limit: Limit, *parts: str) -> None:
    key = limit.key(*parts)
    try:
        pipe = redis_client().pipeline()
        pipe.set(key, 0, ex=limit.window_s, nx=True)  # the window starts at the first hit
        pipe.incr(key)
        pipe.execute()
    except redis.RedisError as exc:
        log.warning("rate limit %s not counted: %s", limit.name, exc)


def reset(limit: Limit, *parts: str) -> None:
    try:
        redis_client().delete(limit.key(*parts))
    except redis.RedisError as exc:
        log.warning("rate limit %s not reset: %s", limit.name, exc)


def blocked_for(username: str, address: str) -> int:
    """Seconds until this user name may try to log in again from this address; 0 when it may try now."""
    return max(wait_s(LOGIN_PER_NAME, normalise(username), address), wait_s(LOGIN_PER_ADDRESS, address))


def record_failure(username: str, address: str) -> None:
    hit(LOGIN_PER_NAME, normalise(username), address)
    hit(LOGIN_PER_ADDRESS, address)


def clear(username: str, address: str) -> None:
    """After a successful log-in: that name's failures are forgiven. The address's count is not, or one valid
    account would let a sprayer reset it between guesses."""
    reset(LOGIN_PER_NAME, normalise(username), address)
