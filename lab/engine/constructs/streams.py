"""Event streams: partitioned, append-only logs read by consumer groups at their own committed offsets, and the
projections (read models) consumers build from them.

Every partition of a stream link is a real Redis stream per run, with entry ids `1-<offset>` so an offset is a
plain integer as in Kafka. Each consumer group keeps a committed offset per partition in a Redis hash; one
of the group's consumers (`<link>.<group>.consumers`, live; the service's instances at first) owns each partition
(partition p goes to consumer p mod consumers, and waits for the one before to finish its entry) and takes
one entry at a time, the oldest first among its partitions, as a real Celery task (`"via": "stream"`). An entry is
committed after it was processed, with a compare-and-set, so a rewind that moved the offset meanwhile wins.
Retention trims each partition to its newest `retention` entries; a group that fell behind skips what is gone.

Per group, live: `consumers` (partitions rebalance), `resequence` (an entry that overtook its key's previous one is
parked until that one is processed), `rewind`/`rewind_to` (replay from an offset). An entry held by a worker that
died is handed out again. A `project: <stream>` step in a consumer folds entries into a read model (a Redis hash
per run and group, a row per key, version-checked unless `check_version: false`), which a live `rebuild` switch
wipes and replays from the log; a `send` with `read: <group>` queries that row after appending (at once, or
`read_after_ms` later), stale unless `read_your_writes` makes it wait.

Outstanding work for the driver: one unit per (entry, group) and one per entry a rewind replays, added in the
scripts that append and rewind (so the count never dips early); one settled per processed or skipped entry,
after its event is logged (a parked entry settles when it is processed).
"""

from __future__ import annotations

import json
import weakref
import zlib
from typing import Any, cast

from lab.engine.interpreter import (
    LINK_SENDERS,
    MAX_HOPS,
    RECEIVERS,
    SAMPLERS,
    Engine,
    RunContext,
    envelope,
    step_handler,
)
from lab.engine.loop import ENGINE_ID
from lab.engine.state import WORKING_TTL_S
from lab.engine.watchdog import engine_key
from lab.model.failures import FailureSpec
from lab.model.topology import ConsumerGroup, Link, Service, Step

VIA = "stream"
# An entry held this long by a worker whose engine no longer beats (lab/engine/watchdog.py) is handed out again.
ORPHAN_AFTER_S = 10.0
# The resequencer stops waiting for a parked entry's missing predecessors (trimmed, never sent) after this long.
RESEQUENCE_WAIT_S = 5.0
# How often a read-your-writes query looks at the read model again.
READ_POLL_S = 0.01
# A parked entry whose consumer is down is tried again this often.
UNPARKED_RETRY_S = 0.25

