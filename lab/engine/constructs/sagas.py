"""Sagas: ordered steps, each with a compensation; a failure undoes the completed steps in reverse order.

A `saga` step runs its `steps` (calls, sends, any step) as the service that holds it, the orchestrator. A step
that fails, or times out, ends the forward path; the completed steps' compensations then run newest first, each
retried with backoff (the retry policy named by the saga's `retry`, or a default) until it succeeds or gives up,
which leaves the saga `stuck`. A step that timed out may still succeed at its callee: the saga waits for that late
answer and compensates it too, because the callee did the work even though the orchestrator stopped waiting.

Each instance's state (running, compensating, completed, compensated, failed, stuck; its current step; what it
completed and undid) is a hash in Redis, so the page lists real instances. The orchestrator's own `crash` fault
kills it right after a step: `after_ack` once the step's outcome is saved, `before_ack` before (so the resumed saga
runs that step again, and a step that is not idempotent is done twice); it is back `RESTART_S` later and resumes
every such saga from Redis alone, compensating a timed-out step whose late answer died with it. Events:
saga.started, saga.step, saga.compensating, saga.compensation, saga.crashed, saga.resumed, saga.ended, and
saga.states samples (instances per state).

The same construct serves choreography. Each participant does its local step inside its own saga for the order
(one instance per order and saga name); when a step fails, that saga's own `compensate` step announces the failure
(publishes `shipment.failed`), and the services that hear it run `- saga: {name: <their saga>, undo: true}`, which
compensates what their saga for that order completed. A saga in a consumer's reaction acknowledges its message
whatever its end, so a redelivery never redoes its steps. A forward step whose message starts other services'
sagas names them in its `saga.step` (`hands_to`), so the saga invariant can tell an order that never reached its
next participant (its event dead-lettered, dropped or missed) from one that completed.

Document (a workload class's or a service's steps):

    - saga:
        retry: comp_retry            # retry policy for compensations (default: 5 attempts, 200 ms exponential)
        compensations: saga.compensations   # optional bool parameter; false skips every compensation
        steps:
          - {call: payment-api, name: charge, compensate: {call: payment-api, name: refund}}
      compensate: {send: events, key: order.failed}   # optional: run once the saga has been undone
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, cast

from lab.engine.interpreter import SAMPLERS, CallResult, Engine, RunContext, step_handler
from lab.engine.state import WORKING_TTL_S
from lab.engine.subscriptions import live_route
from lab.model.failures import FailureSpec
from lab.model.policies import RetryPolicy
from lab.model.routing import binding_matches, filter_passes
from lab.model.sagas import CRASHED_BEFORE_SAVING
from lab.model.topology import Service, Step, has_sagas, step_name

# Compensations must eventually succeed, so without a named policy they are still retried, with backoff.
DEFAULT_COMPENSATION_RETRY = RetryPolicy(
    max_attempts=5, delay_ms=200.0, backoff="exponential", multiplier=2.0, max_delay_ms=2000.0
)
# A crashed orchestrator is back after this long and resumes its sagas from Redis; one that crashes more often
# than MAX_RESTARTS times in one saga leaves it stuck.
RESTART_S = 1.0
MAX_RESTARTS = 5
# How often a saga looks again for the late answer of a step that timed out (the call ends by itself).
LATE_POLL_S = 1.0
# The states an instance passes through; `saga.states` samples count instances in each.
STATES = ("running", "compensating", "completed", "compensated", "failed", "stuck")


class OrchestratorCrash(Exception):
    """The orchestrator's process died (its `crash` fault): what it held in memory is gone, Redis kept the rest."""

    def __init__(self, step: str, moment: str) -> None:
        super().__init__(f"crashed at {step} {moment}")
        self.step, self.moment = step, moment


