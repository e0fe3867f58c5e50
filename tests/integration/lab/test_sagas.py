"""Sagas and the aggregator on the real worker: the skeleton documents' claims, counted from their event logs.

Five orders a run, one a second (one every two seconds where a fault schedule counts calls, "every second call to
payment fails"), so each saga finishes long before the next starts and such a schedule hits the same steps every
time, even on a busy machine.
"""

from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.models import Run
from tests.support.lab import new_learner, of_type, summary_of, wait_finished

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("worker"), pytest.mark.django_db(transaction=True)]
SKELETONS = Path(__file__).resolve().parents[3] / "lab" / "experiments" / "skeletons"
ORDERS = [f"r{i:05d}-order" for i in range(1, 6)]


def start(name: str, **config: Any) -> Run:
    from lab import services

    document = yaml.safe_load((SKELETONS / f"{name}.yaml").read_text())
    return services.start_run(
        learner=new_learner(), experiment=None, preset=None, config={"duration": 5, **config}, topology=document
    )


def finish_all(runs: dict[str, Run]) -> dict[str, list[dict[str, Any]]]:
    """Wait for every run; their events by name (runs go concurrently, so the test waits about as long as one)."""
    for name, run in runs.items():
        runs[name] = wait_finished(run)
    return {name: run.stored_events() for name, run in runs.items()}


def verdict(run: Run, name: str) -> tuple[bool, int]:
    found = next(i for i in summary_of(run)["invariants"] if i["name"] == name)
    return found["holds"], found["violations"]


def by_saga(events: list[dict[str, Any]], kind: str, field: str) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = defaultdict(list)
    for event in of_type(events, kind):
        found[event["saga"]].append(event[field])
    return dict(found)


def steps_by_saga(events: list[dict[str, Any]]) -> dict[str, list[tuple[str, str]]]:
    found: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for event in of_type(events, "saga.step"):
        found[event["saga"]].append((event["step"], event["outcome"]))
    return dict(found)


def compensations_by_saga(events: list[dict[str, Any]]) -> dict[str, list[tuple[str, str, int]]]:
    found: dict[str, list[tuple[str, str, int]]] = defaultdict(list)
    for event in of_type(events, "saga.compensation"):
        found[event["saga"]].append((event["compensation"], event["outcome"], event["attempt"]))
    return dict(found)


