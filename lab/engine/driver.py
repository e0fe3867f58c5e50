"""The load generator of one run: sends its seeded requests on time, plays its preset's script, samples real
queue depths, pool use and breaker states, then lets the work drain and closes the run."""

from __future__ import annotations

import asyncio
import heapq
import logging
import random
import time
from typing import Any

from asgiref.sync import sync_to_async

from lab.engine.interpreter import SAMPLERS, Engine, RunContext
from lab.engine.loop import spawn
from lab.model.topology import RequestClass, Topology
from lab.model.workload import arrival_times

log = logging.getLogger(__name__)
SAMPLE_EVERY_S = 0.25
# Time after the load ends for queues to drain and retries to finish before the run is closed.
DRAIN_GRACE_S = 45


def plan(
    topology: Topology, config: dict[str, Any], script: list[tuple[float, dict[str, Any]]]
) -> list[tuple[float, int, str, Any]]:
    """Every timed action of the run, as a heap of (second, tie-breaker, kind, payload); same seed, same plan."""
    rng = random.Random(config["seed"])
    workload = topology.workload
    classes = {c.name: c for c in workload.classes}
    actions: list[tuple[float, int, str, Any]] = []
    times = arrival_times(
        rate=config["rate"], duration=config["duration"], arrival=config.get("arrival", workload.arrival), rng=rng
    )
    for index, at in enumerate(times):
        for request_class in _classes_for_arrival(workload.classes, classes, workload, config, rng):
            actions.append((at, len(actions), "request", (index, request_class)))
    for at, values in script:
        if at < config["duration"]:
            actions.append((at, len(actions), "script", values))
    heapq.heapify(actions)
    return actions


def _classes_for_arrival(
    ordered: tuple[RequestClass, ...],
    by_name: dict[str, RequestClass],
    workload: Any,
    config: dict[str, Any],
    rng: random.Random,
) -> list[RequestClass]:
    if workload.select_param:
        chosen = config[workload.select_param]
        return list(ordered) if chosen == workload.together else [by_name[chosen]]
    if workload.weights:
        draw = rng.random()
        for request_class in ordered:
            share = workload.weights.get(request_class.name)
            if share is None:
                return [request_class]
            if draw < config[share]:
                return [request_class]
            draw -= config[share]
        return [ordered[-1]]
    return [ordered[0]]


async def drive(engine: Engine, run_id: str) -> None:
    from lab import services

    claimed = await sync_to_async(services.claim_run)(run_id)
    if claimed is None:
        return  # already closed (abandoned while this message waited); never run it twice
    preset, script = claimed
    ctx = await _start(engine, run_id, time.time())
    config = ctx.params
    ctx.emit("run.started", experiment=ctx.topology.slug, preset=preset, config=_config_only(ctx))
    actions = plan(ctx.topology, config, script)
    load_seconds = float(config["duration"])
    status = "finished"
    try:
        next_sample = 0.0
        while True:
            now = time.time() - ctx.started_at
            while actions and actions[0][0] <= now:
                _, _, kind, payload = heapq.heappop(actions)
                if kind == "request":
                    await _send_request(engine, ctx, *payload)
                else:
                    await sync_to_async(services.apply_toggles_by_id)(run_id, payload, by="preset")
            if now >= next_sample:
                await sample(ctx, engine)
                next_sample = now + SAMPLE_EVERY_S
                if await ctx.state.stop_requested():
                    load_seconds = now
                    break
            if not actions and now >= config["duration"]:
                break
            wake = min(actions[0][0] if actions else config["duration"], next_sample)
            await asyncio.sleep(max(0.0, wake - (time.time() - ctx.started_at)))
        await _drain(engine, ctx)
    except Exception:
        log.exception("run %s failed", run_id)
        status = "failed"
    await ctx.flush()
    await sync_to_async(services.finish_run)(run_id, load_seconds=max(load_seconds, 0.001), status=status)
    engine.forget(run_id)


async def _start(engine: Engine, run_id: str, started: float) -> RunContext:
    from lab.engine.state import EngineState

    await EngineState(run_id, engine.redis).set_meta(started_at=started, status="running")
    return await engine.context(run_id)


def _config_only(ctx: RunContext) -> dict[str, Any]:
    return {p.name: ctx.params[p.name] for p in ctx.topology.schema.params if p.name in ctx.params}


async def _send_request(engine: Engine, ctx: RunContext, index: int, request_class: RequestClass) -> None:
    correlation_id = f"r{index + 1:05d}-{request_class.name}"
    await ctx.state.add_outstanding(1)
    tag = {ctx.group_by: request_class.name} if ctx.group_by else {}
    ctx.emit("request.created", correlation_id=correlation_id, **tag)
    spawn(engine.handle_request(ctx, request_class, correlation_id=correlation_id, created_at=time.time()))


async def sample(ctx: RunContext, engine: Engine | None = None) -> None:
    """What the page plots besides events: real queue depths, pool leases and breaker states."""
    topology = ctx.topology
    queues, pools, breakers = topology.queues(), topology.pools(), topology.breaker_targets()
    if queues:
        depths = await ctx.state.queue_depths(queues)
        ctx.emit("queue.depth", depths=depths, dlq=await ctx.state.dead_letter_count())
    if pools or breakers:
        states = await ctx.state.breaker_states(breakers)
        ctx.emit(
            "pool.usage",
            pools=await ctx.state.pool_usage(pools),
            breakers=states,
            breaker=next(iter(states.values()), "CLOSED"),
        )
    if engine is not None:
        for sampler in SAMPLERS:
            await sampler(engine, ctx)


async def _drain(engine: Engine, ctx: RunContext) -> None:
    """Heal every outage, then wait for in-flight requests and queued messages, so nothing is left behind."""
    from lab import services

    await ctx.refresh()
    healed = {k: False for k, v in (await ctx.state.live_params()).items() if k.endswith(".down") and v}
    if healed:
        await sync_to_async(services.apply_toggles_by_id)(ctx.run_id, healed, by="run end")
    await ctx.flush()
    deadline = time.time() + DRAIN_GRACE_S
    while await ctx.state.outstanding() > 0 and time.time() < deadline:
        await sample(ctx, engine)
        await ctx.flush()
        await asyncio.sleep(SAMPLE_EVERY_S)
    await sample(ctx, engine)
