"""What each consumer of a scalable queue holds, as the `consumer.load` sample tells the page: its prefetched
messages and the one in its hand, exactly, on the virtual clock (real Redis)."""

from __future__ import annotations

from typing import Any

import pytest

from lab.engine.constructs.consumers import sample_consumer_load
from lab.model.catalog import EXPERIMENTS
from tests.support.engine import VirtualLab

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("redis_server")]


async def test_a_slow_consumer_keeps_its_prefetched_jobs_while_the_others_empty_their_buffers() -> None:
    document = EXPERIMENTS["competing-consumers"].topology.document
    lab = VirtualLab(document, **{"jobs-bulk.slow_consumer_ms": 1800.0})  # 3 consumers, prefetch 10
    ctx = await lab.context()
    for number in range(1, 13):
        await lab.request("prefetch-10", number)
    for at in (0.1, 0.9, 2.1):
        await lab.later(at, lambda: sample_consumer_load(lab.engine, ctx))
    events = await lab.finish()
    samples: list[tuple[float, Any, Any]] = [
        (e["t"], e["held"]["jobs-bulk"], e["in_hand"]["jobs-bulk"]) for e in events if e["type"] == "consumer.load"
    ]
    assert samples == [
        (0.1, [4, 4, 4], [1, 1, 1]),  # twelve jobs dealt round-robin into three buffers, one in each hand
        (0.9, [4, 0, 0], [1, 0, 0]),  # the fast two are done (4 × 0.2 s); the slow one still holds its four
        (2.1, [3, 0, 0], [1, 0, 0]),  # three jobs still wait behind it while the others sit idle
    ]
