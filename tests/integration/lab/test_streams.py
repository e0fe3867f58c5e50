"""Event streams and projections on the real worker: partitions with real offsets in Redis, consumer groups that
each read every entry, per-key order with keyed and round-robin partitioning, rewind, and a read model that ends
equal to the log."""

from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.model.topology import TopologyError, parse_topology
from lab.models import Run
from tests.support.lab import new_learner, of_type, summary_of, wait_finished

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("worker"), pytest.mark.django_db(transaction=True)]
SKELETONS = Path(__file__).resolve().parents[3] / "lab" / "experiments" / "skeletons"


def skeleton(name: str) -> dict:
    return yaml.safe_load((SKELETONS / f"{name}.yaml").read_text())


def start_document(document: dict, preset: str | None = None, **config: object) -> Run:
    from lab import services

    return services.start_run(learner=new_learner(), experiment=None, preset=preset, config=config, topology=document)


def verdicts(run: Run) -> dict[str, tuple[bool, int]]:
    return {i["name"]: (i["holds"], i["violations"]) for i in summary_of(run)["invariants"]}


def processed(events: list[dict[str, Any]], group: str) -> Counter:
    return Counter(
        (e["partition"], e["offset"]) for e in of_type(events, "stream.processed", group=group, outcome="ok")
    )


def test_keyed_partitions_keep_each_orders_events_in_order_and_each_group_sees_every_entry_once() -> None:
    keyed = start_document(skeleton("stream"), duration=5, rate=1)
    round_robin_doc = skeleton("stream")
    round_robin_doc["links"][0]["key"] = ""
    round_robin = start_document(round_robin_doc, duration=5, rate=1)
    resequenced = start_document(round_robin_doc, duration=5, rate=1, **{"orders.fulfilment.resequence": True})
    keyed, round_robin, resequenced = wait_finished(keyed), wait_finished(round_robin), wait_finished(resequenced)

    events = keyed.stored_events()
    appended = of_type(events, "stream.appended")
    entries = {(e["partition"], e["offset"]) for e in appended}
    assert len(appended) == len(entries) == 15  # 5 orders x created, paid, shipped
    partitions_of = defaultdict(set)
    for event in appended:
        partitions_of[event["key"]].add(event["partition"])
        assert event["body"]["order_id"] == event["key"] == event["correlation_id"]
    assert len(partitions_of) == 5 and all(len(p) == 1 for p in partitions_of.values())
    for group in ("fulfilment", "analytics"):
        assert processed(events, group) == Counter(dict.fromkeys(entries, 1))
    assert not [e for e in of_type(events, "stream.processed") if e["out_of_order"]]
    assert set(of_type(events, "stream.lag")[-1]["lags"].values()) == {0}
    assert verdicts(keyed) == {"per_key_order": (True, 0), "every_request_accounted": (True, 0)}

    # Round-robin spreads each order over the three partitions. Fulfilment's three instances work in parallel and
    # "created" takes 400 ms, so every order's created event is processed after its paid and shipped ones;
    # analytics' single instance takes the oldest entry of its partitions first and keeps the order.
    events = round_robin.stored_events()
    spread = defaultdict(set)
    for event in of_type(events, "stream.appended"):
        spread[event["key"]].add(event["partition"])
    assert len(spread) == 5 and all(p == {0, 1, 2} for p in spread.values())
    late = [e for e in of_type(events, "stream.processed") if e["out_of_order"]]
    assert Counter(e["group"] for e in late) == {"fulfilment": 5}
    assert {e["event"] for e in late} == {"created"}
    for group in ("fulfilment", "analytics"):
        assert sum(processed(events, group).values()) == 15
    assert verdicts(round_robin)["per_key_order"] == (False, 5)

    # The resequencer parks each order's paid and shipped events until its created one is processed.
    events = resequenced.stored_events()
    parked = of_type(events, "stream.parked", group="fulfilment")
    assert Counter(e["event"] for e in parked) == {"paid": 5, "shipped": 5}
    assert len(of_type(events, "stream.unparked", reason="its key's previous entry was processed")) == 10
    assert not [e for e in of_type(events, "stream.processed") if e["out_of_order"]]
    for group in ("fulfilment", "analytics"):
        assert sum(processed(events, group).values()) == 15 == len(processed(events, group))
    assert verdicts(resequenced)["per_key_order"] == (True, 0)


