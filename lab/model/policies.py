"""Resilience policies named as in resilience4j and Polly: timeout, retry, circuit breaker, bulkhead."""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

Backoff = Literal["constant", "linear", "exponential"]
Jitter = Literal["none", "full", "equal", "decorrelated"]
BreakerState = Literal["CLOSED", "OPEN", "HALF_OPEN"]


@dataclass(frozen=True)
class RetryPolicy:
    """`max_attempts` counts the first try, as resilience4j's `maxAttempts` does."""

    max_attempts: int = 3
    delay_ms: float = 100.0
    backoff: Backoff = "exponential"
    multiplier: float = 2.0
    jitter: Jitter = "none"
    max_delay_ms: float = 2000.0

    def base_delay_ms(self, retry_number: int) -> float:
        """Delay before retry `retry_number` (1 for the first retry), before jitter, capped at max_delay_ms."""
        if self.backoff == "constant":
            delay = self.delay_ms
        elif self.backoff == "linear":
            delay = self.delay_ms * retry_number
        else:
            delay = self.delay_ms * self.multiplier ** (retry_number - 1)
        return min(delay, self.max_delay_ms)

    def delay_for(self, retry_number: int, rng: random.Random, previous_ms: float | None = None) -> float:
        """The countdown to use, with jitter as in the AWS Architecture Blog's "Exponential Backoff and Jitter"."""
        base = self.base_delay_ms(retry_number)
        if self.jitter == "full":
            return rng.uniform(0, base)
        if self.jitter == "equal":
            return base / 2 + rng.uniform(0, base / 2)
        if self.jitter == "decorrelated":
            previous = previous_ms if previous_ms is not None else self.delay_ms
            return min(self.max_delay_ms, rng.uniform(self.delay_ms, previous * 3))
        return base

    def should_retry(self, attempt: int) -> bool:
        """`attempt` is the 1-based number of the attempt that just failed."""
        return attempt < self.max_attempts


@dataclass(frozen=True)
class BreakerConfig:
    """resilience4j CircuitBreakerConfig knobs, plus a consecutive-failures mode (Polly's classic breaker)."""

    mode: Literal["rate", "consecutive"] = "rate"
    sliding_window_type: Literal["count", "time"] = "count"
    sliding_window_size: int = 20  # calls (count) or seconds (time)
    failure_rate_threshold: float = 50.0  # percent
    minimum_number_of_calls: int = 10
    slow_call_duration_threshold_ms: float = 1000.0
    slow_call_rate_threshold: float = 100.0  # percent; 100 means slowness alone never opens it
    wait_duration_in_open_state_ms: float = 5000.0
    permitted_number_of_calls_in_half_open_state: int = 3
    consecutive_failures: int = 5


@dataclass
class CircuitBreaker:
    """A breaker's state machine. Time is passed in (seconds), so tests drive it exactly.

    Serialisable with `to_dict`/`from_dict` so the runtime can keep the real state in Redis, shared by every
    worker thread and process that calls the protected service.
    """

    config: BreakerConfig
    state: BreakerState = "CLOSED"
    opened_at: float = 0.0
    window: deque[tuple[float, bool, bool]] = field(default_factory=deque)  # (at, failed, slow)
    half_open_issued: int = 0
    half_open_results: list[tuple[bool, bool]] = field(default_factory=list)
    consecutive: int = 0
    transitions: list[dict[str, Any]] = field(default_factory=list)

    def allow(self, now: float) -> bool:
        """May a call go through at `now`? OPEN short-circuits until the wait is over, then trial calls pass."""
        if self.state == "OPEN":
            if (now - self.opened_at) * 1000 < self.config.wait_duration_in_open_state_ms:
                return False
            self._move("HALF_OPEN", now, "wait in open state elapsed")
        if self.state == "HALF_OPEN":
            if self.half_open_issued >= self.config.permitted_number_of_calls_in_half_open_state:
                return False
            self.half_open_issued += 1
        return True

    def record(self, now: float, *, success: bool, duration_ms: float) -> None:
        """Record the outcome of a call that `allow` let through."""
        failed = not success
        slow = duration_ms >= self.config.slow_call_duration_threshold_ms
        if self.state == "HALF_OPEN":
            self.half_open_results.append((failed, slow))
            if len(self.half_open_results) >= self.config.permitted_number_of_calls_in_half_open_state:
                if self._tripped(self.half_open_results):
                    self._move("OPEN", now, "trial calls failed")
                else:
                    self._move("CLOSED", now, "trial calls succeeded")
            return
        if self.state != "CLOSED":
            return
        if self.config.mode == "consecutive":
            self.consecutive = self.consecutive + 1 if failed else 0
            if self.consecutive >= self.config.consecutive_failures:
                self._move("OPEN", now, f"{self.consecutive} consecutive failures")
            return
        self.window.append((now, failed, slow))
        self._trim(now)
        if len(self.window) >= self.config.minimum_number_of_calls:
            outcomes = [(f, s) for _, f, s in self.window]
            if self._tripped(outcomes):
                rate = self.failure_rate(outcomes)
                self._move("OPEN", now, f"failure rate {rate:.0f}% ≥ {self.config.failure_rate_threshold:g}%")

    @staticmethod
    def failure_rate(outcomes: list[tuple[bool, bool]]) -> float:
        return 100.0 * sum(f for f, _ in outcomes) / len(outcomes) if outcomes else 0.0

    def _tripped(self, outcomes: list[tuple[bool, bool]]) -> bool:
        slow_rate = 100.0 * sum(s for _, s in outcomes) / len(outcomes)
        return (
            self.failure_rate(outcomes) >= self.config.failure_rate_threshold
            or slow_rate >= self.config.slow_call_rate_threshold
        )

    def _trim(self, now: float) -> None:
        if self.config.sliding_window_type == "count":
            while len(self.window) > self.config.sliding_window_size:
                self.window.popleft()
        else:
            while self.window and now - self.window[0][0] >= self.config.sliding_window_size:
                self.window.popleft()

    def _move(self, to: BreakerState, now: float, reason: str) -> None:
        self.transitions.append({"from": self.state, "to": to, "at": round(now, 3), "reason": reason})
        self.state = to
        self.window.clear()
        self.consecutive = 0
        self.half_open_issued = 0
        self.half_open_results = []
        if to == "OPEN":
            self.opened_at = now

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "opened_at": self.opened_at,
            "window": list(self.window),
            "half_open_issued": self.half_open_issued,
            "half_open_results": self.half_open_results,
            "consecutive": self.consecutive,
        }

    @classmethod
    def from_dict(cls, config: BreakerConfig, data: dict[str, Any] | None) -> CircuitBreaker:
        if not data:
            return cls(config=config)
        return cls(
            config=config,
            state=data["state"],
            opened_at=data["opened_at"],
            window=deque(tuple(w) for w in data["window"]),
            half_open_issued=data["half_open_issued"],
            half_open_results=[tuple(r) for r in data["half_open_results"]],
            consecutive=data["consecutive"],
        )


@dataclass(frozen=True)
class Bulkhead:
    """Bounded concurrency: at most `max_concurrent` calls in flight through one compartment."""

    max_concurrent: int

    def admits(self, in_flight: int) -> bool:
        return in_flight < self.max_concurrent
