"""The load generator of one run: sends its seeded requests on time, plays its preset's script, samples real
queue depths, pool use and breaker states, then lets the work drain and closes the run."""

from __future__ import annotations

import asyncio
import functools
import heapq
import logging
import math
import random
import time
from collections.abc import Callable
from typing import Any

from asgiref.sync import sync_to_async

from comms_lab.redis_client import rkey
from lab.engine.interpreter import SAMPLERS, Engine, RunContext
from lab.engine.loop import ENGINE_ID
from lab.engine.state import Snapshot
from lab.events import RunEventLog
from lab.model.failures import healing
from lab.model.topology import RequestClass, Topology
from lab.model.workload import arrival_times

log = logging.getLogger(__name__)
# A driver renews its lease at every sample; a worker that finds a running run without one takes it over.
LEASE_TTL_S = 4
RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return 0
"""


class LeaseLost(Exception):
    """Another engine drives this run now; this one must stop without closing it."""


SAMPLE_EVERY_S = 0.25
# Every this many samples one goes out whole, with the fidelity figures; in between, only what changed.
WHOLE_EVERY_SAMPLES = 4
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
    """Start a queued run: claim it, take its driver lease, and play its load from the first action."""
    from lab import services

    claimed = await sync_to_async(services.claim_run)(run_id)
    if claimed is None:
        return  # already closed (abandoned while this message waited); never run it twice
    preset, script = claimed
    # A run starts when it is claimed, not on a beat shared with other runs: runs started on one beat send their
    # seeded arrivals at the same instants, and a class's bursts then delayed each checkout by 3-6% of its time
    # (docs/benchmarks.md). Each run samples on its own grid, at the same points of its own load.
    await engine.redis.set(lease_key(run_id), ENGINE_ID, ex=LEASE_TTL_S)
    ctx = await _start(engine, run_id, time.time())
    ctx.emit("run.started", experiment=ctx.topology.slug, preset=preset, config=_config_only(ctx))
    await _play(engine, ctx, script, skip=0)


async def resume(engine: Engine, run_id: str) -> None:
    """Take over a run whose driver died: its requests in flight died with it (counted as lost, never hidden);
    its queued messages are safe in Redis; the load goes on from the next action it had not played."""
    from lab import services

    script = await sync_to_async(services.run_script)(run_id)
    if script is None:
        return  # the run's row was deleted (its learner's account with it): nothing left to drive
    ctx = await engine.context(run_id)
    events = await sync_to_async(RunEventLog(run_id).after)(0)
    finished = {e["correlation_id"] for e in events if e["type"] in ("request.finished", "request.lost")}
    lost = [e for e in events if e["type"] == "request.created" and e["correlation_id"] not in finished]
    for event in lost:
        tag = {ctx.group_by: event[ctx.group_by]} if ctx.group_by and ctx.group_by in event else {}
        ctx.emit("request.lost", correlation_id=event["correlation_id"], reason="its driver's worker died", **tag)
    ctx.emit("driver.takeover", by=ENGINE_ID, lost=len(lost))
    await ctx.settle(-len(lost))
    skip = int(await engine.redis.get(ctx.state.key("cursor")) or 0)
    created = frozenset(e["correlation_id"] for e in events if e["type"] == "request.created")
    await _play(engine, ctx, script, skip=skip, created=created)


async def _play(
    engine: Engine,
    ctx: RunContext,
    script: list[tuple[float, dict[str, Any]]],
    *,
    skip: int,
    created: frozenset[str] = frozenset(),
) -> None:
    """Play the actions from the `skip`th on. The cursor counts played actions and only passes them once what they
    logged is in the log, so a driver killed in between leaves its successor a request that is either in the log
    (created: counted lost, never sent twice) or not played at all (sent by the successor)."""
    from lab import services

    run_id = ctx.run_id
    config = ctx.params
    actions = plan(ctx.topology, config, script)
    for _ in range(min(skip, len(actions))):
        heapq.heappop(actions)
    load_seconds = float(config["duration"])
    status, reason = "finished", ""
    try:
        next_sample = last_at = 0.0
        while True:
            now = time.time() - ctx.started_at
            played = 0
            while actions and actions[0][0] <= now:
                at, _, kind, payload = heapq.heappop(actions)
                played += 1
                if kind == "script":
                    await sync_to_async(services.apply_toggles_by_id)(run_id, payload, by="preset")
                elif correlation_id(*payload) not in created:
                    ctx.record_lag(planned_s=at - last_at, late_s=now - at)  # was each arrival sent on time?
                    last_at = at
                    await _send_request(engine, ctx, *payload)
            if played:  # the cursor passes its requests in one transaction with the logging of their request.created
                ctx.sink.commit_with_log(run_id, functools.partial(_pass_cursor, ctx, played))
            if now >= next_sample:
                interrupted, stop = await check_in_and_sample(engine, ctx)
                next_sample = next_beat(now)  # on the run's grid, so a late wake does not shift the beats
                if interrupted:
                    status, reason, load_seconds = "interrupted", interrupted, now
                    break
                if stop:
                    load_seconds = now
                    break
            if not actions and now >= config["duration"]:
                break
            wake = min(actions[0][0] if actions else config["duration"], next_sample)
            await asyncio.sleep(max(0.0, wake - (time.time() - ctx.started_at)))
        await _drain(engine, ctx)
    except LeaseLost:
        return
    except Exception:
        log.exception("run %s failed", run_id)
        status = "failed"
    ctx.report_fidelity()
    await ctx.flush()
    if status == "finished" and (interrupted := await ctx.state.interrupted_because()):
        status, reason = "interrupted", interrupted  # events were lost while the run drained
    await sync_to_async(services.finish_run)(
        run_id, load_seconds=max(load_seconds, 0.001), status=status, reason=reason
    )
    await engine.redis.delete(lease_key(run_id))
    engine.forget(run_id)


def _pass_cursor(ctx: RunContext, played: int, pipe: Any) -> None:
    pipe.incrby(ctx.state.key("cursor"), played)


def lease_key(run_id: str) -> str:
    """Held by the engine driving the run; it lapses LEASE_TTL_S after that engine stops renewing it."""
    return rkey("run", run_id, "driver")


def next_beat(seconds: float) -> float:
    """The next multiple of SAMPLE_EVERY_S after `seconds` of run time: the run's own sampling grid."""
    return (math.floor(seconds / SAMPLE_EVERY_S) + 1) * SAMPLE_EVERY_S


