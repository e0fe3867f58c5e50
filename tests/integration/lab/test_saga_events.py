"""Sagas and the aggregator, event by event: the skeleton documents on the real Redis with a virtual clock, so every
time below is exact (payment 40 ms, inventory 30 ms, shipping 50 ms of work per call; a 1 s step timeout)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.engine import VirtualLab, trace

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("redis_server")]
SKELETONS = Path(__file__).resolve().parents[3] / "lab" / "experiments" / "skeletons"


def skeleton(name: str) -> dict[str, Any]:
    return yaml.safe_load((SKELETONS / f"{name}.yaml").read_text())


def saga_trace(events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """The saga's own events, with the step, outcome, attempt and final state they carry."""
    picked = [e for e in events if e["type"].startswith("saga.") and e["type"] != "saga.states"]
    return trace(picked, "step", "outcome", "attempt", "state")


async def test_a_failed_step_undoes_the_completed_ones_newest_first() -> None:
    lab = VirtualLab(skeleton("saga-orchestrated"), **{"shipping.error_rate": 1.0})
    await lab.request("order")
    events = await lab.finish()
    assert saga_trace(events) == [
        ("saga.started", 0, None, None, None, None),
        ("saga.step", 40, "charge", "ok", None, None),
        ("saga.step", 70, "reserve", "ok", None, None),
        ("saga.step", 120, "ship", "error", None, None),
        ("saga.compensating", 120, None, None, None, None),
        ("saga.compensation", 150, "reserve", "ok", 1, None),
        ("saga.compensation", 190, "charge", "ok", 1, None),
        ("saga.ended", 190, None, None, None, "compensated"),
    ]
    assert [(e["type"], e["outcome"]) for e in events if e["type"] == "request.finished"] == [
        ("request.finished", "failed")
    ]


async def test_a_failed_compensation_is_retried_after_its_backoff() -> None:
    # Payment fails every second call: the charge (call 1) succeeds, the refund (call 2) fails, its retry passes.
    settings = {"shipping.error_rate": 1.0, "payment.error_rate": 1.0, "payment.schedule": "every_kth"}
    lab = VirtualLab(skeleton("saga-orchestrated"), **settings, **{"payment.schedule_n": 2})
    await lab.request("order")
    events = await lab.finish()
    compensations = [e for e in events if e["type"] == "saga.compensation"]
    assert trace(compensations, "step", "outcome", "attempt", "retry_in_ms") == [
        ("saga.compensation", 150, "reserve", "ok", 1, None),
        ("saga.compensation", 190, "charge", "error", 1, 100.0),
        ("saga.compensation", 330, "charge", "ok", 2, None),
    ]
    assert saga_trace(events)[-1] == ("saga.ended", 330, None, None, None, "compensated")


async def test_a_compensation_that_never_succeeds_leaves_the_saga_stuck() -> None:
    settings = {"shipping.error_rate": 1.0, "payment.error_rate": 1.0, "payment.schedule": "first_n"}
    lab = VirtualLab(skeleton("saga-orchestrated"), **settings, **{"payment.schedule_n": 1, "payment.down": False})
    await lab.request("order")
    events = await lab.finish()
    # The charge itself failed (call 1): nothing completed, so nothing to undo.
    assert saga_trace(events) == [
        ("saga.started", 0, None, None, None, None),
        ("saga.step", 40, "charge", "error", None, None),
        ("saga.compensating", 40, None, None, None, None),
        ("saga.ended", 40, None, None, None, "compensated"),
    ]

    lab = VirtualLab(skeleton("saga-orchestrated"), **{"shipping.error_rate": 1.0, "comp_retry.max_attempts": 2})
    await lab.request("order")
    await lab.later(0.15, lambda: lab.toggle(payment__error_rate=1.0))  # payment breaks once the charge is in
    events = await lab.finish()
    compensations = [e for e in events if e["type"] == "saga.compensation"]
    assert trace(compensations, "step", "outcome", "attempt", "retry_in_ms") == [
        ("saga.compensation", 150, "reserve", "ok", 1, None),
        ("saga.compensation", 190, "charge", "error", 1, 100.0),
        ("saga.compensation", 330, "charge", "error", 2, None),
    ]
    assert saga_trace(events)[-1] == ("saga.ended", 330, None, None, None, "stuck")