@dataclass
class SagaInstance:
    """One saga run by one orchestrator, mirrored to Redis at every transition and resumed from there.

    Steps are kept by index (`-1` is the saga's own `compensate`); events and the page get their names.
    """

    ctx: RunContext
    id: str
    name: str
    correlation_id: str
    names: list[str]
    reaction: bool = False  # run by a consumer for a message, not by a request
    state: str = "running"
    current: str = ""
    next: int = 0  # the next forward step
    failure: str = ""
    done: list[int] = field(default_factory=list)  # forward steps completed, in order
    undone: list[int] = field(default_factory=list)  # compensations that succeeded, in order
    late: list[int] = field(default_factory=list)  # steps that timed out; their answer may still come
    gave_up: list[int] = field(default_factory=list)  # compensations whose retries ran out
    saved_state: str | None = None

    def tag(self) -> dict[str, Any]:
        return {"saga": self.id, "correlation_id": self.correlation_id}

    def name_of(self, index: int) -> str:
        return self.name if index < 0 else self.names[index]

    @property
    def completed(self) -> list[str]:
        return [self.name_of(i) for i in self.done]

    @property
    def compensated(self) -> list[str]:
        return [self.name_of(i) for i in self.undone]

    async def save(self) -> None:
        """Write the instance and keep per-state counts, in one round trip."""
        state = self.ctx.state
        key, counts = state.key("saga", self.id), state.key("saga-states")
        pipe = state.redis.pipeline(transaction=False)
        pipe.hset(
            key,
            mapping={
                "name": self.name,
                "correlation_id": self.correlation_id,
                "state": self.state,
                "current": self.current,
                "next": self.next,
                "failure": self.failure,
                "completed": json.dumps(self.completed),
                "compensated": json.dumps(self.compensated),
                **{part: json.dumps(getattr(self, part)) for part in ("done", "undone", "late", "gave_up")},
            },
        )
        pipe.expire(key, WORKING_TTL_S)
        if self.saved_state != self.state:
            if self.saved_state is not None:
                pipe.hincrby(counts, self.saved_state, -1)
            pipe.hincrby(counts, self.state, 1)
            pipe.expire(counts, WORKING_TTL_S)
        await pipe.execute()
        self.saved_state = self.state

    async def reload(self) -> None:
        """Forget what memory held and take the instance as Redis kept it, as a restarted orchestrator does."""
        raw = cast(dict[str, str], await self.ctx.state.redis.hgetall(self.ctx.state.key("saga", self.id)))
        self.state = self.saved_state = raw["state"]
        self.current, self.next, self.failure = raw["current"], int(raw["next"]), raw["failure"]
        for part in ("done", "undone", "late", "gave_up"):
            setattr(self, part, json.loads(raw[part]))


def instance_id(service: Service, name: str, env: dict[str, Any]) -> str:
    """One instance per request attempt. A participant's saga in a reaction is one per order and saga name, so a
    later reaction of the same service (`undo`) finds it."""
    if "queue" in env:
        return f"{env['correlation_id']}:{name}"
    attempt = int(env.get("attempt", 1))
    return str(env["correlation_id"]) + (f"#{attempt}" if attempt > 1 else "")


@step_handler("saga")
async def run_saga(engine: Engine, ctx: RunContext, service: Service, step: Step, env: dict[str, Any]) -> str | None:
    """Forward steps in order; on the first failure, compensate what completed, newest first; after an
    orchestrator crash, resume from the state in Redis. With `undo`, compensate an earlier reaction's saga."""
    name = str(step.options.get("name") or service.id)
    if step.options.get("undo"):
        return await _undo(engine, ctx, service, name, env)
    saga = SagaInstance(
        ctx=ctx,
        id=instance_id(service, name, env),
        name=name,
        correlation_id=str(env["correlation_id"]),
        names=[step_name(child) for child in step.children],
        reaction="queue" in env,
    )
    _check_options(ctx, step)
    ctx.emit("saga.started", name=saga.name, service=service.id, steps=saga.names, reaction=saga.reaction, **saga.tag())
    await saga.save()
    for restart in range(MAX_RESTARTS + 1):
        late: dict[int, asyncio.Task[CallResult]] = {}  # in-flight answers live in memory only
        try:
            return await _drive(engine, ctx, service, step, env, saga, late)
        except OrchestratorCrash as crash:
            ctx.emit("saga.crashed", step=crash.step, moment=crash.moment, **saga.tag())
            await ctx.flush()
            await ctx.clock.sleep(RESTART_S)
            await saga.reload()
            resumed_at = saga.name_of(saga.next) if saga.next < len(saga.names) else ""
            ctx.emit("saga.resumed", state=saga.state, next_step=resumed_at, restart=restart + 1, **saga.tag())
    return await _end(saga, "stuck", f"{saga.name} orchestrator crashed {MAX_RESTARTS + 1} times")