# Append one entry at the partition's next offset; count its key's sequence and the work each group owes.
APPEND = """
local offset = redis.call('HINCRBY', KEYS[2], ARGV[1], 1) - 1
local g = redis.call('HINCRBY', KEYS[2], 'g', 1)
local kseq = redis.call('HINCRBY', KEYS[3], ARGV[2], 1)
redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[3], '1-' .. offset, 'e', ARGV[5], 'k', kseq, 'g', g, 'a', ARGV[7])
redis.call('INCRBY', KEYS[4], ARGV[6])
for i = 1, 3 do redis.call('EXPIRE', KEYS[i], ARGV[4]) end
return {offset, kseq}
"""
# Give an idle instance the oldest entry past the committed offsets of the partitions it owns, except a partition
# another consumer still holds an entry of (it was its owner before a rebalance); skip trimmed entries.
# An entry below the partition's high-water mark (the furthest the group ever committed) is a replay.
TAKE = """
if redis.call('HGET', KEYS[3], ARGV[2]) == 'true' then return false end
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then return false end
local held = {}
for _, entry in ipairs(redis.call('HVALS', KEYS[2])) do held[string.match(entry, '^[^:]+')] = true end
local best, bestg, besti, bestc = nil, nil, nil, nil
for i = 5, #KEYS do
  local committed = tonumber(redis.call('HGET', KEYS[1], ARGV[i]) or '0')
  local found = {}
  if not held[ARGV[i]] then found = redis.call('XRANGE', KEYS[i], '1-' .. committed, '+', 'COUNT', 1) end
  if #found > 0 then
    local fields, g = found[1][2], nil
    for j = 1, #fields, 2 do if fields[j] == 'g' then g = tonumber(fields[j + 1]) end end
    if best == nil or g < bestg then best, bestg, besti, bestc = found[1], g, i, committed end
  end
end
if best == nil then return false end
local offset = tonumber(string.sub(best[1], 3))
redis.call('HSET', KEYS[2], ARGV[1], ARGV[besti] .. ':' .. offset)
redis.call('EXPIRE', KEYS[2], ARGV[3])
local skipped = offset - bestc
if skipped > 0 then redis.call('HSET', KEYS[1], ARGV[besti], offset) end
redis.call('EXPIRE', KEYS[1], ARGV[3])
local replay = 0
if tonumber(redis.call('HGET', KEYS[4], ARGV[besti]) or '0') > offset then replay = 1 end
return {ARGV[besti], offset, skipped, best[2], replay}
"""
# Free the instance; commit offset+1 only if the offset is still where this entry was taken (no rewind since),
# and raise the high-water mark. Returns 1 when committed.
COMMIT = """
if redis.call('HGET', KEYS[2], ARGV[1]) == ARGV[2] .. ':' .. ARGV[3] then redis.call('HDEL', KEYS[2], ARGV[1]) end
redis.call('HDEL', KEYS[4], ARGV[1])
if ARGV[4] ~= '1' then return 0 end
local offset = tonumber(ARGV[3])
if tonumber(redis.call('HGET', KEYS[1], ARGV[2]) or '0') ~= offset then return 0 end
redis.call('HSET', KEYS[1], ARGV[2], offset + 1)
if tonumber(redis.call('HGET', KEYS[3], ARGV[2]) or '0') <= offset then
  redis.call('HSET', KEYS[3], ARGV[2], offset + 1)
end
redis.call('EXPIRE', KEYS[3], ARGV[5])
return 1
"""
# Record that the group processed entry ARGV[2] of key ARGV[1]: 1 if a later entry of the key came first (out of
# order). With the resequencer on (ARGV[3]), also hand back the key's next entry if it was parked waiting for this.
ORDERED = """
local seen = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
local kseq = tonumber(ARGV[2])
local late = 0
if kseq < seen then late = 1 else redis.call('HSET', KEYS[1], ARGV[1], kseq); seen = kseq end
redis.call('EXPIRE', KEYS[1], ARGV[4])
local nxt = false
if ARGV[3] == '1' then
  local field = ARGV[1] .. '|' .. (seen + 1)
  nxt = redis.call('HGET', KEYS[2], field)
  if nxt then redis.call('HDEL', KEYS[2], field) end
end
return {late, nxt}
"""
# The resequencer: an entry whose key's previous entry has not been processed yet is parked (1), else 0.
PARK = """
if tonumber(ARGV[2]) <= tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0') + 1 then return 0 end
redis.call('HSET', KEYS[2], ARGV[1] .. '|' .. ARGV[2], ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[4])
return 1
"""
# Stop waiting for a parked entry's missing predecessors: release it (if still parked) and move its key on.
GIVE_UP = """
local raw = redis.call('HGET', KEYS[2], ARGV[1])
if not raw then return false end
redis.call('HDEL', KEYS[2], ARGV[1])
if tonumber(redis.call('HGET', KEYS[1], ARGV[2]) or '0') < tonumber(ARGV[3]) - 1 then
  redis.call('HSET', KEYS[1], ARGV[2], tonumber(ARGV[3]) - 1)
end
return raw
"""
# A dead worker's entry: free its instance (the entry is not committed, so it is taken again), unless it finished.
RELEASE = """
if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[2], ARGV[1])
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[3] then redis.call('HDEL', KEYS[1], ARGV[1]) end
return 1
"""
# Move a group's offsets back to ARGV[1] (not before the oldest retained entry) in every partition; the entries
# between become outstanding again, and entries parked by the resequencer (ARGV[3], a hash) are dropped: they are
# replayed too. Returns how many entries will be replayed.
REWIND_BODY = """
local replay = 0
for i = 4, #KEYS do
  local committed = tonumber(redis.call('HGET', KEYS[1], ARGV[i]) or '0')
  local target = tonumber(ARGV[1])
  local first = redis.call('XRANGE', KEYS[i], '-', '+', 'COUNT', 1)
  if #first > 0 then
    local oldest = tonumber(string.sub(first[1][1], 3))
    if target < oldest then target = oldest end
  else
    target = committed
  end
  if target < committed then
    replay = replay + committed - target
    redis.call('HSET', KEYS[1], ARGV[i], target)
  end
end
redis.call('DEL', KEYS[2])
local parked = redis.call('HLEN', ARGV[3])
redis.call('DEL', ARGV[3])
if replay - parked ~= 0 then redis.call('INCRBY', KEYS[3], replay - parked) end
return replay
"""
REWIND = REWIND_BODY
# A rebuild: wait (-1) while an earlier rewind's replay is still going; else wipe the read model (ARGV[n+2]), count
# a new generation of it, mark
# every partition's end as the rebuild's end (ARGV[n+3]) and high-water mark (ARGV[n+1], so everything before it is
# read as a replay), then rewind to the oldest retained entry as REWIND does. n is #KEYS.
REBUILD = (
    """
local n = #KEYS
for i = 4, n do
  local hwm = tonumber(redis.call('HGET', ARGV[n + 1], ARGV[i]) or '0')
  if hwm > tonumber(redis.call('HGET', KEYS[1], ARGV[i]) or '0') then return -1 end
end
redis.call('DEL', ARGV[n + 2])
redis.call('HINCRBY', ARGV[n + 3], 'gen', 1)
for i = 4, n do
  local last = redis.call('XREVRANGE', KEYS[i], '+', '-', 'COUNT', 1)
  local stop = 0
  if #last > 0 then stop = tonumber(string.sub(last[1][1], 3)) + 1 end
  redis.call('HSET', ARGV[n + 3], ARGV[i], stop)
  redis.call('HSET', ARGV[n + 1], ARGV[i], stop)
end
redis.call('EXPIRE', ARGV[n + 1], ARGV[2])
redis.call('EXPIRE', ARGV[n + 3], ARGV[2])
"""
    + REWIND_BODY
)
# Apply one event to the read model's row for its key; a version-checked projection skips what it already has. An
# entry below a rebuild's end that is not a replay was taken before the rebuild wiped the model: the replay brings it.
PROJECT = """
local raw = redis.call('HGET', KEYS[1], ARGV[1])
local state = {version = 0, events = 0, event = '', data = {}}
if raw then state = cjson.decode(raw) end
local kseq = tonumber(ARGV[2])
local gen = tonumber(redis.call('HGET', KEYS[2], 'gen') or '0')
if ARGV[4] == '1' and kseq <= state.version then return {0, raw, gen} end
local rebuilt = tonumber(redis.call('HGET', KEYS[2], ARGV[7]) or '-1')
if ARGV[9] ~= '1' and tonumber(ARGV[8]) < rebuilt then return {0, raw, gen} end
for k, v in pairs(cjson.decode(ARGV[3])) do state.data[k] = v end
if kseq > state.version then state.version = kseq end
state.events = state.events + 1
state.event = ARGV[5]
local out = cjson.encode(state)
redis.call('HSET', KEYS[1], ARGV[1], out)
redis.call('EXPIRE', KEYS[1], ARGV[6])
return {1, out, gen}
"""


