"""The interpreter: what a service does for one request or one message, for any topology document.

Handlers are coroutines on the engine loop. A sync call waits (sleeps) in its caller's coroutine, as a thread
blocked on an HTTP reply would, but without holding a real thread; the simulated thread pools are Redis leases, so
they exhaust exactly as real ones do. Queue and topic hops are real messages: a Redis list per queue, handed to
consumers through Celery as instances free up.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis

from lab.engine import delivery
from lab.engine.clock import Clock, RealClock
from lab.engine.loop import ENGINE_ID
from lab.engine.sink import EventSink
from lab.engine.state import EngineState, Handing, hold_all
from lab.engine.subscriptions import poll_wait_s, receiving
from lab.engine.together import SharedPipeline
from lab.model.failures import CONNECT_REFUSED_MS, CallFault, FailureSpec, decide
from lab.model.policies import BreakerConfig, RetryPolicy
from lab.model.topology import Link, RequestClass, Service, Step, Topology, parse_topology
from lab.runstate import live_changes_channel

log = logging.getLogger(__name__)
# Without a timeout policy a caller waits this long for a reply that never comes (a dropped request).
DEFAULT_CLIENT_WAIT_MS = 10_000.0
# How often the first caller in line for a thread of a full pool looks again (for threads given back by another
# process; one given back in this process goes to it at once).
POOL_POLL_S = 0.02
# Live toggles are re-read at most this often per run and process: a toggle applies within one frame. While the
# engine follows the announcements of changes (Engine.follow_live_changes) it re-reads a run's knobs when told, and
# this rarely otherwise, in case an announcement was lost while its connection to Redis was down.
PARAMS_FRESH_S = 0.05
PARAMS_FOLLOWED_FRESH_S = 5.0
# How often a process adds its measured scheduling lag for a run to the run's total in Redis.
FIDELITY_REPORT_S = 0.5
# Broker deliveries a run may make when its admission did not set a budget (lab/services.py does).
DEFAULT_TASK_BUDGET = 100_000
# A message that has crossed this many hops is dead-lettered: async cycles may not amplify without end.
MAX_HOPS = 32

# A construct the core does not know (a saga, a request-reply, a stream...) registers how to run its step kind:
# `await handler(engine, ctx, service, step, env)` returns None on success or the failure's reason.
StepHandler = Callable[["Engine", "RunContext", Service, Step, dict[str, Any]], Awaitable[str | None]]
STEP_HANDLERS: dict[str, StepHandler] = {}
# How to send over a link kind the core does not know (a stream): `await sender(engine, ctx, link, env, options)`.
LinkSender = Callable[["Engine", "RunContext", Link, dict[str, Any], dict[str, Any]], Awaitable[None]]
LINK_SENDERS: dict[str, LinkSender] = {}
# How a delivered message whose envelope says `"via": <name>` is handled: `await receiver(engine, ctx, where, env)`.
Receiver = Callable[["Engine", "RunContext", str, dict[str, Any]], Awaitable[None]]
RECEIVERS: dict[str, Receiver] = {}
# What a construct adds to each sample the driver takes: `await sampler(engine, ctx)` emits its own events.
Sampler = Callable[["Engine", "RunContext"], Awaitable[None]]
SAMPLERS: list[Sampler] = []


# The pool thread the running handler holds, as (pool, holder): the entry's for a request's attempt, the callee's
# while it serves a sync call. A construct that waits without blocking (a `request`) hands it back meanwhile.
HELD_THREAD: ContextVar[tuple[str, str] | None] = ContextVar("held_thread", default=None)


def step_handler(kind: str) -> Callable[[StepHandler], StepHandler]:
    def register(handler: StepHandler) -> StepHandler:
        STEP_HANDLERS[kind] = handler
        return handler

    return register


# Hands a message taken off a queue to some worker process: (run_id, queue, message).
Deliver = Callable[[str, str, dict[str, Any]], None]
# Ends a consumer retry's backoff after a delay, through some worker process: (run_id, backoff token, seconds).
Requeue = Callable[[str, str, float], None]


def new_message_id() -> str:
    return uuid.uuid4().hex[:12]


@dataclass
class RunContext:
    """What this process knows about one run: its document, fresh parameters, clock and event sink."""

    run_id: str
    topology: Topology
    state: EngineState
    sink: EventSink
    clock: Clock
    params: dict[str, Any]
    started_at: float
    group_by: str | None
    task_budget: int = 0
    refreshed_at: float = 0.0
    # Announced changes to this run's knobs so far (Engine.follow_live_changes), and how many of them the knobs in
    # `params` were read after: an announcement that lands while a read is on its way leaves the knobs stale.
    changes_announced: int = 0
    changes_read: int = 0
    fresh_for_s: float = PARAMS_FRESH_S  # how long knobs read count as fresh (Engine.follow_live_changes)
    live_version: str | None = None  # of the live knobs in `params` (lab/runstate.py's LIVE_VERSION); None: at load
    planned_s: float = 0.0  # simulated waiting asked for, and how much later than asked it really ended:
    late_s: float = 0.0  # their ratio is the run's scheduling lag, its fidelity measured rather than assumed
    reported_at: float = 0.0
    sampled: dict[str, dict[str, Any]] = field(default_factory=dict)  # the last sample of each kind sent, by kind
    samples: int = 0  # taken by this process
    acks_riding: Counter[str] = field(default_factory=Counter)  # acknowledgements waiting for a flush, by queue

    def now(self) -> float:
        return round(self.clock.time() - self.started_at, 3)

    def emit(self, event_type: str, /, **fields: Any) -> None:
        self.sink.emit(self.run_id, {"type": event_type, "t": self.now(), **fields})

    def emit_one_of(self, outcome: str, /, *events: tuple[str, dict[str, Any]]) -> None:
        """Log one of `events`, picked by a command committed with it (EventSink.emit_one_of)."""
        now = self.now()
        self.sink.emit_one_of(self.run_id, outcome, [{"type": kind, "t": now, **fields} for kind, fields in events])

    async def flush(self) -> None:
        if self.planned_s and time.monotonic() - self.reported_at >= FIDELITY_REPORT_S:
            self.report_fidelity()
        await self.sink.flush(self.run_id)

    async def sleep(self, seconds: float) -> None:
        """Wait simulated time, and record how late the loop woke us (a busy machine shows here first)."""
        started = self.clock.time()
        await self.clock.sleep(seconds)
        self.record_lag(planned_s=seconds, late_s=self.clock.time() - started - seconds)

    def record_lag(self, *, planned_s: float, late_s: float) -> None:
        self.planned_s += planned_s
        self.late_s += max(0.0, late_s)

    def report_fidelity(self) -> None:
        """Add the lag measured here since the last report to the run's figures, with the next batch of events."""
        planned, late, self.planned_s, self.late_s = self.planned_s, self.late_s, 0.0, 0.0
        self.reported_at = time.monotonic()
        self.sink.commit_with_log(self.run_id, lambda pipe: self.state.adding_lag(pipe, planned_s=planned, late_s=late))

    @property
    def stale(self) -> bool:
        """Whether the live knobs must be read again: a change was announced since they were, or they are older
        than `fresh_for_s`."""
        return self.changes_read < self.changes_announced or time.monotonic() - self.refreshed_at >= self.fresh_for_s

    def announce_change(self) -> None:
        self.changes_announced += 1

    async def refresh(self) -> None:
        if self.stale:
            announced = self.changes_announced
            changed = await self.state.live_params_since(self.live_version)
            if changed is not None:
                self.live_version, values = changed
                self.params.update(values)
            self._read(announced)

    def saw_live_version(self, version: str, *, announced: int) -> None:
        """A round trip read the live knobs' version, sent when `announced` changes were announced: while it is the
        one these knobs have, they count as read then."""
        if version == (self.live_version or ""):
            self._read(announced)

    def _read(self, announced: int) -> None:
        self.changes_read = max(self.changes_read, announced)
        self.refreshed_at = time.monotonic()

    async def settle(self, delta: int) -> None:
        """Mark work as done once its events are logged (with the next batch, not a flush of its own), so the
        driver never ends the run before the log holds everything."""
        self.sink.settle(self.run_id, self.state.key("outstanding"), delta)

    def rng_for(self, *parts: object) -> random.Random:
        """Dice for one call, seeded by run seed and message, so a seed replays the same faults."""
        return random.Random(":".join(str(p) for p in (self.params.get("seed", 0), *parts)))

    def enabled(self, policy: str | None, flag: str = "enabled") -> bool:
        return bool(policy) and bool(self.params.get(f"{policy}.{flag}"))

    def retry_policy(self, name: str | None) -> RetryPolicy:
        p = self.params
        if not self.enabled(name):
            return RetryPolicy(max_attempts=1)
        return RetryPolicy(
            max_attempts=p[f"{name}.max_attempts"],
            delay_ms=p[f"{name}.delay_ms"],
            backoff=p[f"{name}.backoff"],
            multiplier=p[f"{name}.multiplier"],
            jitter=p[f"{name}.jitter"],
            max_delay_ms=p[f"{name}.max_delay_ms"],
        )

    def timeout_ms(self, link: Link) -> float:
        return self.params[f"{link.timeout}.ms"] if self.enabled(link.timeout) else DEFAULT_CLIENT_WAIT_MS

    def breaker_config(self, name: str) -> BreakerConfig:
        p = self.params
        return BreakerConfig(
            mode=p[f"{name}.mode"],
            sliding_window_type=p[f"{name}.sliding_window_type"],
            sliding_window_size=p[f"{name}.sliding_window_size"],
            failure_rate_threshold=p[f"{name}.failure_rate_threshold"],
            minimum_number_of_calls=p[f"{name}.minimum_number_of_calls"],
            slow_call_duration_threshold_ms=p[f"{name}.slow_call_duration_threshold_ms"],
            slow_call_rate_threshold=p[f"{name}.slow_call_rate_threshold"],
            wait_duration_in_open_state_ms=p[f"{name}.wait_duration_in_open_state_ms"],
            permitted_number_of_calls_in_half_open_state=p[f"{name}.permitted_number_of_calls_in_half_open_state"],
            consecutive_failures=p[f"{name}.consecutive_failures"],
        )

    def work_ms(self, service: Service) -> float:
        return float(self.params.get(service.work_param, service.work_ms) if service.work_param else service.work_ms)

    def pool_size(self, service: Service) -> int:
        assert service.pool is not None
        return int(self.params.get(service.pool.param, service.pool.size) if service.pool.param else service.pool.size)

    async def fault_for(
        self, service: str, *parts: object, transit: bool = False, counter: str | None = None
    ) -> tuple[FailureSpec, CallFault]:
        """The fault striking this call; `counter` names a schedule count of its own (default: the service's)."""
        spec = FailureSpec.from_params(self.params, service)
        index = 0
        if spec.schedule in ("first_n", "every_kth"):  # messages in transit count apart from calls served
            index = await self.state.next_call_index(counter or (f"{service}:transit" if transit else service))
        return spec, decide(spec, call_index=index, now=self.now(), rng=self.rng_for(*parts))


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


