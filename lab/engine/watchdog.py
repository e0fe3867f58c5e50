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
    """Active runs are the admission set's members (lab/services.py)."""
    redis = engine.redis
    for run_id in cast(list[str], await redis.zrange(rkey("lab", "active", "all"), 0, -1)):
        if await redis.hget(rkey("run", run_id, "meta"), "status") != "running":
            continue
        if not await redis.exists(lease_key(run_id)) and await redis.set(
            lease_key(run_id), ENGINE_ID, nx=True, ex=LEASE_TTL_S
        ):
            log.warning("taking over run %s: its driver stopped", run_id)
            spawn(resume(engine, run_id))
        await redeliver_orphans(engine, run_id)


async def redeliver_orphans(engine: Engine, run_id: str, *, now: float | None = None) -> None:
    """A message a dead worker took but never finished goes back to the front of its queue, as a broker does
    when a consumer's connection drops without an ack. So does one whose delivery task never reached an engine
    within IN_TRANSIT_LIMIT_S: a worker that reserved it died (the Redis broker would give it back only after its
    hour-long visibility timeout), and if the task does turn up later, its claim fails and it is dropped. The same
    holds for a retry whose countdown task is overdue. `now` is epoch seconds (the wall clock's by default)."""
    now = time.time() if now is None else now
    ctx = await engine.context(run_id)
    for queue in ctx.topology.queues():
        for consumer, raw in (await ctx.state.unacknowledged(queue)).items():
            entry = json.loads(raw)
            env = json.loads(entry["env"])
            if entry["engine"]:
                if await engine.redis.exists(engine_key(entry["engine"])):
                    continue
                reason = "its consumer's worker died"
                await forget_claim(engine, ctx, queue, env, entry["engine"])
            elif now - float(entry["since"]) < IN_TRANSIT_LIMIT_S:
                continue
            else:
                reason = f"its delivery reached no consumer within {IN_TRANSIT_LIMIT_S:g} s (its worker died)"
            if await ctx.state.take_back(queue, consumer, raw):
                env = {**env, "consumer": int(consumer), "redelivered": True}
                ctx.emit("message.redelivered", reason=reason, **env)
                await ctx.state.enqueue(queue, env, front=True)
                await ctx.state.done_with(queue, int(consumer))
                await engine.dispatch(ctx, queue)
    lost_timer = f"its retry's countdown task had not come {IN_TRANSIT_LIMIT_S:g} s after it was due (its worker died)"
    for token in await ctx.state.backoffs_due(before=now - IN_TRANSIT_LIMIT_S):
        await engine.end_backoff(ctx, token, redelivered_because=lost_timer)


async def forget_claim(engine: Engine, ctx: RunContext, queue: str, env: dict[str, Any], dead_engine: str) -> None:
    """An idempotent consumer's claim on the message's key, made by the engine that died holding it, is released."""
    await ctx.refresh()
    link, consumer = engine.consumer_of(ctx, queue)
    key = delivery.idempotency_key(ctx, link, env)
    if key is not None:
        await delivery.release_dead(ctx, consumer.id, key, dead_engine)