def stream_links(ctx: RunContext) -> list[Link]:
    return [link for link in ctx.topology.links.values() if link.kind == VIA]


def consumers(ctx: RunContext, link: Link, group: ConsumerGroup) -> int:
    """How many consumers the group runs now: a live knob, starting at its service's instances."""
    return int(ctx.params.get(f"{link.id}.{group.id}.consumers", ctx.topology.services[group.to].instances))


def partition_count(ctx: RunContext, link: Link) -> int:
    """The stream's partitions in this run: its `<link>.partitions` knob, fixed when the run starts."""
    return int(ctx.params.get(f"{link.id}.partitions", link.partitions))


def owned_partitions(partitions: int, members: int, instance: int) -> list[int]:
    """Partition p belongs to consumer p mod members; consumers beyond the partitions stay idle."""
    return [p for p in range(partitions) if p % members == instance]


def assignment(partitions: int, members: int) -> dict[str, list[int]]:
    return {str(i): owned_partitions(partitions, members, i) for i in range(members)}


def partition_for(partitions: int, key: str, counter: int | None) -> int:
    """Keyed: a stable hash of the key (crc32, the same in every process); round-robin: the link's counter."""
    if counter is None:
        return zlib.crc32(key.encode()) % partitions
    return counter % partitions


def keyed(link: Link, options: dict[str, Any]) -> bool:
    """A send is partitioned by its key when its stream has one, unless it asks for round-robin (in Kafka terms, a
    record sent without a key)."""
    return bool(link.key) and options.get("partition_by", "key") == "key"


class StreamKeys:
    """The Redis keys of one stream link in one run."""

    def __init__(self, ctx: RunContext, link: Link) -> None:
        self.ctx, self.link = ctx, link

    def partition(self, p: int) -> str:
        return self.ctx.state.key("stream", self.link.id, p)

    def meta(self) -> str:
        return self.ctx.state.key("stream", self.link.id, "meta")

    def key_seq(self) -> str:
        return self.ctx.state.key("stream", self.link.id, "keyseq")

    def group(self, group: ConsumerGroup, part: str) -> str:
        return self.ctx.state.key("stream", self.link.id, "group", group.id, part)

    def read_model(self, group: str) -> str:
        return self.ctx.state.key("readmodel", self.link.id, group)