def test_orchestrated_sagas_compensate_newest_first_retry_compensations_and_undo_late_successes() -> None:
    failing = {"shipping.error_rate": 1.0}
    every_second_payment_call_fails = {
        "duration": 10,
        "rate": 0.5,
        "payment.error_rate": 1.0,
        "payment.schedule": "every_kth",
        "payment.schedule_n": 2,
    }
    runs = {
        "healthy": start("saga-orchestrated"),
        "shipping_fails": start("saga-orchestrated", **failing),
        "no_compensations": start("saga-orchestrated", **failing, **{"saga.compensations": False}),
        "refund_retried": start("saga-orchestrated", **failing, **every_second_payment_call_fails),
        "refund_stuck": start(
            "saga-orchestrated", **failing, **every_second_payment_call_fails, **{"comp_retry.max_attempts": 1}
        ),
        # Only the first call to shipping is slow (1.5 s against a 1 s step timeout): its late success is undone.
        "first_ship_late": start(
            "saga-orchestrated",
            **{"shipping.latency_ms": 1500.0, "shipping.schedule": "first_n", "shipping.schedule_n": 1},
        ),
        # The orchestrator dies after saving each step and is back a second later: no saga is lost or redone.
        "orchestrator_crashes": start("saga-orchestrated", **{"orders.crash": "after_ack"}),
    }
    events = finish_all(runs)

    healthy = events["healthy"]
    assert by_saga(healthy, "saga.ended", "state") == {order: ["completed"] for order in ORDERS}
    assert of_type(healthy, "saga.compensation") == []
    assert summary_of(runs["healthy"])["succeeded"] == 5

    # Shipping errors on every call: every saga refunds and releases, newest first, and ends compensated.
    failed = events["shipping_fails"]
    assert steps_by_saga(failed) == {
        order: [("charge", "ok"), ("reserve", "ok"), ("ship", "error")] for order in ORDERS
    }
    assert compensations_by_saga(failed) == {order: [("release", "ok", 1), ("refund", "ok", 1)] for order in ORDERS}
    assert by_saga(failed, "saga.compensating", "steps") == {order: [["reserve", "charge"]] for order in ORDERS}
    assert by_saga(failed, "saga.ended", "state") == {order: ["compensated"] for order in ORDERS}
    assert verdict(runs["shipping_fails"], "saga_consistent") == (True, 0)
    assert summary_of(runs["shipping_fails"])["failed"] == 5  # a compensated order is still a failed request
    states = [e["counts"] for e in of_type(failed, "saga.states")]
    assert states[-1] == {
        "running": 0,
        "compensating": 0,
        "completed": 0,
        "compensated": 5,
        "failed": 0,
        "stuck": 0,
    }

    # With compensations switched off, every order stays charged and reserved: the invariant counts all five.
    bare = runs["no_compensations"]
    assert of_type(events["no_compensations"], "saga.compensation") == []
    assert by_saga(events["no_compensations"], "saga.ended", "state") == {order: ["failed"] for order in ORDERS}
    assert verdict(bare, "saga_consistent") == (False, 5)
    explanation = next(i["explanation"] for i in summary_of(bare)["invariants"] if i["name"] == "saga_consistent")
    assert "5 of 5 sagas were left half-done: r00001-order (failed) left charge, reserve done" in explanation

    # Payment fails every second call. Sagas 1, 3, 5: the refund (call 2, 6, 10) fails, its retry (3, 7, 11)
    # succeeds; sagas 2 and 4: the charge itself (calls 4 and 8) fails, so there is nothing to undo.
    retried = events["refund_retried"]
    expected = {order: [("release", "ok", 1), ("refund", "error", 1), ("refund", "ok", 2)] for order in ORDERS[::2]}
    assert compensations_by_saga(retried) == expected
    assert {o: s for o, s in steps_by_saga(retried).items() if o in ORDERS[1::2]} == {
        order: [("charge", "error")] for order in ORDERS[1::2]
    }
    assert [e["retry_in_ms"] for e in of_type(retried, "saga.compensation", outcome="error")] == [100.0] * 3
    assert by_saga(retried, "saga.ended", "state") == {order: ["compensated"] for order in ORDERS}
    assert verdict(runs["refund_retried"], "saga_consistent") == (True, 0)

    # One attempt allowed: every refund fails once and the saga is stuck, still charged.
    stuck = events["refund_stuck"]
    assert compensations_by_saga(stuck) == {order: [("release", "ok", 1), ("refund", "error", 1)] for order in ORDERS}
    assert by_saga(stuck, "saga.ended", "state") == {order: ["stuck"] for order in ORDERS}
    assert verdict(runs["refund_stuck"], "saga_consistent") == (False, 5)

    # The first shipment timed out, then succeeded late: it is cancelled after the others were undone.
    late = events["first_ship_late"]
    first, *rest = ORDERS
    assert steps_by_saga(late)[first] == [("charge", "ok"), ("reserve", "ok"), ("ship", "timeout"), ("ship", "late_ok")]
    assert compensations_by_saga(late)[first] == [("release", "ok", 1), ("refund", "ok", 1), ("cancel", "ok", 1)]
    assert by_saga(late, "saga.ended", "state") == {first: ["compensated"], **{order: ["completed"] for order in rest}}
    assert verdict(runs["first_ship_late"], "saga_consistent") == (True, 0)

    crashes = events["orchestrator_crashes"]
    assert by_saga(crashes, "saga.crashed", "step") == {order: ["charge", "reserve", "ship"] for order in ORDERS}
    assert by_saga(crashes, "saga.resumed", "next_step") == {order: ["reserve", "ship", ""] for order in ORDERS}
    assert by_saga(crashes, "saga.ended", "state") == {order: ["completed"] for order in ORDERS}
    assert Counter(e["to"] for e in of_type(crashes, "call.finished")) == {"payment": 5, "inventory": 5, "shipping": 5}
    assert verdict(runs["orchestrator_crashes"], "saga_consistent") == (True, 0)