async def check_in_and_sample(engine: Engine, ctx: RunContext) -> tuple[str | None, bool]:
    """Renew the driver's lease, read why the run was interrupted (if it was) and whether its learner asked it to
    stop, and take a sample, in one round trip, shared with any runs of this process checking in in the same turn of
    its loop. Raises LeaseLost when another worker took the run over while this one stalled: it drives from here."""
    read: Callable[[list[Any]], Snapshot] | None = None

    def add(pipe: Any) -> None:
        nonlocal read
        pipe.eval(RENEW, 1, lease_key(ctx.run_id), ENGINE_ID, LEASE_TTL_S)
        pipe.get(ctx.state.key("interrupted"))
        pipe.exists(ctx.state.key("stop"))
        read = _snapshot_on(pipe, ctx)

    renewed, interrupted, stop, *seen = await engine.together.execute(add)
    assert read is not None
    if not renewed:
        raise LeaseLost(ctx.run_id)
    await _emit_sample(ctx, engine, read(seen))
    return interrupted, bool(stop)


async def _start(engine: Engine, run_id: str, started: float) -> RunContext:
    from lab.engine.state import EngineState

    await EngineState(run_id, engine.redis).set_meta(started_at=started, status="running")
    return await engine.context(run_id)


def _config_only(ctx: RunContext) -> dict[str, Any]:
    return {p.name: ctx.params[p.name] for p in ctx.topology.schema.params if p.name in ctx.params}