def _script(engine: Engine, name: str, source: str) -> Any:
    """One registered script per engine (per process and Redis client), made on first use."""
    cache = _SCRIPTS.setdefault(engine, {})
    if name not in cache:
        cache[name] = engine.redis.register_script(source)
    return cache[name]


_SCRIPTS: weakref.WeakKeyDictionary[Engine, dict[str, Any]] = weakref.WeakKeyDictionary()


# Producing


async def send(
    engine: Engine, ctx: RunContext, link: Link, caller_env: dict[str, Any], options: dict[str, Any]
) -> None:
    """Append one event to its partition. The key field, when the body lacks it, is the request's id (an order)."""
    body = dict(options.get("body") or {})
    if link.key and link.key not in body:
        body[link.key] = caller_env["correlation_id"]
    key = str(body[link.key]) if link.key else str(caller_env["correlation_id"])
    keys = StreamKeys(ctx, link)
    counter = None if keyed(link, options) else int(await engine.redis.hincrby(keys.meta(), "rr", 1)) - 1
    partition = partition_for(partition_count(ctx, link), key, counter)
    tag = {ctx.group_by: caller_env[ctx.group_by]} if ctx.group_by and ctx.group_by in caller_env else {}
    env = envelope(
        correlation_id=caller_env["correlation_id"],
        causation_id=caller_env.get("message_id", caller_env["correlation_id"]),
        source=link.source,
        target=link.target,
        link=link.id,
        key=key,
        event=str(options.get("event", "")),
        body=body,
        hops=caller_env.get("hops", 0) + 1,
        **tag,
    )
    offset, key_seq = await _script(engine, "append", APPEND)(
        keys=[keys.partition(partition), keys.meta(), keys.key_seq(), ctx.state.key("outstanding")],
        args=[
            partition,
            key,
            link.retention,
            WORKING_TTL_S,
            json.dumps(env, separators=(",", ":")),
            len(link.groups),
            round(ctx.clock.time(), 4),
        ],
    )
    ctx.emit("stream.appended", partition=partition, offset=int(offset), key_seq=int(key_seq), **env)
    await ctx.flush()
    await ctx.refresh()
    for group in link.groups:
        await take(engine, ctx, link, group, partition % consumers(ctx, link, group))
    if options.get("read"):
        await read_back(engine, ctx, link, options, key=key, version=int(key_seq), env=env)


LINK_SENDERS[VIA] = send


async def read_back(
    engine: Engine, ctx: RunContext, link: Link, options: dict[str, Any], *, key: str, version: int, env: dict[str, Any]
) -> None:
    """The query after a command (`read_after_ms` after the append: 0, at once): read the key's row in group
    `read`'s read model. Stale when it does not have the event just appended yet. With `read_your_writes` (true,
    or the name of a bool parameter) the caller waits until it does, up to `read_wait_ms`: the latency is the
    price."""
    group = next((g for g in link.groups if g.id == options["read"]), None)
    if group is None:
        raise ValueError(f"read: {options['read']!r} names no consumer group of {link.id}")
    wait = options.get("read_your_writes", False)
    wait = bool(ctx.params.get(wait)) if isinstance(wait, str) else bool(wait)
    table = StreamKeys(ctx, link).read_model(group.id)
    if options.get("read_after_ms"):
        await ctx.sleep(float(options["read_after_ms"]) / 1000)
    started = ctx.clock.time()
    deadline = started + float(options.get("read_wait_ms", 5000)) / 1000
    while True:
        raw = await engine.redis.hget(table, key)
        seen = int(json.loads(raw)["version"]) if raw else 0
        if seen >= version or not wait or ctx.clock.time() >= deadline:
            break
        await ctx.sleep(READ_POLL_S)
    ctx.emit(
        "projection.read",
        link=link.id,
        group=group.id,
        key=key,
        wanted_version=version,
        version=seen,
        stale=seen < version,
        waited_ms=round((ctx.clock.time() - started) * 1000, 1),
        correlation_id=env["correlation_id"],
        **({ctx.group_by: env[ctx.group_by]} if ctx.group_by and ctx.group_by in env else {}),
    )


# Consuming