async def test_a_step_that_times_out_fails_the_saga_and_its_late_success_is_undone_too() -> None:
    settings = {"shipping.latency_ms": 1500.0, "shipping.schedule": "first_n", "shipping.schedule_n": 1}
    lab = VirtualLab(skeleton("saga-orchestrated"), **settings)
    await lab.request("order")
    events = await lab.finish()
    assert saga_trace(events) == [
        ("saga.started", 0, None, None, None, None),
        ("saga.step", 40, "charge", "ok", None, None),
        ("saga.step", 70, "reserve", "ok", None, None),
        ("saga.step", 1070, "ship", "timeout", None, None),
        ("saga.compensating", 1070, None, None, None, None),
        ("saga.compensation", 1100, "reserve", "ok", 1, None),
        ("saga.compensation", 1140, "charge", "ok", 1, None),
        ("saga.step", 1620, "ship", "late_ok", None, None),  # shipping did book it, 1.55 s after it was asked
        ("saga.compensation", 1670, "ship", "ok", 1, None),
        ("saga.ended", 1670, None, None, None, "compensated"),
    ]


async def test_without_compensations_a_failed_saga_leaves_its_steps_done() -> None:
    lab = VirtualLab(skeleton("saga-orchestrated"), **{"shipping.error_rate": 1.0, "saga.compensations": False})
    await lab.request("order")
    events = await lab.finish()
    ended = [e for e in events if e["type"] == "saga.ended"]
    assert [(e["state"], e["completed"], e["compensated"]) for e in ended] == [("failed", ["charge", "reserve"], [])]


async def test_the_aggregator_acts_once_when_both_events_are_in_and_ignores_duplicates() -> None:
    document = skeleton("aggregator")
    document["services"]["fulfilment"]["instances"] = 1  # one copy at a time, so the duplicates come second
    lab = VirtualLab(document, **{"fulfilment.duplicate_rate": 1.0})
    await lab.request("order")
    events = await lab.finish()
    picked = [e for e in events if e["type"].startswith("aggregate.") or e["type"] == "service.event"]
    # payment.completed reaches fulfilment at 40 ms, stock.reserved at 120 ms; each twice, 10 ms of work each.
    assert trace(picked, "event", "outcome", "name") == [
        ("aggregate.arrived", 50, "payment.completed", "added", None),
        ("aggregate.arrived", 60, "payment.completed", "duplicate", None),
        ("aggregate.arrived", 130, "stock.reserved", "complete", None),
        ("aggregate.completed", 130, None, None, None),
        ("service.event", 130, None, None, "order.ready"),
        ("aggregate.arrived", 140, "stock.reserved", "duplicate", None),
    ]


async def test_the_aggregator_gives_up_on_a_key_at_its_timeout_and_ignores_late_events() -> None:
    lab = VirtualLab(skeleton("aggregator"), **{"inventory.latency_ms": 3000.0})
    await lab.request("order")
    events = await lab.finish()
    picked = [e for e in events if e["type"].startswith("aggregate.")]
    assert trace(picked, "event", "outcome", "missing") == [
        ("aggregate.arrived", 50, "payment.completed", "added", None),
        ("aggregate.timed_out", 1550, None, None, ["stock.reserved"]),
        ("aggregate.arrived", 3130, "stock.reserved", "late", None),
    ]


async def test_an_orchestrator_that_crashes_after_saving_a_step_resumes_with_the_next_one() -> None:
    settings = {"orders.crash": "after_ack", "orders.schedule": "first_n", "orders.schedule_n": 1}
    lab = VirtualLab(skeleton("saga-orchestrated"), **settings)
    await lab.request("order")
    events = await lab.finish()
    assert saga_trace(events) == [
        ("saga.started", 0, None, None, None, None),
        ("saga.step", 40, "charge", "ok", None, None),
        ("saga.crashed", 40, "charge", None, None, None),
        ("saga.resumed", 1040, None, None, None, "running"),  # back 1 s later, from what Redis kept
        ("saga.step", 1070, "reserve", "ok", None, None),
        ("saga.step", 1120, "ship", "ok", None, None),
        ("saga.ended", 1120, None, None, None, "completed"),
    ]
    assert [e["next_step"] for e in events if e["type"] == "saga.resumed"] == ["reserve"]
    assert len([e for e in events if e["type"] == "call.finished" and e["to"] == "payment"]) == 1


