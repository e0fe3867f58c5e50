"""Events from the engine loop: buffered per run for a few milliseconds, then numbered, logged and published to the
run's Channels group in one script call (lab/events.py's APPEND_SCRIPT)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis
from django.conf import settings

from lab.engine.clock import Clock, RealClock
from lab.events import APPEND_SCRIPT, append_keys, live_channel

log = logging.getLogger(__name__)
FLUSH_AFTER_S = 0.01


class Committed:
    """What the commands one `commit_with_log` queued returned, once their transaction ran."""

    def __init__(self) -> None:
        self.results: list[Any] = []

    @staticmethod
    def fill(spans: list[tuple[Committed, int, int]], results: list[Any]) -> None:
        for committed, start, end in spans:
            committed.results = results[start:end]


class EventSink:
    """Owned by one event loop. `emit` never waits; `flush` waits until everything emitted so far is logged.

    The batching wait and the flush that follows are engine work on the engine's clock, so a virtual clock in the
    tests knows about them and never jumps past a batch that is still being logged.
    """

    def __init__(self, redis: aioredis.Redis, clock: Clock | None = None) -> None:
        self.redis = redis
        self.clock = clock or RealClock()
        self.script = redis.register_script(APPEND_SCRIPT)
        self.pending: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.scheduled: dict[str, asyncio.Task[None]] = {}
        self.locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        # Per run: a counter to move once everything emitted so far is logged, and by how much (net).
        self.settling: dict[str, tuple[str, int]] = {}
        # Commands that go into one transaction with the append of the events pending now (commit_with_log).
        self.atomic: dict[str, list[tuple[Callable[[Any], Any], Committed]]] = defaultdict(list)
        # The highest seq logged per run: if Redis ever numbers below it, it lost the run's last events.
        self.logged_up_to: dict[str, int] = {}
        self.on_lost_events: Callable[[str, int, int], Awaitable[Any]] | None = None

    def forget(self, run_id: str) -> None:
        self.logged_up_to.pop(run_id, None)

    def emit(self, run_id: str, event: dict[str, Any]) -> None:
        event["emitted_at"] = round(time.time(), 4)
        self.pending[run_id].append(event)
        self._schedule(run_id)

    def settle(self, run_id: str, counter: str, delta: int) -> None:
        """Add `delta` to the Redis counter `counter` once everything emitted so far for the run is logged: with the
        next batch, in the script that appends it (one counter per run)."""
        _, pending = self.settling.get(run_id, (counter, 0))
        self.settling[run_id] = (counter, pending + delta)
        self._schedule(run_id)

    def commit_with_log(self, run_id: str, add: Callable[[Any], Any]) -> Committed:
        """`add(pipeline)` queues Redis commands that run in one transaction with the logging of every event emitted
        so far. Call it right after the emit (no await between, so those events are still pending): a worker that
        dies then leaves both done or neither, never a logged outcome without, say, its acknowledgement. What those
        commands returned is in the result's `results` once the transaction ran (after the next flush)."""
        committed = Committed()
        self.atomic[run_id].append((add, committed))
        self._schedule(run_id)
        return committed

    def _schedule(self, run_id: str) -> None:
        if run_id not in self.scheduled:
            self.scheduled[run_id] = self.clock.spawn(self._flush_soon(run_id))

    async def _flush_soon(self, run_id: str) -> None:
        await self.clock.sleep(FLUSH_AFTER_S)
        self.scheduled.pop(run_id, None)
        await self.flush(run_id)

    def _transaction(
        self, atomic: list[tuple[Callable[[Any], Any], Committed]]
    ) -> tuple[Any, list[tuple[Committed, int, int]]]:
        """A transaction holding what `commit_with_log` asked for (None when nothing), and where each part's commands
        sit in it."""
        if not atomic:
            return None, []
        pipe = self.redis.pipeline(transaction=True)
        spans = []
        for add, committed in atomic:
            start = len(pipe)
            add(pipe)
            spans.append((committed, start, len(pipe)))
        return pipe, spans

    async def flush(self, run_id: str) -> None:
        async with self.locks[run_id]:
            events = self.pending.pop(run_id, [])
            counter, delta = self.settling.pop(run_id, ("", 0))
            atomic = self.atomic.pop(run_id, [])
            pipe, spans = self._transaction(atomic)
            if not events:
                if pipe is not None:
                    if delta:
                        pipe.incrby(counter, delta)
                    Committed.fill(spans, await pipe.execute())
                elif delta:
                    await self.redis.incrby(counter, delta)
                return
            payloads = [json.dumps(e, separators=(",", ":")) for e in events]
            floor = self.logged_up_to.get(run_id, 0)
            keys = [*append_keys(run_id), *([counter] if delta else [])]
            args: list[str | int] = [int(settings.LAB_EVENT_LOG_TTL_S), floor, delta, live_channel(run_id), *payloads]
            if pipe is not None:
                # EVAL with the script's text, not the Script helper: in a pipeline the helper costs a SCRIPT EXISTS
                # round trip per execute, and EVALSHA could fail inside the transaction after the other commands ran.
                pipe.eval(APPEND_SCRIPT, len(keys), *keys, *args)
                results = await pipe.execute()
                Committed.fill(spans, results)
                first, rewound = results[-1]
            else:
                first, rewound = await self.script(keys=keys, args=args)
            self.logged_up_to[run_id] = first + len(events) - 1
        if rewound >= 0 and self.on_lost_events is not None:
            log.warning("run %s: Redis lost events %d..%d; numbering resumes after them", run_id, rewound + 1, floor)
            await self.on_lost_events(run_id, rewound + 1, floor)