async def take(engine: Engine, ctx: RunContext, link: Link, group: ConsumerGroup, instance: int) -> None:
    """If `instance` of the group is idle, hand it the next entry of its partitions as a real task message."""
    consumer = ctx.topology.services[group.to]
    owned = owned_partitions(partition_count(ctx, link), consumers(ctx, link, group), instance)
    if not owned:
        return
    keys = StreamKeys(ctx, link)
    taken = await _script(engine, "take", TAKE)(
        keys=[
            keys.group(group, "offsets"),
            keys.group(group, "busy"),
            ctx.state.key("live"),
            keys.group(group, "hwm"),
            *(keys.partition(p) for p in owned),
        ],
        args=[instance, f"{consumer.id}.down", WORKING_TTL_S, "", *owned],
    )
    if not taken:
        return
    partition, offset, skipped, flat = int(taken[0]), int(taken[1]), int(taken[2]), taken[3]
    fields = dict(zip(flat[::2], flat[1::2], strict=True))
    if skipped:
        where = {"link": link.id, "group": group.id, "partition": partition}
        ctx.emit("stream.skipped", **where, count=skipped, to_offset=offset, reason="trimmed by retention")
        await ctx.settle(-skipped)
    env = {
        **json.loads(fields["e"]),
        "via": VIA,
        "group": group.id,
        "instance": instance,
        "partition": partition,
        "offset": offset,
        "key_seq": int(fields["k"]),
        "appended_at": float(fields["a"]),
        "replay": bool(taken[4]),
    }
    engine.deliver(ctx.run_id, f"{link.id}/{group.id}", env)


async def take_all(engine: Engine, ctx: RunContext, link: Link, group: ConsumerGroup) -> None:
    for instance in range(min(consumers(ctx, link, group), partition_count(ctx, link))):
        await take(engine, ctx, link, group, instance)


async def receive(engine: Engine, ctx: RunContext, where: str, env: dict[str, Any]) -> None:
    """One consumer instance processing one entry, then committing its offset and taking the next. With the
    group's resequencer on, an entry that came before its key's previous one is parked (its offset committed) and
    processed right after that one."""
    link = ctx.topology.links[env["link"]]
    group = next(g for g in link.groups if g.id == env["group"])
    await ctx.refresh()
    keys = StreamKeys(ctx, link)
    if env.get("unparked") or env.get("redriven"):  # its offset was committed when it was parked or dead-lettered
        await _process_in_order(engine, ctx, link, group, env, committed=True)
        return
    holder = json.dumps([f"{env['partition']}:{env['offset']}", ENGINE_ID, round(ctx.clock.time(), 3)])
    pipe = engine.redis.pipeline(transaction=False)
    pipe.hset(keys.group(group, "holders"), env["instance"], holder)
    pipe.expire(keys.group(group, "holders"), WORKING_TTL_S)
    await pipe.execute()
    if resequencing(ctx, link, group):
        parked = await _script(engine, "park", PARK)(
            keys=[keys.group(group, "keymax"), keys.group(group, "parked")],
            args=[env["key"], env["key_seq"], json.dumps({**env, "parked_at": ctx.clock.time()}), WORKING_TTL_S],
        )
        if parked:
            await _commit(engine, ctx, link, group, env, advance=True)
            ctx.emit("stream.parked", **_where(env))
            await ctx.flush()
            await take(engine, ctx, link, group, int(env["instance"]))
            return
    await _process_in_order(engine, ctx, link, group, env, committed=False)
    await take(engine, ctx, link, group, int(env["instance"]))


async def _commit(
    engine: Engine, ctx: RunContext, link: Link, group: ConsumerGroup, env: dict[str, Any], *, advance: bool
) -> bool:
    keys = StreamKeys(ctx, link)
    return bool(
        await _script(engine, "commit", COMMIT)(
            keys=[
                keys.group(group, "offsets"),
                keys.group(group, "busy"),
                keys.group(group, "hwm"),
                keys.group(group, "holders"),
            ],
            args=[env["instance"], env["partition"], env["offset"], "1" if advance else "0", WORKING_TTL_S],
        )
    )


async def _process_in_order(
    engine: Engine, ctx: RunContext, link: Link, group: ConsumerGroup, env: dict[str, Any], *, committed: bool
) -> None:
    """Process one entry (committing its offset unless it already was), record it in its key's order, and go on
    with the key's next entry if the resequencer parked it."""
    keys = StreamKeys(ctx, link)
    while True:
        started = ctx.clock.time()
        try:
            outcome = await _process(engine, ctx, link, ctx.topology.services[group.to], env)
        except Exception as exc:  # a handler bug is an event and a processed entry, never a stalled partition
            ctx.emit("handler.error", message_id=env.get("message_id"), error=repr(exc)[:200])
            outcome = "error"
        unparked = committed
        if not unparked:
            committed = await _commit(engine, ctx, link, group, env, advance=outcome not in ("crashed", "down"))
        done = committed and outcome not in ("crashed", "down")
        late, parked = 0, None
        if done:
            late, parked = await _script(engine, "ordered", ORDERED)(
                keys=[keys.group(group, "keymax"), keys.group(group, "parked")],
                args=[env["key"], env["key_seq"], "1" if resequencing(ctx, link, group) else "0", WORKING_TTL_S],
            )
        if outcome != "down":
            ctx.emit(
                "stream.processed",
                **_where(env),
                **({"redriven": True} if env.get("redriven") else {}),
                outcome=outcome,
                committed=committed and not unparked,
                out_of_order=bool(late),
                duration_ms=round((ctx.clock.time() - started) * 1000, 1),
            )
        await ctx.settle(-1 if done else 0)
        if unparked and not done:  # a parked entry is past its offset: nothing redelivers it but this loop
            await ctx.sleep(UNPARKED_RETRY_S if outcome == "down" else 0)
            continue
        if not parked:
            return
        env, committed = {**json.loads(parked), "unparked": True}, True
        ctx.emit("stream.unparked", **_where(env), reason="its key's previous entry was processed")


