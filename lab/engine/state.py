"""A run's working state in Redis, as the engine uses it: parameters, counters, queues, pools and breakers."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, cast

import redis.asyncio as aioredis

from comms_lab.redis_client import rkey
from lab.engine.clock import Clock, RealClock
from lab.model.policies import BreakerConfig, CircuitBreaker
from lab.runstate import LIVE_VERSION, live_changes_channel

# Keeps a pool's exact full time in its clock hash KEYS[2] (since: when every thread was last taken; total: seconds
# full before that; size: the pool's size at the last take), after its leases KEYS[1] changed at ARGV[1].
POOL_CLOCK = """
local function keep_full_time(leases, clock, now, size, ttl)
  local full = redis.call('ZCARD', leases) >= size
  local since = redis.call('HGET', clock, 'since')
  if full and not since then
    redis.call('HSET', clock, 'since', now)
  elseif since and not full then
    redis.call('HINCRBYFLOAT', clock, 'total', tonumber(now) - tonumber(since))
    redis.call('HDEL', clock, 'since')
  end
  redis.call('HSET', clock, 'size', size)
  redis.call('EXPIRE', clock, ttl)
end
"""
# Take a pool slot if fewer than ARGV[2] leases are live; a lease ends at its score (epoch seconds). ARGV: now, size,
# the lease's end, holder, the leases' ttl, the clock's ttl.
ACQUIRE = (
    POOL_CLOCK
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local took = 0
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
  redis.call('EXPIRE', KEYS[1], ARGV[5])
  took = 1
end
keep_full_time(KEYS[1], KEYS[2], ARGV[1], tonumber(ARGV[2]), ARGV[6])
return took
"""
)
# Give back holder ARGV[2]'s slot at ARGV[1], the pool's size as its last take saw it; ARGV[3]: the clock's ttl.
RELEASE = (
    POOL_CLOCK
    + """
redis.call('ZREM', KEYS[1], ARGV[2])
local size = redis.call('HGET', KEYS[2], 'size')
if size then keep_full_time(KEYS[1], KEYS[2], ARGV[1], tonumber(size), ARGV[3]) end
"""
)
# Competing consumers, as a broker with per-consumer prefetch runs them, for several queues of a run in one call.
# Each consumer i (1-based) has a prefetch buffer (a list) and is busy with at most one message at a time. Unless
# the consumer service is down: consumers removed since the last call hand their prefetched messages back to the
# front of the queue; waiting messages are pushed one at a time into the next buffer with room (prefetch minus
# buffered minus busy), round-robin from the consumer after the last one served; every idle consumer starts the head
# of its buffer. Nothing moves either while, for a topic subscription, its subscriber is away. A message started is
# in transit to its consumer through the broker: the unacked ledger (a field per consumer) holds it from now,
# claimed by no engine yet and stamped with the time ARGV[2], so a delivery lost with a worker is never lost with
# it. A publish rides on the same call: a queue's messages to push are pushed onto it first and counted as the
# run's outstanding work (KEYS[2]).
# KEYS: the run's live knobs, outstanding count and broker deliveries count (its task budget's), then per queue
# its list, busy hash, consumers-seen, turn and unacked ledger. ARGV: ttl, now, then per queue: consumers knob,
# prefetch knob, consumers and prefetch without a knob, the down knob, the buffers' key prefix, the subscribed knob
# ('' for none), how many messages to push, and those messages.
# Returns per queue [tasks, waiting, consumer, message, consumer, message, ...]: the messages to start now, each
# with its consumer, after the run's count of broker deliveries (0 when none started) and what is left waiting: a
# string of '1'/'0', the queue's first then each consumer's buffer's, whether messages wait there ('' when nothing
# moved: held while the consumer is down or its subscriber away).
DISPATCH = """
local ttl, since = ARGV[1], tonumber(ARGV[2])
local results, a = {}, 3
for h = 0, (#KEYS - 3) / 5 - 1 do
  local k = 3 + 5 * h
  local queue, busy, seen_key, turn_key, unacked = KEYS[k + 1], KEYS[k + 2], KEYS[k + 3], KEYS[k + 4], KEYS[k + 5]
  local n_knob, p_knob, n_default, p_default = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3]
  local down, prefix, subscribed, pushing = ARGV[a + 4], ARGV[a + 5], ARGV[a + 6], tonumber(ARGV[a + 7])
  if pushing > 0 then
    for j = a + 8, a + 7 + pushing do redis.call('RPUSH', queue, ARGV[j]) end
    redis.call('INCRBY', KEYS[2], pushing)
  end
  a = a + 8 + pushing
  local away = subscribed ~= '' and redis.call('HGET', KEYS[1], subscribed) == 'false'
  if away or redis.call('HGET', KEYS[1], down) == 'true' then
    table.insert(results, {0, ''})
  else
    local n = tonumber(redis.call('HGET', KEYS[1], n_knob) or n_default)
    local p = tonumber(redis.call('HGET', KEYS[1], p_knob) or p_default)
    local seen = tonumber(redis.call('GET', seen_key) or '0')
    for i = seen, n + 1, -1 do
      local m = redis.call('RPOP', prefix .. i)
      while m do
        redis.call('LPUSH', queue, m)
        m = redis.call('RPOP', prefix .. i)
      end
    end
    if n > seen then redis.call('SET', seen_key, n, 'EX', ttl) end
    local held, in_hand = {}, {}
    for i = 1, n do
      held[i] = redis.call('LLEN', prefix .. i)
      in_hand[i] = redis.call('HEXISTS', busy, i)
    end
    local turn = tonumber(redis.call('GET', turn_key) or '0')
    local queue_empty, placing = false, n > 0
    while placing do
      placing = false
      for step = 1, n do
        local i = (turn + step - 1) % n + 1
        if held[i] + in_hand[i] < p then
          local m = redis.call('LPOP', queue)
          if not m then queue_empty = true break end
          redis.call('RPUSH', prefix .. i, m)
          redis.call('EXPIRE', prefix .. i, ttl)
          held[i] = held[i] + 1
          turn = i
          placing = true
          break
        end
      end
    end
    redis.call('SET', turn_key, turn, 'EX', ttl)
    local out = {}
    for i = 1, n do
      if in_hand[i] == 0 and held[i] > 0 then
        local m = redis.call('LPOP', prefix .. i)
        held[i] = held[i] - 1
        redis.call('HSET', busy, i, 1)
        local id = cjson.decode(m).message_id
        redis.call('HSET', unacked, i, cjson.encode({id = id, engine = '', since = since, env = m}))
        table.insert(out, i)
        table.insert(out, m)
      end
    end
    redis.call('EXPIRE', busy, ttl)
    redis.call('EXPIRE', unacked, ttl)
    local waiting = {(not queue_empty and redis.call('LLEN', queue) > 0) and '1' or '0'}
    for i = 1, n do waiting[i + 1] = held[i] > 0 and '1' or '0' end
    table.insert(out, 1, table.concat(waiting))
    table.insert(out, 1, #out > 1 and redis.call('INCRBY', KEYS[3], (#out - 1) / 2) or 0)
    table.insert(results, out)
  end
end
return results
"""
# Deliveries reached their consumers' engine (the last ARGV): of n deliveries, for each ledger KEYS[i] it claims
# consumer ARGV[2i-1]'s entry if that entry is message ARGV[2i] still in transit. Returns, per delivery, 1 when
# claimed (0 when someone else claimed it, or the watchdog took it back as lost in transit), then per delivery the
# version (field ARGV[#ARGV-1]) of its run's live knobs KEYS[n+i] ('' when none), so a claim doubles as a refresh.
CLAIM_DELIVERIES = """
local n = #KEYS / 2
local engine = ARGV[#ARGV]
local out = {}
for i = 1, n do
  out[i] = 0
  local raw = redis.call('HGET', KEYS[i], ARGV[2 * i - 1])
  if raw then
    local entry = cjson.decode(raw)
    if entry.id == ARGV[2 * i] and entry.engine == '' then
      entry.engine = engine
      redis.call('HSET', KEYS[i], ARGV[2 * i - 1], cjson.encode(entry))
      out[i] = 1
    end
  end
  out[n + i] = redis.call('HGET', KEYS[n + i], ARGV[#ARGV - 1]) or ''
end
return out
"""
# Remove ledger entry ARGV[1] only if it is still exactly ARGV[2] (nobody claimed or finished it meanwhile).
TAKE_BACK = """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('HDEL', KEYS[1], ARGV[1]) end
return 0
"""
# The whole live hash, unless its version field (ARGV[1]) still reads ARGV[2] ('' for absent): then nothing.
LIVE_IF_CHANGED = """
if (redis.call('HGET', KEYS[1], ARGV[1]) or '') == ARGV[2] then return false end
return redis.call('HGETALL', KEYS[1])
"""
LEASE_MAX_S = 120
# Above this much lateness (simulated waits that ended late, as a share of all simulated waiting) a run's
# timings no longer match its model: the page says so and lab-graded questions do not grade it.
FIDELITY_LIMIT_PCT = 5.0
WORKING_TTL_S = 3600


