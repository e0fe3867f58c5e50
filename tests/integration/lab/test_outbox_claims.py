"""What each preset of the outbox experiment says a run shows (its notices, and lessons 11 and 20), checked in numbers
over three seeds.

The order service saves each order and asks payment to charge it: saving then publishing (dual write), publishing
then saving, or through a transactional outbox and its relay. Charges are counted per order from the payment
consumer's `charged` events (`summary.effects.charged`).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.engine import run_preset

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("redis_server")]
SEEDS = (1, 2, 3)
DURATION = 8  # 32 orders of each kind


def charges(summary: dict[str, Any], mode: str) -> dict[str, int]:
    return summary["effects"]["charged"]["by_mode"][mode]


def holds(summary: dict[str, Any]) -> dict[str, bool]:
    return {i["name"]: i["holds"] for i in summary["invariants"]}


def crashed(events: list[dict[str, Any]], mode: str) -> int:
    return sum(1 for e in events if e["type"] == "writer.crashed" and e["mode"] == mode)


def published_twice(events: list[dict[str, Any]]) -> int:
    records = [e["record"] for e in events if e["type"] == "record.published"]
    return len(records) - len(set(records))


@pytest.mark.parametrize("seed", SEEDS)
async def test_a_publisher_crash_loses_dual_writes_orphans_publish_first_and_leaves_the_outbox_whole(seed: int) -> None:
    summary, events = await run_preset("outbox", "publisher-crash", seed=seed, alongside=SEEDS, duration=DURATION)
    dual, first = charges(summary, "dual_write"), charges(summary, "publish_first")
    assert dual["lost"] == crashed(events, "dual_write") == 32 // 5 and dual["orphaned"] == dual["repeated"] == 0
    assert first["orphaned"] == crashed(events, "publish_then_save") >= 6 and first["lost"] == first["repeated"] == 0
    outbox = charges(summary, "outbox")
    assert crashed(events, "outbox") >= 6
    assert outbox["expected"] == outbox["once"] == 32 and outbox["lost"] == outbox["repeated"] == 0
    assert summary["by_mode"]["outbox"]["failed"] == crashed(events, "outbox")  # the client saw those fail
    assert holds(summary)["effect_once"] is False and holds(summary)["no_lost_writes"] is False


@pytest.mark.parametrize("seed", SEEDS)
async def test_a_relay_crash_publishes_some_orders_twice_and_charges_them_twice(seed: int) -> None:
    summary, events = await run_preset("outbox", "relay-crash", seed=seed, alongside=SEEDS, duration=DURATION)
    outbox = charges(summary, "outbox")
    relay_crashes = sum(1 for e in events if e["type"] == "relay.crashed")
    assert outbox["lost"] == 0 and outbox["expected"] == 32  # every saved order published at least once
    assert outbox["extra"] == published_twice(events) == relay_crashes >= 3
    assert holds(summary) == {"effect_once": False, "no_lost_writes": False, "every_request_accounted": True}


@pytest.mark.parametrize("seed", SEEDS)
async def test_deduplicating_by_message_id_misses_the_relays_copies(seed: int) -> None:
    summary, events = await run_preset(
        "outbox", "relay-crash-dedup-by-message-id", seed=seed, alongside=SEEDS, duration=DURATION
    )
    assert charges(summary, "outbox")["extra"] == published_twice(events) >= 3
    assert not any(e["type"] == "message.processed" and e["outcome"] == "duplicate_skipped" for e in events)


@pytest.mark.parametrize("seed", SEEDS)
async def test_with_relay_crashes_an_idempotent_consumer_keyed_by_order_charges_exactly_once(seed: int) -> None:
    summary, events = await run_preset(
        "outbox", "relay-crash-idempotent", seed=seed, alongside=SEEDS, duration=DURATION
    )
    outbox = charges(summary, "outbox")
    assert outbox["expected"] == outbox["once"] == 32
    skipped = sum(1 for e in events if e["type"] == "message.processed" and e["outcome"] == "duplicate_skipped")
    assert skipped == published_twice(events) >= 3  # published more than once, charged once
    assert holds(summary) == {"effect_once": True, "no_lost_writes": False, "every_request_accounted": True}