def resequencing(ctx: RunContext, link: Link, group: ConsumerGroup) -> bool:
    return bool(ctx.params.get(f"{link.id}.{group.id}.resequence"))


RECEIVERS[VIA] = receive


def _where(env: dict[str, Any]) -> dict[str, Any]:
    fields = ("link", "group", "instance", "partition", "offset", "key", "key_seq", "event", "replay", "message_id")
    return {f: env.get(f) for f in (*fields, "correlation_id", "attempt")}


async def _process(engine: Engine, ctx: RunContext, link: Link, consumer: Service, env: dict[str, Any]) -> str:
    """ok | lost | crashed (processed, not committed: redelivered, so its effects happen again) | dead_lettered |
    duplicate_skipped (an idempotent consumer had processed it) | down (taken just as its consumer went down).

    A failing entry is retried in place with the link's retry policy: the partition waits behind it, as a Kafka
    consumer's does; when the attempts run out it goes to the dead-letter queue and the group moves on."""
    spec = FailureSpec.from_params(ctx.params, consumer.id)
    if spec.down and spec.applies(call_index=0, now=ctx.now()):
        return "down"
    # An idempotent consumer (the link's idempotency policy) remembers the entries its group processed.
    seen = (
        ctx.state.key("processed", f"{consumer.id}:{env['group']}")
        if ctx.enabled(link.idempotency, "idempotent")
        else ""
    )
    attempt, previous_delay = 1, None
    while True:
        env["attempt"] = attempt
        _, fault = await ctx.fault_for(consumer.id, env["message_id"], env["group"], env["offset"], attempt)
        ctx.emit("stream.consumed", **_where(env))
        await ctx.flush()
        jitter = ctx.rng_for(env["message_id"], env["group"], attempt, "work").uniform(-1, 1) * consumer.jitter_ms
        await ctx.sleep(max(0.0, ctx.work_ms(consumer) + fault.extra_latency_ms + jitter) / 1000)
        over_limit = env.get("hops", 0) > MAX_HOPS
        steps = consumer.on.get(str(env.get("event", "")), consumer.steps)
        failed = fault.error or over_limit
        if not failed and seen and await engine.redis.sismember(seen, env["message_id"]):
            return "duplicate_skipped"
        if not failed and steps:
            failed = await engine.run_steps(ctx, consumer, steps, env) is not None
        if not failed:
            if seen:
                await engine.redis.sadd(seen, env["message_id"])
            if fault.duplicate and steps:  # the same entry handed over twice: its effects happen twice, unless...
                ctx.emit("stream.duplicate", **_where(env), skipped=bool(seen))
                if not seen:
                    await engine.run_steps(ctx, consumer, steps, env)
            if fault.crash == "before_ack":  # processed, then died before committing: it will come again
                return "crashed"
            return "lost" if fault.crash == "after_ack" else "ok"
        policy = ctx.retry_policy(link.retry)
        if over_limit or attempt >= (link.max_deliveries or policy.max_attempts):
            reason = f"passed {MAX_HOPS} hops" if over_limit else f"{consumer.id} failed {attempt} times"
            queue = f"{link.id}/{env['group']}"  # where a re-drive hands it back: its group (lab/services.py)
            await ctx.state.dead_letter({**env, "queue": queue}, reason)
            ctx.emit("dlq.added", reason=reason, queue=queue, **_where(env), **{k: env.get(k) for k in ("from", "to")})
            return "dead_lettered"
        delay = policy.delay_for(
            attempt, ctx.rng_for(env["message_id"], env["group"], "backoff", attempt), previous_delay
        )
        previous_delay = delay
        ctx.emit("retry.scheduled", delay_ms=round(delay, 1), next_attempt=attempt + 1, **_where(env))
        await ctx.flush()
        await ctx.sleep(delay / 1000)
        attempt += 1