@dataclass(eq=False)
class Waiter:
    """A caller in a pool's line; `call` wakes it to ask for a thread now."""

    called: bool = False
    wake: asyncio.Task[Any] | None = None

    def call(self) -> None:
        self.called = True
        if self.wake is not None:
            self.wake.cancel()


class PoolLine:
    """This process's callers waiting for a thread of one pool, first come first served. A thread given back goes
    to the longest waiter, as a real pool's task queue hands it on; were every waiter to look on its own schedule,
    whoever looked first would win, and a few ms of lag under load would change who waits and who fails."""

    def __init__(self) -> None:
        self.waiters: deque[Waiter] = deque()

    def __bool__(self) -> bool:
        return bool(self.waiters)

    @property
    def head(self) -> Waiter | None:
        return self.waiters[0] if self.waiters else None

    def append(self, waiter: Waiter) -> None:
        self.waiters.append(waiter)

    def leave(self, waiter: Waiter) -> None:
        """`waiter` got its thread or gave up; if it was first, the next in line asks now."""
        was_head = self.head is waiter
        self.waiters.remove(waiter)
        if was_head:
            self.call_next()

    def call_next(self) -> None:
        if self.waiters:
            self.waiters[0].call()


# Per queue, its ledger of messages in flight (consumer: raw entry); and the run's backoffs (token: raw entry).
InFlight = tuple[dict[str, dict[str, str]], dict[str, str]]