async def _drive(
    engine: Engine,
    ctx: RunContext,
    service: Service,
    step: Step,
    env: dict[str, Any],
    saga: SagaInstance,
    late: dict[int, asyncio.Task[CallResult]],
) -> str | None:
    """Take the instance from wherever it stands to its end."""
    children = step.children
    while not saga.failure and saga.next < len(children):
        index, child = saga.next, children[saga.next]
        saga.current = saga.names[index]
        await saga.save()
        outcome, pending = await _forward(engine, ctx, service, child, env)
        crash = await _crash(ctx, service, saga)
        if crash == "before_ack":
            raise OrchestratorCrash(saga.current, CRASHED_BEFORE_SAVING)
        handed = _saga_takers(ctx, child) if outcome == "ok" else []
        ctx.emit(
            "saga.step",
            step=saga.current,
            index=index,
            outcome=outcome,
            compensable=child.compensation is not None,
            **({"hands_to": handed} if handed else {}),
            **saga.tag(),
        )
        if outcome == "ok":
            saga.done.append(index)
            saga.next = index + 1
        else:
            if pending is not None:
                late[index] = pending
                saga.late.append(index)
            saga.failure = f"{saga.current}: {outcome}"
        await saga.save()
        if crash == "after_ack":
            raise OrchestratorCrash(saga.current, "after saving its outcome")
    if not saga.failure:
        return await _end(saga, "completed", None)
    await ctx.refresh()
    undo = _compensations_on(ctx, step)
    if undo:
        to_undo = [i for i in reversed(saga.done) if children[i].compensation is not None and i not in saga.undone]
        if saga.state != "compensating":
            saga.state = "compensating"
            await saga.save()
            ctx.emit(
                "saga.compensating",
                failed_step=saga.current,
                reason=saga.failure,
                steps=[saga.names[i] for i in to_undo],
                **saga.tag(),
            )
        for index in to_undo:
            await _compensate(engine, ctx, service, step, saga, index, env)
    for index in saga.late:
        child = children[index]
        pending = late.get(index)
        if pending is not None:
            while not await ctx.clock.wait(pending, LATE_POLL_S):
                pass  # the call gives up by itself after the client's longest wait
            outcome = pending.result().outcome
        else:
            outcome = "unknown"  # the answer went with the crashed process: undo it in case it was done
        ctx.emit(
            "saga.step",
            step=saga.names[index],
            index=index,
            outcome=f"late_{outcome}",
            compensable=child.compensation is not None,
            **saga.tag(),
        )
        if outcome == "ok":
            saga.done.append(index)
        if outcome in ("ok", "unknown") and undo and child.compensation is not None:
            await _compensate(engine, ctx, service, step, saga, index, env)
    if undo and step.compensation is not None:
        await _compensate(engine, ctx, service, step, saga, -1, env)
    compensable = {i for i, child in enumerate(children) if child.compensation is not None}
    left = compensable & (set(saga.done) - set(saga.undone))
    state = "stuck" if saga.gave_up else ("failed" if left else "compensated")
    return await _end(saga, state, saga.failure)


