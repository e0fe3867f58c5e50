"""Sagas: ordered steps, each with a compensation; a failure undoes the completed steps in reverse order.

A `saga` step runs its `steps` (calls, sends, any step) as the service that holds it, the orchestrator. A step
that fails, or times out, ends the forward path; the completed steps' compensations then run newest first, each
retried with backoff (the retry policy named by the saga's `retry`, or a default) until it succeeds or gives up,
which leaves the saga `stuck`. A step that timed out may still succeed at its callee: the saga waits for that late
answer and compensates it too, because the callee did the work even though the orchestrator stopped waiting.

Each instance's state (running, compensating, completed, compensated, failed, stuck; its current step; what it
completed and undid) is a hash in Redis, so the page lists real instances and a crashed orchestrator's sagas are
not lost. The same construct serves choreography: a participant wraps its local transaction in a saga whose own
`compensate` step announces the failure (publishes `shipment.failed`), and other services react to that event.

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
from typing import Any

from lab.engine.interpreter import SAMPLERS, CallResult, Engine, RunContext, step_handler
from lab.engine.loop import spawn
from lab.engine.state import WORKING_TTL_S
from lab.model.policies import RetryPolicy
from lab.model.topology import Service, Step, Topology

# Compensations must eventually succeed, so without a named policy they are still retried, with backoff.
DEFAULT_COMPENSATION_RETRY = RetryPolicy(
    max_attempts=5, delay_ms=200.0, backoff="exponential", multiplier=2.0, max_delay_ms=2000.0
)
# The states an instance passes through; `saga.states` samples count instances in each.
STATES = ("running", "compensating", "completed", "compensated", "failed", "stuck")


def step_name(step: Step) -> str:
    """What events and the page call a step: its `name`, else the link or event it names, else its kind."""
    return str(step.options.get("name") or step.target or step.kind)


@dataclass
class SagaInstance:
    """One saga run by one orchestrator, mirrored to Redis at every transition."""

    ctx: RunContext
    id: str
    name: str
    correlation_id: str
    reaction: bool = False  # run by a consumer for a message, not by a request
    state: str = "running"
    current: str = ""
    completed: list[str] = field(default_factory=list)
    compensated: list[str] = field(default_factory=list)
    saved_state: str | None = None

    def tag(self) -> dict[str, Any]:
        return {"saga": self.id, "correlation_id": self.correlation_id}

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
                "completed": json.dumps(self.completed),
                "compensated": json.dumps(self.compensated),
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


def instance_id(service: Service, env: dict[str, Any]) -> str:
    """One instance per request attempt; a participant's saga in a reaction is its own, beside the others'."""
    parts = [str(env["correlation_id"])]
    if "queue" in env:
        parts.append(service.id)
    attempt = int(env.get("attempt", 1))
    return ":".join(parts) + (f"#{attempt}" if attempt > 1 else "")


@step_handler("saga")
async def run_saga(engine: Engine, ctx: RunContext, service: Service, step: Step, env: dict[str, Any]) -> str | None:
    """Forward steps in order; on the first failure, compensate what completed, newest first."""
    saga = SagaInstance(
        ctx=ctx,
        id=instance_id(service, env),
        name=str(step.options.get("name") or service.id),
        correlation_id=str(env["correlation_id"]),
        reaction="queue" in env,
    )
    names = [step_name(child) for child in step.children]
    ctx.emit("saga.started", name=saga.name, service=service.id, steps=names, **saga.tag())
    await saga.save()
    completed: list[Step] = []
    late: list[tuple[Step, asyncio.Task[CallResult]]] = []
    failure: str | None = None
    for index, child in enumerate(step.children):
        saga.current = names[index]
        await saga.save()
        outcome, pending = await _forward(engine, ctx, service, child, env)
        ctx.emit(
            "saga.step",
            step=names[index],
            index=index,
            outcome=outcome,
            compensable=child.compensation is not None,
            **saga.tag(),
        )
        if outcome == "ok":
            completed.append(child)
            saga.completed.append(names[index])
            continue
        if pending is not None:
            late.append((child, pending))
        failure = f"{names[index]}: {outcome}"
        break
    if failure is None:
        return await _end(saga, "completed", None)
    await ctx.refresh()
    undo = _compensations_on(ctx, step)
    to_undo = [child for child in reversed(completed) if child.compensation is not None]
    stuck = False
    if undo:
        saga.state = "compensating"
        await saga.save()
        ctx.emit(
            "saga.compensating",
            failed_step=saga.current,
            reason=failure,
            steps=[step_name(child) for child in to_undo],
            **saga.tag(),
        )
        for child in to_undo:
            stuck |= not await _compensate(engine, ctx, service, step, saga, child, env)
    for child, pending in late:
        result = await pending
        ctx.emit(
            "saga.step",
            step=step_name(child),
            index=names.index(step_name(child)),
            outcome=f"late_{result.outcome}",
            compensable=child.compensation is not None,
            **saga.tag(),
        )
        if result.ok:
            saga.completed.append(step_name(child))
            if undo and child.compensation is not None:
                stuck |= not await _compensate(engine, ctx, service, step, saga, child, env)
    if undo and step.compensation is not None:
        stuck |= not await _compensate(engine, ctx, service, step, saga, step, env)
    left = set(saga.completed) - set(saga.compensated)
    compensable = {step_name(child) for child in step.children if child.compensation is not None}
    state = "stuck" if stuck else ("failed" if left & compensable else "compensated")
    return await _end(saga, state, failure)


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
        pending = spawn(engine.call(ctx, dataclasses.replace(link, timeout=None), env))
        done, _ = await asyncio.wait({pending}, timeout=budget_s)
        if done:
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
    child: Step,
    env: dict[str, Any],
) -> bool:
    """Run `child`'s compensation until it succeeds or its retries run out; True when it succeeded."""
    assert child.compensation is not None
    compensation = child.compensation
    name = saga.name if child is saga_step else step_name(child)
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
        if outcome == "ok":
            saga.compensated.append(name)
            await saga.save()
            return True
        if delay is None:
            return False
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

_last_counts: dict[str, dict[str, int]] = {}


def has_sagas(topology: Topology) -> bool:
    def walk(steps: tuple[Step, ...]) -> bool:
        return any(
            s.kind == "saga" or walk(s.children) or (s.compensation is not None and walk((s.compensation,)))
            for s in steps
        )

    handlers = [c.steps for c in topology.workload.classes]
    for service in topology.services.values():
        handlers += [service.steps, *service.on.values()]
    return any(walk(steps) for steps in handlers)


async def sample_saga_states(engine: Engine, ctx: RunContext) -> None:
    """Emit `saga.states` {counts} when the number of instances in some state changed since the last sample."""
    if not has_sagas(ctx.topology):
        return
    raw = await ctx.state.redis.hgetall(ctx.state.key("saga-states"))
    counts = {state: int(raw.get(state, 0)) for state in STATES}
    if _last_counts.get(ctx.run_id) == counts:
        return
    if len(_last_counts) > 1000:
        _last_counts.clear()
    _last_counts[ctx.run_id] = counts
    ctx.emit("saga.states", counts=counts)


SAMPLERS.append(sample_saga_states)