def test_choreographed_failure_events_trigger_compensating_reactions_and_the_aggregator_acts_once_per_order() -> None:
    runs = {
        "healthy": start("saga-choreographed"),
        "carrier_fails": start("saga-choreographed", **{"carrier.error_rate": 1.0}),
        "nobody_undoes": start("saga-choreographed", **{"carrier.error_rate": 1.0, "saga.compensations": False}),
        "duplicates": start("aggregator", rate=2, **{"fulfilment.duplicate_rate": 1.0}),
        "inventory_slow": start("aggregator", rate=2, **{"inventory.latency_ms": 3000.0}),
    }
    events = finish_all(runs)

    def acts(log: list[dict[str, Any]]) -> Counter[str]:
        return Counter(e["name"] for e in of_type(log, "service.event"))

    assert acts(events["healthy"]) == {"charged": 5, "reserved": 5, "shipped": 5}
    assert verdict(runs["healthy"], "exactly_once") == (True, 0)

    # Shipping's local saga announces shipment.failed; inventory releases, then payment refunds, per order.
    failed = events["carrier_fails"]
    assert acts(failed) == {"charged": 5, "reserved": 5, "released": 5, "refunded": 5}
    published = Counter(e["key"] for e in of_type(failed, "message.published"))
    assert published == {
        "order.placed": 5,
        "payment.completed": 5,
        "stock.reserved": 5,
        "shipment.failed": 5,
        "stock.released": 5,
    }
    for order in ORDERS:
        mine = [e["name"] for e in of_type(failed, "service.event", correlation_id=order)]
        assert mine == ["charged", "reserved", "released", "refunded"], order
    # Each participant's saga for the order: payment and inventory completed, then were undone by the failure.
    ended = by_saga(failed, "saga.ended", "state")
    assert ended == {
        **{f"{order}:payment": ["completed", "compensated"] for order in ORDERS},
        **{f"{order}:inventory": ["completed", "compensated"] for order in ORDERS},
        **{f"{order}:shipping": ["compensated"] for order in ORDERS},
    }
    assert verdict(runs["carrier_fails"], "exactly_once") == (True, 0)
    assert verdict(runs["carrier_fails"], "saga_consistent") == (True, 0)
    assert verdict(runs["healthy"], "saga_consistent") == (True, 0)

    # Nobody undoes anything: every order stays charged and reserved; the invariant reads each order's participants.
    bare = runs["nobody_undoes"]
    assert acts(events["nobody_undoes"]) == {"charged": 5, "reserved": 5}
    assert verdict(bare, "saga_consistent") == (False, 5)
    explanation = next(i["explanation"] for i in summary_of(bare)["invariants"] if i["name"] == "saga_consistent")
    assert (
        "5 of 5 sagas were left half-done: r00001-order (payment completed, inventory completed, shipping"
        " compensated) left charge, reserve done"
    ) in explanation

    # Every message reaches fulfilment twice: each order still acts once, and only after both of its events.
    doubled = events["duplicates"]
    orders = [f"r{i:05d}-order" for i in range(1, 11)]
    completed = of_type(doubled, "aggregate.completed")
    assert sorted(e["key"] for e in completed) == orders
    assert Counter(e["outcome"] for e in of_type(doubled, "aggregate.arrived")) == {
        "added": 10,
        "complete": 10,
        "duplicate": 20,
    }
    for event in completed:
        arrived = of_type(doubled, "aggregate.arrived", key=event["key"])
        firsts = {e["event"]: e["seq"] for e in arrived if e["outcome"] in ("added", "complete")}
        assert set(firsts) == {"payment.completed", "stock.reserved"}
        assert max(firsts.values()) < event["seq"]
    assert acts(doubled) == {"order.ready": 10}

    # Stock arrives 3 s after payment, past the 1.5 s timeout: every order is given up once, then ignored as late.
    slow = events["inventory_slow"]
    assert of_type(slow, "aggregate.completed") == []
    timed_out = of_type(slow, "aggregate.timed_out")
    assert sorted(e["key"] for e in timed_out) == orders
    assert {(tuple(e["arrived"]), tuple(e["missing"])) for e in timed_out} == {
        (("payment.completed",), ("stock.reserved",))
    }
    assert Counter(e["outcome"] for e in of_type(slow, "aggregate.arrived")) == {"added": 10, "late": 10}
    assert verdict(runs["inventory_slow"], "every_request_accounted") == (True, 0)