async def _undo(engine: Engine, ctx: RunContext, service: Service, name: str, env: dict[str, Any]) -> str | None:
    """Choreography's compensation: another service's failure event reached this one, which undoes what its own
    saga for the order completed (newest first, retried), as that saga's `compensate` steps say."""
    forward = _forward_saga(service, name)
    saga = SagaInstance(
        ctx=ctx,
        id=instance_id(service, name, env),
        name=name,
        correlation_id=str(env["correlation_id"]),
        names=[step_name(child) for child in forward.children],
        reaction=True,
    )
    if not await ctx.state.redis.exists(ctx.state.key("saga", saga.id)):
        return None  # this service never acted for the order: nothing of its own to undo
    await saga.reload()
    await ctx.refresh()
    if not _compensations_on(ctx, forward):
        return None
    to_undo = [i for i in reversed(saga.done) if forward.children[i].compensation is not None and i not in saga.undone]
    saga.state, saga.failure = "compensating", saga.failure or f"undone on {env.get('key', '')}"
    await saga.save()
    ctx.emit(
        "saga.compensating",
        failed_step="",
        reason=saga.failure,
        steps=[saga.names[i] for i in to_undo],
        **saga.tag(),
    )
    for index in to_undo:
        await _compensate(engine, ctx, service, forward, saga, index, env)
    if forward.compensation is not None and -1 not in saga.undone:
        await _compensate(engine, ctx, service, forward, saga, -1, env)
    return await _end(saga, "stuck" if saga.gave_up else "compensated", saga.failure)


def _saga_takers(ctx: RunContext, child: Step) -> list[str]:
    """The services whose own saga this forward step's message starts (choreography's hand-over), as routing stands
    now: the saga invariant expects each of them to take its step for the order, so an order stranded by a
    dead-letter, a drop or a missed copy before the next participant is not mistaken for a completed one."""
    if child.kind not in ("send", "outbox"):
        return []
    link = ctx.topology.links[child.target]
    key, body = str(child.options.get("key", "")), dict(child.options.get("body") or {})
    if link.kind == "topic":
        routed = [(sub.to, key) for sub in link.subscriptions if _matches(live_route(ctx, sub), key, body)]
    elif link.kind == "stream":
        routed = [(group.to, str(child.options.get("event", ""))) for group in link.groups]
    else:
        routed = [(link.target, key)]
    takers = [service for service, event in routed if _starts_saga(ctx.topology.services[service], event)]
    return sorted(set(takers))


def _matches(route: tuple[bool, str, str], key: str, body: dict[str, Any]) -> bool:
    _, binding, text_filter = route
    return binding_matches(binding, key) and filter_passes(text_filter, body)


def _starts_saga(service: Service, event: str) -> bool:
    """Whether a message of this routing key (or stream event) makes the service run a saga of its own."""
    handler = service.on.get(event, service.steps)
    return any(step.kind == "saga" and not step.options.get("undo") for step in handler)


def _forward_saga(service: Service, name: str) -> Step:
    """The saga an `undo` step compensates: the service's saga step of the same name that is not an undo."""
    handlers = [service.steps, *service.on.values()]
    for steps in handlers:
        for step in steps:
            if (
                step.kind == "saga"
                and not step.options.get("undo")
                and (step.options.get("name") or service.id) == name
            ):
                return step
    raise ValueError(f"services.{service.id}: an undo saga names {name!r}, which no saga of {service.id} is")


async def _crash(ctx: RunContext, service: Service, saga: SagaInstance) -> str:
    """Whether the orchestrator dies now, by its own `crash` fault: none, before_ack or after_ack."""
    if saga.reaction or FailureSpec.from_params(ctx.params, service.id).crash == "none":
        return "none"  # a consumer's crash is the core's: the message is redelivered or lost
    _, fault = await ctx.fault_for(service.id, saga.id, saga.next, "crash")
    return fault.crash


async def _end(saga: SagaInstance, state: str, failure: str | None) -> str | None:
    saga.state, saga.current = state, ""
    await saga.save()
    saga.ctx.emit(
        "saga.ended",
        state=state,
        completed=saga.completed,
        compensated=saga.compensated,
        reason=failure or "",
        **saga.tag(),
    )
    if failure is None:
        return None
    # In a consumer's reaction the saga has handled its message either way (its events and its `compensate`
    # step tell the rest); failing the message would redeliver it and redo completed steps. A request fails.
    return None if saga.reaction else failure


def _check_options(ctx: RunContext, step: Step) -> None:
    """A misnamed policy or switch would silently change what the saga does: fail the request, naming it."""
    retry, switch = step.options.get("retry"), step.options.get("compensations")
    policy = ctx.topology.policies.get(str(retry)) if retry is not None else None
    if retry is not None and (policy is None or policy.kind != "retry"):
        raise ValueError(f"{step.path or 'saga'}.saga.retry: {retry!r} names no retry policy")
    if switch is not None and not isinstance(ctx.params.get(str(switch)), bool):
        raise ValueError(f"{step.path or 'saga'}.saga.compensations: {switch!r} names no true/false parameter")