def test_a_rewind_replays_the_retained_entries_from_the_chosen_offset() -> None:
    run = wait_finished(start_document(skeleton("stream"), preset="replay", duration=5, rate=1))
    events = run.stored_events()
    appended = of_type(events, "stream.appended")
    assert len(appended) == 15
    per_partition = Counter(e["partition"] for e in appended)
    rewound = {e["group"]: (e["to_offset"], e["replay"]) for e in of_type(events, "stream.rewound")}
    after_two = sum(max(0, n - 2) for n in per_partition.values())
    assert rewound == {"analytics": (0, 15), "fulfilment": (2, after_two)}

    analytics = of_type(events, "stream.processed", group="analytics", outcome="ok")
    assert processed(events, "analytics") == Counter({(e["partition"], e["offset"]): 2 for e in appended})
    assert sum(e["replay"] for e in analytics) == 15
    fulfilment = of_type(events, "stream.processed", group="fulfilment", outcome="ok")
    replayed = sorted((e["partition"], e["offset"]) for e in fulfilment if e["replay"])
    expected = sorted((e["partition"], e["offset"]) for e in appended if e["offset"] >= 2)
    assert replayed == expected and len(fulfilment) == 15 + after_two
    assert verdicts(run) == {"per_key_order": (True, 0), "every_request_accounted": (True, 0)}  # replays reset it


def test_a_group_whose_consumer_is_down_falls_behind_and_catches_up_while_the_other_group_reads_on() -> None:
    document = skeleton("stream")
    script = [{"at": 3, "set": {"analytics.down": False}}]
    outage = {"slug": "outage", "title": "Analytics down", "config": {"analytics.down": True}, "script": script}
    document["presets"].append(outage)
    run = wait_finished(start_document(document, preset="outage", duration=5, rate=1))
    events = run.stored_events()
    back_at = of_type(events, "toggle", values={"analytics.down": False})[0]["t"]
    assert min(e["t"] for e in of_type(events, "stream.consumed", group="analytics")) >= back_at
    assert min(e["t"] for e in of_type(events, "stream.consumed", group="fulfilment")) < 1
    entries = Counter({(e["partition"], e["offset"]): 1 for e in of_type(events, "stream.appended")})
    assert len(entries) == 15
    assert processed(events, "analytics") == processed(events, "fulfilment") == entries
    behind = [sum(v for k, v in e["lags"].items() if "/analytics/" in k) for e in of_type(events, "stream.lag")]
    assert max(behind) >= 9 and behind[-1] == 0  # the three orders before it came back, at least, waited
    assert verdicts(run)["per_key_order"] == (True, 0)


def test_consumers_beyond_the_partitions_stay_idle_and_scaling_down_live_moves_every_partition_to_one() -> None:
    document = skeleton("stream")
    document["links"][0]["key"] = ""  # round-robin: every order touches all three partitions
    scale = {"orders.fulfilment.consumers": 6}
    script = [{"at": 2.5, "set": {"orders.fulfilment.consumers": 1}}]
    document["presets"].append({"slug": "scale", "title": "Scale", "config": scale, "script": script})
    run = wait_finished(start_document(document, preset="scale", duration=5, rate=1))
    events = run.stored_events()
    rebalanced = of_type(events, "stream.rebalanced", group="fulfilment")
    assert [(e["consumers"], e["assignment"]) for e in rebalanced] == [
        (6, {"0": [0], "1": [1], "2": [2], "3": [], "4": [], "5": []}),
        (1, {"0": [0, 1, 2]}),
    ]
    consumed = of_type(events, "stream.consumed", group="fulfilment")
    assert {e["instance"] for e in consumed} == {0, 1, 2}  # six consumers, three partitions: three ever work
    assert {e["instance"] for e in consumed if e["t"] > rebalanced[1]["t"] + 0.1} == {0}
    entries = Counter({(e["partition"], e["offset"]): 1 for e in of_type(events, "stream.appended")})
    assert len(entries) == 15 and processed(events, "fulfilment") == processed(events, "analytics") == entries


