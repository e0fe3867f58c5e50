"""A run's events: numbered, logged in a Redis stream for replay, and pushed live in batched frames.

The log is the source of truth. The channel layer is only a fast path and may drop frames (DESIGN.md §2.2):
consumers fill any gap from the log, and browsers ask for a replay when they see one.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections import defaultdict
from typing import Any, cast

from channels.layers import get_channel_layer
from django.conf import settings

from comms_lab.redis_client import redis_client, rkey

# Atomically number a batch and append it: stream ids are "0-<seq>", so order and gaplessness come from Redis.
# KEYS[3] counts every event logged by every run, for /metrics (comms_lab/metrics.py).
# ARGV: the log's TTL, a floor (the highest seq this writer already handed out for the run, 0 if it knows none),
# how much to add to KEYS[4] once the batch is logged (the engine settles a run's outstanding work with the events
# that show it done, in the same round trip; 0 and no KEYS[4] for none), then the events. A counter below the floor
# means Redis lost the run's last events (a restart losing its last second, or the keys vanished): numbering resumes
# above the floor, so no seq a page holds is ever reused, and the script returns where the counter was so the
# writer can end the run (lab/engine/sink.py). Else it returns -1.
APPEND_SCRIPT = """
local floor = tonumber(ARGV[2])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local rewound = -1
if current < floor then
  rewound = current
  redis.call('SET', KEYS[1], floor)
end
local n = #ARGV - 3
local last = redis.call('INCRBY', KEYS[1], n)
local first = last - n + 1
for i = 1, n do
  redis.call('XADD', KEYS[2], '0-' .. (first + i - 1), 'e', ARGV[i + 3])
end
redis.call('EXPIRE', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[1])
redis.call('INCRBY', KEYS[3], n)
if tonumber(ARGV[3]) ~= 0 then redis.call('INCRBY', KEYS[4], ARGV[3]) end
return {first, rewound}
"""

log = logging.getLogger(__name__)
REPLAY_PAGE = 500
PUSH_INTERVAL_S = 0.05


def append_keys(run_id: str) -> list[str]:
    """The keys APPEND_SCRIPT writes for a run: its seq counter, its log, and the global event counter."""
    return [rkey("run", run_id, "seq"), rkey("run", run_id, "events"), events_logged_key()]


def events_logged_key() -> str:
    return rkey("lab", "events_logged")


def group_name(run_id: str) -> str:
    return f"run.{run_id}"


class RunEventLog:
    """The replayable, gapless log of one run."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.seq_key = rkey("run", run_id, "seq")
        self.stream_key = rkey("run", run_id, "events")

    def append(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Give each event the next `seq` and log it; returns the events with their numbers."""
        if not events:
            return []
        payloads = [json.dumps(e, separators=(",", ":")) for e in events]
        script = redis_client().register_script(APPEND_SCRIPT)
        first, _ = script(keys=append_keys(self.run_id), args=[settings.LAB_EVENT_LOG_TTL_S, 0, 0, *payloads])
        return [{"seq": first + i, **e} for i, e in enumerate(events)]

    def after(self, seq: int, *, limit: int | None = None) -> list[dict[str, Any]]:
        """Every logged event with a number above `seq`, in order."""
        rows = cast(
            list[tuple[str, dict[str, str]]],
            redis_client().xrange(self.stream_key, min=f"0-{seq + 1}", max="+", count=limit),
        )
        return [{"seq": int(entry_id.split("-")[1]), **json.loads(fields["e"])} for entry_id, fields in rows]

    def last_seq(self) -> int:
        return int(redis_client().get(self.seq_key) or 0)

    def keep_for(self, seconds: int) -> None:
        """Shorten the log's life in Redis (never lengthen it)."""
        ttl = min(seconds, settings.LAB_EVENT_LOG_TTL_S)
        pipe = redis_client().pipeline(transaction=False)
        pipe.expire(self.seq_key, ttl)
        pipe.expire(self.stream_key, ttl)
        pipe.execute()

    def delete(self) -> None:
        redis_client().delete(self.seq_key, self.stream_key)


class LivePusher:
    """One background thread with its own event loop sends each run's new events as one frame per ~50 ms.

    Calling `group_send` per event from worker threads would cost a new loop and connection each time. Threads
    hand events over with `call_soon_threadsafe`, so nothing ever blocks a thread the interpreter must join.
    """

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._inbox: asyncio.Queue[tuple[str, list[dict[str, Any]]]] = asyncio.Queue()
        self._thread = threading.Thread(
            target=self._loop.run_until_complete, args=(self._send_forever(),), name="lab-live-pusher", daemon=True
        )
        self._thread.start()

    def push(self, run_id: str, events: list[dict[str, Any]]) -> None:
        self._loop.call_soon_threadsafe(self._inbox.put_nowait, (run_id, events))

    async def _send_forever(self) -> None:
        layer = get_channel_layer()
        while True:
            pending: dict[str, list[dict[str, Any]]] = defaultdict(list)
            run_id, events = await self._inbox.get()
            pending[run_id] += events
            await asyncio.sleep(PUSH_INTERVAL_S)
            while not self._inbox.empty():
                run_id, events = self._inbox.get_nowait()
                pending[run_id] += events
            for run_id, batch in pending.items():
                try:
                    await layer.group_send(group_name(run_id), {"type": "run.events", "events": batch})
                except Exception:  # the log has the events; consumers fill the gap from it
                    log.warning("live push to run %s failed", run_id, exc_info=True)


_pusher: LivePusher | None = None
_pusher_lock = threading.Lock()


def _live_pusher() -> LivePusher:
    global _pusher
    with _pusher_lock:
        if _pusher is None:
            _pusher = LivePusher()
        return _pusher


def emit(run_id: str, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Log events for a run and push them to watching browsers. Safe to call from any thread."""
    now = round(time.time(), 4)
    logged = RunEventLog(run_id).append([{**e, "emitted_at": now} for e in events])
    _live_pusher().push(run_id, logged)
    return logged