def onward(
    ctx: RunContext,
    caller_env: dict[str, Any],
    *,
    source: str,
    target: str,
    queue: str,
    key: str = "",
    body: Any = None,
    **extra: Any,
) -> dict[str, Any]:
    """The envelope of a message a handler sends on: same correlation, caused by what it handles, one hop more."""
    fields: dict[str, Any] = {"queue": queue, "hops": caller_env.get("hops", 0) + 1, **extra}
    if ctx.group_by and ctx.group_by in caller_env:
        fields[ctx.group_by] = caller_env[ctx.group_by]
    if key:
        fields["key"] = key
    if body:
        fields["body"] = body
    return envelope(
        correlation_id=caller_env["correlation_id"],
        causation_id=caller_env.get("message_id", caller_env["correlation_id"]),
        source=source,
        target=target,
        **fields,
    )


@dataclass(frozen=True)
class CallResult:
    outcome: str  # ok | error | refused | timeout | rejected | short_circuited
    duration_ms: float

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


class Engine:
    """Everything one worker process needs to run lab work: Redis, the event sink, the runs it has seen."""

    def __init__(
        self, redis: aioredis.Redis, *, deliver: Deliver, requeue: Requeue, clock: Clock | None = None
    ) -> None:
        import lab.engine.constructs  # noqa: F401  (registers the step kinds, link kinds and receivers it adds)

        self.redis = redis
        self.clock = clock or RealClock()
        self.sink = EventSink(redis, self.clock)
        self.together = SharedPipeline(redis)
        self.sink.on_lost_events = self._stop_for_lost_events
        self.deliver = deliver
        self.requeue = requeue
        self.contexts: dict[str, RunContext] = {}
        self.fresh_for_s = PARAMS_FRESH_S

    async def follow_live_changes(self) -> None:
        """Learn of each run's toggles as they happen (lab/runstate.py announces them), so a run's knobs are
        re-read when they changed rather than looked at before each request and message: while subscribed, a
        context's knobs count as fresh until an announcement names its run."""
        while True:
            pubsub = self.redis.pubsub()
            try:
                await pubsub.subscribe(live_changes_channel())
                async for notice in pubsub.listen():
                    if notice["type"] == "subscribe":  # (again, after a reconnection): every change is announced
                        self._knobs_fresh_for(PARAMS_FOLLOWED_FRESH_S)  # from now; those before may be unread
                    elif ctx := self.contexts.get(notice["data"]):
                        ctx.announce_change()
            except Exception:  # Redis may blink: poll meanwhile, and subscribe again
                log.warning("lab engine: not following live changes for now", exc_info=True)
            finally:
                self._knobs_fresh_for(PARAMS_FRESH_S)
                await pubsub.aclose()
            await asyncio.sleep(1.0)

    def _knobs_fresh_for(self, seconds: float) -> None:
        self.fresh_for_s = seconds
        for ctx in self.contexts.values():
            ctx.fresh_for_s = seconds
            ctx.announce_change()

    async def context(self, run_id: str) -> RunContext:
        ctx = self.contexts.get(run_id)
        if ctx is None:
            state = EngineState(run_id, self.redis, self.clock)
            document, params, started_at, meta = await state.load()
            topology = parse_topology(document, source=f"run {run_id}")
            ctx = RunContext(
                run_id=run_id,
                topology=topology,
                state=state,
                sink=self.sink,
                clock=self.clock,
                task_budget=int(meta.get("task_budget", DEFAULT_TASK_BUDGET)),
                params=params,
                started_at=started_at,
                group_by=topology.workload.group_by,
                refreshed_at=time.monotonic(),
                fresh_for_s=self.fresh_for_s,
            )
            self.contexts[run_id] = ctx
        return ctx

    def forget(self, run_id: str) -> None:
        self.contexts.pop(run_id, None)
        self.sink.forget(run_id)

    async def _stop_for_lost_events(self, run_id: str, first: int, last: int) -> None:
        """Redis lost the run's latest events (its log went backwards): the driver ends the run `interrupted`.
        Its numbering already resumed above them, so no page ever sees one number stand for two events."""
        await EngineState(run_id, self.redis).interrupt(
            f"Redis lost this run's events {first} to {last} (it restarted and dropped its last second of "
            "writes); the run was stopped, as what it showed from then on could not be trusted"
        )

    # Requests entering the system

    async def handle_request(
        self, ctx: RunContext, request_class: RequestClass, *, correlation_id: str, created_at: float
    ) -> None:
        """One client request from arrival to its answer, retried by the client when the workload says so."""
        tag = {ctx.group_by: request_class.name} if ctx.group_by else {}
        attempt, previous_delay = 1, None
        while True:
            ctx.emit("request.attempt", correlation_id=correlation_id, attempt=attempt, **tag)
            try:
                reason = await self._attempt(ctx, request_class, correlation_id=correlation_id, attempt=attempt)
            except Exception as exc:  # a handler bug is a failed request and an event, never a silent stall
                ctx.emit("handler.error", correlation_id=correlation_id, error=repr(exc)[:200])
                reason = f"handler error: {type(exc).__name__}"
            await ctx.refresh()
            policy = ctx.retry_policy(ctx.topology.workload.retry)
            if reason is None or not policy.should_retry(attempt):
                break
            delay = policy.delay_for(attempt, ctx.rng_for(correlation_id, "backoff", attempt), previous_delay)
            previous_delay = delay
            ctx.emit(
                "retry.scheduled",
                correlation_id=correlation_id,
                attempt=attempt,
                next_attempt=attempt + 1,
                delay_ms=round(delay, 1),
                to=ctx.topology.workload.entry,
                reason=reason,
                **tag,
            )
            await ctx.sleep(delay / 1000)
            attempt += 1
        latency = round((ctx.clock.time() - created_at) * 1000, 1)
        ctx.emit(
            "request.finished",
            correlation_id=correlation_id,
            outcome="ok" if reason is None else "failed",
            latency_ms=latency,
            attempts=attempt,
            reason=reason or "",
            **tag,
        )
        await ctx.settle(-1)

    async def _attempt(
        self, ctx: RunContext, request_class: RequestClass, *, correlation_id: str, attempt: int
    ) -> str | None:
        """One attempt through the entry service: its bulkhead and pool, then the class's steps. None is success."""
        entry = ctx.topology.services[ctx.topology.workload.entry]
        holder = f"{correlation_id}:{attempt}"
        bulkhead = request_class.bulkhead if ctx.enabled(request_class.bulkhead) else None
        if bulkhead and not await ctx.state.acquire("bulkhead", ctx.params[f"{bulkhead}.max_concurrent"], holder):
            return "bulkhead full"
        try:
            if entry.pool and not await ctx.state.acquire(entry.id, ctx.pool_size(entry), holder):
                return f"{entry.id} pool exhausted"
            held = HELD_THREAD.set((entry.id, holder) if entry.pool else None)
            try:
                env = {"correlation_id": correlation_id, "causation_id": correlation_id, "attempt": attempt}
                if ctx.group_by:
                    env[ctx.group_by] = request_class.name
                return await self.run_steps(ctx, entry, request_class.steps, env)
            finally:
                HELD_THREAD.reset(held)
                if entry.pool:
                    await ctx.state.release(entry.id, holder)
        finally:
            if bulkhead:
                await ctx.state.release("bulkhead", holder)

    async def run_steps(
        self, ctx: RunContext, service: Service, steps: tuple[Step, ...], env: dict[str, Any]
    ) -> str | None:
        """Run a handler's steps in order; the first failing one ends it with its reason."""
        sending: list[tuple[Link, dict[str, Any]]] = []  # consecutive queue and topic sends, published together
        for step in steps:
            if "when" in step.options and not ctx.params.get(step.options["when"]):
                continue  # a step switched off by its knob (`when`), e.g. a call to a consumer no longer wanted
            link = ctx.topology.links.get(step.target) if step.kind == "send" else None
            if link is not None and link.kind not in LINK_SENDERS:
                sending.append((link, step.options))
                continue
            if sending:
                await self.publish_together(ctx, sending, env)
                sending = []
            if step.kind == "call":
                result = await self.call(ctx, ctx.topology.links[step.target], env)
                if not result.ok:
                    return f"{ctx.topology.links[step.target].target}: {result.outcome}"
            elif step.kind == "send":  # `outbox` steps are a construct (lab/engine/constructs/outbox.py)
                await self.publish(ctx, ctx.topology.links[step.target], env, step.options)
            elif step.kind == "work":
                await ctx.sleep(step.options["ms"] / 1000)
            elif step.kind == "fail":
                return step.target or f"{service.id} failed"
            elif step.kind == "emit":
                ctx.emit("service.event", service=service.id, name=step.target, correlation_id=env["correlation_id"])
            elif step.kind in STEP_HANDLERS:
                reason = await STEP_HANDLERS[step.kind](self, ctx, service, step, env)
                if reason is not None:
                    return reason
            else:
                raise NotImplementedError(f"the engine cannot run {step.kind!r} steps yet")
        if sending:
            await self.publish_together(ctx, sending, env)
        return None

    # Sync calls

    async def call(self, ctx: RunContext, link: Link, caller_env: dict[str, Any]) -> CallResult:
        """A blocking call over `link`, through its breaker, the target's faults and pool, and the caller's timeout."""
        env = envelope(
            correlation_id=caller_env["correlation_id"],
            causation_id=caller_env.get("message_id", caller_env["correlation_id"]),
            source=link.source,
            target=link.target,
            attempt=caller_env.get("attempt", 1),
            **{ctx.group_by: caller_env[ctx.group_by]} if ctx.group_by and ctx.group_by in caller_env else {},
        )
        await ctx.refresh()
        guarded = link.breaker if ctx.enabled(link.breaker) else None
        if guarded and not await self._breaker(ctx, link, guarded, lambda b, now: b.allow(now)):
            ctx.emit(
                "call.finished",
                kind="sync",
                outcome="short_circuited",
                duration_ms=0.0,
                reason="circuit breaker open",
                **env,
            )
            return CallResult("short_circuited", 0.0)
        result = await self._call(ctx, link, env)
        if guarded:
            await self._breaker(
                ctx, link, guarded, lambda b, now: b.record(now, success=result.ok, duration_ms=result.duration_ms)
            )
        return result

    async def _breaker(self, ctx: RunContext, link: Link, name: str, action: Callable[[Any, float], Any]) -> Any:
        async with ctx.state.breaker(link.target, ctx.breaker_config(name)) as breaker:
            before = len(breaker.transitions)
            value = action(breaker, ctx.clock.time() - ctx.started_at)
            changes = breaker.transitions[before:]
        for change in changes:
            ctx.emit("breaker.state", target=link.target, **{k: change[k] for k in ("from", "to", "reason")})
        return value

    async def _call(self, ctx: RunContext, link: Link, env: dict[str, Any]) -> CallResult:
        target = ctx.topology.services[link.target]
        _, fault = await ctx.fault_for(target.id, env["message_id"])
        ctx.emit("call.started", kind="sync", **env)
        started = ctx.clock.time()
        budget_ms = ctx.timeout_ms(link)
        holder = env["message_id"]
        if target.pool:
            if target.pool.when_full == "reject":
                if not await ctx.state.acquire(target.id, ctx.pool_size(target), holder):
                    return self._finished(ctx, env, "rejected", started, reason=f"{target.id} pool exhausted")
            elif not await self._wait_for_slot(ctx, target, holder, budget_ms):
                return self._finished(ctx, env, "timeout", started, reason=f"no free {target.id} thread")
        if fault.refused:
            if target.pool:
                await ctx.state.release(target.id, holder)
            await ctx.sleep(CONNECT_REFUSED_MS / 1000)
            return self._finished(ctx, env, "refused", started, reason=f"{target.id} is down")
        if fault.duplicate:
            ctx.emit("message.processed", duplicate=True, outcome="ok", **env)
        # The callee works in its own coroutine: if the caller gives up, the callee goes on and keeps its thread.
        work = ctx.clock.spawn(self._serve(ctx, target, env, fault, holder))
        left_s = max(0.0, budget_ms / 1000 - (ctx.clock.time() - started))
        if not await ctx.clock.wait(work, left_s):
            return self._finished(ctx, env, "timeout", started)
        outcome = work.result()
        return self._finished(ctx, env, outcome, started)

    async def _serve(self, ctx: RunContext, target: Service, env: dict[str, Any], fault: CallFault, holder: str) -> str:
        """The callee's side of a sync call: its work, then its own steps; holds its pool slot until done."""
        HELD_THREAD.set((target.id, holder) if target.pool else None)  # its own task: the caller's is untouched
        try:
            if fault.drop:
                await ctx.clock.sleep(DEFAULT_CLIENT_WAIT_MS / 1000)  # the request never arrived; nobody answers
                return "timeout"
            await ctx.sleep((ctx.work_ms(target) + fault.extra_latency_ms + self._jitter(ctx, target, env)) / 1000)
            inner = await self.run_steps(ctx, target, target.steps, env) if target.steps else None
            if fault.error or fault.crash != "none" or inner is not None:
                return "error"
            return "ok"
        finally:
            if target.pool:
                await ctx.state.release(target.id, holder)

    @staticmethod
    def _jitter(ctx: RunContext, service: Service, env: dict[str, Any]) -> float:
        if not service.jitter_ms:
            return 0.0
        return max(0.0, ctx.rng_for(env["message_id"], "work").uniform(-service.jitter_ms, service.jitter_ms))

    async def _wait_for_slot(self, ctx: RunContext, target: Service, holder: str, budget_ms: float) -> bool:
        """Take a thread of `target`'s pool for `holder`, in turn, waiting up to `budget_ms` for one to come free."""
        return await ctx.state.acquire_in_turn(
            target.id, lambda: ctx.pool_size(target), holder, budget_ms / 1000, POOL_POLL_S
        )

    @staticmethod
    def _finished(ctx: RunContext, env: dict[str, Any], outcome: str, started: float, **extra: Any) -> CallResult:
        duration = round((ctx.clock.time() - started) * 1000, 1)
        ctx.emit("call.finished", kind="sync", outcome=outcome, duration_ms=duration, **env, **extra)
        return CallResult(outcome, duration)

    # Messages: queues and topics

    async def publish(self, ctx: RunContext, link: Link, caller_env: dict[str, Any], options: dict[str, Any]) -> None:
        """Send over a queue (one copy) or a topic (one copy per matching subscription), after transit faults."""
        if link.kind in LINK_SENDERS:
            await LINK_SENDERS[link.kind](self, ctx, link, caller_env, options)
            return
        await self.publish_together(ctx, [(link, options)], caller_env)

    async def publish_together(
        self, ctx: RunContext, sends: list[tuple[Link, dict[str, Any]]], caller_env: dict[str, Any]
    ) -> None:
        """Queue and topic sends made one after another, as a producer pipelines its publishes: each copy meets its
        transit faults and is logged in order, then every queue's copies are handed over in one round trip."""
        handing: list[tuple[str, list[dict[str, Any]]]] = []
        for link, options in sends:
            routing_key = str(options.get("key", ""))
            body = dict(options.get("body") or {})
            if link.kind == "topic":
                destinations = [(sub.id, sub.to) for sub in await receiving(ctx, link, caller_env, routing_key, body)]
            else:
                destinations = [(link.id, link.target)]
            for queue, consumer in destinations:
                env = onward(
                    ctx, caller_env, source=link.source, target=consumer, queue=queue, key=routing_key, body=body
                )
                if copies := await self._in_transit(ctx, queue, env):
                    handing.append((queue, copies))
        await self.hand_over_all(ctx, handing)

    async def _send(self, ctx: RunContext, queue: str, env: dict[str, Any]) -> None:
        if copies := await self._in_transit(ctx, queue, env):
            await self.hand_over_all(ctx, [(queue, copies)])

    async def _in_transit(self, ctx: RunContext, queue: str, env: dict[str, Any]) -> list[dict[str, Any]]:
        """A message on its way to `queue`, through the transit faults: the copies to hand over now (none when it
        was dropped, or when a reorder fault holds it back to enqueue later on its own)."""
        spec, fault = await ctx.fault_for(env["to"], env["message_id"], "transit", transit=True)
        if fault.drop and not spec.down:
            ctx.emit("message.dropped", kind="async", **env)
            return []
        copies = 2 if fault.duplicate and not spec.down else 1
        for _ in range(copies):
            ctx.emit("message.published", kind="async", **env)
        if fault.reorder_delay_ms:
            await ctx.state.add_outstanding(copies)
            for _ in range(copies):
                ctx.clock.spawn(self._enqueue_later(ctx, queue, env, fault.reorder_delay_ms / 1000))
            return []
        return [env] * copies

    async def _enqueue_later(self, ctx: RunContext, queue: str, env: dict[str, Any], delay_s: float) -> None:
        await ctx.clock.sleep(delay_s)
        await ctx.state.enqueue(queue, env)
        await self.hand_over_all(ctx, [(queue, [])])

    async def hand_over_all(self, ctx: RunContext, handing: list[tuple[str, list[dict[str, Any]]]]) -> None:
        """Messages are waiting on these queues (with, for each, new ones to put on it first and count as
        outstanding work): handed out now, in one round trip, or, on a pull subscription, at its consumers' next
        poll."""
        now: list[tuple[str, list[dict[str, Any]]]] = []
        for queue, publishing in handing:
            wait = poll_wait_s(ctx, queue)
            if not wait:
                now.append((queue, publishing))
                continue
            if publishing:
                await ctx.state.add_outstanding(len(publishing))
                for message in publishing:
                    await ctx.state.enqueue(queue, message)
            ctx.clock.spawn(self._dispatch_after(ctx, queue, wait))
        if now:
            await self.dispatch_many(ctx, now)

    async def _dispatch_after(self, ctx: RunContext, queue: str, wait_s: float) -> None:
        await ctx.sleep(wait_s)
        await self.dispatch(ctx, queue)

    def consumer_of(self, ctx: RunContext, queue: str) -> tuple[Link, Service]:
        for link in ctx.topology.links.values():
            if link.id == queue:
                return link, ctx.topology.services[link.target]
            for sub in link.subscriptions:
                if sub.id == queue:
                    return link, ctx.topology.services[sub.to]
        raise KeyError(f"no queue {queue!r} in run {ctx.run_id}")

    async def dispatch(self, ctx: RunContext, queue: str) -> None:
        """Hand a queue's waiting messages to the consumers with room, as real task messages through Celery."""
        await self.dispatch_many(ctx, [(queue, [])])

    async def dispatch_many(self, ctx: RunContext, handing: list[tuple[str, list[dict[str, Any]]]]) -> None:
        """`dispatch` for several queues in one round trip, each with new messages to put on it first."""
        asks = []
        for queue, publishing in handing:
            link, consumer = self.consumer_of(ctx, queue)
            knobs = link.consumer_knobs  # a queue's knobs, or its subscription's on a topic (both named after `queue`)
            asks.append(
                Handing(
                    queue,
                    consumers=(f"{queue}.consumers" if knobs else "", consumer.instances),
                    prefetch=(f"{queue}.prefetch" if knobs else "", link.prefetch),
                    down_param=f"{consumer.id}.down",
                    subscribed_param=f"{queue}.subscribed" if link.kind == "topic" else "",
                    publishing=publishing,
                )
            )
        taken_all = await ctx.state.take(asks)
        if any(ctx.acks_riding[ask.queue] and ctx.state.anything_waiting(ask.queue) for ask in asks):
            ctx.clock.spawn(ctx.flush())  # an acknowledgement riding with the next flush may be what they wait for
        for ask, (taken, spent) in zip(asks, taken_all, strict=True):
            if taken and spent > ctx.task_budget:
                for number, message in taken:  # a design that amplifies without end stops here, visibly
                    await ctx.state.dead_letter(message, "the run's task budget is spent")
                    ctx.emit("dlq.added", reason="the run's task budget is spent", **message)
                    await ctx.settle(-1)
                    await self.acknowledge(ctx, ask.queue, number)
                continue
            for number, message in taken:
                self.deliver(ctx.run_id, ask.queue, {**message, "consumer": number})

    def prefetch(self, ctx: RunContext, queue: str) -> int:
        """How many messages each consumer of `queue` may hold, the one in hand included (its live knob, if any)."""
        link, _ = self.consumer_of(ctx, queue)
        return int(ctx.params.get(f"{queue}.prefetch", link.prefetch)) if link.consumer_knobs else link.prefetch

    async def dispatch_all(self, ctx: RunContext) -> None:
        await self.dispatch_many(ctx, [(queue, []) for queue in ctx.topology.queues()])

    async def receive(self, deliveries: list[tuple[str, str, dict[str, Any]]]) -> None:
        """(run, queue, message) deliveries that arrived in one task message: queue messages are claimed in one round
        trip, then each is handled on its own (a construct's receiver claims its own)."""
        plain: list[tuple[RunContext, str, dict[str, Any]]] = []
        for run_id, queue, env in deliveries:
            try:
                ctx = await self.context(run_id)
            except Exception:  # its run is gone (saved and cleaned up): nothing left to deliver to
                log.warning("a delivery for run %s was dropped: the run's working state is gone", run_id)
                continue
            if env.get("via") in RECEIVERS:
                ctx.clock.spawn(self.handle_message(ctx, queue, env))
            else:
                plain.append((ctx, queue, env))
        announced = [ctx.changes_announced for ctx, _, _ in plain]  # before the claim reads the knobs' versions
        held = await hold_all([(ctx.state, queue, env) for ctx, queue, env in plain], ENGINE_ID) if plain else []
        for (ctx, queue, env), (claimed, live_version), before in zip(plain, held, announced, strict=True):
            ctx.saw_live_version(live_version, announced=before)
            if claimed:  # else a stale delivery: the watchdog already put this message back on its queue
                ctx.clock.spawn(self.handle_message(ctx, queue, env, held=True))

    async def handle_message(self, ctx: RunContext, queue: str, env: dict[str, Any], *, held: bool = False) -> None:
        """A consumer instance taking one message off its queue, with its faults, retries and dead letters.
        `held`: this engine already claimed the delivery (`receive`)."""
        HELD_THREAD.set(None)  # a consumer instance holds no pool thread (even when handed over in-process)
        if env.get("via") in RECEIVERS:
            await RECEIVERS[env["via"]](self, ctx, queue, env)
            return
        link, consumer = self.consumer_of(ctx, queue)
        if not held and not await ctx.state.hold(queue, env, ENGINE_ID):
            return  # a stale delivery: the watchdog already put this message back on its queue
        await ctx.refresh()
        try:
            finished = await self._consume(ctx, link, consumer, queue, env)
        except Exception as exc:
            ctx.emit("handler.error", message_id=env.get("message_id"), error=repr(exc)[:200])
            finished = True
        await self.finish_delivery(ctx, queue, env, finished=finished)

    async def finish_delivery(self, ctx: RunContext, queue: str, env: dict[str, Any], *, finished: bool) -> None:
        """The consumer acknowledges the delivery (and, when the message is `finished` with, it stops counting as
        the run's outstanding work, in the same transaction), then takes the next message if one waits for it."""
        if finished:
            await ctx.settle(-1)
        if await self.acknowledge(ctx, queue, env.get("consumer", 1)):
            await self.dispatch(ctx, queue)

    async def _consume(self, ctx: RunContext, link: Link, consumer: Service, queue: str, env: dict[str, Any]) -> bool:
        """Process one delivery; True when the message is finished with (done, lost or dead-lettered)."""
        spec = FailureSpec.from_params(ctx.params, consumer.id)
        if spec.down and spec.applies(call_index=0, now=ctx.now()):
            await ctx.state.enqueue(queue, env, front=True)  # taken just before its consumer went down: put back
            return False
        _, fault = await ctx.fault_for(consumer.id, env["message_id"], env["attempt"])
        ctx.emit("message.consumed", kind="async", **env)
        acks = delivery.ack_mode(ctx, link)  # None: no ack mode declared, the crash fault's classic meaning
        if acks == "before_work" and fault.crash != "none":  # at-most-once: acknowledged on receipt
            return await self._crashed(ctx, queue, env, 0.0, redelivered=fault.crash == "before_ack")
        started = ctx.clock.time()
        slower_ms = float(ctx.params.get(f"{queue}.slow_consumer_ms", 0.0)) if env.get("consumer") == 1 else 0.0
        extra_ms = fault.extra_latency_ms + slower_ms + self._jitter(ctx, consumer, env)
        await ctx.sleep((ctx.work_ms(consumer) + extra_ms) / 1000)
        duration = round((ctx.clock.time() - started) * 1000, 1)
        if fault.crash == "before_ack" and acks is None:
            return await self._crashed(ctx, queue, env, duration, redelivered=True)
        key = delivery.idempotency_key(ctx, link, env)
        over_limit = env.get("hops", 0) > MAX_HOPS
        error = (
            f"passed {MAX_HOPS} hops"
            if over_limit
            else self._poison(ctx, queue, env) or (f"{consumer.id} failed" if fault.error else None)
        )
        steps = self._handler_steps(consumer, env)
        if key is not None and not error and not steps and fault.crash != "before_ack":
            # Nothing left that could fail: the claim rides on the acknowledgement's transaction and picks the event.
            self._processed_once_claimed(ctx, link, consumer.id, key, queue, env, duration, fault.crash, acks)
            return True
        first_time: bool | None = None
        if key is not None:
            # With nothing left that could fail, the claim also records the message as processed (one round trip).
            marking = None if error or steps else env["message_id"]
            claimed, first_time = await delivery.claim(ctx, link, consumer.id, key, processing=marking)
            if not claimed:
                ctx.emit("message.processed", outcome="duplicate_skipped", duration_ms=duration, **env)
                return True
        if not error and steps:
            error = await self.run_steps(ctx, consumer, steps, env)
        if error and key is not None:
            await delivery.release(ctx, consumer.id, key)
        if error and acks == "before_work":  # acknowledged already: nobody will deliver it again
            ctx.emit("message.processed", outcome="error", duration_ms=duration, error=error, **env)
            return True
        if error:
            policy = ctx.retry_policy(link.retry)
            allowed = link.max_deliveries or policy.max_attempts
            if not over_limit and env["attempt"] < allowed:
                rng = ctx.rng_for(env["message_id"], "backoff", env["attempt"])
                delay = policy.delay_for(env["attempt"], rng, env.get("last_delay_ms"))
                ctx.emit("message.processed", outcome="error", duration_ms=duration, error=error, **env)
                ctx.emit("retry.scheduled", delay_ms=round(delay, 1), next_attempt=env["attempt"] + 1, **env)
                again = {**env, "attempt": env["attempt"] + 1, "last_delay_ms": round(delay, 1)}
                await self.retry_later(ctx, queue, again, delay / 1000)
                return False
            reason = error if over_limit else f"{consumer.id} failed {env['attempt']} times"
            await ctx.state.dead_letter(env, reason, error)
            ctx.emit("message.processed", outcome="error", duration_ms=duration, error=error, **env)
            ctx.emit("dlq.added", reason=reason, last_error=error, **env)
            return True
        if first_time is None:
            first_time = await ctx.state.mark_processed(consumer.id, env["message_id"])
        if fault.crash == "before_ack":  # at-least-once: the work is done, the ack never sent
            return await self._crashed(ctx, queue, env, duration, redelivered=True)
        outcome = "lost" if fault.crash == "after_ack" and acks is None else "ok"
        ctx.emit("message.processed", outcome=outcome, duration_ms=duration, duplicate=not first_time, **env)
        return True

    @staticmethod
    def _processed_once_claimed(
        ctx: RunContext,
        link: Link,
        consumer: str,
        key: str,
        queue: str,
        env: dict[str, Any],
        duration: float,
        crash: str,
        acks: str | None,
    ) -> None:
        """An idempotent consumer's work is done: its claim of the message's key is committed with the logging of
        what it did (and so with the acknowledgement that follows), and the claim's answer picks what that was:
        skipped as a duplicate, or processed (a duplicate delivery when the message was processed before)."""
        outcome = "lost" if crash == "after_ack" and acks is None else "ok"
        answer = f"{queue}:{env.get('consumer', 1)}:{env['message_id']}"
        ctx.emit_one_of(
            answer,
            ("message.processed", {"outcome": "duplicate_skipped", "duration_ms": duration, **env}),
            ("message.processed", {"outcome": outcome, "duration_ms": duration, "duplicate": True, **env}),
            ("message.processed", {"outcome": outcome, "duration_ms": duration, "duplicate": False, **env}),
        )
        ctx.sink.commit_with_log(
            ctx.run_id,
            lambda pipe: delivery.claiming(
                ctx, pipe, link, consumer, key, processing=env["message_id"], outcome=answer
            ),
        )

    async def acknowledge(self, ctx: RunContext, queue: str, consumer: int) -> bool:
        """The consumer is done with the message in its hand: acknowledged in one transaction with the logging of
        what it did (call it right after the last emit), so a worker dying in between never leaves a message both
        logged as handled and redelivered, nor acknowledged with its outcome lost. True when messages wait on the
        queue or in the consumer's prefetch buffer (only then is there anything to hand out).

        When a message may be waiting for the consumer, the acknowledgement is flushed at once, so the next starts
        without delay; else it rides with the next flush of the process's events (within 10 ms), which carries
        every run's, one round trip for many instead of one per message."""
        committed = ctx.sink.commit_with_log(ctx.run_id, lambda pipe: ctx.state.acknowledging(pipe, queue, consumer))
        if ctx.state.may_be_waiting(queue, consumer, prefetching=self.prefetch(ctx, queue) > 1):
            await ctx.flush()
            return ctx.state.still_waiting(queue, consumer, committed.results)
        ctx.acks_riding[queue] += 1  # until it lands, a hand-out that leaves messages waiting flushes it at once
        try:
            return ctx.state.still_waiting(queue, consumer, await ctx.clock.until(committed.landed))
        finally:
            ctx.acks_riding[queue] -= 1

    async def retry_later(self, ctx: RunContext, queue: str, message: dict[str, Any], delay_s: float) -> None:
        """A failed message goes back on its queue after its backoff. Redis holds it meanwhile; the broker's countdown
        task only says when, so a worker that dies holding that task loses nothing (the watchdog puts it back)."""
        token = await ctx.state.back_off(queue, message, due=time.time() + delay_s)
        self.requeue(ctx.run_id, token, delay_s)

    async def end_backoff(self, ctx: RunContext, token: str, *, redelivered_because: str = "") -> None:
        """A backoff is over: its message goes back on its queue for the next free consumer, once, whoever ends it
        (the countdown task, or the watchdog when that task was lost with its worker, saying why)."""
        ended = await ctx.state.end_backoff(token)
        if ended is None:
            return
        queue, message = ended
        if redelivered_because:
            ctx.emit("message.redelivered", reason=redelivered_because, **message)
        await ctx.state.enqueue(queue, message)
        await self.dispatch(ctx, queue)

    @staticmethod
    async def _crashed(ctx: RunContext, queue: str, env: dict[str, Any], duration: float, *, redelivered: bool) -> bool:
        """The consumer died holding the message: unacknowledged, it goes back to the queue; acknowledged, it is
        lost. True when the message is finished with."""
        if not redelivered:
            ctx.emit("message.processed", outcome="lost", duration_ms=duration, **env)
            return True
        ctx.emit("message.processed", outcome="crashed", duration_ms=duration, redelivered=True, **env)
        await ctx.state.enqueue(queue, env, front=True)
        return False

    @staticmethod
    def _poison(ctx: RunContext, queue: str, env: dict[str, Any]) -> str | None:
        """A message its consumer cannot handle fails every delivery: chosen by the message, never the attempt."""
        share = float(ctx.params.get(f"{queue}.poison_share", 0.0))
        if share and ctx.rng_for(env["correlation_id"], queue, "poison").random() < share:
            return "cannot handle this message (poison)"
        return None

    @staticmethod
    def _handler_steps(consumer: Service, env: dict[str, Any]) -> tuple[Step, ...]:
        """What the consumer does with the message: its steps, or those for the message's event."""
        return consumer.on.get(str(env.get("key", "")), consumer.steps)