class EngineState:
    """One run's keys, through the engine loop's asyncio Redis client."""

    def __init__(self, run_id: str, redis: aioredis.Redis, clock: Clock | None = None) -> None:
        self.run_id = run_id
        self.redis = redis
        self.clock = clock or RealClock()  # pools' leases and full time, on the engine's clock
        self.acquire_script = redis.register_script(ACQUIRE)
        self.release_script = redis.register_script(RELEASE)
        self.dispatch_script = redis.register_script(DISPATCH)
        self.claim_script = redis.register_script(CLAIM_DELIVERIES)
        self.take_back_script = redis.register_script(TAKE_BACK)
        self.live_if_changed_script = redis.register_script(LIVE_IF_CHANGED)
        # Per queue, what the last hand-out or acknowledgement here saw waiting: {0: on the queue, i: in consumer
        # i's prefetch buffer}; no entry when this engine cannot tell (see `may_be_waiting`).
        self.waiting: dict[str, dict[int, bool]] = {}
        self.lines: dict[str, PoolLine] = defaultdict(PoolLine)

    def key(self, *parts: object) -> str:
        return rkey("run", self.run_id, *parts)

    async def load(self) -> tuple[dict[str, Any], dict[str, Any], float, dict[str, str]]:
        """Document, parameters, start time and meta, in one round trip."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.get(self.key("topology"))
        pipe.get(self.key("config"))
        pipe.hgetall(self.key("live"))
        pipe.hgetall(self.key("meta"))
        raw_topology, raw_config, live, meta = await pipe.execute()
        if raw_topology is None or raw_config is None:
            raise LookupError(f"run {self.run_id} has no live state")
        params = json.loads(raw_config)
        params.update({k: json.loads(v) for k, v in live.items() if k != LIVE_VERSION})
        started = float(meta["started_at"]) if meta.get("started_at") else time.time()
        return json.loads(raw_topology), params, started, meta

    async def live_params(self) -> dict[str, Any]:
        live = cast(dict[str, str], await self.redis.hgetall(self.key("live")))
        return {k: json.loads(v) for k, v in live.items() if k != LIVE_VERSION}

    async def live_params_since(self, version: str | None) -> tuple[str | None, dict[str, Any]] | None:
        """The live knobs and their version when it is no longer `version` (None: as the run started), else None:
        a run's live hash holds every knob, so re-reading it whole on every look costs more than the rest of a hop."""
        raw = await self.live_if_changed_script(keys=[self.key("live")], args=[LIVE_VERSION, version or ""])
        if not raw:
            return None
        live = dict(zip(raw[::2], raw[1::2], strict=True))
        return live.get(LIVE_VERSION), {k: json.loads(v) for k, v in live.items() if k != LIVE_VERSION}

    async def set_live(self, values: dict[str, Any]) -> None:
        """As lab/runstate.py's RunState.set_live: the knobs and their version move together."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(self.key("live"), mapping={k: json.dumps(v) for k, v in values.items()})
        pipe.hincrby(self.key("live"), LIVE_VERSION, 1)
        pipe.publish(live_changes_channel(), self.run_id)
        await pipe.execute()

    async def set_meta(self, **values: object) -> None:
        await self.redis.hset(self.key("meta"), mapping={k: str(v) for k, v in values.items()})

    async def interrupt(self, reason: str) -> None:
        """Ask the driver to end the run `interrupted`, with this reason for the learner."""
        await self.redis.set(self.key("interrupted"), reason, ex=3600)

    async def interrupted_because(self) -> str | None:
        return cast(str | None, await self.redis.get(self.key("interrupted")))

    async def next_call_index(self, service: str) -> int:
        return int(await self.redis.incr(self.key("calls", service)))

    async def add_outstanding(self, delta: int) -> int:
        return int(await self.redis.incrby(self.key("outstanding"), delta))

    async def outstanding(self) -> int:
        return int(await self.redis.get(self.key("outstanding")) or 0)

    def adding_lag(self, pipe: Any, *, planned_s: float, late_s: float) -> None:
        """Queue on `pipe`: simulated waiting asked for and how much later than asked it ended, added up per run."""
        pipe.hincrbyfloat(self.key("fidelity"), "planned_s", planned_s)
        pipe.hincrbyfloat(self.key("fidelity"), "late_s", late_s)

    def processed_key(self, service: str) -> str:
        """The set of the message ids a service has processed (its duplicates show as ids already there)."""
        return self.key("processed", service)

    async def mark_processed(self, service: str, message_id: str) -> bool:
        """Record a message as processed by a service; False when it already was (a duplicate)."""
        return bool(await self.redis.sadd(self.processed_key(service), message_id))

    # Queues: waiting messages are a real Redis list per queue; taken ones count against the consumers' capacity
    async def enqueue(self, queue: str, message: dict[str, Any], *, front: bool = False) -> None:
        self.waiting.pop(queue, None)
        payload = json.dumps(message, separators=(",", ":"))
        if front:
            await self.redis.lpush(self.key("q", queue), payload)
        else:
            await self.redis.rpush(self.key("q", queue), payload)

    async def take(self, handing: Sequence[Handing]) -> list[tuple[list[tuple[int, dict[str, Any]]], int]]:
        """Per queue handed to: the messages to start now, each with the consumer (1-based) that takes it, and the
        run's broker deliveries so far (these included); every queue in one call of DISPATCH, atomic as a whole."""
        keys = [self.key("live"), self.key("outstanding"), self.key("tasks")]
        args: list[str | int | float] = [WORKING_TTL_S, time.time()]
        for hand in handing:
            keys += [
                self.key("q", hand.queue),
                self.key("busy", hand.queue),
                self.key("consumers-seen", hand.queue),
                self.key("turn", hand.queue),
                self.key("unacked", hand.queue),
            ]
            args += [
                hand.consumers[0],
                hand.prefetch[0],
                hand.consumers[1],
                hand.prefetch[1],
                hand.down_param,
                self.key("buf", hand.queue, ""),
                hand.subscribed_param,
                len(hand.publishing),
                *(json.dumps(message, separators=(",", ":")) for message in hand.publishing),
            ]
        taken = []
        replies = await self.dispatch_script(keys=keys, args=args)
        for hand, (spent, waiting, *pairs) in zip(handing, replies, strict=True):
            messages = [(int(pairs[i]), json.loads(pairs[i + 1])) for i in range(0, len(pairs), 2)]
            taken.append((messages, int(spent)))
            self._saw_waiting(hand.queue, waiting)
        return taken

    def _saw_waiting(self, queue: str, waiting: str) -> None:
        if not waiting:  # nothing moved: what waits there is not known
            self.waiting.pop(queue, None)
            return
        self.waiting[queue] = {i: flag == "1" for i, flag in enumerate(waiting)}

    def may_be_waiting(self, queue: str, consumer: int, *, prefetching: bool = True) -> bool:
        """Whether a message may wait for `consumer` (1-based) of `queue`, on the queue or in its prefetch buffer, as
        far as this engine has seen (a guess that errs towards yes: after a put-back, or in doubt). Another worker's
        publish is not seen here: it can wait for this consumer's acknowledgement until the next flush (10 ms).
        `prefetching=False` when consumers take one message at a time: a busy consumer's buffer is then empty unless
        seen otherwise (filled while they prefetched more)."""
        seen = self.waiting.get(queue)
        return seen is None or seen.get(0, True) or seen.get(consumer, prefetching)

    def anything_waiting(self, queue: str) -> bool:
        """Whether a message may wait on `queue` or in any of its consumers' buffers, as far as this engine has seen."""
        seen = self.waiting.get(queue)
        return seen is None or any(seen.values())

    async def consumer_load(self, queue: str, consumers: int) -> tuple[list[int], list[int]]:
        """Per consumer (1-based order): messages it holds (prefetched or in hand), and whether it has one in hand
        (0 or 1), from one round trip so the two agree."""
        pipe = self.redis.pipeline(transaction=False)
        for i in range(1, consumers + 1):
            pipe.llen(self.key("buf", queue, i))
            pipe.hexists(self.key("busy", queue), str(i))
        counts = await pipe.execute()
        in_hand = [int(counts[i + 1]) for i in range(0, len(counts), 2)]
        return [int(counts[i]) + in_hand[i // 2] for i in range(0, len(counts), 2)], in_hand

    async def subscriptions_existing(self, subscribed_now: list[str]) -> set[str]:
        """Topic subscriptions created so far: those subscribed now join the set (a broker creates a subscription
        when its subscriber first connects and keeps it while the subscriber is away)."""
        pipe = self.redis.pipeline(transaction=False)
        if subscribed_now:
            pipe.sadd(self.key("subscriptions"), *subscribed_now)
            pipe.expire(self.key("subscriptions"), WORKING_TTL_S)
        pipe.smembers(self.key("subscriptions"))
        return set((await pipe.execute())[-1])

    async def hold(self, queue: str, env: dict[str, Any], engine_id: str) -> bool:
        """The delivery of `env` reached its consumer in this engine: it holds the message, unacknowledged, until it
        acknowledges it (a watchdog redelivers it if this engine dies first). False when this delivery is stale: the
        watchdog took the message back as lost in transit, or another copy of the delivery got there first."""
        [(held, _)] = await hold_all([(self, queue, env)], engine_id)
        return held

    def acknowledging(self, pipe: Any, queue: str, consumer: int) -> None:
        """Queue on `pipe`: the consumer acknowledged the message in its hand and may start the next; then how many
        messages wait on the queue and in the consumer's prefetch buffer (read by `still_waiting`)."""
        pipe.hdel(self.key("unacked", queue), str(consumer))
        pipe.hdel(self.key("busy", queue), str(consumer))
        pipe.llen(self.key("q", queue))
        pipe.llen(self.key("buf", queue, consumer))

    def still_waiting(self, queue: str, consumer: int, acknowledged: list[Any]) -> bool:
        """From what `acknowledging` returned: whether any message waits for the consumer, on the queue or in its
        prefetch buffer (remembered for `may_be_waiting`)."""
        on_queue, buffered = bool(acknowledged[-2]), bool(acknowledged[-1])
        seen = self.waiting.setdefault(queue, {})
        seen[0], seen[consumer] = on_queue, buffered
        return on_queue or buffered

    async def take_back(self, queue: str, consumer: str, raw: str) -> bool:
        """Remove a ledger entry unless it changed since it was read as `raw`; True when this caller removed it."""
        return bool(await self.take_back_script(keys=[self.key("unacked", queue)], args=[consumer, raw]))

    async def back_off(self, queue: str, message: dict[str, Any], *, due: float) -> str:
        """Keep a message waiting out its retry backoff until epoch second `due`; the token that ends the wait."""
        token = uuid.uuid4().hex
        entry = json.dumps({"queue": queue, "due": due, "env": message}, separators=(",", ":"))
        pipe = self.redis.pipeline(transaction=False)
        pipe.hset(self.key("backoff"), token, entry)
        pipe.expire(self.key("backoff"), WORKING_TTL_S)
        await pipe.execute()
        return token

    async def end_backoff(self, token: str) -> tuple[str, dict[str, Any]] | None:
        """(queue, message) of the backoff `token`, removed; None when it already ended (whoever ends it first)."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.hget(self.key("backoff"), token)
        pipe.hdel(self.key("backoff"), token)
        raw, removed = await pipe.execute()
        if not removed:
            return None
        entry = json.loads(raw)
        return entry["queue"], entry["env"]

    async def in_flight(self, queues: list[str]) -> InFlight:
        """What the watchdog looks over, in one round trip (`in_flight_on`)."""
        pipe = self.redis.pipeline(transaction=False)
        read = self.in_flight_on(pipe, queues)
        return read(iter(await pipe.execute()))

    def in_flight_on(self, pipe: Any, queues: list[str]) -> Callable[[Iterator[Any]], InFlight]:
        """Queue on `pipe` the reads of each queue's ledger of messages started and not acknowledged (consumer: raw
        `{id, engine, since, env}` JSON, `engine` empty while the delivery is in transit through the broker) and of
        the run's backoffs (token: raw entry); returns what takes their replies from the pipeline's, in order."""
        for queue in queues:
            pipe.hgetall(self.key("unacked", queue))
        pipe.hgetall(self.key("backoff"))

        def read(replies: Iterator[Any]) -> InFlight:
            ledgers = {queue: next(replies) for queue in queues}
            return ledgers, next(replies)

        return read

    async def done_with(self, queue: str, consumer: int) -> None:
        """The consumer finished (or gave back) the message in its hand: it may start the next."""
        await self.redis.hdel(self.key("busy", queue), str(consumer))

    async def dead_letter(self, envelope: dict[str, Any], reason: str, last_error: str = "") -> None:
        entry = {**envelope, "reason": reason, "last_error": last_error or reason}
        await self.redis.rpush(self.key("dlq"), json.dumps(entry, separators=(",", ":")))

    # Bounded pools (thread pools and bulkheads), as leases that end at a known time
    async def acquire(self, pool: str, size: int, holder: str) -> bool:
        now = self.clock.time()
        keys = [self.key("pool", pool), self.key("pool-clock", pool)]
        args: list[str | float] = [now, size, now + LEASE_MAX_S, holder, LEASE_MAX_S, WORKING_TTL_S]
        return bool(await self.acquire_script(keys=keys, args=args))

    async def release(self, pool: str, holder: str) -> None:
        keys = [self.key("pool", pool), self.key("pool-clock", pool)]
        await self.release_script(keys=keys, args=[self.clock.time(), holder, WORKING_TTL_S])
        self.lines[pool].call_next()

    async def acquire_in_turn(
        self, pool: str, size: Callable[[], int], holder: str, within_s: float, poll_s: float
    ) -> bool:
        """Take a thread of `pool` for `holder`, waiting up to `within_s` in this process's line for one: the head of
        the line is woken by a thread given back here, and looks every `poll_s` for one given back elsewhere."""
        line = self.lines[pool]
        if not line and await self.acquire(pool, size(), holder):
            return True
        me = Waiter()
        line.append(me)
        deadline = self.clock.time() + within_s
        try:
            while True:
                if line.head is me:
                    me.called = False
                    if await self.acquire(pool, size(), holder):
                        return True
                    if me.called:  # a thread came back while we asked
                        continue
                left = deadline - self.clock.time()
                if left <= 0:
                    return False
                me.wake = self.clock.spawn(self.clock.sleep(min(left, poll_s) if line.head is me else left))
                await self.clock.wait(me.wake, left)
        finally:
            line.leave(me)

    # Circuit breakers: one state for every worker process calling the same target
    @asynccontextmanager
    async def breaker(self, target: str, config: BreakerConfig) -> AsyncIterator[CircuitBreaker]:
        async with self.redis.lock(self.key("breaker", target, "lock"), timeout=5, blocking_timeout=5):
            raw = await self.redis.get(self.key("breaker", target))
            breaker = CircuitBreaker.from_dict(config, json.loads(raw) if raw else None)
            yield breaker
            await self.redis.set(self.key("breaker", target), json.dumps(breaker.to_dict()), ex=WORKING_TTL_S)

    def snapshot_on(
        self, pipe: Any, *, queues: list[str], pools: list[str], breakers: list[str]
    ) -> Callable[[list[Any]], Snapshot]:
        """Queue on `pipe` the reads of what the page plots besides events (queue depths, dead letters, live pool
        leases and how long each pool has been full, breaker states and the fidelity so far); returns what turns
        their replies into a Snapshot."""
        now = self.clock.time()
        for queue in queues:
            pipe.llen(self.key("q", queue))
        pipe.llen(self.key("dlq"))
        for pool in pools:
            pipe.zcount(self.key("pool", pool), f"({now}", "+inf")
            pipe.hmget(self.key("pool-clock", pool), "total", "since")
        for target in breakers:
            pipe.get(self.key("breaker", target))
        pipe.hgetall(self.key("fidelity"))

        def read(replies: list[Any]) -> Snapshot:
            answers = iter(replies)
            depths = {queue: int(next(answers)) for queue in queues}
            dead_letters = int(next(answers))
            leases, full_s = {}, {}
            for pool in pools:
                leases[pool] = int(next(answers))
                total, since = next(answers)
                full_s[pool] = round(float(total or 0) + (max(0.0, now - float(since)) if since else 0.0), 3)
            states = {t: json.loads(raw)["state"] if (raw := next(answers)) else "CLOSED" for t in breakers}
            return Snapshot(depths, dead_letters, leases, full_s, states, lag_figures(next(answers)))

        return read


def due_backoffs(entries: dict[str, str], *, before: float) -> list[str]:
    """Tokens of the backoff entries (token: raw entry) that should have ended before epoch second `before`."""
    return [token for token, raw in entries.items() if json.loads(raw)["due"] < before]


async def hold_all(
    deliveries: Sequence[tuple[EngineState, str, dict[str, Any]]], engine_id: str
) -> list[tuple[bool, str]]:
    """`EngineState.hold` for deliveries that arrived together (of any runs of this engine), in one round trip; with
    each, the version of its run's live knobs now (as `live_params_since` compares it)."""
    keys = [state.key("unacked", queue) for state, queue, _ in deliveries]
    keys += [state.key("live") for state, _, _ in deliveries]
    args = [part for _, _, env in deliveries for part in (str(env.get("consumer", 1)), env["message_id"])]
    answers = await deliveries[0][0].claim_script(keys=keys, args=[*args, LIVE_VERSION, engine_id])
    n = len(deliveries)
    return [(bool(answers[i]), str(answers[n + i])) for i in range(n)]


@dataclass(frozen=True)
class Handing:
    """One queue's part of `EngineState.take`. `consumers` and `prefetch` are (live knob, value when the run has no
    such knob): read inside the script, so a toggle counts at once. `subscribed_param` names a topic subscription's
    knob that holds its messages while its subscriber is away. `publishing`: messages pushed onto the queue first, in
    the same call, and counted as outstanding work."""

    queue: str
    consumers: tuple[str, int]
    prefetch: tuple[str, int]
    down_param: str
    subscribed_param: str = ""
    publishing: Sequence[dict[str, Any]] = ()


@dataclass(frozen=True)
class Snapshot:
    depths: dict[str, int]
    dead_letters: int
    pools: dict[str, int]
    full_s: dict[str, float]  # per pool, seconds so far with every thread taken
    breakers: dict[str, str]
    fidelity: dict[str, Any]


def lag_figures(raw: dict[str, str]) -> dict[str, Any]:
    """`{lag_pct, ok}` from a run's fidelity hash."""
    planned, late = float(raw.get("planned_s", 0)), float(raw.get("late_s", 0))
    lag_pct = round(100.0 * late / planned, 2) if planned else 0.0
    return {"lag_pct": lag_pct, "ok": lag_pct <= FIDELITY_LIMIT_PCT}
