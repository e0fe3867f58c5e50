"""A run's events: numbered, logged in a Redis stream for replay, and published live in batched frames, all in one
script call.

The log is the source of truth. The channel layer is only a fast path and may drop frames (DESIGN.md §2.2):
consumers fill any gap from the log, and browsers ask for a replay when they see one.
"""

from __future__ import annotations

import json
import time
from typing import Any, cast

from django.conf import settings

from comms_lab.redis_client import redis_client, rkey

# Atomically number a batch and append it: stream ids are "0-<seq>", so order and gaplessness come from Redis.
# KEYS[3] counts every event logged by every run, for /metrics (comms_lab/metrics.py).
# ARGV: the log's TTL, a floor (the highest seq this writer already handed out for the run, 0 if it knows none),
# how much to add to KEYS[5] once the batch is logged (the engine settles a run's outstanding work with the events
# that show it done, in the same round trip; 0 and no KEYS[5] for none), then the events. A counter below the floor
# means Redis lost the run's last events (a restart losing its last second, or the keys vanished): numbering resumes
# above the floor, so no seq a page holds is ever reused, and the script returns where the counter was so the
# writer can end the run (lab/engine/sink.py). Else it returns -1.
# An event may be one of several: "?<outcome>" then each alternative on a line of its own (compact JSON has no line
# breaks). A command that ran before the script in the same transaction chose it: it left the alternative's index
# (0-based) in the run's outcomes hash KEYS[4] under <outcome>, which the script takes out.
APPEND_SCRIPT = """
local n = #ARGV - 4
local payloads, chosen = {}, {}
for i = 1, n do
  local payload = ARGV[i + 4]
  if string.sub(payload, 1, 1) == '?' then
    local lines = {}
    for line in string.gmatch(payload, '[^\\n]+') do table.insert(lines, line) end
    local outcome = string.sub(lines[1], 2)
    local pick = redis.call('HGET', KEYS[4], outcome)
    if not pick then return redis.error_reply('no outcome ' .. outcome .. ' to choose an event by') end
    payload = lines[tonumber(pick) + 2]
    table.insert(chosen, outcome)
  end
  payloads[i] = payload
end
if #chosen > 0 then redis.call('HDEL', KEYS[4], unpack(chosen)) end
local floor = tonumber(ARGV[2])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local rewound = -1
if current < floor then
  rewound = current
  redis.call('SET', KEYS[1], floor)
end
local last = redis.call('INCRBY', KEYS[1], n)
local first = last - n + 1
local numbered = {}
for i = 1, n do
  redis.call('XADD', KEYS[2], '0-' .. (first + i - 1), 'e', payloads[i])
  numbered[i] = '{"seq":' .. (first + i - 1) .. ',' .. string.sub(payloads[i], 2)
end
redis.call('EXPIRE', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[1])
redis.call('INCRBY', KEYS[3], n)
if tonumber(ARGV[3]) ~= 0 then redis.call('INCRBY', KEYS[5], ARGV[3]) end
local frame = cjson.encode('{"events":[' .. table.concat(numbered, ',') .. ']}')
local message = '{"type":"run.events","first":' .. first .. ',"last":' .. last .. ',"frame":' .. frame .. '}'
redis.call('PUBLISH', ARGV[4], message)
return {first, rewound}
"""

REPLAY_PAGE = 500


def live_channel(run_id: str) -> str:
    """The Redis pub/sub channel of the run's Channels group, where APPEND_SCRIPT publishes each batch it logs.

    channels_redis' pub/sub layer names a group's channel `<prefix>__group__<group>` and, with the JSON serializer
    (settings.CHANNEL_LAYERS), reads a message as JSON, so the message the script builds reaches every socket in the
    group as if sent with `group_send`, without a second round trip. The message is `{type: "run.events", first,
    last, frame}`: the batch's first and last seq, and `frame`, the websocket frame `{"events": [...]}` as text, so
    a socket whose page is up to `first - 1` sends it on as it is, without decoding and re-encoding its events.
    """
    return f"{settings.CHANNEL_LAYER_PREFIX}__group__{group_name(run_id)}"


def append_keys(run_id: str) -> list[str]:
    """The keys APPEND_SCRIPT writes for a run: its seq counter, its log, the global event counter, and the outcomes
    its chosen events are picked by."""
    return [rkey("run", run_id, "seq"), rkey("run", run_id, "events"), events_logged_key(), outcomes_key(run_id)]


def outcomes_key(run_id: str) -> str:
    """A run's outcomes hash: a command committed with a batch of events records here which of an event's
    alternatives to log (APPEND_SCRIPT)."""
    return rkey("run", run_id, "outcomes")


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
        args: list[str | int] = [settings.LAB_EVENT_LOG_TTL_S, 0, 0, live_channel(self.run_id), *payloads]
        first, _ = script(keys=append_keys(self.run_id), args=args)
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


def emit(run_id: str, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Log events for a run; watching browsers get them from the same script call. Safe to call from any thread."""
    now = round(time.time(), 4)
    return RunEventLog(run_id).append([{**e, "emitted_at": now} for e in events])
