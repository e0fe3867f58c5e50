"""A run's live state in Redis, shared by the web process and every worker thread and process.

Config, live toggles, counters, pools, breakers and dead letters all live under `<prefix>:run:<id>:...`, so
what the page shows is read from the same place the simulated services act on.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings

from comms_lab.redis_client import redis_client, rkey
from lab.model.policies import BreakerConfig, CircuitBreaker

# Take a pool slot if fewer than ARGV[2] leases are live; a lease ends at its score (epoch seconds).
_ACQUIRE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
  redis.call('EXPIRE', KEYS[1], ARGV[5])
  return 1
end
return 0
"""
LEASE_MAX_S = 120


def queue_name(run_id: str, service: str) -> str:
    """The Celery queue an asynchronous service of this run consumes."""
    return f"{settings.REDIS_KEY_PREFIX}.lab.{run_id}.{service}"


def queue_key(run_id: str, service: str) -> str:
    """The Redis list kombu keeps that queue's waiting messages in."""
    return f"{settings.REDIS_KEY_PREFIX}:{queue_name(run_id, service)}"


class RunState:
    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.redis = redis_client()

    def key(self, *parts: object) -> str:
        return rkey("run", self.run_id, *parts)

    # Config and live parameters
    def init(self, *, experiment: str, preset: str, config: dict[str, Any], learner: str) -> None:
        ttl = settings.LAB_EVENT_LOG_TTL_S
        pipe = self.redis.pipeline()
        pipe.set(self.key("config"), json.dumps(config), ex=ttl)
        pipe.hset(
            self.key("meta"),
            mapping={"experiment": experiment, "preset": preset, "learner": learner, "status": "queued"},
        )
        pipe.expire(self.key("meta"), ttl)
        pipe.execute()

    def config(self) -> dict[str, Any]:
        raw = self.redis.get(self.key("config"))
        if raw is None:
            raise LookupError(f"run {self.run_id} has no live state")
        return json.loads(raw)

    def params(self) -> dict[str, Any]:
        """The config with every live toggle applied: what a service reads at each step."""
        return self.snapshot()[0]

    def snapshot(self) -> tuple[dict[str, Any], float]:
        """Live parameters and the run's start time, in one round trip."""
        pipe = self.redis.pipeline()
        pipe.get(self.key("config"))
        pipe.hgetall(self.key("live"))
        pipe.hget(self.key("meta"), "started_at")
        raw_config, live, started_at = pipe.execute()
        params = json.loads(raw_config) if raw_config else {}
        params.update({k: json.loads(v) for k, v in live.items()})
        return params, float(started_at) if started_at else time.time()

    def set_live(self, values: dict[str, Any]) -> None:
        pipe = self.redis.pipeline()
        pipe.hset(self.key("live"), mapping={k: json.dumps(v) for k, v in values.items()})
        pipe.expire(self.key("live"), settings.LAB_EVENT_LOG_TTL_S)
        pipe.execute()

    def meta(self) -> dict[str, str]:
        return self.redis.hgetall(self.key("meta"))

    def set_meta(self, **values: object) -> None:
        self.redis.hset(self.key("meta"), mapping={k: str(v) for k, v in values.items()})

    def started_at(self) -> float:
        return float(self.redis.hget(self.key("meta"), "started_at") or time.time())

    def elapsed(self) -> float:
        """Run seconds since the run started: the time axis of every event."""
        return time.time() - self.started_at()

    # Counters
    def next_call_index(self, service: str) -> int:
        return int(self.redis.incr(self.key("calls", service)))

    def reset_call_index(self, service: str) -> None:
        self.redis.delete(self.key("calls", service))

    def add_outstanding(self, delta: int) -> int:
        return int(self.redis.incrby(self.key("outstanding"), delta))

    def outstanding(self) -> int:
        return int(self.redis.get(self.key("outstanding")) or 0)

    # Idempotent consumers
    def mark_processed(self, service: str, message_id: str) -> bool:
        """Record a message as processed by a service; False when it already was (a duplicate)."""
        return bool(self.redis.sadd(self.key("processed", service), message_id))

    # Dead letters
    def dead_letter(self, envelope: dict[str, Any], reason: str) -> None:
        self.redis.rpush(self.key("dlq"), json.dumps({**envelope, "reason": reason}))

    def dead_letters(self) -> list[dict[str, Any]]:
        return [json.loads(x) for x in self.redis.lrange(self.key("dlq"), 0, -1)]

    # Bounded pools (thread pools and bulkheads), as leases that end at a known time
    def acquire(self, pool: str, size: int, holder: str, *, until: float | None = None) -> bool:
        now = time.time()
        script = self.redis.register_script(_ACQUIRE)
        ends = until if until is not None else now + LEASE_MAX_S
        return bool(script(keys=[self.key("pool", pool)], args=[now, size, ends, holder, LEASE_MAX_S]))

    def release(self, pool: str, holder: str, *, at: float | None = None) -> None:
        """End a lease now, or later when the work goes on after the caller stopped waiting."""
        if at is None:
            self.redis.zrem(self.key("pool", pool), holder)
        else:
            self.redis.zadd(self.key("pool", pool), {holder: at}, xx=True)

    def pool_usage(self, pools: list[str]) -> dict[str, int]:
        now = time.time()
        pipe = self.redis.pipeline()
        for pool in pools:
            pipe.zcount(self.key("pool", pool), f"({now}", "+inf")
        return dict(zip(pools, (int(n) for n in pipe.execute()), strict=True))

    def queue_depths(self, services: list[str]) -> dict[str, int]:
        pipe = self.redis.pipeline()
        for service in services:
            pipe.llen(queue_key(self.run_id, service))
        return dict(zip(services, (int(n) for n in pipe.execute()), strict=True))

    # Circuit breakers
    @contextmanager
    def breaker(self, target: str, config: BreakerConfig) -> Iterator[CircuitBreaker]:
        """Load a breaker under a lock, let the caller drive it, then save it: one state for all workers."""
        with self.redis.lock(self.key("breaker", target, "lock"), timeout=5, blocking_timeout=5):
            raw = self.redis.get(self.key("breaker", target))
            breaker = CircuitBreaker.from_dict(config, json.loads(raw) if raw else None)
            yield breaker
            self.redis.set(self.key("breaker", target), json.dumps(breaker.to_dict()), ex=LEASE_MAX_S * 30)

    def breaker_state(self, target: str) -> str:
        raw = self.redis.get(self.key("breaker", target))
        return json.loads(raw)["state"] if raw else "CLOSED"

    # Control
    def request_stop(self) -> None:
        self.redis.set(self.key("stop"), "1", ex=3600)

    def stop_requested(self) -> bool:
        return bool(self.redis.exists(self.key("stop")))

    def cleanup(self, services: list[str]) -> None:
        """Drop the working keys once the run is saved; the event log keeps its own TTL for replays."""
        keys = [self.key(k) for k in ("live", "outstanding", "stop", "dlq")]
        keys += [self.key("calls", s) for s in services] + [self.key("processed", s) for s in services]
        keys += [queue_key(self.run_id, s) for s in services]
        keys += list(self.redis.scan_iter(self.key("pool", "*"))) + list(self.redis.scan_iter(self.key("breaker", "*")))
        self.redis.delete(*keys)
