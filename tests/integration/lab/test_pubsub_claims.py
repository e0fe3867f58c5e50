"""What the pub-sub experiment's presets say a run shows (lab/experiments/pubsub.yaml, lessons 8 and 22), checked
in numbers over three seeds on the engine's virtual clock."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import pytest

from tests.support.engine import run_preset

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("redis_server")]
SEEDS = (1, 2, 3)
SUBSCRIBERS = ("sub.inventory", "sub.payment", "sub.email", "sub.analytics")


def of_type(events: list[dict[str, Any]], kind: str, **match: Any) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == kind and all(e.get(k) == v for k, v in match.items())]


def orders_created(events: list[dict[str, Any]], **match: Any) -> dict[str, float]:
    return {e["correlation_id"]: e["t"] for e in of_type(events, "request.created", **match)}


def holds(summary: dict[str, Any], name: str) -> bool:
    return {i["name"]: i["holds"] for i in summary["invariants"]}[name]


@pytest.mark.parametrize("seed", SEEDS)
async def test_one_publish_gives_one_copy_to_each_matching_subscription_and_none_to_the_filtered_one(
    seed: int,
) -> None:
    summary, events = await run_preset("pubsub", "one-publish", seed=seed, alongside=SEEDS)
    orders = orders_created(events)
    per_order = Counter(
        (e["correlation_id"], e["queue"]) for e in of_type(events, "message.published", key="order.placed")
    )
    assert per_order == Counter({(order, sub): 1 for order in orders for sub in SUBSCRIBERS})
    assert not of_type(events, "message.published", queue="sub.fraud")
    assert summary["latency_ms"]["p99"] == 5.0  # the broker's confirm, nothing a subscriber does
    assert holds(summary, "exactly_once") and holds(summary, "no_missed_messages")


@pytest.mark.parametrize("seed", SEEDS)
async def test_the_aggregator_acts_once_per_order_and_only_after_both_of_its_events(seed: int) -> None:
    _, events = await run_preset("pubsub", "aggregator-waits", seed=seed, alongside=SEEDS)
    arrived: dict[str, list[float]] = {}
    for e in of_type(events, "aggregate.arrived"):
        arrived.setdefault(e["key"], []).append(e["t"])
    completed = Counter(e["key"] for e in of_type(events, "aggregate.completed"))
    assert completed == Counter(dict.fromkeys(orders_created(events), 1))
    for e in of_type(events, "aggregate.completed"):
        assert len(arrived[e["key"]]) == 2 and e["t"] >= max(arrived[e["key"]])
    created = orders_created(events)
    in_outage = [e for e in of_type(events, "aggregate.completed") if 3.2 <= created[e["key"]] < 6.8]
    assert len(in_outage) >= 6 and all(e["t"] >= 7.0 for e in in_outage)  # acted on once payment was back


@pytest.mark.parametrize("seed", SEEDS)
async def test_a_slow_subscriber_grows_only_its_own_backlog_and_it_drains(seed: int) -> None:
    summary, events = await run_preset("pubsub", "slow-subscriber", seed=seed, alongside=SEEDS)
    assert summary["latency_ms"]["p99"] == 5.0
    published = {e["message_id"]: e["t"] for e in of_type(events, "message.published")}
    for sub in ("sub.inventory", "sub.payment", "sub.email"):
        waits = [e["t"] - published[e["message_id"]] for e in of_type(events, "message.consumed", queue=sub)]
        assert max(waits) < 0.1, sub  # taken at once, as in a healthy run
    assert summary["max_queue_depth_by_queue"]["sub.analytics"] >= 5
    assert max(d for q, d in summary["max_queue_depth_by_queue"].items() if q != "sub.analytics") <= 1
    assert summary["final_queue_depth"] == 0 and holds(summary, "exactly_once")


@pytest.mark.parametrize("seed", SEEDS)
async def test_the_publishers_latency_follows_the_number_of_consumers_only_when_it_calls_them_itself(
    seed: int,
) -> None:
    four, _ = await run_preset("pubsub", "fan-out-four", seed=seed, alongside=SEEDS)
    one, _ = await run_preset("pubsub", "fan-out-one", seed=seed, alongside=SEEDS)
    assert four["by_mode"]["pubsub"]["latency_ms"]["p50"] == one["by_mode"]["pubsub"]["latency_ms"]["p50"] == 5.0
    assert four["by_mode"]["p2p"]["latency_ms"]["p50"] == pytest.approx(320, abs=20)
    assert one["by_mode"]["p2p"]["latency_ms"]["p50"] == pytest.approx(80, abs=10)


@pytest.mark.parametrize("seed", SEEDS)
async def test_with_a_subscriber_down_publishing_succeeds_while_calling_it_directly_fails(seed: int) -> None:
    summary, events = await run_preset("pubsub", "subscriber-down", seed=seed, alongside=SEEDS)
    assert summary["by_mode"]["pubsub"]["success_rate_pct"] == 100.0
    created = orders_created(events, mode="p2p")
    failed = of_type(events, "request.finished", mode="p2p", outcome="failed")
    assert len(failed) >= 11 and {e["reason"] for e in failed} == {"analytics: refused"}
    assert all(3.0 <= created[e["correlation_id"]] < 9.0 for e in failed)
    assert summary["max_queue_depth_by_queue"]["sub.analytics"] >= 11
    assert summary["final_queue_depth"] == 0 and holds(summary, "exactly_once")


@pytest.mark.parametrize("seed", SEEDS)
async def test_a_pull_subscriber_waits_for_its_poll_while_pushed_copies_are_taken_at_once(seed: int) -> None:
    _, events = await run_preset("pubsub", "push-or-pull", seed=seed, alongside=SEEDS)
    published = {e["message_id"]: e["t"] for e in of_type(events, "message.published")}

    def waits(sub: str) -> list[float]:
        return [e["t"] - published[e["message_id"]] for e in of_type(events, "message.consumed", queue=sub)]

    assert max(waits("sub.inventory")) < 0.05 and max(waits("sub.email")) < 0.05
    pulled = of_type(events, "message.consumed", queue="sub.analytics")
    assert len(pulled) == len(of_type(events, "request.created"))
    # polls come every whole second: a copy published at 3.5 s is taken at 4 s, one published at 4 s at once
    assert all(e["t"] == pytest.approx(math.ceil(published[e["message_id"]] - 1e-9), abs=0.01) for e in pulled)
    assert sum(1 for e in pulled if e["t"] - published[e["message_id"]] >= 0.4) >= len(pulled) // 2 - 1

    _, faster = await run_preset("pubsub", "push-or-pull", seed=seed, alongside=SEEDS, **{"sub.analytics.poll_ms": 250})
    sent = {e["message_id"]: e["t"] for e in of_type(faster, "message.published")}
    assert (
        max(e["t"] - sent[e["message_id"]] for e in of_type(faster, "message.consumed", queue="sub.analytics")) < 0.25
    )


@pytest.mark.parametrize("seed", SEEDS)
async def test_a_late_subscriber_gets_only_what_is_published_after_it_joins(seed: int) -> None:
    _, events = await run_preset("pubsub", "late-subscriber", seed=seed, alongside=SEEDS)
    created = orders_created(events)
    got = {e["correlation_id"] for e in of_type(events, "message.processed", queue="sub.analytics", outcome="ok")}
    assert {order for order, t in created.items() if t > 5.0} <= got  # the order at second 5 may go either way
    assert not {order for order, t in created.items() if t < 5.0} & got
    assert len(got) >= 9


@pytest.mark.parametrize("seed", SEEDS)
async def test_a_durable_subscriber_catches_up_while_a_non_durable_one_misses_what_came_while_it_was_away(
    seed: int,
) -> None:
    summary, events = await run_preset("pubsub", "offline-durable-or-not", seed=seed, alongside=SEEDS)
    created = orders_created(events)
    away = {order for order, t in created.items() if 3.0 < t < 9.0}
    analytics = {e["correlation_id"] for e in of_type(events, "message.processed", queue="sub.analytics", outcome="ok")}
    email = {e["correlation_id"] for e in of_type(events, "message.processed", queue="sub.email", outcome="ok")}
    assert analytics == set(created)
    assert summary["max_queue_depth_by_queue"]["sub.analytics"] >= 11
    assert {e["correlation_id"] for e in of_type(events, "message.missed", subscription="sub.email")} >= away
    assert email == set(created) - {e["correlation_id"] for e in of_type(events, "message.missed")}
    assert summary["missed_messages"] >= 11
    assert not holds(summary, "no_missed_messages") and holds(summary, "exactly_once")


@pytest.mark.parametrize("seed", SEEDS)
async def test_a_filter_and_a_binding_edited_mid_run_reroute_the_next_publishes(seed: int) -> None:
    _, events = await run_preset("pubsub", "edit-routing", seed=seed, alongside=SEEDS)
    created = orders_created(events)
    copies = {(e["correlation_id"], e["queue"]) for e in of_type(events, "message.published", key="order.placed")}
    before = [order for order, t in created.items() if t < 5.0]
    after = [order for order, t in created.items() if t > 5.0]
    assert all((o, "sub.email") in copies and (o, "sub.fraud") not in copies for o in before)
    assert all((o, "sub.fraud") in copies and (o, "sub.email") not in copies for o in after)
    assert len(before) >= 9 and len(after) >= 9


def lab_questions() -> list[Any]:
    from quizzes.banks import catalogue

    return [q for q in catalogue().questions.values() if q.type == "lab" and q.experiment == "pubsub"]


@pytest.mark.parametrize("question", lab_questions(), ids=lambda q: q.id)
async def test_each_lab_question_reads_a_number_its_preset_s_summary_has(question: Any) -> None:
    summary, _ = await run_preset("pubsub", question.preset, seed=1)
    value: Any = summary
    for part in question.metric.split("."):
        value = value[part]
    assert isinstance(value, int | float) and not isinstance(value, bool)
