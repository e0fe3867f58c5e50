"""Ack modes, the idempotent consumer's key store and the outbox relay's crash, event by event on the real Redis
with a virtual clock (tests/support/engine.py): the exact sequence and times each produces."""

from __future__ import annotations

from typing import Any

import pytest

from lab.engine.constructs.outbox import relay
from tests.support.engine import VirtualLab, trace

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("redis_server")]


def payments(ack: str = "after_work", *, idempotency: dict[str, Any] | None = None, step: Any = None) -> dict:
    """An order service sending one message per order to a payment consumer (100 ms) that logs `charged`."""
    link: dict[str, Any] = {"id": "q.pay", "kind": "queue", "from": "order", "to": "pay", "ack": ack}
    policies = {}
    if idempotency is not None:
        policies["dedup"] = {"kind": "idempotency", **idempotency}
        link["idempotency"] = "dedup"
    return {
        "slug": "payments",
        "title": "Payments",
        "services": {
            "order": {"faults": True},
            "pay": {"work_ms": 100, "faults": True, "steps": [{"emit": "charged"}]},
        },
        "policies": policies,
        "links": [link],
        "workload": {"entry": "order", "classes": {"order": {"steps": [step or {"send": "q.pay"}]}}},
        "invariants": [{"kind": "effect_once", "event": "charged"}],
    }


