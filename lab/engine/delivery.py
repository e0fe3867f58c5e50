"""Delivery guarantees at a queue's consumer: where it acknowledges a message, and how it knows one it handled.

- The ack mode (a link's `ack`, live as the knob `<link>.ack`): `after_work` acknowledges once the work and the
  steps are done (at-least-once: a crash before the ack redelivers a message whose effects already happened);
  `before_work` acknowledges on receipt (at-most-once: a crash right after the ack loses the message, its work
  never done). The consumer's `crash` fault strikes right before or right after the ack, wherever the mode puts it.
- The idempotent consumer (the link's `idempotency` policy, while `idempotent` is on): before running its steps the
  consumer claims the message's key (the policy's `key`: the broker's message id, or the correlation id of the order
  it is about) in a dedup store, one Redis key per run, consumer and message key holding when it was claimed. A key
  claimed less than `ttl_ms` ago on the run's clock (0: at any time in the run) is a duplicate: skipped, its steps
  not run; an older one has expired and is claimed again. The claim commits with the work: a handler that fails
  releases it, so a retry runs the work, and so does a worker that dies before acknowledging (the watchdog releases
  its claims as it redelivers the message; its events, the only record of the work, died with it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lab.engine.loop import ENGINE_ID
from lab.engine.state import WORKING_TTL_S
from lab.events import outcomes_key

# Claim a key unless it was claimed less than ARGV[2] run seconds ago (0: ever); ARGV[1] is the run's time now. The
# claim is '<time>|<engine>': the engine ARGV[4] that claimed it, so a claim whose engine died can be given back.
# Returns 0 when not claimed (a duplicate); else, with a message ARGV[5] to add to processed set KEYS[2], 2 when it
# was not there yet and 1 when it was; without ('' ), 1. With ARGV[6], the answer is also left in outcomes hash
# KEYS[3] under that name, for an event logged in the same transaction to be chosen by (lab/events.py).
CLAIM = """
local answer = 1
local held = redis.call('GET', KEYS[1])
if held then
  local at = tonumber(string.match(held, '^[^|]+'))
  if tonumber(ARGV[2]) <= 0 or tonumber(ARGV[1]) - at < tonumber(ARGV[2]) then answer = 0 end
end
if answer == 1 then
  redis.call('SET', KEYS[1], ARGV[1] .. '|' .. ARGV[4], 'EX', ARGV[3])
  if ARGV[5] ~= '' then answer = 1 + redis.call('SADD', KEYS[2], ARGV[5]) end
end
if ARGV[6] ~= '' then
  redis.call('HSET', KEYS[3], ARGV[6], answer)
  redis.call('EXPIRE', KEYS[3], ARGV[3])
end
return answer
"""
# Delete the claim if engine ARGV[1] made it.
FORGET = """
local held = redis.call('GET', KEYS[1])
if held and string.sub(held, -(#ARGV[1] + 1)) == '|' .. ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

if TYPE_CHECKING:
    from lab.engine.interpreter import RunContext
    from lab.model.topology import Link


def ack_mode(ctx: RunContext, link: Link) -> str | None:
    """The link's live ack mode, or None when it declares none (the crash fault then keeps its classic meaning)."""
    if not link.ack:
        return None
    return str(ctx.params.get(f"{link.id}.ack", link.ack))


def idempotency_key(ctx: RunContext, link: Link, env: dict[str, Any]) -> str | None:
    """The key an idempotent consumer dedups this message by, or None while the link's consumers are not idempotent."""
    if not ctx.enabled(link.idempotency, "idempotent"):
        return None
    field = str(ctx.params.get(f"{link.idempotency}.key", "message_id"))
    return str(env.get(field) or env["message_id"])


def _store_key(ctx: RunContext, consumer: str, key: str) -> str:
    return ctx.state.key("dedup", consumer, key)


async def claim(
    ctx: RunContext, link: Link, consumer: str, key: str, *, processing: str | None = None
) -> tuple[bool, bool | None]:
    """Record `key` in the consumer's dedup store: (False, None) when it is there and not expired (a duplicate).
    `processing`: a message id to record as processed by the consumer once claimed (EngineState.mark_processed, in
    the same round trip); the second value then says whether it was the first time, else it is None."""
    script = ctx.state.redis.register_script(CLAIM)
    claimed = int(await script(keys=_claim_keys(ctx, consumer, key), args=_claim_args(ctx, link, processing or "", "")))
    return claimed > 0, (claimed == 2 if claimed and processing else None)


def claiming(ctx: RunContext, pipe: Any, link: Link, consumer: str, key: str, *, processing: str, outcome: str) -> None:
    """Queue on `pipe` (a transaction about to log events) the claim `claim` makes, marking `processing` as processed
    once claimed: its answer (0 a duplicate, 1 claimed but processed before, 2 the first time) picks the event
    logged under `outcome` (RunContext.emit_one_of)."""
    pipe.eval(CLAIM, 3, *_claim_keys(ctx, consumer, key), *_claim_args(ctx, link, processing, outcome))


def _claim_keys(ctx: RunContext, consumer: str, key: str) -> list[str]:
    return [_store_key(ctx, consumer, key), ctx.state.processed_key(consumer), outcomes_key(ctx.run_id)]


def _claim_args(ctx: RunContext, link: Link, processing: str, outcome: str) -> list[str | float]:
    ttl_s = float(ctx.params.get(f"{link.idempotency}.ttl_ms", 0.0) or 0.0) / 1000
    return [ctx.now(), ttl_s, WORKING_TTL_S, ENGINE_ID, processing, outcome]


async def release(ctx: RunContext, consumer: str, key: str) -> None:
    """Forget a claim whose work failed, so the message's retry is not mistaken for a duplicate."""
    await ctx.state.redis.delete(_store_key(ctx, consumer, key))


async def release_dead(ctx: RunContext, consumer: str, key: str, engine_id: str) -> None:
    """Forget a claim made by an engine that died before acknowledging its message: its work's events died with it,
    so the redelivery must do the work rather than skip it as done."""
    script = ctx.state.redis.register_script(FORGET)
    await script(keys=[_store_key(ctx, consumer, key)], args=[engine_id])
