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


def news(*, consumers: int = 2) -> dict[str, Any]:
    """A shop publishing each order to a topic with consumer knobs; mail (100 ms a message) and stock subscribe."""
    return {
        "slug": "news",
        "title": "News",
        "services": {
            "shop": {},
            "mail": {"work_ms": 100, "instances": consumers},
            "stock": {"work_ms": 100},
        },
        "links": [
            {
                "id": "orders",
                "kind": "topic",
                "from": "shop",
                "consumer_knobs": True,
                "subscriptions": [{"id": "sub.mail", "to": "mail"}, {"id": "sub.stock", "to": "stock"}],
            }
        ],
        "workload": {"entry": "shop", "classes": {"order": {"steps": [{"send": "orders", "key": "order.placed"}]}}},
    }


def finished_at(events: list[dict[str, Any]], queue: str) -> list[int]:
    return sorted(round(e["t"] * 1000) for e in events if e["type"] == "message.processed" and e["queue"] == queue)


async def test_a_subscription_with_more_consumers_drains_faster_while_its_sibling_keeps_its_own_pace() -> None:
    lab = VirtualLab(news(), **{"sub.mail.consumers": 4})
    for number in range(1, 9):
        await lab.request("order", number)
    events = await lab.finish()
    assert finished_at(events, "sub.mail") == [100] * 4 + [200] * 4  # four consumers on mail's copies
    assert finished_at(events, "sub.stock") == [100 * n for n in range(1, 9)]  # stock's one consumer, one by one


async def test_a_subscriptions_poison_share_dead_letters_only_its_own_copies() -> None:
    lab = VirtualLab(news(), **{"sub.mail.poison_share": 1.0})
    for number in range(1, 4):
        await lab.request("order", number)
    events = await lab.finish()
    dead = [e["queue"] for e in events if e["type"] == "dlq.added"]
    assert dead == ["sub.mail"] * 3  # every copy mail gets is poison; stock handles its own copies
    assert len([e for e in events if e["type"] == "message.processed" and e["queue"] == "sub.stock"]) == 3


async def test_the_consumer_load_sample_covers_each_scalable_subscription() -> None:
    lab = VirtualLab(news(), **{"sub.mail.slow_consumer_ms": 1000.0})
    ctx = await lab.context()
    for number in range(1, 5):
        await lab.request("order", number)
    await lab.later(0.05, lambda: sample_consumer_load(lab.engine, ctx))
    events = await lab.finish()
    (sample,) = [e for e in events if e["type"] == "consumer.load"]
    assert sample["held"] == {"sub.mail": [1, 1], "sub.stock": [1]}
    # consumer 1 spends 1.1 s on its one copy while consumer 2 works through the other three (prefetch 1)
    assert finished_at(events, "sub.mail") == [100, 200, 300, 1100]