def consumption(events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    kinds = ("message.consumed", "message.processed", "service.event")
    return trace([e for e in events if e["type"] in kinds], "outcome", "name")


async def test_acking_after_the_work_a_crash_before_the_ack_charges_the_redelivered_order_again() -> None:
    lab = VirtualLab(
        payments("after_work"), **{"pay.crash": "before_ack", "pay.schedule": "first_n", "pay.schedule_n": 1}
    )
    await lab.request("order")
    assert consumption(await lab.finish()) == [
        ("message.consumed", 0, None, None),
        ("service.event", 100, None, "charged"),
        ("message.processed", 100, "crashed", None),
        ("message.consumed", 100, None, None),
        ("service.event", 200, None, "charged"),
        ("message.processed", 200, "ok", None),
    ]


async def test_acking_after_the_work_a_crash_after_the_ack_loses_nothing() -> None:
    lab = VirtualLab(
        payments("after_work"), **{"pay.crash": "after_ack", "pay.schedule": "first_n", "pay.schedule_n": 1}
    )
    await lab.request("order")
    assert consumption(await lab.finish()) == [
        ("message.consumed", 0, None, None),
        ("service.event", 100, None, "charged"),
        ("message.processed", 100, "ok", None),
    ]


async def test_acking_before_the_work_a_crash_after_the_ack_loses_the_order_uncharged() -> None:
    lab = VirtualLab(
        payments("before_work"), **{"pay.crash": "after_ack", "pay.schedule": "first_n", "pay.schedule_n": 1}
    )
    await lab.request("order")
    assert consumption(await lab.finish()) == [
        ("message.consumed", 0, None, None),
        ("message.processed", 0, "lost", None),
    ]


async def test_acking_before_the_work_a_crash_before_the_ack_charges_once_on_redelivery() -> None:
    lab = VirtualLab(
        payments("before_work"), **{"pay.crash": "before_ack", "pay.schedule": "first_n", "pay.schedule_n": 1}
    )
    await lab.request("order")
    assert consumption(await lab.finish()) == [
        ("message.consumed", 0, None, None),
        ("message.processed", 0, "crashed", None),
        ("message.consumed", 0, None, None),
        ("service.event", 100, None, "charged"),
        ("message.processed", 100, "ok", None),
    ]


async def test_the_ack_mode_is_a_live_knob() -> None:
    lab = VirtualLab(payments("after_work"), **{"pay.crash": "after_ack"})
    await lab.toggle(**{"q.pay.ack": "before_work"})
    await lab.request("order")
    assert [e["outcome"] for e in await lab.finish() if e["type"] == "message.processed"] == ["lost"]


async def test_an_idempotent_consumer_skips_the_redelivery_of_an_order_it_charged_before_crashing() -> None:
    lab = VirtualLab(
        payments("after_work", idempotency={"key": "correlation_id"}),
        **{"pay.crash": "before_ack", "pay.schedule": "first_n", "pay.schedule_n": 1},
    )
    await lab.request("order")
    assert consumption(await lab.finish()) == [
        ("message.consumed", 0, None, None),
        ("service.event", 100, None, "charged"),
        ("message.processed", 100, "crashed", None),
        ("message.consumed", 100, None, None),
        ("message.processed", 200, "duplicate_skipped", None),
    ]


async def test_a_duplicate_delivered_after_the_key_expired_is_charged_again() -> None:
    """Two copies 100 ms apart (one instance works them in turn): a 50 ms memory has forgotten the first."""
    document = payments(idempotency={"key": "correlation_id", "ttl_ms": 50.0})
    lab = VirtualLab(document, **{"pay.duplicate_rate": 1.0})
    await lab.request("order")
    charges = [e for e in await lab.finish() if e["type"] == "service.event"]
    assert [round(e["t"] * 1000) for e in charges] == [100, 200]
    lab = VirtualLab(payments(idempotency={"key": "correlation_id", "ttl_ms": 500.0}), **{"pay.duplicate_rate": 1.0})
    await lab.request("order")
    assert len([e for e in await lab.finish() if e["type"] == "service.event"]) == 1


async def test_a_failed_charge_gives_its_key_back_so_the_retry_charges() -> None:
    document = payments(idempotency={"key": "correlation_id"})
    document["policies"]["redeliver"] = {"kind": "retry", "enabled": True, "max_attempts": 2, "delay_ms": 50}
    document["links"][0]["retry"] = "redeliver"
    lab = VirtualLab(document, **{"pay.error_rate": 1.0, "pay.schedule": "first_n", "pay.schedule_n": 1})
    await lab.request("order")
    events = await lab.finish()
    assert [e["outcome"] for e in events if e["type"] == "message.processed"] == ["error", "ok"]
    assert len([e for e in events if e["type"] == "service.event"]) == 1  # not skipped as a duplicate


def outbox_step(mode: str) -> dict[str, Any]:
    return {"outbox": "q.pay", "mode": mode, "key": "payment.requested"}


@pytest.mark.parametrize(("key", "charges"), [("message_id", 2), ("correlation_id", 1)])
async def test_a_relay_crash_republishes_the_entry_which_only_a_correlation_key_recognises(
    key: str, charges: int
) -> None:
    document = payments(idempotency={"key": key}, step=outbox_step("outbox"))
    lab = VirtualLab(document, **{"q.pay.relay_crash_rate": 1.0})
    ctx = await lab.context()
    await lab.request("order")
    await lab.later(0.01, lambda: relay(lab.engine, ctx))
    await lab.later(0.02, lambda: lab.toggle(**{"q.pay.relay_crash_rate": 0.0}))
    await lab.later(0.25, lambda: relay(lab.engine, ctx))
    events = await lab.finish()
    assert trace([e for e in events if e["type"] in ("record.published", "relay.crashed")]) == [
        ("record.published", 10),
        ("relay.crashed", 10),
        ("record.published", 250),
    ]
    assert len([e for e in events if e["type"] == "service.event"]) == charges


async def test_publishing_before_saving_a_crash_between_leaves_an_orphan_message() -> None:
    document = payments(step=outbox_step("publish_then_save"))
    lab = VirtualLab(document, **{"order.crash": "after_ack"})
    await lab.request("order")
    events = await lab.finish()
    assert trace(
        [e for e in events if e["type"] in ("record.published", "writer.crashed", "db.committed")], "point"
    ) == [
        ("record.published", 0, None),
        ("writer.crashed", 0, "after_publish"),
    ]
    assert [e["name"] for e in events if e["type"] == "service.event"] == ["charged"]  # for an order never saved
