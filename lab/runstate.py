"""A run's live state in Redis, as the web process sees it: config, toggles, control flags and what the page shows.

Everything lives under `<prefix>:run:<id>:...`; the engine (lab/engine/state.py) acts on the same keys, so what the
page shows is read from the place the simulated services act on.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, cast

from django.conf import settings

from comms_lab.redis_client import redis_client, rkey

# Keys the run's event log owns; they outlive the run's working state for replays.
KEPT_KEYS = ("seq", "events", "config", "meta", "topology")
# The live hash's field that counts the changes made to it since the run started (absent before the first), so an
# engine re-reads the whole hash only when it moved (lab/engine/state.py); never a knob.
LIVE_VERSION = "_"


def live_changes_channel() -> str:
    """The Redis pub/sub channel where each change to a run's live knobs is announced with the run's id: engines
    follow it and re-read a run's knobs only when told (lab/engine/interpreter.py, Engine.follow_live_changes)."""
    return rkey("lab", "live-changed")


class RunState:
    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.redis = redis_client()

    def key(self, *parts: object) -> str:
        return rkey("run", self.run_id, *parts)

    def init(
        self,
        *,
        experiment: str,
        preset: str,
        config: dict[str, Any],
        live: dict[str, Any],
        topology: dict[str, Any],
        learner: str,
        task_budget: int = 100_000,
    ) -> None:
        """Store what the engine needs: the document, the config, and every live knob's starting value."""
        ttl = settings.LAB_EVENT_LOG_TTL_S
        pipe = self.redis.pipeline(transaction=False)
        pipe.set(self.key("config"), json.dumps(config), ex=ttl)
        pipe.set(self.key("topology"), json.dumps(topology), ex=ttl)
        pipe.hset(self.key("live"), mapping={k: json.dumps(v) for k, v in live.items()} or {LIVE_VERSION: "0"})
        pipe.expire(self.key("live"), ttl)
        pipe.hset(
            self.key("meta"),
            mapping={
                "experiment": experiment,
                "preset": preset,
                "learner": learner,
                "status": "queued",
                "task_budget": task_budget,
            },
        )
        pipe.expire(self.key("meta"), ttl)
        pipe.execute()

    def params(self) -> dict[str, Any]:
        """The config with every live toggle applied."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.get(self.key("config"))
        pipe.hgetall(self.key("live"))
        raw_config, live = pipe.execute()
        params = json.loads(raw_config) if raw_config else {}
        params.update({k: json.loads(v) for k, v in live.items() if k != LIVE_VERSION})
        return params

    def set_live(self, values: dict[str, Any]) -> None:
        """Set knobs and count the change, in one transaction: an engine that sees the new count sees the values."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(self.key("live"), mapping={k: json.dumps(v) for k, v in values.items()})
        pipe.hincrby(self.key("live"), LIVE_VERSION, 1)
        pipe.publish(live_changes_channel(), self.run_id)
        pipe.execute()

    def meta(self) -> dict[str, str]:
        return cast(dict[str, str], self.redis.hgetall(self.key("meta")))

    def started_at(self) -> float:
        return float(self.redis.hget(self.key("meta"), "started_at") or time.time())

    def elapsed(self) -> float:
        """Run seconds since the run started: the time axis of every event."""
        return time.time() - self.started_at()

    def reset_call_index(self, service: str) -> None:
        self.redis.delete(self.key("calls", service), self.key("calls", f"{service}:transit"))

    def request_stop(self) -> None:
        self.redis.set(self.key("stop"), "1", ex=3600)

    def fidelity(self) -> dict[str, Any]:
        """How faithfully the run kept its model's timings: `{lag_pct, ok}` (lab/engine/state.py)."""
        from lab.engine.state import lag_figures

        return lag_figures(cast(dict[str, str], self.redis.hgetall(self.key("fidelity"))))

    def stream_end(self, link: str) -> int:
        """The offset after the newest entry of the stream's longest partition (lab/engine/constructs/streams.py
        counts each partition's next offset in its `meta` hash, beside the round-robin and global counters)."""
        ends = cast(dict[str, str], self.redis.hgetall(self.key("stream", link, "meta")))
        return max((int(v) for k, v in ends.items() if k.isdigit()), default=0)

    def dead_letters(self) -> list[dict[str, Any]]:
        return [json.loads(x) for x in self.redis.lrange(self.key("dlq"), 0, -1)]

    def forget_saved(self) -> None:
        """Drop what a saved run keeps in Redis (its log, for replays, until its TTL): no scan needed."""
        self.redis.delete(*(self.key(k) for k in KEPT_KEYS))

    def redrive(self, chosen: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
        """Put the chosen dead letters back at the end of their queues, each as a first delivery again (a stream's
        entries are only counted and returned, for their consumer group to be handed them). Each is
        counted as outstanding work before it is queued, so the run waits for it; LREM decides, so two re-drives
        at once move each message once."""
        moved = []
        for raw in cast(list[str], self.redis.lrange(self.key("dlq"), 0, -1)):
            entry = json.loads(raw)
            if not chosen(entry) or not self.redis.lrem(self.key("dlq"), 1, raw):
                continue
            message = {k: v for k, v in entry.items() if k not in ("reason", "last_error", "consumer", "last_delay_ms")}
            message.update(attempt=1, redriven=True)
            pipe = self.redis.pipeline(transaction=True)
            pipe.incrby(self.key("outstanding"), 1)
            if message.get("via") != "stream":  # a stream's entry goes straight back to its group (lab/services.py)
                pipe.rpush(self.key("q", message["queue"]), json.dumps(message, separators=(",", ":")))
            pipe.execute()
            moved.append(message)
        return moved

    def cleanup(self, *, everything: bool = False) -> None:
        """Drop the working keys once the run is saved; the event log keeps its own TTL for replays (unless
        `everything` goes, for a run whose row was deleted)."""
        kept = set() if everything else {self.key(k) for k in KEPT_KEYS}
        keys = [k for k in self.redis.scan_iter(self.key("*"), count=500) if k not in kept]
        for start in range(0, len(keys), 500):
            self.redis.delete(*keys[start : start + 500])
