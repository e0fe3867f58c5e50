"""Events from the engine loop: buffered for a few milliseconds, then numbered, logged and published to each run's
Channels group by lab/events.py's APPEND_SCRIPT, every run with something pending in one round trip."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
from django.conf import settings

from lab.engine.clock import Clock, RealClock
from lab.events import APPEND_SCRIPT, append_keys, live_channel

log = logging.getLogger(__name__)
FLUSH_AFTER_S = 0.01


class Committed:
    """What the commands one `commit_with_log` queued returned, once their transaction ran: `results` after the flush
    that carried them, and `landed`, a future of them, to wait for whichever flush does (with the clock's `until`)."""

    def __init__(self) -> None:
        self.results: list[Any] = []
        self.landed: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self.landed.add_done_callback(_retrieved)  # a failure nobody waited for is the flush's to report

    def _done(self, results: list[Any], failed: BaseException | None = None) -> None:
        self.results = results
        if failed is not None:
            self.landed.set_exception(failed)
        else:
            self.landed.set_result(results)


def _retrieved(future: asyncio.Future[list[Any]]) -> None:
    if not future.cancelled():
        future.exception()


@dataclass(frozen=True)
class _OneOf:
    """An event to be picked from `events` by the index a command committed with it leaves under `outcome`."""

    outcome: str
    events: list[dict[str, Any]]


@dataclass
class _Batch:
    """What one run has waiting to be logged: events, a counter to settle, and commands to commit with them."""

    events: list[dict[str, Any] | _OneOf] = field(default_factory=list)
    counter: str = ""
    delta: int = 0
    atomic: list[tuple[Callable[[Any], Any], Committed]] = field(default_factory=list)


class EventSink:
    """Owned by one event loop. `emit` never waits; `flush` waits until everything emitted so far is logged.

    One flush carries every run's pending batch in one round trip (a process runs many runs at once, and a round
    trip costs more than the events in it), one at a time, so a run's batches reach Redis in the order they were
    emitted. The batching wait and the flush that follows are engine work on the engine's clock, so a virtual clock
    in the tests knows about them and never jumps past a batch that is still being logged.
    """

    def __init__(self, redis: aioredis.Redis, clock: Clock | None = None) -> None:
        self.redis = redis
        self.clock = clock or RealClock()
        self.pending: dict[str, _Batch] = defaultdict(_Batch)
        self.scheduled: asyncio.Task[None] | None = None
        self.lock = asyncio.Lock()
        # The highest seq logged per run: if Redis ever numbers below it, it lost the run's last events.
        self.logged_up_to: dict[str, int] = {}
        self.on_lost_events: Callable[[str, int, int], Awaitable[Any]] | None = None

    def forget(self, run_id: str) -> None:
        self.logged_up_to.pop(run_id, None)

    def emit(self, run_id: str, event: dict[str, Any]) -> None:
        event["emitted_at"] = round(time.time(), 4)
        self.pending[run_id].events.append(event)
        self._schedule()

    def emit_one_of(self, run_id: str, outcome: str, events: list[dict[str, Any]]) -> None:
        """Log one of `events`: the one whose index a command given to `commit_with_log` with it records in the run's
        outcomes hash under `outcome` (lab/events.py's outcomes_key), in the same transaction. Call the two with no
        await between, so they leave in the same flush."""
        stamp = round(time.time(), 4)
        for event in events:
            event["emitted_at"] = stamp
        self.pending[run_id].events.append(_OneOf(outcome, events))
        self._schedule()

    def settle(self, run_id: str, counter: str, delta: int) -> None:
        """Add `delta` to the Redis counter `counter` once everything emitted so far for the run is logged: with the
        next batch, in the script that appends it (one counter per run)."""
        batch = self.pending[run_id]
        batch.counter, batch.delta = counter, batch.delta + delta
        self._schedule()

    def commit_with_log(self, run_id: str, add: Callable[[Any], Any]) -> Committed:
        """`add(pipeline)` queues Redis commands that run in one transaction with the logging of every event emitted
        so far. Call it right after the emit (no await between, so those events are still pending): a worker that
        dies then leaves both done or neither, never a logged outcome without, say, its acknowledgement. What those
        commands returned is in the result's `results` once the transaction ran (after the next flush)."""
        committed = Committed()
        self.pending[run_id].atomic.append((add, committed))
        self._schedule()
        return committed

    def _schedule(self) -> None:
        if self.scheduled is None:
            self.scheduled = self.clock.spawn(self._flush_soon())

    async def _flush_soon(self) -> None:
        await self.clock.sleep(FLUSH_AFTER_S)
        self.scheduled = None
        await self.flush()

    async def flush(self, run_id: str | None = None) -> None:
        """Log everything emitted so far, `run_id`'s included (every run's: the argument only says whose the caller
        waits for)."""
        async with self.lock:
            batches, self.pending = self.pending, defaultdict(_Batch)
            if not batches:
                return
            atomic = any(batch.atomic for batch in batches.values())
            # EVAL with the script's text, not the Script helper: in a pipeline the helper costs a SCRIPT EXISTS round
            # trip per execute, and EVALSHA could fail inside a transaction after the other commands ran.
            pipe = self.redis.pipeline(transaction=atomic)
            spans: list[tuple[Committed, int, int]] = []  # where each commit's replies will be
            appends: list[tuple[str, int, int, int]] = []  # (run, floor, events, where its append's reply is)
            for run, batch in batches.items():
                for add, committed in batch.atomic:
                    start = len(pipe)
                    add(pipe)
                    spans.append((committed, start, len(pipe)))
                if not batch.events:
                    if batch.delta:
                        pipe.incrby(batch.counter, batch.delta)
                    continue
                floor = self.logged_up_to.get(run, 0)
                keys = [*append_keys(run), *([batch.counter] if batch.delta else [])]
                args: list[str | int] = [int(settings.LAB_EVENT_LOG_TTL_S), floor, batch.delta, live_channel(run)]
                args += [_payload(event) for event in batch.events]
                appends.append((run, floor, len(batch.events), len(pipe)))
                pipe.eval(APPEND_SCRIPT, len(keys), *keys, *args)
            try:
                results = await pipe.execute()
            except BaseException as failed:  # those waiting for their commands hear of it too
                for committed, _, _ in spans:
                    committed._done([], failed)
                raise
            for committed, start, end in spans:
                committed._done(results[start:end])
            lost: list[tuple[str, int, int]] = []
            for run, floor, count, at in appends:
                first, rewound = results[at]
                self.logged_up_to[run] = first + count - 1
                if rewound >= 0:
                    lost.append((run, rewound + 1, floor))
        for run, first, last in lost:
            log.warning("run %s: Redis lost events %d..%d; numbering resumes after them", run, first, last)
            if self.on_lost_events is not None:
                await self.on_lost_events(run, first, last)


def _payload(event: dict[str, Any] | _OneOf) -> str:
    """An event as APPEND_SCRIPT takes it: compact JSON, or its alternatives under the outcome that picks one."""
    if isinstance(event, _OneOf):
        return "\n".join(["?" + event.outcome, *(_payload(e) for e in event.events)])
    return json.dumps(event, separators=(",", ":"))
