"""The aggregator (Enterprise Integration Patterns): act once per key, only when every listed event has arrived.

A consumer's `aggregate` step keeps, per correlation key, which of its `events` have arrived, in a Redis hash
updated by one script, so two worker processes delivering the last two events at once still act exactly once and a
duplicate (a redelivery or a second copy of the same event) is ignored. With `timeout_ms`, a key whose events do
not all arrive in time is given up (`aggregate.timed_out`) and later arrivals for it are ignored as late.

Document (a consumer's steps, or its `on` steps for each listed event):

    - aggregate:
        events: [payment.completed, stock.reserved]   # routing keys of the messages to wait for
        by: correlation_id                            # a body field or envelope field; default correlation_id
        timeout_ms: 2000                              # optional
        then:
          - {send: shipments, key: order.ready}
"""

from __future__ import annotations

import uuid
from typing import Any

from lab.engine.interpreter import Engine, RunContext, step_handler
from lab.engine.state import WORKING_TTL_S
from lab.events import outcomes_key
from lab.model.topology import Service, Step

# Record one arrival: returns {outcome, events so far}; outcome is added, complete, duplicate or late. Which of the
# arrival events `aggregate` prepared to log it is (0 duplicate, 1 late, 1 + events so far for added and complete) is
# left in the run's outcomes hash KEYS[2] under ARGV[5], for the event to be logged in the same transaction.
ARRIVE = """
local function answer(outcome, have, pick)
  redis.call('HSET', KEYS[2], ARGV[5], pick)
  redis.call('EXPIRE', KEYS[2], ARGV[4])
  return {outcome, tostring(have)}
end
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return answer('duplicate', 0, 0) end
local state = redis.call('HGET', KEYS[1], '_state')
if state == 'done' or state == 'timed_out' then return answer('late', 0, 1) end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local have = redis.call('HLEN', KEYS[1]) - (state and 1 or 0)
redis.call('EXPIRE', KEYS[1], ARGV[4])
if have >= tonumber(ARGV[3]) then
  redis.call('HSET', KEYS[1], '_state', 'done')
  return answer('complete', have, 1 + have)
end
if not state then redis.call('HSET', KEYS[1], '_state', 'waiting') end
return answer('added', have, 1 + have)
"""
# Give up on a key still waiting: returns the events that did arrive, or nothing when it completed meanwhile.
EXPIRE = """
if redis.call('HGET', KEYS[1], '_state') ~= 'waiting' then return false end
redis.call('HSET', KEYS[1], '_state', 'timed_out')
return redis.call('HKEYS', KEYS[1])
"""
# A pending timeout looks at its key this often, so a key completed elsewhere does not hold the run's end.
TIMEOUT_POLL_S = 0.25


def aggregate_name(service: Service, step: Step) -> str:
    """Steps in one service that wait for the same events share their state (one per `on` event is usual)."""
    return str(step.options.get("name") or f"{service.id}:{'+'.join(str(e) for e in step.options['events'])}")


def correlation_key(step: Step, env: dict[str, Any]) -> str | None:
    by = str(step.options.get("by", "correlation_id"))
    body = env.get("body") or {}
    value = body.get(by, env.get(by))
    return None if value is None else str(value)


@step_handler("aggregate")
async def aggregate(engine: Engine, ctx: RunContext, service: Service, step: Step, env: dict[str, Any]) -> str | None:
    """Record this message's event for its key; run `then` once, on the arrival that completes the set."""
    events = [str(e) for e in step.options["events"]]
    name = aggregate_name(service, step)
    event, key = str(env.get("key", "")), correlation_key(step, env)
    tag = {"aggregate": name, "key": key, "event": event, "correlation_id": env.get("correlation_id")}
    if event not in events or key is None:
        ctx.emit("aggregate.arrived", outcome="not_listed", have=0, **tag)
        return None
    state_key = ctx.state.key("agg", name, key)
    # The arrival is logged in the transaction that records it, so the log never shows it after an arrival that
    # counted it (another worker's completing one, whose events that worker flushes on its own).
    picked_by = f"agg:{uuid.uuid4().hex}"
    ctx.emit_one_of(
        picked_by,
        ("aggregate.arrived", {"outcome": "duplicate", "have": 0, **tag}),
        ("aggregate.arrived", {"outcome": "late", "have": 0, **tag}),
        *(
            ("aggregate.arrived", {"outcome": "complete" if have == len(events) else "added", "have": have, **tag})
            for have in range(1, len(events) + 1)
        ),
    )
    args = [event, env.get("message_id", ""), len(events), WORKING_TTL_S, picked_by]
    arrival = ctx.sink.commit_with_log(
        ctx.run_id, lambda pipe: pipe.eval(ARRIVE, 2, state_key, outcomes_key(ctx.run_id), *args)
    )
    await ctx.flush()
    outcome, have = arrival.results[0]
    timeout_ms = float(step.options.get("timeout_ms") or 0)
    if outcome == "added" and int(have) == 1 and timeout_ms > 0:
        await ctx.state.add_outstanding(1)  # the timer is work the run must wait for
        ctx.clock.spawn(_expire_later(ctx, state_key, name, key, events, timeout_ms / 1000))
    if outcome != "complete":
        return None
    ctx.emit("aggregate.completed", aggregate=name, key=key, events=events, correlation_id=env.get("correlation_id"))
    return await engine.run_steps(ctx, service, step.children, env)


async def _expire_later(
    ctx: RunContext, state_key: str, name: str, key: str, events: list[str], timeout_s: float
) -> None:
    try:
        deadline = ctx.clock.time() + timeout_s
        while (left := deadline - ctx.clock.time()) > 0:
            await ctx.clock.sleep(min(left, TIMEOUT_POLL_S))
            if await ctx.state.redis.hget(state_key, "_state") != "waiting":
                return
        arrived = await ctx.state.redis.register_script(EXPIRE)(keys=[state_key])
        if arrived:
            have = sorted(e for e in arrived if e in events)
            missing = [e for e in events if e not in have]
            ctx.emit("aggregate.timed_out", aggregate=name, key=key, arrived=have, missing=missing)
    finally:
        await ctx.settle(-1)
