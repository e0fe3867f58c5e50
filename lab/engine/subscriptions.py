"""Which subscriptions of a topic get a copy of one publish, read live: their bindings and filters may be edited
mid-run, and subscribers come, go and come back.

A subscription exists at the broker from the first publish over its topic that finds it subscribed (from the start,
or when a learner subscribes a late subscriber), so a late subscriber never sees what was published before it
joined. While its subscriber is away, a `durable` subscription keeps collecting its copies (delivery waits, as for
a consumer that is down) and it catches up when the subscriber is back; a non-durable one gets no copy meanwhile,
and each copy it missed is logged as `message.missed`.

A subscription's delivery is push (the broker hands a copy out as soon as it arrives) or pull (an idle consumer
takes what is waiting when it polls, every `poll_ms` from the run's start; one that has just finished a message
asks again at once): `poll_wait_s` says how long a new copy waits for the next poll.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lab.model.routing import binding_matches, filter_passes
from lab.model.topology import Link, Subscription

if TYPE_CHECKING:
    from lab.engine.interpreter import RunContext


def live_route(ctx: RunContext, sub: Subscription) -> tuple[bool, str, str]:
    """(subscribed, binding, filter) as the learner has them now."""
    p = ctx.params
    return (
        bool(p.get(f"{sub.id}.subscribed", sub.subscribed)),
        str(p.get(f"{sub.id}.binding", sub.binding)),
        str(p.get(f"{sub.id}.filter", sub.filter)),
    )


async def receiving(
    ctx: RunContext, link: Link, caller_env: dict[str, Any], routing_key: str, body: dict[str, Any]
) -> list[Subscription]:
    """The subscriptions that get a copy of this publish; logs a copy each away, non-durable one misses."""
    await ctx.refresh()
    routes = {sub.id: live_route(ctx, sub) for sub in link.subscriptions}
    existing = await ctx.state.subscriptions_existing([sub_id for sub_id, r in routes.items() if r[0]])
    chosen = []
    for sub in link.subscriptions:
        subscribed, binding, text_filter = routes[sub.id]
        if sub.id not in existing or not (binding_matches(binding, routing_key) and filter_passes(text_filter, body)):
            continue
        if subscribed or sub.durable:
            chosen.append(sub)
        else:
            ctx.emit(
                "message.missed",
                subscription=sub.id,
                reason="its subscriber was away and the subscription is not durable",
                key=routing_key,
                correlation_id=caller_env["correlation_id"],
                **{"from": link.source, "to": sub.to},
            )
    return chosen


def poll_wait_s(ctx: RunContext, queue: str) -> float | None:
    """Seconds until the consumers of a pull subscription next poll; None for push delivery and plain queues."""
    if ctx.params.get(f"{queue}.delivery") != "pull":
        return None
    every = float(ctx.params[f"{queue}.poll_ms"]) / 1000
    return round(every - ctx.now() % every, 3) % every
