"""Every worker's engine watches the active runs: it beats for itself, takes over a run whose driver stopped
renewing its lease, and puts back on their queues the messages a dead worker was holding (unacknowledged)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any, cast

from comms_lab.redis_client import rkey
from lab.engine import delivery
from lab.engine.driver import LEASE_TTL_S, lease_key, resume
from lab.engine.interpreter import Engine, RunContext
from lab.engine.loop import ENGINE_ID, spawn
from lab.engine.state import InFlight, due_backoffs

log = logging.getLogger(__name__)
BEAT_EVERY_S = 2.0
BEAT_TTL_S = 6
# A delivery task not claimed by any engine this long after its message was started was lost with a worker.
IN_TRANSIT_LIMIT_S = 10.0


def engine_key(engine_id: str) -> str:
    return rkey("lab", "engines", engine_id)


async def watch(engine: Engine) -> None:
    while True:
        try:
            await engine.redis.set(engine_key(ENGINE_ID), "1", ex=BEAT_TTL_S)
            await look_after_runs(engine)
        except Exception:  # Redis may blink; the next round tries again
            log.warning("lab watchdog round failed", exc_info=True)
        await asyncio.sleep(BEAT_EVERY_S)


async def look_after_runs(engine: Engine) -> None:
    """Active runs are the admission set's members (lab/services.py); their status and leases are read in one round
    trip, and every running run's messages in flight in one more."""
    redis = engine.redis
    runs = cast(list[str], await redis.zrange(rkey("lab", "active", "all"), 0, -1))
    pipe = redis.pipeline(transaction=False)
    for run_id in runs:
        pipe.hget(rkey("run", run_id, "meta"), "status")
        pipe.exists(lease_key(run_id))
    answers = await pipe.execute() if runs else []
    running = []
    for run_id, status, leased in zip(runs, answers[::2], answers[1::2], strict=True):
        if status != "running":
            continue
        if not leased and await redis.set(lease_key(run_id), ENGINE_ID, nx=True, ex=LEASE_TTL_S):
            log.warning("taking over run %s: its driver stopped", run_id)
            spawn(resume(engine, run_id))
        running.append(await engine.context(run_id))
    pipe = redis.pipeline(transaction=False)
    reads = [ctx.state.in_flight_on(pipe, ctx.topology.queues()) for ctx in running]
    now = time.time()
    replies = iter(await pipe.execute() if running else [])
    for ctx, read in zip(running, reads, strict=True):
        await put_back_orphans(engine, ctx, read(replies), now=now)


async def put_back_orphans(engine: Engine, ctx: RunContext, in_flight: InFlight, *, now: float) -> None:
    """A message a dead worker took but never finished goes back to the front of its queue, as a broker does
    when a consumer's connection drops without an ack. So does one whose delivery task never reached an engine
    within IN_TRANSIT_LIMIT_S: a worker that reserved it died (the Redis broker would give it back only after its
    hour-long visibility timeout), and if the task does turn up later, its claim fails and it is dropped. The same
    holds for a retry whose countdown task is overdue."""
    ledgers, backoffs = in_flight
    for queue, ledger in ledgers.items():
        for consumer, raw in ledger.items():
            entry = json.loads(raw)
            if entry["engine"]:
                if entry["engine"] == ENGINE_ID or await engine.redis.exists(engine_key(entry["engine"])):
                    continue
                reason = "its consumer's worker died"
                env = json.loads(entry["env"])
                await forget_claim(engine, ctx, queue, env, entry["engine"])
            elif now - float(entry["since"]) < IN_TRANSIT_LIMIT_S:
                continue
            else:
                reason = f"its delivery reached no consumer within {IN_TRANSIT_LIMIT_S:g} s (its worker died)"
                env = json.loads(entry["env"])
            if await ctx.state.take_back(queue, consumer, raw):
                env = {**env, "consumer": int(consumer), "redelivered": True}
                ctx.emit("message.redelivered", reason=reason, **env)
                await ctx.state.enqueue(queue, env, front=True)
                await ctx.state.done_with(queue, int(consumer))
                await engine.dispatch(ctx, queue)
    lost_timer = f"its retry's countdown task had not come {IN_TRANSIT_LIMIT_S:g} s after it was due (its worker died)"
    for token in due_backoffs(backoffs, before=now - IN_TRANSIT_LIMIT_S):
        await engine.end_backoff(ctx, token, redelivered_because=lost_timer)


async def forget_claim(engine: Engine, ctx: RunContext, queue: str, env: dict[str, Any], dead_engine: str) -> None:
    """An idempotent consumer's claim on the message's key, made by the engine that died holding it, is released."""
    await ctx.refresh()
    link, consumer = engine.consumer_of(ctx, queue)
    key = delivery.idempotency_key(ctx, link, env)
    if key is not None:
        await delivery.release_dead(ctx, consumer.id, key, dead_engine)
