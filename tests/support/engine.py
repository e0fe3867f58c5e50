"""The lab engine on the real Redis with a virtual clock: run a document's requests and read its exact events.

Queue hops that Celery carries in production are handed over in-process here, so a whole run of a handler takes
milliseconds and every time in its events is exact.
"""

from __future__ import annotations

import asyncio
import copy
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from comms_lab.redis_client import async_redis_client
from lab.engine.clock import VirtualClock
from lab.engine.interpreter import Engine, RunContext
from lab.engine.state import EngineState
from lab.events import RunEventLog
from lab.model.catalog import Experiment
from lab.model.events import problems
from lab.model.failures import healing
from lab.model.topology import parse_topology
from lab.runstate import RunState


class VirtualLab:
    def __init__(self, document: dict[str, Any], *, task_budget: int = 100_000, **config: Any) -> None:
        self.clock = VirtualClock()
        self.redis = async_redis_client()
        self.engine = Engine(self.redis, deliver=self._deliver, requeue=self._requeue, clock=self.clock)
        self.experiment = Experiment(parse_topology(document, source="test document"))
        schema = self.experiment.schema
        self.config = {**schema.defaults(), **schema.validate(config)}
        self.run_id = uuid.uuid4().hex
        state = RunState(self.run_id)
        state.init(
            experiment=self.experiment.slug,
            preset="",
            config=self.config,
            live={p.name: self.config[p.name] for p in schema.params if p.live},
            topology=document,
            learner="test",
            task_budget=task_budget,
        )
        state.redis.hset(state.key("meta"), mapping={"started_at": self.clock.now, "status": "running"})

    async def context(self) -> RunContext:
        return await self.engine.context(self.run_id)

    async def request(self, request_class: str, number: int = 1) -> None:
        """Send request `number` of a class now, as the driver would."""
        ctx = await self.context()
        chosen = next(c for c in ctx.topology.workload.classes if c.name == request_class)
        correlation_id = f"r{number:05d}-{request_class}"
        await ctx.state.add_outstanding(1)
        tag = {ctx.group_by: request_class} if ctx.group_by else {}
        ctx.emit("request.created", correlation_id=correlation_id, **tag)
        self.clock.spawn(
            self.engine.handle_request(ctx, chosen, correlation_id=correlation_id, created_at=self.clock.time())
        )

    async def later(self, seconds: float, action: Any) -> None:
        """Do `await action()` `seconds` of virtual time from now (a toggle, another request)."""

        async def wait_then() -> None:
            await self.clock.sleep(seconds)
            await action()

        self.clock.spawn(wait_then())

    async def toggle(self, **values: Any) -> None:
        ctx = await self.context()
        values = {k.replace("__", "."): v for k, v in values.items()}
        RunState(self.run_id).set_live(values)
        ctx.params.update(values)
        ctx.emit("toggle", values=values, by="test")

    async def dispatch_all(self) -> None:
        """What the web process asks the workers to do when a consumer comes back (lab.tasks.dispatch)."""
        await self.engine.dispatch_all(await self.context())

    async def finish(self) -> list[dict[str, Any]]:
        """Run until nothing is left to do; the run's events, numbered, as the page would get them."""
        await self.clock.run_until_idle()
        await self.engine.sink.flush(self.run_id)
        await self.redis.aclose()
        events = RunEventLog(self.run_id).after(0)
        broken = sorted({problem for event in events for problem in problems(event)})
        assert not broken, f"events break their contract (lab/model/events.py): {broken}"
        return events

    def _deliver(self, run_id: str, queue: str, message: dict[str, Any]) -> None:
        self.clock.spawn(self.engine.receive([(run_id, queue, message)]))

    def _requeue(self, run_id: str, token: str, delay_s: float) -> None:
        async def put_back() -> None:
            await self.clock.sleep(delay_s)
            await self.engine.end_backoff(self.engine.contexts[run_id], token)

        self.clock.spawn(put_back())


def trace(events: list[dict[str, Any]], *fields: str) -> list[tuple[Any, ...]]:
    """Each event as (type, t in ms, the given fields), the form tests compare whole sequences in."""
    return [(e["type"], round(e["t"] * 1000), *(e.get(f) for f in fields)) for e in events]


