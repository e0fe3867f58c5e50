"""What the streams experiment's presets say a run shows, checked in numbers over three seeds on the virtual clock
(real Redis, exact times). Durations are shortened where the claim does not need the preset's full length;
scripted presets run whole. tests/integration/lab/test_streams_experiment.py runs one preset on the real worker."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from lab.model.experiments import EXPERIMENTS
from quizzes.banks import catalogue
from quizzes.grading import metric_value
from tests.support.engine import run_preset

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("redis_server")]
SEEDS = (1, 2, 3)


def of_type(events: list[dict[str, Any]], kind: str, **match: Any) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == kind and all(e.get(k) == v for k, v in match.items())]


def group(summary: dict[str, Any], name: str) -> dict[str, Any]:
    return summary["streams"]["groups"][name]


def holds(summary: dict[str, Any]) -> dict[str, bool]:
    return {i["name"]: i["holds"] for i in summary["invariants"]}


def entries(events: list[dict[str, Any]]) -> Counter:
    return Counter({(e["partition"], e["offset"]): 1 for e in of_type(events, "stream.appended")})


def processed_once(events: list[dict[str, Any]], name: str) -> Counter:
    done = of_type(events, "stream.processed", group=name, outcome="ok")
    return Counter((e["partition"], e["offset"]) for e in done if not e["replay"])


@pytest.mark.parametrize("seed", SEEDS)
async def test_keyed_partitions_keep_every_orders_events_in_order_and_both_groups_see_every_event(seed: int) -> None:
    summary, events = await run_preset("streams", "keyed", seed=seed, alongside=SEEDS, duration=5)
    appended = of_type(events, "stream.appended")
    assert len(appended) == 45  # 15 orders x created, paid, shipped
    partitions_of: dict[str, set[int]] = {}
    for e in appended:
        partitions_of.setdefault(e["key"], set()).add(e["partition"])
    assert all(len(p) == 1 for p in partitions_of.values())  # each order lives in one partition
    assert group(summary, "fulfilment")["out_of_order"] == group(summary, "analytics")["out_of_order"] == 0
    assert processed_once(events, "fulfilment") == processed_once(events, "analytics") == entries(events)
    assert holds(summary) == {"per_key_order": True, "exactly_once": True, "every_request_accounted": True}


@pytest.mark.parametrize("seed", SEEDS)
async def test_round_robin_spreads_each_order_so_fulfilment_handles_every_created_event_late(seed: int) -> None:
    summary, events = await run_preset("streams", "round-robin", seed=seed, alongside=SEEDS, duration=5)
    late = [e for e in of_type(events, "stream.processed", group="fulfilment") if e["out_of_order"]]
    assert len(late) == 15 and {e["event"] for e in late} == {"created"}  # one per order
    assert group(summary, "analytics")["out_of_order"] == 0  # one consumer, oldest entry first: still in order
    assert processed_once(events, "fulfilment") == processed_once(events, "analytics") == entries(events)
    assert not holds(summary)["per_key_order"]


@pytest.mark.parametrize("seed", SEEDS)
async def test_side_by_side_on_the_same_orders_only_round_robin_reorders(seed: int) -> None:
    summary, _ = await run_preset("streams", "side-by-side", seed=seed, alongside=SEEDS, duration=5)
    by_class = group(summary, "fulfilment")["by_partitioning"]
    assert by_class["keyed"]["processed"] == by_class["round_robin"]["processed"] == 21
    assert by_class["keyed"]["out_of_order"] == 0
    assert by_class["round_robin"]["out_of_order"] >= 7  # at least every order's created event
    assert group(summary, "analytics")["out_of_order"] == 0 and not holds(summary)["per_key_order"]
    assert summary["by_partitioning"]["keyed"]["requests"] == summary["by_partitioning"]["round_robin"]["requests"]


@pytest.mark.parametrize("seed", SEEDS)
async def test_retries_in_place_keep_keyed_order_while_round_robin_retries_come_out_of_order(seed: int) -> None:
    summary, events = await run_preset("streams", "retries", seed=seed, alongside=SEEDS, duration=8)
    assert of_type(events, "retry.scheduled", group="fulfilment")
    by_class = group(summary, "fulfilment")["by_partitioning"]
    assert by_class["keyed"]["out_of_order"] == by_class["keyed"]["out_of_order_after_retry"] == 0
    assert by_class["round_robin"]["out_of_order_after_retry"] >= 1
    retried_late = [e for e in of_type(events, "stream.processed", group="fulfilment") if e["out_of_order"]]
    assert any(e["attempt"] > 1 for e in retried_late)
    assert group(summary, "fulfilment")["processed"] == 72  # 12 orders both ways (5 failed attempts dead-letter one)


@pytest.mark.parametrize("seed", SEEDS)
async def test_the_resequencer_holds_back_overtaking_events_and_restores_order_per_order(seed: int) -> None:
    summary, events = await run_preset("streams", "resequencer", seed=seed, alongside=SEEDS, duration=5)
    fulfilment = group(summary, "fulfilment")
    assert fulfilment["out_of_order"] == 0 and fulfilment["parked"] == 30  # 15 orders' paid and shipped
    assert processed_once(events, "fulfilment") == entries(events)
    assert holds(summary)["per_key_order"]


@pytest.mark.parametrize("seed", SEEDS)
async def test_consumers_beyond_the_partitions_add_no_throughput_but_more_partitions_do(seed: int) -> None:
    six, events = await run_preset("streams", "extra-consumers", seed=seed, alongside=SEEDS, duration=5)
    three, _ = await run_preset(
        "streams", "extra-consumers", seed=seed, alongside=SEEDS, duration=5, **{"orders.fulfilment.consumers": 3}
    )
    wider, _ = await run_preset("streams", "more-partitions", seed=seed, alongside=SEEDS, duration=5)
    assert {e["instance"] for e in of_type(events, "stream.consumed", group="fulfilment")} == {0, 1, 2}
    assert group(six, "fulfilment")["max_lag"] == group(three, "fulfilment")["max_lag"] >= 15
    assert group(wider, "fulfilment")["max_lag"] <= group(six, "fulfilment")["max_lag"] / 2


@pytest.mark.parametrize("seed", SEEDS)
async def test_one_consumer_left_falls_behind_and_three_again_catch_up(seed: int) -> None:
    summary, events = await run_preset("streams", "rebalance", seed=seed, alongside=SEEDS)
    moves = [
        (e["t"], e["consumers"], e["assignment"]) for e in of_type(events, "stream.rebalanced", group="fulfilment")
    ]
    assert moves == [
        (0.0, 3, {"0": [0], "1": [1], "2": [2]}),
        (3.0, 1, {"0": [0, 1, 2]}),
        (6.0, 3, {"0": [0], "1": [1], "2": [2]}),
    ]

    behind = [
        (e["t"], sum(v for k, v in e["lags"].items() if "/fulfilment/" in k)) for e in of_type(events, "stream.lag")
    ]
    three_before = max(lag for t, lag in behind if t < 3)
    one_alone = max(lag for t, lag in behind if 3 <= t < 6.5)
    assert one_alone >= 12 and one_alone >= 2 * three_before
    assert max(lag for t, lag in behind if t >= 8) <= three_before and behind[-1][1] == 0  # caught up within 2 s
    worst = group(summary, "fulfilment")
    assert worst["max_lag"] == one_alone and 3 <= worst["max_lag_at_s"] < 6.5
    assert worst["max_lag_at_s"] == min(t for t, lag in behind if lag == one_alone)
    assert (
        f"fulfilment fell furthest behind at {worst['max_lag_at_s']:g} s: {one_alone} events appended that it had not"
        " yet processed." in summary["findings"]
    )
    assert group(summary, "fulfilment")["out_of_order"] == 0


@pytest.mark.parametrize("seed", SEEDS)
async def test_a_rewind_replays_exactly_the_events_from_the_chosen_offset_and_the_queue_keeps_nothing(
    seed: int,
) -> None:
    summary, events = await run_preset("streams", "replay", seed=seed, alongside=SEEDS)
    rewound = of_type(events, "stream.rewound")
    assert [(e["group"], e["to_offset"]) for e in rewound] == [("analytics", 5)]
    before = {
        (e["partition"], e["offset"])
        for e in of_type(events, "stream.processed", group="analytics")
        if e["seq"] < rewound[0]["seq"]
    }
    replayed = [
        (e["partition"], e["offset"]) for e in of_type(events, "stream.processed", group="analytics") if e["replay"]
    ]
    assert sorted(replayed) == sorted(entry for entry in before if entry[1] >= 5)
    assert len(replayed) == rewound[0]["replay"] == group(summary, "analytics")["replayed"]
    assert group(summary, "fulfilment")["replayed"] == 0
    # Billing's queue handed each order's message over once; it kept nothing to replay.
    billed = Counter(e["correlation_id"] for e in of_type(events, "message.processed", to="billing", outcome="ok"))
    assert len(billed) == 24 and set(billed.values()) == {1}
    assert summary["final_queue_depth"] == 0 and holds(summary)["exactly_once"]


@pytest.mark.parametrize(
    "question",
    [q for q in catalogue().questions.values() if q.type == "lab" and q.experiment == "streams"],
    ids=lambda q: q.id,
)
async def test_every_lab_question_on_streams_reads_a_number_its_presets_summary_has(question: Any) -> None:
    preset = EXPERIMENTS["streams"].preset(question.preset)
    shortest = {} if preset is None or preset.script else {"duration": 5}  # a scripted preset runs whole
    summary, _ = await run_preset("streams", question.preset, seed=1, **shortest)
    assert metric_value(summary, question.metric) is not None
