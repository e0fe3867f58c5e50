"""Every worker's engine watches the active runs: it beats for itself, takes over a run whose driver stopped
renewing its lease, and puts back on their queues the messages a dead worker was holding (unacknowledged)."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import cast

from comms_lab.redis_client import rkey
from lab.engine.driver import LEASE_TTL_S, lease_key, resume
from lab.engine.interpreter import Engine
from lab.engine.loop import ENGINE_ID, spawn

log = logging.getLogger(__name__)
BEAT_EVERY_S = 2.0
BEAT_TTL_S = 6


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


async def redeliver_orphans(engine: Engine, run_id: str) -> None:
    """A message a dead worker took but never finished goes back to the front of its queue, as a broker does
    when a consumer's connection drops without an ack."""
    ctx = await engine.context(run_id)
    for queue in ctx.topology.queues():
        held = cast(dict[str, str], await engine.redis.hgetall(ctx.state.key("unacked", queue)))
        for message_id, raw in held.items():
            entry = json.loads(raw)
            if await engine.redis.exists(engine_key(entry["engine"])):
                continue
            if await engine.redis.hdel(ctx.state.key("unacked", queue), message_id):
                env = {**entry["env"], "redelivered": True}
                ctx.emit("message.redelivered", reason="its consumer's worker died", **env)
                await ctx.state.enqueue(queue, env, front=True)
                await ctx.state.done_with(queue, env.get("consumer", 1))
                await engine.dispatch(ctx, queue)