# Rewind, lag and the periodic nudge


def rewind_param(link: Link, group: ConsumerGroup) -> str:
    return f"{link.id}.{group.id}.rewind"


async def rewind(engine: Engine, ctx: RunContext, link: Link, group: ConsumerGroup, to_offset: int) -> int:
    """Move the group back to `to_offset` in every partition (not before the oldest retained entry)."""
    keys = StreamKeys(ctx, link)
    partitions = list(range(partition_count(ctx, link)))
    replay = int(
        await _script(engine, "rewind", REWIND)(
            keys=[
                keys.group(group, "offsets"),
                keys.group(group, "keymax"),
                ctx.state.key("outstanding"),
                *(keys.partition(p) for p in partitions),
            ],
            args=[to_offset, WORKING_TTL_S, keys.group(group, "parked"), *partitions],
        )
    )
    ctx.emit("stream.rewound", link=link.id, group=group.id, to_offset=to_offset, replay=replay)
    await ctx.flush()
    return replay


async def _follow_rewinds(engine: Engine, ctx: RunContext, link: Link) -> None:
    """A rewind toggle switched on rewinds once; switching it off re-arms it. Once the load is over and nothing is
    outstanding the driver is closing the run: a rewind then would replay nothing, so it is not started."""
    closing = ctx.now() >= float(ctx.params["duration"]) and await ctx.state.outstanding() <= 0
    for group in link.groups:
        name = rewind_param(link, group)
        wanted = bool(ctx.params.get(name))
        marker = StreamKeys(ctx, link).group(group, "rewound")
        armed = not await engine.redis.exists(marker)
        if wanted and armed and not closing:
            await engine.redis.set(marker, "1", ex=WORKING_TTL_S)
            await rewind(engine, ctx, link, group, int(ctx.params.get(f"{name}_to", 0)))
        elif not wanted and not armed:
            await engine.redis.delete(marker)


def rebuild_param(link: Link, group: ConsumerGroup) -> str:
    return f"{link.id}.{group.id}.rebuild"


async def _follow_rebuilds(engine: Engine, ctx: RunContext, link: Link) -> None:
    """A rebuild asked for (its switch on) wipes the group's read model and replays the stream into it from the
    oldest retained entry; then the engine switches it off again, so every switch-on is one rebuild. While an
    earlier rewind's replay is still going the rebuild waits for the next sample."""
    for group in link.groups:
        name = rebuild_param(link, group)
        if not ctx.params.get(name):
            continue
        keys = StreamKeys(ctx, link)
        partitions = list(range(partition_count(ctx, link)))
        replay = int(
            await _script(engine, "rebuild", REBUILD)(
                keys=[
                    keys.group(group, "offsets"),
                    keys.group(group, "keymax"),
                    ctx.state.key("outstanding"),
                    *(keys.partition(p) for p in partitions),
                ],
                args=[
                    0,
                    WORKING_TTL_S,
                    keys.group(group, "parked"),
                    *partitions,
                    keys.group(group, "hwm"),
                    keys.read_model(group.id),
                    keys.group(group, "rebuilt"),
                ],
            )
        )
        if replay < 0:
            continue
        await ctx.state.set_live({name: False})
        ctx.params[name] = False
        ctx.emit("projection.rebuilt", link=link.id, group=group.id, replay=replay)
        ctx.emit("toggle", values={name: False}, by="engine")
        await ctx.flush()


async def _release_orphans(engine: Engine, ctx: RunContext, link: Link, group: ConsumerGroup) -> None:
    """An entry held by a worker that stopped beating (killed) is handed out again, as a Kafka group rebalances a
    dead member's partitions; it was never committed, so nothing is lost (its effects may happen twice)."""
    keys = StreamKeys(ctx, link)
    for instance, raw in (await engine.redis.hgetall(keys.group(group, "holders"))).items():
        entry, engine_id, since = json.loads(raw)
        if ctx.clock.time() - since < ORPHAN_AFTER_S or await engine.redis.exists(engine_key(engine_id)):
            continue
        released = await _script(engine, "release", RELEASE)(
            keys=[keys.group(group, "busy"), keys.group(group, "holders")], args=[instance, raw, entry]
        )
        if released:
            partition, offset = (int(n) for n in entry.split(":"))
            where = {"link": link.id, "group": group.id, "instance": int(instance)}
            ctx.emit("stream.redelivered", **where, partition=partition, offset=offset, reason="its worker died")
            await ctx.flush()


