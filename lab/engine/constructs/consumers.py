"""Competing consumers a learner scales live: what each consumer of a queue (or of a topic's subscription) with
`consumer_knobs` holds.

The core (lab/engine/state.py's DISPATCH) runs the consumers themselves, for every queue: per-consumer prefetch
buffers, one message in hand at a time. This sampler shows them, so a consumer stuck behind its own prefetched
messages while the others sit idle is visible on the page and in the log.
"""

from __future__ import annotations

from lab.engine.interpreter import SAMPLERS, Engine, RunContext


async def sample_consumer_load(engine: Engine, ctx: RunContext) -> None:
    queues = list(ctx.topology.scalable_queues())
    if not queues:
        return
    await ctx.refresh()
    held, in_hand = {}, {}
    for queue in queues:
        held[queue], in_hand[queue] = await ctx.state.consumer_load(queue, int(ctx.params[f"{queue}.consumers"]))
    ctx.emit("consumer.load", held=held, in_hand=in_hand)


SAMPLERS.append(sample_consumer_load)
