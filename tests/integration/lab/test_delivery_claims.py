"""What each preset of the delivery experiment says a run shows (its notices, and lessons 9, 11 and 20), checked in
numbers over three seeds.

Every order goes to three payment consumers at once (side by side, same arrivals, same fault schedule): one that
acknowledges before charging, one after, and one after with a dedup store of order keys. The charges are counted
per order from the consumers' `charged` events (`summary.effects.charged`).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.engine import run_preset

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("redis_server")]
SEEDS = (1, 2, 3)
DURATION = 5
ORDERS = 5 * DURATION  # per consumer, at 5 orders a second
STRUCK = ORDERS // 5  # every 5th delivery (or message) of each consumer


def charges(summary: dict[str, Any], mode: str) -> dict[str, int]:
    return summary["effects"]["charged"]["by_mode"][mode]


def holds(summary: dict[str, Any]) -> dict[str, bool]:
    return {i["name"]: i["holds"] for i in summary["invariants"]}


def processed(events: list[dict[str, Any]], consumer: str, outcome: str) -> int:
    return sum(
        1 for e in events if e["type"] == "message.processed" and e["to"] == consumer and e["outcome"] == outcome
    )


def exactly_once(counts: dict[str, int]) -> bool:
    return counts["expected"] == counts["once"] > 0 and counts["lost"] == counts["repeated"] == counts["orphaned"] == 0


@pytest.mark.parametrize("seed", SEEDS)
async def test_without_faults_every_consumer_charges_every_order_exactly_once(seed: int) -> None:
    summary, _ = await run_preset("delivery", "healthy", seed=seed, alongside=SEEDS, duration=DURATION)
    for mode in ("at_most_once", "at_least_once", "idempotent"):
        assert exactly_once(charges(summary, mode)) and charges(summary, mode)["expected"] == ORDERS
    assert holds(summary) == {"effect_once": True, "every_request_accounted": True}


@pytest.mark.parametrize("seed", SEEDS)
async def test_a_crash_right_after_the_ack_loses_the_charge_only_where_the_ack_came_before_the_work(seed: int) -> None:
    summary, events = await run_preset("delivery", "crash-after-ack", seed=seed, alongside=SEEDS, duration=DURATION)
    first = charges(summary, "at_most_once")
    assert first["lost"] == processed(events, "pay-first", "lost") == first["expected"] // 5 == STRUCK  # one in five
    assert first["once"] == first["expected"] - first["lost"] and first["repeated"] == 0
    assert exactly_once(charges(summary, "at_least_once")) and exactly_once(charges(summary, "idempotent"))
    assert holds(summary)["effect_once"] is False


@pytest.mark.parametrize("seed", SEEDS)
async def test_a_crash_before_the_ack_double_charges_only_the_consumer_that_acks_after_without_dedup(seed: int) -> None:
    summary, events = await run_preset("delivery", "crash-before-ack", seed=seed, alongside=SEEDS, duration=DURATION)
    assert exactly_once(charges(summary, "at_most_once"))  # crashed before charging: charged once, on redelivery
    after = charges(summary, "at_least_once")
    assert (
        after["repeated"] == after["extra"] == processed(events, "pay-after", "crashed") >= STRUCK
        and after["lost"] == 0
    )
    assert exactly_once(charges(summary, "idempotent"))
    assert processed(events, "pay-dedup", "duplicate_skipped") == processed(events, "pay-dedup", "crashed") >= STRUCK
    assert holds(summary)["effect_once"] is False


@pytest.mark.parametrize("seed", SEEDS)
async def test_duplicate_deliveries_double_charge_both_consumers_without_a_dedup_store(seed: int) -> None:
    summary, events = await run_preset("delivery", "duplicates", seed=seed, alongside=SEEDS, duration=DURATION)
    for mode, queue in (("at_most_once", "q.first"), ("at_least_once", "q.after")):
        published = [e["message_id"] for e in events if e["type"] == "message.published" and e["queue"] == queue]
        twice = len(published) - len(set(published))
        assert charges(summary, mode)["repeated"] == twice == charges(summary, mode)["expected"] // 5 == STRUCK
        assert charges(summary, mode)["lost"] == 0
    assert exactly_once(charges(summary, "idempotent"))
    assert processed(events, "pay-dedup", "duplicate_skipped") >= STRUCK


@pytest.mark.parametrize("seed", SEEDS)
async def test_the_idempotent_consumer_charges_each_order_once_while_crashing_and_duplicated(seed: int) -> None:
    # faults at 5 s
    summary, events = await run_preset("delivery", "idempotent-under-fire", seed=seed, alongside=SEEDS, duration=10)
    assert exactly_once(charges(summary, "idempotent")) and charges(summary, "idempotent")["expected"] == 50
    assert processed(events, "pay-dedup", "crashed") >= 1 and processed(events, "pay-dedup", "duplicate_skipped") >= 2
    assert holds(summary) == {"effect_once": True, "every_request_accounted": True}


@pytest.mark.parametrize("seed", SEEDS)
async def test_switched_to_ack_before_the_work_the_at_least_once_consumer_loses_one_order_in_five_too(
    seed: int,
) -> None:
    summary, _ = await run_preset(
        "delivery", "crash-after-ack", seed=seed, alongside=SEEDS, duration=DURATION, **{"q.after.ack": "before_work"}
    )
    assert charges(summary, "at_least_once")["lost"] == charges(summary, "at_least_once")["expected"] // 5 == STRUCK
    assert charges(summary, "at_most_once")["lost"] == STRUCK and charges(summary, "idempotent")["lost"] == 0


@pytest.mark.parametrize("seed", SEEDS)
async def test_a_dedup_key_that_expires_before_the_redelivery_lets_every_crashed_order_be_charged_twice(
    seed: int,
) -> None:
    summary, events = await run_preset("delivery", "key-expires", seed=seed, alongside=SEEDS, duration=DURATION)
    dedup = charges(summary, "idempotent")
    crashed = processed(events, "pay-dedup", "crashed")
    assert dedup["expected"] == ORDERS and dedup["lost"] == 0
    assert dedup["repeated"] == dedup["extra"] == crashed >= STRUCK  # each crash slipped through as a 2nd charge
    assert processed(events, "pay-dedup", "duplicate_skipped") == 0
    assert holds(summary)["effect_once"] is False


@pytest.mark.parametrize("seed", SEEDS)
async def test_keys_kept_longer_than_the_redelivery_gap_catch_every_crashed_order(seed: int) -> None:
    summary, events = await run_preset(
        "delivery", "key-expires", seed=seed, alongside=SEEDS, duration=DURATION, **{"dedup.ttl_ms": 1000}
    )
    assert exactly_once(charges(summary, "idempotent")) and charges(summary, "idempotent")["expected"] == ORDERS
    assert processed(events, "pay-dedup", "duplicate_skipped") == processed(events, "pay-dedup", "crashed") >= STRUCK
    assert holds(summary)["effect_once"] is True
