"""The simulated services at work: what one task does for one message, on real Redis state.

Tasks stay thin and call these functions. Synchronous hops are modelled blocking calls (the caller's worker
thread sleeps, as a thread waiting on an HTTP reply would); asynchronous hops are real Celery task messages on
per-run queues; every step emits an event carrying the message envelope.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lab.events import emit
from lab.model.experiments import CHECKOUT_ASYNC, CHECKOUT_SERVICES
from lab.model.failures import CONNECT_REFUSED_MS, FailureSpec, decide
from lab.model.policies import BreakerConfig, RetryPolicy
from lab.runstate import RunState

# Puts a message on its target's queue, optionally after a delay in seconds.
Sender = Callable[[dict[str, Any], float | None], None]

# Without a timeout policy a caller waits this long for a reply that never comes (a dropped request).
DEFAULT_CLIENT_WAIT_MS = 10_000.0
# How often a caller waiting for a free thread in a full pool looks again.
POOL_POLL_S = 0.02


def new_message_id() -> str:
    return uuid.uuid4().hex[:12]


@dataclass
class RunContext:
    """What one task step knows about its run: fresh live parameters, the clock and the event sink.

    Events are buffered and written in one round trip whenever the service is about to wait (or the step ends),
    so everything that happened in the same instant travels together; use it as a context manager.
    """

    state: RunState
    params: dict[str, Any]
    started_at: float
    pending: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def load(cls, run_id: str) -> RunContext:
        state = RunState(run_id)
        params, started_at = state.snapshot()
        return cls(state=state, params=params, started_at=started_at)

    def __enter__(self) -> RunContext:
        return self

    def __exit__(self, *_: object) -> None:
        self.flush()

    @property
    def run_id(self) -> str:
        return self.state.run_id

    def refresh(self) -> None:
        self.params, self.started_at = self.state.snapshot()

    def now(self) -> float:
        return round(time.time() - self.started_at, 3)

    def emit(self, event_type: str, /, **fields: Any) -> None:
        self.pending.append({"type": event_type, "t": self.now(), **fields})

    def flush(self) -> None:
        if self.pending:
            events, self.pending = self.pending, []
            emit(self.run_id, events)

    def sleep(self, seconds: float) -> None:
        """Wait as a busy service would, after letting the page see what led up to the wait."""
        self.flush()
        time.sleep(seconds)

    def settle(self, delta: int) -> None:
        """Mark work as done (or added) once its events are logged, so the driver never ends the run early."""
        self.flush()
        self.state.add_outstanding(delta)

    def rng_for(self, *parts: object) -> random.Random:
        """Dice for one call, seeded by run seed and message, so a seed replays the same faults."""
        return random.Random(":".join(str(p) for p in (self.params.get("seed", 0), *parts)))

    def retry_policy(self) -> RetryPolicy:
        p = self.params
        return RetryPolicy(
            max_attempts=p["retry.max_attempts"] if p.get("retry.enabled") else 1,
            delay_ms=p["retry.delay_ms"],
            backoff=p["retry.backoff"],
            multiplier=p["retry.multiplier"],
            jitter=p["retry.jitter"],
            max_delay_ms=p["retry.max_delay_ms"],
        )

    def timeout_ms(self) -> float:
        return self.params["timeout.ms"] if self.params.get("timeout.enabled") else DEFAULT_CLIENT_WAIT_MS


def envelope(
    *, correlation_id: str, causation_id: str | None, source: str, target: str, attempt: int = 1, **extra: Any
) -> dict[str, Any]:
    return {
        "message_id": new_message_id(),
        "correlation_id": correlation_id,
        "causation_id": causation_id,
        "from": source,
        "to": target,
        "attempt": attempt,
        "sent_at": round(time.time(), 3),
        **extra,
    }


@dataclass(frozen=True)
class CallResult:
    outcome: str  # ok | error | refused | timeout | rejected | short_circuited
    duration_ms: float

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


def sync_call(
    ctx: RunContext,
    env: dict[str, Any],
    *,
    service_ms: float,
    pool: tuple[str, int] | None = None,
    nested: Callable[[], CallResult] | None = None,
) -> CallResult:
    """A blocking call from `env["from"]` to `env["to"]`, with the target's faults and the caller's timeout.

    When the target's pool is full the caller waits for a thread, as it would in a real server's accept queue;
    that wait counts against its timeout. `nested`, when given, runs inside the target's work (a service that
    itself calls another).
    """
    ctx.refresh()  # a toggle made while this chain was running applies from its next call
    target = env["to"]
    spec = FailureSpec.from_params(ctx.params, target)
    index = ctx.state.next_call_index(target)
    fault = decide(spec, call_index=index, now=ctx.now(), rng=ctx.rng_for(env["message_id"]))
    ctx.emit("call.started", kind="sync", **env)
    started = time.time()
    budget_ms = ctx.timeout_ms()
    holder = env["message_id"]
    if pool and not _wait_for_slot(ctx, pool, holder, budget_ms):
        return _finish_call(ctx, env, "timeout", started, reason=f"no free {target} thread")
    try:
        if fault.refused:
            ctx.sleep(CONNECT_REFUSED_MS / 1000)
            return _finish_call(ctx, env, "refused", started, reason=f"{target} is down")
        if fault.duplicate:
            ctx.emit("message.processed", duplicate=True, outcome="ok", **env)
        work_ms = service_ms + fault.extra_latency_ms
        left_ms = budget_ms - (time.time() - started) * 1000
        ctx.sleep(max(0.0, min(work_ms, left_ms)) / 1000)
        inner = nested() if nested is not None and not fault.drop and work_ms <= left_ms else None
        if fault.drop or work_ms > left_ms:
            outcome = "timeout"
            if pool:  # the callee goes on working after the caller gave up, and keeps its thread meanwhile
                ctx.state.release(pool[0], holder, at=started + work_ms / 1000)
                pool = None
        elif fault.error or fault.crash != "none" or (inner is not None and not inner.ok):
            outcome = "error"
        else:
            outcome = "ok"
        return _finish_call(ctx, env, outcome, started)
    finally:
        if pool:
            ctx.state.release(pool[0], holder)


def _wait_for_slot(ctx: RunContext, pool: tuple[str, int], holder: str, budget_ms: float) -> bool:
    deadline = time.time() + budget_ms / 1000
    while not ctx.state.acquire(pool[0], pool[1], holder):
        if time.time() >= deadline:
            return False
        ctx.sleep(POOL_POLL_S)
    return True


def _finish_call(ctx: RunContext, env: dict[str, Any], outcome: str, started: float, **extra: Any) -> CallResult:
    duration = round((time.time() - started) * 1000, 1)
    ctx.emit("call.finished", kind="sync", outcome=outcome, duration_ms=duration, **env, **extra)
    return CallResult(outcome, duration)


def finish_request(ctx: RunContext, *, correlation_id: str, created_at: float, ok: bool, **fields: Any) -> None:
    latency = round((time.time() - created_at) * 1000, 1)
    ctx.emit(
        "request.finished",
        correlation_id=correlation_id,
        outcome="ok" if ok else "failed",
        latency_ms=latency,
        **fields,
    )
    ctx.settle(-1)


def publish(ctx: RunContext, env: dict[str, Any], send: Sender) -> None:
    """Put a real task message on the target's queue (via `send`), after the network's faults have had a say."""
    spec = FailureSpec.from_params(ctx.params, env["to"])
    fault = decide(spec, call_index=0, now=ctx.now(), rng=ctx.rng_for(env["message_id"], "transit"))
    if fault.drop and not spec.down:
        ctx.emit("message.dropped", kind="async", **env)
        return
    copies = 2 if fault.duplicate and not spec.down else 1
    ctx.state.add_outstanding(copies)
    for _ in range(copies):
        ctx.emit("message.published", kind="async", **env)
        send(env, fault.reorder_delay_ms / 1000 or None)


# Experiment 1: checkout


def checkout_order(ctx: RunContext, *, correlation_id: str, mode: str, created_at: float, send: Sender) -> None:
    """The order service handling one checkout: sync mode calls all five in a row; hybrid pays, then publishes."""
    ctx.emit("request.attempt", correlation_id=correlation_id, mode=mode, attempt=1)
    sync_targets = list(CHECKOUT_SERVICES) if mode == "sync" else ["payment"]
    for target in sync_targets:
        env = envelope(
            correlation_id=correlation_id, causation_id=correlation_id, source="order", target=target, mode=mode
        )
        result = sync_call(ctx, env, service_ms=ctx.params[f"{target}_ms"])
        if not result.ok:
            finish_request(
                ctx,
                correlation_id=correlation_id,
                created_at=created_at,
                ok=False,
                mode=mode,
                reason=f"{target}: {result.outcome}",
            )
            return
    if mode == "hybrid":
        for target in CHECKOUT_ASYNC:
            env = envelope(
                correlation_id=correlation_id,
                causation_id=correlation_id,
                source="order",
                target=target,
                mode=mode,
                queue=f"q.{target}",
            )
            publish(ctx, env, send)
    finish_request(ctx, correlation_id=correlation_id, created_at=created_at, ok=True, mode=mode)


@dataclass(frozen=True)
class ConsumeOutcome:
    """What the consumer task must do next with its message."""

    action: str  # done | dead (finished with the message) | requeue | retry
    countdown_s: float = 0.0


def consume(ctx: RunContext, env: dict[str, Any]) -> ConsumeOutcome:
    """An asynchronous service taking one message off its queue."""
    target = env["to"]
    spec = FailureSpec.from_params(ctx.params, target)
    if spec.down and spec.applies(call_index=0, now=ctx.now()):
        return ConsumeOutcome("requeue")  # delivered just before its consumer was cancelled: back to the queue
    index = ctx.state.next_call_index(target)
    fault = decide(spec, call_index=index, now=ctx.now(), rng=ctx.rng_for(env["message_id"], env["attempt"]))
    ctx.emit("message.consumed", kind="async", **env)
    started = time.time()
    ctx.sleep((ctx.params[f"{target}_ms"] + fault.extra_latency_ms) / 1000)
    duration = round((time.time() - started) * 1000, 1)
    if fault.crash == "before_ack":
        ctx.emit("message.processed", outcome="crashed", duration_ms=duration, redelivered=True, **env)
        return ConsumeOutcome("requeue")
    if fault.error:
        policy = ctx.retry_policy()
        if policy.should_retry(env["attempt"]):
            delay = policy.delay_for(env["attempt"], ctx.rng_for(env["message_id"], "backoff", env["attempt"]))
            ctx.emit("message.processed", outcome="error", duration_ms=duration, **env)
            ctx.emit("retry.scheduled", delay_ms=round(delay, 1), next_attempt=env["attempt"] + 1, **env)
            return ConsumeOutcome("retry", delay / 1000)
        ctx.state.dead_letter(env, "max attempts reached")
        ctx.emit("message.processed", outcome="error", duration_ms=duration, **env)
        ctx.emit("dlq.added", reason=f"{target} failed {env['attempt']} times", **env)
        return ConsumeOutcome("dead")
    first_time = ctx.state.mark_processed(target, env["message_id"])
    if not first_time and ctx.params.get("consumer.idempotent", True):
        ctx.emit("message.processed", outcome="duplicate_skipped", duration_ms=duration, **env)
    else:
        outcome = "lost" if fault.crash == "after_ack" else "ok"
        ctx.emit("message.processed", outcome=outcome, duration_ms=duration, duplicate=not first_time, **env)
    return ConsumeOutcome("done")


# Experiment 2: cascade


@dataclass(frozen=True)
class CascadeOutcome:
    ok: bool
    reason: str = ""
    retry_in_s: float | None = None


def breaker_config(params: dict[str, Any]) -> BreakerConfig:
    return BreakerConfig(
        mode=params["breaker.mode"],
        sliding_window_type=params["breaker.sliding_window_type"],
        sliding_window_size=params["breaker.sliding_window_size"],
        failure_rate_threshold=params["breaker.failure_rate_threshold"],
        minimum_number_of_calls=params["breaker.minimum_number_of_calls"],
        slow_call_duration_threshold_ms=params["breaker.slow_call_duration_threshold_ms"],
        slow_call_rate_threshold=params["breaker.slow_call_rate_threshold"],
        wait_duration_in_open_state_ms=params["breaker.wait_duration_in_open_state_ms"],
        permitted_number_of_calls_in_half_open_state=params["breaker.permitted_number_of_calls_in_half_open_state"],
        consecutive_failures=params["breaker.consecutive_failures"],
    )


def _breaker_step(ctx: RunContext, action: Any) -> Any:
    """Run `action(breaker, now)` on the shared breaker and emit any state change it caused."""
    with ctx.state.breaker("inventory", breaker_config(ctx.params)) as breaker:
        before = len(breaker.transitions)
        value = action(breaker, time.time() - ctx.started_at)
        changes = breaker.transitions[before:]
    for change in changes:
        ctx.emit("breaker.state", target="inventory", **{k: change[k] for k in ("from", "to", "reason")})
    return value


def _call_inventory(ctx: RunContext, correlation_id: str, causation_id: str, attempt: int) -> CallResult:
    env = envelope(
        correlation_id=correlation_id, causation_id=causation_id, source="orders", target="inventory", attempt=attempt
    )
    guarded = bool(ctx.params.get("breaker.enabled"))
    if guarded and not _breaker_step(ctx, lambda b, now: b.allow(now)):
        ctx.emit(
            "call.finished",
            kind="sync",
            outcome="short_circuited",
            duration_ms=0.0,
            **env,
            reason="circuit breaker open",
        )
        return CallResult("short_circuited", 0.0)
    result = sync_call(
        ctx, env, service_ms=ctx.params["inventory_ms"], pool=("inventory", ctx.params["inventory_pool"])
    )
    if guarded:
        _breaker_step(ctx, lambda b, now: b.record(now, success=result.ok, duration_ms=result.duration_ms))
    return result


def cascade_request(
    ctx: RunContext, *, correlation_id: str, path: str, created_at: float, attempt: int
) -> CascadeOutcome:
    """The gateway handling one client request, through its pool, the bulkhead and the chain behind it."""
    ctx.emit("request.attempt", correlation_id=correlation_id, path=path, attempt=attempt)
    reason = _gateway_attempt(ctx, correlation_id=correlation_id, path=path, attempt=attempt)
    if reason is None:
        return CascadeOutcome(True)
    policy = ctx.retry_policy()
    if policy.should_retry(attempt):
        delay = policy.delay_for(attempt, ctx.rng_for(correlation_id, "backoff", attempt))
        ctx.emit(
            "retry.scheduled",
            correlation_id=correlation_id,
            path=path,
            attempt=attempt,
            next_attempt=attempt + 1,
            delay_ms=round(delay, 1),
            to="gateway",
            reason=reason,
        )
        return CascadeOutcome(False, reason, retry_in_s=delay / 1000)
    return CascadeOutcome(False, reason)


def _gateway_attempt(ctx: RunContext, *, correlation_id: str, path: str, attempt: int) -> str | None:
    """One attempt through the gateway; the failure reason, or None on success."""
    p = ctx.params
    holder = f"{correlation_id}:{attempt}"
    bulkhead = path == "checkout" and p.get("bulkhead.enabled")
    if bulkhead and not ctx.state.acquire("bulkhead", p["bulkhead.max_concurrent"], holder):
        return "bulkhead full"
    try:
        if not ctx.state.acquire("gateway", p["gateway_pool"], holder):
            return "gateway pool exhausted"
        try:
            if path == "browse":
                env = envelope(
                    correlation_id=correlation_id,
                    causation_id=correlation_id,
                    source="gateway",
                    target="browse",
                    attempt=attempt,
                )
                result = sync_call(ctx, env, service_ms=p["browse_ms"])
            else:
                env = envelope(
                    correlation_id=correlation_id,
                    causation_id=correlation_id,
                    source="gateway",
                    target="orders",
                    attempt=attempt,
                )
                result = sync_call(
                    ctx,
                    env,
                    service_ms=p["orders_ms"],
                    pool=("orders", p["orders_pool"]),
                    nested=lambda: _call_inventory(ctx, correlation_id, env["message_id"], attempt),
                )
        finally:
            ctx.state.release("gateway", holder)
    finally:
        if bulkhead:
            ctx.state.release("bulkhead", holder)
    return None if result.ok else f"{env['to']}: {result.outcome}"
