"""Failure injection in the vocabulary of Toxiproxy and Chaos Mesh, applied per call to a simulated service."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Literal

Schedule = Literal["always", "first_n", "every_kth", "for_seconds"]
Crash = Literal["none", "before_ack", "after_ack"]

# How long a refused connection takes to fail: a down service answers fast, it does not hang.
CONNECT_REFUSED_MS = 5.0


@dataclass(frozen=True)
class FailureSpec:
    """What is wrong with one service right now. All fields at their defaults mean healthy."""

    down: bool = False
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    error_rate: float = 0.0
    crash: Crash = "none"
    drop_rate: float = 0.0
    duplicate_rate: float = 0.0
    reorder: bool = False
    schedule: Schedule = "always"
    schedule_n: int = 1
    schedule_since: float = 0.0  # when the schedule was (re)started, in run seconds

    @classmethod
    def from_params(cls, params: dict[str, Any], service: str) -> FailureSpec:
        """Read `<service>.<field>` keys from a run's live parameters."""
        prefix = f"{service}."
        return cls(**{f: params[prefix + f] for f in cls.__dataclass_fields__ if prefix + f in params})

    def applies(self, *, call_index: int, now: float) -> bool:
        """Whether the schedule lets this failure hit call number `call_index` (1-based) at run time `now`."""
        if self.schedule == "always":
            return True
        if self.schedule == "first_n":
            return call_index <= self.schedule_n
        if self.schedule == "every_kth":
            return call_index % max(1, self.schedule_n) == 0
        return now - self.schedule_since < self.schedule_n


@dataclass(frozen=True)
class CallFault:
    """The outcome the failure model picked for one call."""

    refused: bool = False
    error: bool = False
    drop: bool = False
    duplicate: bool = False
    crash: Crash = "none"
    extra_latency_ms: float = 0.0
    reorder_delay_ms: float = 0.0

    @property
    def fails(self) -> bool:
        return self.refused or self.error or self.drop


def decide(spec: FailureSpec, *, call_index: int, now: float, rng: random.Random) -> CallFault:
    """Roll the dice for one call. Random draws happen in a fixed order so a seed reproduces a run."""
    if not spec.applies(call_index=call_index, now=now):
        return CallFault()
    if spec.down:
        return CallFault(refused=True)
    extra = spec.latency_ms
    if spec.jitter_ms:
        extra += rng.uniform(-spec.jitter_ms, spec.jitter_ms)
    extra = max(0.0, extra)
    error = spec.error_rate > 0 and rng.random() < spec.error_rate
    drop = spec.drop_rate > 0 and rng.random() < spec.drop_rate
    duplicate = spec.duplicate_rate > 0 and rng.random() < spec.duplicate_rate
    # Reordering holds a message back by up to one extra service time, so later ones overtake it.
    reorder_delay = rng.uniform(0, 500) if spec.reorder else 0.0
    return CallFault(
        error=error,
        drop=drop,
        duplicate=duplicate,
        crash=spec.crash,
        extra_latency_ms=extra,
        reorder_delay_ms=reorder_delay,
    )


def healing(live: dict[str, Any]) -> dict[str, Any]:
    """The toggles that end every outage when a run's load ends, so what waits for a consumer drains: services
    that are down come back up and subscribers that are away subscribe again."""
    healed: dict[str, Any] = {k: False for k, v in live.items() if k.endswith(".down") and v is True}
    healed.update({k: True for k, v in live.items() if k.endswith(".subscribed") and v is False})
    return healed


def resumes_delivery(values: dict[str, Any]) -> bool:
    """Whether these toggles let held messages go out again (a consumer back up, a subscriber back, more consumers
    on a queue or more room in their prefetch buffers)."""
    return any(
        (k.endswith(".down") and v is False)
        or (k.endswith(".subscribed") and v is True)
        or k.endswith((".consumers", ".prefetch"))
        for k, v in values.items()
    )
