"""The load generator: sends a run's seeded requests on time, plays its preset's script, samples real queue
depths and pool use, then waits for the work to drain and closes the run."""

from __future__ import annotations

import heapq
import logging
import random
import time
from typing import Any

from django.utils import timezone

from lab import services
from lab.events import emit
from lab.model.experiments import CHECKOUT_ASYNC, EXPERIMENTS
from lab.model.workload import arrival_times
from lab.models import Run
from lab.runstate import RunState

log = logging.getLogger(__name__)
SAMPLE_EVERY_S = 0.25
POOLS = ["gateway", "orders", "inventory", "bulkhead"]


def _plan(run: Run, rng: random.Random) -> list[tuple[float, int, str, Any]]:
    """Every timed action of the run, as a heap of (second, tie-breaker, kind, payload)."""
    cfg = run.config
    plan: list[tuple[float, int, str, Any]] = []
    times = arrival_times(rate=cfg["rate"], duration=cfg["duration"], arrival=cfg.get("arrival", "uniform"), rng=rng)
    for index, at in enumerate(times):
        if run.experiment == "cascade":
            path = "browse" if rng.random() < cfg["browse_share"] else "checkout"
            plan.append((at, len(plan), "request", {"index": index, "path": path}))
        else:
            modes = ["sync", "hybrid"] if cfg["mode"] == "side_by_side" else [cfg["mode"]]
            for mode in modes:
                plan.append((at, len(plan), "request", {"index": index, "mode": mode}))
    preset = EXPERIMENTS[run.experiment].preset(run.preset) if run.preset else None
    for step in preset.script if preset else ():
        if step.at < cfg["duration"]:
            plan.append((step.at, len(plan), "script", step.values))
    heapq.heapify(plan)
    return plan


def _send_request(run: Run, state: RunState, payload: dict[str, Any], *, t: float) -> None:
    from lab import tasks

    suffix = payload.get("mode") or payload.get("path")
    correlation_id = f"r{payload['index'] + 1:05d}-{suffix}"
    state.add_outstanding(1)
    created = time.time()
    emit(
        str(run.id),
        [
            {
                "type": "request.created",
                "t": round(t, 3),
                "correlation_id": correlation_id,
                **{k: v for k, v in payload.items() if k != "index"},
            }
        ],
    )
    if run.experiment == "cascade":
        tasks.cascade_request.delay(str(run.id), correlation_id, payload["path"], created, 1)
    else:
        tasks.checkout_order.delay(str(run.id), correlation_id, payload["mode"], created)


def _sample(run: Run, state: RunState, *, t: float) -> None:
    t = round(t, 3)
    if run.experiment == "checkout":
        events = [
            {
                "type": "queue.depth",
                "t": t,
                "depths": state.queue_depths(list(CHECKOUT_ASYNC)),
                "dlq": len(state.dead_letters()),
            }
        ]
    else:
        events = [
            {
                "type": "pool.usage",
                "t": t,
                "pools": state.pool_usage(POOLS),
                "breaker": state.breaker_state("inventory"),
            }
        ]
    emit(str(run.id), events)


def drive(run_id: str) -> None:
    run = Run.objects.get(pk=run_id)
    if run.status != Run.Status.QUEUED:
        return  # already closed (abandoned while this message waited); never run it twice
    state = RunState(run_id)
    started = time.time()
    state.set_meta(started_at=started, status="running")
    Run.objects.filter(pk=run_id).update(status=Run.Status.RUNNING, started_at=timezone.now())
    cfg = run.config
    emit(run_id, [{"type": "run.started", "t": 0.0, "experiment": run.experiment, "preset": run.preset, "config": cfg}])
    if run.experiment == "checkout" and cfg["mode"] != "sync":
        for service in CHECKOUT_ASYNC:
            services.set_consuming(run_id, service, consuming=not cfg.get(f"{service}.down", False))
    plan = _plan(run, random.Random(cfg["seed"]))
    next_sample = 0.0
    load_seconds = float(cfg["duration"])
    try:
        while True:
            now = time.time() - started
            if state.stop_requested():
                load_seconds = now
                break
            while plan and plan[0][0] <= now:
                _, _, kind, payload = heapq.heappop(plan)
                if kind == "request":
                    _send_request(run, state, payload, t=time.time() - started)
                else:
                    services.apply_toggles(run, payload, by="preset")
            if now >= next_sample:
                _sample(run, state, t=time.time() - started)
                next_sample = now + SAMPLE_EVERY_S
            if not plan and now >= cfg["duration"]:
                break
            wake = min(plan[0][0] if plan else cfg["duration"], next_sample)
            time.sleep(max(0.0, min(wake - (time.time() - started), 0.05)))
        _drain(run, state, started)
        services.finish_run(run_id, load_seconds=max(load_seconds, 0.001))
    except Exception:
        log.exception("run %s failed", run_id)
        services.finish_run(run_id, load_seconds=max(time.time() - started, 0.001), status=Run.Status.FAILED)
        raise


def _drain(run: Run, state: RunState, started: float) -> None:
    """Heal every fault, then wait for in-flight requests and queued messages, so nothing is left behind."""
    params = state.params()
    healed = {k: False for k, v in params.items() if k.endswith(".down") and v}
    if healed:
        services.apply_toggles(run, healed, by="run end")
    deadline = time.time() + services.DRAIN_GRACE_S
    next_sample = 0.0
    while state.outstanding() > 0 and time.time() < deadline:
        if time.time() >= next_sample:
            _sample(run, state, t=time.time() - started)
            next_sample = time.time() + SAMPLE_EVERY_S
        time.sleep(0.05)
    _sample(run, state, t=time.time() - started)