async def _give_up_waiting(engine: Engine, ctx: RunContext, link: Link, group: ConsumerGroup) -> None:
    """A key's oldest parked entry that waited RESEQUENCE_WAIT_S for its predecessors is processed without them."""
    keys = StreamKeys(ctx, link)
    oldest: dict[str, tuple[int, str, dict[str, Any]]] = {}
    parked = cast(dict[str, str], await engine.redis.hgetall(keys.group(group, "parked")))
    for field, raw in parked.items():
        key, _, seq_text = field.rpartition("|")
        if key not in oldest or int(seq_text) < oldest[key][0]:
            oldest[key] = (int(seq_text), field, json.loads(raw))
    for key, (seq, field, env) in oldest.items():
        if ctx.clock.time() - env["parked_at"] < RESEQUENCE_WAIT_S:
            continue
        raw = await _script(engine, "give_up", GIVE_UP)(
            keys=[keys.group(group, "keymax"), keys.group(group, "parked")], args=[field, key, seq]
        )
        if raw:
            env = {**json.loads(raw), "unparked": True}
            ctx.emit("stream.unparked", **_where(env), reason="gave up waiting for the key's previous entries")
            await ctx.flush()
            engine.deliver(ctx.run_id, f"{link.id}/{group.id}", env)


async def _announce_assignment(engine: Engine, ctx: RunContext, link: Link, group: ConsumerGroup) -> None:
    """`stream.rebalanced` at the first sample and whenever the group's consumer count changes."""
    members = consumers(ctx, link, group)
    marker = StreamKeys(ctx, link).group(group, "members")
    if await engine.redis.set(marker, members, get=True, ex=WORKING_TTL_S) != str(members):
        where = {"link": link.id, "group": group.id}
        partitions = partition_count(ctx, link)
        ctx.emit("stream.rebalanced", **where, consumers=members, assignment=assignment(partitions, members))


async def sample(engine: Engine, ctx: RunContext) -> None:
    """`stream.lag` per group and partition (with each partition's end); rebalances and rewinds asked for; and a
    nudge to idle instances (a consumer back up or added, a rewind, an entry whose kick was missed)."""
    links = stream_links(ctx)
    if not links:
        return
    await ctx.refresh()
    pipe = engine.redis.pipeline(transaction=False)
    for link in links:
        keys = StreamKeys(ctx, link)
        pipe.hgetall(keys.meta())
        for group in link.groups:
            pipe.hgetall(keys.group(group, "offsets"))
    replies = iter(await pipe.execute())
    lags: dict[str, int] = {}
    ends: dict[str, int] = {}
    for link in links:
        meta = next(replies)
        partitions = range(partition_count(ctx, link))
        ends.update({f"{link.id}/{p}": int(meta.get(str(p), 0)) for p in partitions})
        for group in link.groups:
            committed = next(replies)
            for p in partitions:
                lags[f"{link.id}/{group.id}/{p}"] = max(0, ends[f"{link.id}/{p}"] - int(committed.get(str(p), 0)))
    ctx.emit("stream.lag", lags=lags, ends=ends)
    for link in links:
        await _follow_rewinds(engine, ctx, link)
        await _follow_rebuilds(engine, ctx, link)
        for group in link.groups:
            await _announce_assignment(engine, ctx, link, group)
            await _give_up_waiting(engine, ctx, link, group)
            await _release_orphans(engine, ctx, link, group)
            await take_all(engine, ctx, link, group)


SAMPLERS.append(sample)


# Projections


@step_handler("project")
async def project(engine: Engine, ctx: RunContext, service: Service, step: Step, env: dict[str, Any]) -> str | None:
    """Apply the entry being processed to the group's read model (a Redis hash per run, a row per key).

    `check_version: false` makes a projection that applies whatever it is given: a replay counts twice."""
    if env.get("via") != VIA or env.get("link") != step.target:
        return f"project {step.target}: runs only while consuming that stream"
    link = ctx.topology.links[step.target]
    checked = bool(step.options.get("check_version", True))
    keys = StreamKeys(ctx, link)
    group = next(g for g in link.groups if g.id == env["group"])
    applied, raw, generation = await _script(engine, "project", PROJECT)(
        keys=[keys.read_model(group.id), keys.group(group, "rebuilt")],
        args=[
            env["key"],
            env["key_seq"],
            json.dumps(env.get("body") or {}, separators=(",", ":")),
            "1" if checked else "0",
            env.get("event", ""),
            WORKING_TTL_S,
            env["partition"],
            env["offset"],
            "1" if env.get("replay") else "0",
        ],
    )
    ctx.emit(
        "projection.updated",
        **_where(env),
        applied=bool(applied),
        version=int(json.loads(raw)["version"]) if raw else 0,
        state=json.loads(raw) if raw else None,
        generation=int(generation),
        lag_ms=round((ctx.clock.time() - float(env["appended_at"])) * 1000, 1),
    )
    return None