async def test_an_orchestrator_that_crashes_before_saving_a_step_runs_it_again() -> None:
    settings = {"orders.crash": "before_ack", "orders.schedule": "first_n", "orders.schedule_n": 1}
    lab = VirtualLab(skeleton("saga-orchestrated"), **settings)
    await lab.request("order")
    events = await lab.finish()
    assert saga_trace(events) == [
        ("saga.started", 0, None, None, None, None),
        ("saga.crashed", 40, "charge", None, None, None),
        ("saga.resumed", 1040, None, None, None, "running"),
        ("saga.step", 1080, "charge", "ok", None, None),
        ("saga.step", 1110, "reserve", "ok", None, None),
        ("saga.step", 1160, "ship", "ok", None, None),
        ("saga.ended", 1160, None, None, None, "completed"),
    ]
    # Payment charged twice: a step the orchestrator may repeat after a crash must be idempotent.
    assert len([e for e in events if e["type"] == "call.finished" and e["to"] == "payment"]) == 2


async def test_a_saga_naming_no_retry_policy_fails_its_request_saying_where() -> None:
    lab = VirtualLab(skeleton("saga-orchestrated"))
    # The validator refuses such a document (tests/unit/lab/test_topology.py); the engine still defends itself
    # against a topology that reaches it another way.
    ctx = await lab.context()
    ctx.topology.workload.classes[0].steps[0].options["retry"] = "nope"
    await lab.request("order")
    events = await lab.finish()
    [error] = [e["error"] for e in events if e["type"] == "handler.error"]
    assert "workload.classes.order.steps[0].saga.retry: 'nope' names no retry policy" in error
    assert [e["outcome"] for e in events if e["type"] == "request.finished"] == ["failed"]


async def test_choreographed_participants_undo_their_own_sagas_when_the_failure_event_reaches_them() -> None:
    lab = VirtualLab(skeleton("saga-choreographed"), **{"carrier.error_rate": 1.0})
    await lab.request("order")
    events = await lab.finish()

    def of(saga: str) -> list[tuple[Any, ...]]:
        return saga_trace([e for e in events if e.get("saga") == f"r00001-order:{saga}"])

    # payment at 40 ms, inventory 30 ms later, shipping's booking fails at 120 ms and it announces the failure;
    # inventory releases at 150 ms (30 ms of work), then payment refunds at 190 ms (40 ms).
    assert of("payment") == [
        ("saga.started", 40, None, None, None, None),
        ("saga.step", 40, "charge", "ok", None, None),
        ("saga.step", 40, "payment-events", "ok", None, None),
        ("saga.ended", 40, None, None, None, "completed"),
        ("saga.compensating", 190, None, None, None, None),
        ("saga.compensation", 190, "charge", "ok", 1, None),
        ("saga.ended", 190, None, None, None, "compensated"),
    ]
    assert of("inventory")[-3:] == [
        ("saga.compensating", 150, None, None, None, None),
        ("saga.compensation", 150, "reserve", "ok", 1, None),
        ("saga.ended", 150, None, None, None, "compensated"),
    ]
    assert of("shipping") == [
        ("saga.started", 90, None, None, None, None),
        ("saga.step", 120, "book", "error", None, None),
        ("saga.compensating", 120, None, None, None, None),
        ("saga.compensation", 120, "shipping", "ok", 1, None),  # its own compensate: publish shipment.failed
        ("saga.ended", 120, None, None, None, "compensated"),
    ]
    acts = [(e["name"], round(e["t"] * 1000)) for e in events if e["type"] == "service.event"]
    assert acts == [("charged", 40), ("reserved", 70), ("released", 150), ("refunded", 190)]