# Played presets by (experiment, preset, seed, overrides): a played run is deterministic, so every claim test of
# the session that asks for the same one reads the same run instead of playing it again.
_PLAYED: dict[tuple[str, str, int, str], tuple[dict[str, Any], list[dict[str, Any]]]] = {}


async def run_preset(
    experiment: str, preset: str, *, seed: int, alongside: Iterable[int] = (), **overrides: Any
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A built-in experiment's preset played whole on the virtual clock, as the driver plays it: seeded arrivals,
    the scripted toggles on time, samples every 250 ms. Its summary (as the run would save it, with its invariants
    and findings) and events; the summary is the caller's own copy, the events are shared with other callers and
    must not be changed.

    `alongside`: more seeds to play at the same time when they are not played yet, each on its own virtual clock,
    so one run's Redis round trips overlap another's work; the claims about those seeds then read them played.
    """
    seeds = [seed, *(s for s in alongside if s != seed)]
    keys = {s: (experiment, preset, s, repr(sorted(overrides.items()))) for s in seeds}
    missing = [s for s in seeds if keys[s] not in _PLAYED]
    played = await asyncio.gather(*(_play_preset(experiment, preset, seed=s, **overrides) for s in missing))
    _PLAYED.update((keys[s], run) for s, run in zip(missing, played, strict=True))
    summary, events = _PLAYED[keys[seed]]
    return copy.deepcopy(summary), events


async def run_preset_seeds(
    experiment: str, preset: str, seeds: Sequence[int], **overrides: Any
) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """`run_preset` on each seed, played side by side: (summary, events) per seed, in the order of `seeds`."""
    return [await run_preset(experiment, preset, seed=s, alongside=seeds, **overrides) for s in seeds]


async def _play_preset(
    experiment: str, preset: str, *, seed: int, **overrides: Any
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    from lab.engine.driver import SAMPLE_EVERY_S, plan, sample
    from lab.model.catalog import EXPERIMENTS
    from lab.model.invariants import check_invariants, findings
    from lab.model.metrics import summarize

    chosen = EXPERIMENTS[experiment]
    found = chosen.preset(preset)
    assert found is not None, f"no preset {preset!r} in {experiment}"
    lab = VirtualLab(chosen.topology.document, **{**found.config, "seed": seed, **overrides})
    ctx = await lab.context()
    duration = float(lab.config["duration"])
    script = [(step.at, step.values) for step in found.script]
    for at, _, kind, payload in sorted(plan(chosen.topology, lab.config, script)):
        if kind == "request":
            index, request_class = payload
            await lab.later(at, lambda i=index, c=request_class: lab.request(c.name, i + 1))
        else:
            await lab.later(at, lambda values=payload: lab.toggle(**values))

    async def sampling() -> None:
        while True:
            await sample(ctx, lab.engine)
            if lab.clock.now - ctx.started_at >= duration and await ctx.state.outstanding() <= 0:
                return
            await lab.clock.sleep(SAMPLE_EVERY_S)

    async def heal_at_end() -> None:  # as the driver does when the load ends: every outage is healed
        healed = healing(ctx.params)
        if healed:
            await lab.toggle(**healed)
            await lab.dispatch_all()

    lab.clock.spawn(sampling())
    await lab.later(duration, heal_at_end)
    events = await lab.finish()
    topology = chosen.topology
    summary = summarize(events, duration_s=duration, group_by=topology.workload.group_by)
    summary["invariants"] = check_invariants(topology.invariants, events, summary, group_by=topology.workload.group_by)
    summary["findings"] = findings(summary, group_by=topology.workload.group_by, events=events)
    return summary, events


async def ledger_of(state: EngineState, queue: str) -> dict[str, str]:
    """A queue's messages started and not acknowledged, by consumer, as the watchdog reads them."""
    ledgers, _ = await state.in_flight([queue])
    return ledgers[queue]


def depth_at(events: list[dict[str, Any]], queue: str, t: float) -> int:
    """The queue's depth in the last sample taken at or before `t` (a sample is sent when a depth changed, and once a
    second whatever)."""
    return [e["depths"][queue] for e in events if e["type"] == "queue.depth" and e["t"] <= t][-1]