def correlation_id(index: int, request_class: RequestClass) -> str:
    """A planned request's id: the same for the same seed, whichever driver sends it."""
    return f"r{index + 1:05d}-{request_class.name}"


async def _send_request(engine: Engine, ctx: RunContext, index: int, request_class: RequestClass) -> None:
    request_id = correlation_id(index, request_class)
    tag = {ctx.group_by: request_class.name} if ctx.group_by else {}
    ctx.emit("request.created", correlation_id=request_id, **tag)
    # Counted as outstanding in the script call that logs request.created; the request settles its own count on this
    # same sink, so the two can only meet in Redis in that order.
    await ctx.settle(1)
    ctx.clock.spawn(engine.handle_request(ctx, request_class, correlation_id=request_id, created_at=ctx.clock.time()))


async def sample(ctx: RunContext, engine: Engine | None = None, *, whole: bool = False) -> None:
    """What the page plots besides events: real queue depths, pool leases and breaker states (`_emit_sample`)."""
    pipe = ctx.state.redis.pipeline(transaction=False)
    read = _snapshot_on(pipe, ctx)
    await _emit_sample(ctx, engine, read(await pipe.execute()), whole=whole)


def _snapshot_on(pipe: Any, ctx: RunContext) -> Callable[[list[Any]], Snapshot]:
    topology = ctx.topology
    return ctx.state.snapshot_on(
        pipe, queues=topology.queues(), pools=topology.pools(), breakers=topology.breaker_targets()
    )


async def _emit_sample(ctx: RunContext, engine: Engine | None, seen: Snapshot, *, whole: bool = False) -> None:
    """Queue depths and pool figures go out when they changed since the last sample, and whole once a second (then
    with the fidelity figures, and always when `whole`): a run whose queues stay put costs no event, log entry or
    live frame for them three samples in four, and the page draws samples as steps that hold until the next."""
    whole = whole or ctx.samples % WHOLE_EVERY_SAMPLES == 0
    ctx.samples += 1
    if seen.depths:
        _emit_if_changed(ctx, "queue.depth", {"depths": seen.depths, "dlq": seen.dead_letters}, whole)
    if seen.pools or seen.breakers:
        breaker = next(iter(seen.breakers.values()), "CLOSED")
        figures = {"pools": seen.pools, "breakers": seen.breakers, "breaker": breaker}
        _emit_if_changed(ctx, "pool.usage", figures, whole, full_s=seen.full_s)
    if whole:
        ctx.emit("fidelity", **seen.fidelity)
    if engine is not None:
        for sampler in SAMPLERS:
            await sampler(engine, ctx)


def _emit_if_changed(ctx: RunContext, event_type: str, figures: dict[str, Any], whole: bool, **running: Any) -> None:
    """`running` figures (a pool's time full so far) go out with the others but move on their own, so they alone
    send nothing."""
    if whole or ctx.sampled.get(event_type) != figures:
        ctx.emit(event_type, **figures, **running)
        ctx.sampled[event_type] = figures


async def _drain(engine: Engine, ctx: RunContext) -> None:
    """Heal every outage, then wait for in-flight requests and queued messages, so nothing is left behind."""
    from lab import services

    await ctx.refresh()
    healed = healing(await ctx.state.live_params())
    if healed:
        await sync_to_async(services.apply_toggles_by_id)(ctx.run_id, healed, by="run end")
    await ctx.flush()
    deadline = time.time() + DRAIN_GRACE_S
    while await ctx.state.outstanding() > 0 and time.time() < deadline:
        await check_in_and_sample(engine, ctx)
        await ctx.flush()
        await asyncio.sleep(SAMPLE_EVERY_S)
    await sample(ctx, engine, whole=True)  # the run's last figures, whatever the one before said