def _compensations_on(ctx: RunContext, step: Step) -> bool:
    switch = step.options.get("compensations")
    return bool(ctx.params.get(str(switch), True)) if switch else True


async def _forward(
    engine: Engine, ctx: RunContext, service: Service, child: Step, env: dict[str, Any]
) -> tuple[str, asyncio.Task[CallResult] | None]:
    """Run one forward step: its outcome, and the still-running call when it timed out (its late answer)."""
    if child.kind == "call":
        link = ctx.topology.links[child.target]
        if not ctx.enabled(link.timeout):
            return (await engine.call(ctx, link, env)).outcome, None
        # The saga keeps the timeout itself, so the call goes on and its late answer can still be seen.
        budget_s = ctx.timeout_ms(link) / 1000
        pending = ctx.clock.spawn(engine.call(ctx, dataclasses.replace(link, timeout=None), env))
        if await ctx.clock.wait(pending, budget_s):
            return pending.result().outcome, None
        return "timeout", pending
    if child.kind in ("send", "outbox"):
        await engine.publish(ctx, ctx.topology.links[child.target], env, child.options)
        return "ok", None
    reason = await engine.run_steps(ctx, service, (child,), env)
    return ("ok" if reason is None else "error"), None


async def _compensate(
    engine: Engine,
    ctx: RunContext,
    service: Service,
    saga_step: Step,
    saga: SagaInstance,
    index: int,
    env: dict[str, Any],
) -> bool:
    """Run step `index`'s compensation (-1: the saga's own) until it succeeds or its retries run out."""
    compensation = saga_step.compensation if index < 0 else saga_step.children[index].compensation
    assert compensation is not None
    name = saga.name_of(index)
    policy_name = saga_step.options.get("retry")
    attempt, previous = 1, None
    while True:
        await ctx.refresh()
        policy = ctx.retry_policy(str(policy_name)) if policy_name else DEFAULT_COMPENSATION_RETRY
        outcome = await _run_compensation(engine, ctx, service, compensation, env)
        retry = outcome != "ok" and policy.should_retry(attempt)
        delay = None
        if retry:
            delay = policy.delay_for(attempt, ctx.rng_for(saga.id, name, "compensation", attempt), previous)
        ctx.emit(
            "saga.compensation",
            step=name,
            compensation=step_name(compensation),
            outcome=outcome,
            attempt=attempt,
            retry_in_ms=None if delay is None else round(delay, 1),
            **saga.tag(),
        )
        if outcome == "ok" or delay is None:
            (saga.undone if outcome == "ok" else saga.gave_up).append(index)
            await saga.save()
            return outcome == "ok"
        await ctx.flush()
        await ctx.sleep(delay / 1000)
        previous, attempt = delay, attempt + 1


async def _run_compensation(
    engine: Engine, ctx: RunContext, service: Service, compensation: Step, env: dict[str, Any]
) -> str:
    if compensation.kind == "call":
        return (await engine.call(ctx, ctx.topology.links[compensation.target], env)).outcome
    if compensation.kind in ("send", "outbox"):
        await engine.publish(ctx, ctx.topology.links[compensation.target], env, compensation.options)
        return "ok"
    return "ok" if await engine.run_steps(ctx, service, (compensation,), env) is None else "error"


# What the page shows between events: how many instances are in each state, read from Redis.


async def sample_saga_states(engine: Engine, ctx: RunContext) -> None:
    """Emit `saga.states` {counts} when the number of instances in some state changed since the last sample."""
    if not has_sagas(ctx.topology):
        return
    raw = await ctx.state.redis.hgetall(ctx.state.key("saga-states"))
    figures = {"counts": {state: int(raw.get(state, 0)) for state in STATES}}
    if ctx.sampled.get("saga.states") != figures:
        ctx.sampled["saga.states"] = figures
        ctx.emit("saga.states", **figures)


SAMPLERS.append(sample_saga_states)