def test_the_projection_lags_then_ends_equal_to_the_events_and_only_a_version_check_survives_replays() -> None:
    caught_up = start_document(skeleton("projection"), duration=5, rate=2)
    # Each entry is delivered twice (duplicate_rate 1), and the group replays the log once all orders are in.
    chaos = {"duration": 5, "rate": 1, "projector.duplicate_rate": 1.0}
    checked = start_document(skeleton("projection"), preset="replay", **chaos)
    naive_doc = skeleton("projection")
    naive_doc["services"]["projector"]["steps"] = [{"project": "order-events", "check_version": False}]
    naive = start_document(naive_doc, preset="replay", **chaos)
    caught_up, checked, naive = wait_finished(caught_up), wait_finished(checked), wait_finished(naive)

    events = caught_up.stored_events()
    appended = of_type(events, "stream.appended")
    updates = of_type(events, "projection.updated")
    assert len(appended) == len(updates) == 30 and all(u["applied"] for u in updates)
    assert all(u["lag_ms"] > 0 for u in updates)
    final = {u["key"]: u["state"] for u in updates if u["event"] == "shipped"}
    assert len(final) == 10
    for key, row in final.items():
        data = {"order_id": key, "status": "shipped", "total": 120, "paid": True}
        assert row == {"version": 3, "events": 3, "event": "shipped", "data": data}
    assert verdicts(caught_up) == {
        "per_key_order": (True, 0),
        "projection_converges": (True, 0),
        "no_stale_reads": (False, 10),  # each order's query right after its shipped event saw an older row
        "every_request_accounted": (True, 0),
    }
    assert {(r["wanted_version"], r["stale"]) for r in of_type(events, "projection.read")} == {(3, True)}

    # 15 entries, each delivered twice, then all 15 replayed (each twice again): 60 applications offered.
    for run, applied, events_per_row in ((checked, 15, 3), (naive, 60, 12)):
        events = run.stored_events()
        assert [e["replay"] for e in of_type(events, "stream.rewound")] == [15]
        assert len(of_type(events, "stream.duplicate")) == 30
        updates = of_type(events, "projection.updated")
        assert len(updates) == 60 and sum(u["applied"] for u in updates) == applied
        rows: dict[str, int] = {}
        for update in updates:
            rows[update["key"]] = max(rows.get(update["key"], 0), update["state"]["events"])
        assert len(rows) == 5 and set(rows.values()) == {events_per_row}
    assert verdicts(checked)["projection_converges"] == (True, 0)
    assert verdicts(naive)["projection_converges"] == (False, 5)  # every order's row counts 12 events, not 3


def test_reading_your_writes_waits_for_the_projection_and_no_read_is_stale() -> None:
    run = wait_finished(start_document(skeleton("projection"), preset="read-your-writes", duration=5, rate=2))
    events = run.stored_events()
    reads = of_type(events, "projection.read")
    assert len(reads) == 10 and {(r["version"], r["stale"]) for r in reads} == {(3, False)}
    # The projector needs 30 ms per event after the append; the order service waited at least that long.
    assert min(r["waited_ms"] for r in reads) >= 30
    assert verdicts(run)["no_stale_reads"] == (True, 0)
    assert verdicts(run)["projection_converges"] == (True, 0)


def test_project_must_run_in_a_consumer_of_the_stream() -> None:
    document = skeleton("projection")
    document["services"]["order"]["steps"] = [{"project": "order-events"}]
    with pytest.raises(TopologyError) as caught:
        parse_topology(document)
    assert caught.value.errors == {
        "services.order.steps[0].project": "no consumer group of 'order-events' goes to order; project runs in one"
    }
