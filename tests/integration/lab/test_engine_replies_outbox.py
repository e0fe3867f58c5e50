"""Request-reply and the outbox, event by event, on the real Redis with a virtual clock: the exact sequence and
times each construct produces (tests/support/engine.py runs the engine in-process, milliseconds per test)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.engine.constructs.outbox import relay
from tests.support.engine import VirtualLab, trace

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("redis_server")]
SKELETONS = Path(__file__).resolve().parents[3] / "lab" / "experiments" / "skeletons"


def skeleton(name: str) -> dict[str, Any]:
    return yaml.safe_load((SKELETONS / f"{name}.yaml").read_text())


def request_reply() -> dict[str, Any]:
    """The skeleton without jitter: inventory answers 150 + 10 ms after it takes a request."""
    document = skeleton("request-reply")
    document["services"]["inventory"]["jitter_ms"] = 0
    return document


async def test_each_reply_completes_its_own_request() -> None:
    lab = VirtualLab(request_reply())
    await lab.request("check", 1)
    await lab.request("check", 2)
    events = await lab.finish()
    for number in (1, 2):  # the two requests run side by side; each one's own events come in this order
        own = [e for e in events if e.get("correlation_id") == f"r{number:05d}-check"]
        assert trace(own, "from", "outcome") == [
            ("request.created", 0, None, None),
            ("request.attempt", 0, None, None),
            ("request.sent", 0, "shop", None),
            ("message.published", 0, "shop", None),
            ("message.consumed", 0, "shop", None),
            ("reply.sent", 160, "inventory", "ok"),
            ("reply.received", 160, "inventory", "ok"),
            ("message.processed", 160, "shop", "ok"),
            ("request.finished", 160, None, "ok"),
        ]
    sent = {e["request_id"]: e["correlation_id"] for e in events if e["type"] == "request.sent"}
    received = [e for e in events if e["type"] == "reply.received"]
    assert {e["request_id"]: e["reply_correlation_id"] for e in received} == sent
    assert all(e["in_reply_to"] == e["request_id"] and e["latency_ms"] == 160.0 for e in received)


async def test_a_reply_after_the_deadline_is_late_and_dropped() -> None:
    lab = VirtualLab(request_reply(), **{"inventory.latency_ms": 2500.0})
    await lab.request("check")
    events = await lab.finish()
    assert trace(events, "outcome", "late_by_ms") == [
        ("request.created", 0, None, None),
        ("request.attempt", 0, None, None),
        ("request.sent", 0, None, None),
        ("message.published", 0, None, None),
        ("message.consumed", 0, None, None),
        ("reply.timeout", 2000, None, None),
        ("request.finished", 2000, "failed", None),
        ("reply.sent", 2660, "ok", None),
        ("reply.late", 2660, "ok", 660.0),
        ("message.processed", 2660, "ok", None),
    ]
    assert events[6]["reason"] == "inventory: no reply within 2000 ms"


async def test_an_error_fault_answers_with_an_error_reply() -> None:
    lab = VirtualLab(request_reply(), **{"inventory.error_rate": 1.0})
    await lab.request("check")
    events = await lab.finish()
    finished = [e for e in events if e["type"] in ("reply.received", "request.finished")]
    assert trace(finished, "outcome", "reason") == [
        ("reply.received", 150, "error", "inventory failed"),
        ("request.finished", 150, "failed", "inventory: inventory failed"),
    ]


async def test_requests_wait_in_the_queue_while_the_responder_is_down() -> None:
    lab = VirtualLab(request_reply(), **{"inventory.down": True})
    await lab.request("check")

    async def recover() -> None:
        await lab.toggle(inventory__down=False)
        await lab.dispatch_all()

    await lab.later(0.5, recover)
    events = await lab.finish()
    assert [e for e in trace(events, "outcome") if e[0] != "toggle"] == [
        ("request.created", 0, None),
        ("request.attempt", 0, None),
        ("request.sent", 0, None),
        ("message.published", 0, None),
        ("message.consumed", 500, None),
        ("reply.sent", 660, "ok"),
        ("reply.received", 660, "ok"),
        ("message.processed", 660, "ok"),
        ("request.finished", 660, "ok"),
    ]


def outbox(**config: Any) -> VirtualLab:
    return VirtualLab(copy.deepcopy(skeleton("outbox")), **config)


async def run_with_relay(lab: VirtualLab, at_s: float = 0.25) -> list[dict[str, Any]]:
    """One request, and one pass of the relay (the driver's sampler) `at_s` later."""
    await lab.request("order")

    async def relay_once() -> None:
        await relay(lab.engine, await lab.context())

    await lab.later(at_s, relay_once)
    return await lab.finish()


async def test_the_outbox_publishes_a_crashed_writers_order_through_the_relay() -> None:
    lab = outbox(**{"order.crash": "after_ack"})
    events = await run_with_relay(lab)
    depth = [e for e in events if e["type"] == "outbox.depth"]  # logged while the consumer starts: either first
    events = [e for e in events if e["type"] != "outbox.depth"]
    assert trace(events, "outcome", "point") == [
        ("request.created", 0, None, None),
        ("request.attempt", 0, None, None),
        ("db.committed", 20, None, None),
        ("writer.crashed", 20, None, "after_commit"),
        ("request.finished", 20, "failed", None),
        ("message.published", 250, None, None),
        ("record.published", 250, None, None),
        ("message.consumed", 250, None, None),
        ("message.processed", 290, "ok", None),
    ]
    record = events[2]["record"]
    assert events[5]["body"] == {"record": record} and events[6]["waited_ms"] == 230.0
    assert [(e["t"], e["depths"]) for e in depth] == [(0.25, {"order-events": 0})]


async def test_the_dual_write_loses_the_message_of_a_crashed_writer() -> None:
    healthy = await run_with_relay(outbox(publish_mode="dual_write"))
    consumer = ("message.consumed", "message.processed")  # the consumer runs beside the writer's last steps
    assert trace([e for e in healthy if e["type"] not in consumer], "outcome") == [
        ("request.created", 0, None),
        ("request.attempt", 0, None),
        ("db.committed", 20, None),
        ("message.published", 20, None),
        ("record.published", 20, None),
        ("request.finished", 20, "ok"),
        ("outbox.depth", 250, None),
    ]
    assert trace([e for e in healthy if e["type"] in consumer], "outcome") == [
        ("message.consumed", 20, None),
        ("message.processed", 60, "ok"),
    ]
    crashed = await run_with_relay(outbox(publish_mode="dual_write", **{"order.crash": "after_ack"}))
    assert trace(crashed, "point") == [
        ("request.created", 0, None),
        ("request.attempt", 0, None),
        ("db.committed", 20, None),
        ("writer.crashed", 20, "after_commit"),
        ("request.finished", 20, None),
        ("outbox.depth", 250, None),
    ]
