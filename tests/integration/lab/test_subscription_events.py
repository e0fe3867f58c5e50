"""Topic subscriptions read live, with their exact events on the virtual clock: bindings and filters edited mid-run,
subscribers that leave and come back (durable or not), late subscribers, and steps switched by a knob (`when`)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.engine import VirtualLab, trace

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("redis_server")]


def news(**sub_overrides: Any) -> dict[str, Any]:
    """A shop publishing each order to a topic with two subscriptions: audit (durable) and mail (not durable)."""
    mail = {"id": "sub.mail", "to": "mail", "binding": "order.*", "durable": False, **sub_overrides}
    return {
        "slug": "news",
        "title": "Orders topic",
        "services": {
            "client": {"kind": "client"},
            "shop": {},
            "audit": {"work_ms": 10},
            "mail": {"work_ms": 10},
        },
        "links": [
            {
                "id": "orders",
                "kind": "topic",
                "from": "shop",
                "subscriptions": [{"id": "sub.audit", "to": "audit", "binding": "#"}, mail],
            },
            {"id": "shop-mail", "kind": "call", "from": "shop", "to": "mail"},
        ],
        "workload": {
            "entry": "shop",
            "classes": {
                "order": {"steps": [{"send": "orders", "key": "order.placed", "body": {"total": 50}}]},
                "direct": {"steps": [{"call": "shop-mail", "when": "sub.mail.subscribed"}]},
            },
        },
    }


def copies(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(correlation id, subscription) of every copy published."""
    return [(e["correlation_id"], e["queue"]) for e in events if e["type"] == "message.published"]


async def test_a_filter_edited_mid_run_routes_the_next_publish_by_the_new_filter() -> None:
    lab = VirtualLab(news(filter="total > 10"))
    await lab.request("order", 1)
    await lab.later(1, lambda: lab.toggle(**{"sub.mail.filter": "total > 100"}))
    await lab.later(2, lambda: lab.request("order", 2))
    events = await lab.finish()
    assert copies(events) == [
        ("r00001-order", "sub.audit"),
        ("r00001-order", "sub.mail"),
        ("r00002-order", "sub.audit"),
    ]


async def test_a_binding_edited_mid_run_stops_the_copies_it_no_longer_matches() -> None:
    lab = VirtualLab(news())
    await lab.toggle(**{"sub.audit.binding": "order.cancelled"})
    await lab.request("order", 1)
    events = await lab.finish()
    assert copies(events) == [("r00001-order", "sub.mail")]


async def test_a_non_durable_subscriber_away_misses_what_is_published_meanwhile_and_gets_what_follows() -> None:
    lab = VirtualLab(news())
    await lab.request("order", 1)
    await lab.later(1, lambda: lab.toggle(**{"sub.mail.subscribed": False}))
    await lab.later(2, lambda: lab.request("order", 2))
    await lab.later(3, lambda: lab.toggle(**{"sub.mail.subscribed": True}))
    await lab.later(4, lambda: lab.request("order", 3))
    events = await lab.finish()
    missed = [e for e in events if e["type"] == "message.missed"]
    assert trace(missed, "subscription", "correlation_id", "to") == [
        ("message.missed", 2000, "sub.mail", "r00002-order", "mail")
    ]
    assert [c for c in copies(events) if c[1] == "sub.mail"] == [
        ("r00001-order", "sub.mail"),
        ("r00003-order", "sub.mail"),
    ]


async def test_a_durable_subscription_keeps_its_copies_while_away_and_delivers_them_once_back() -> None:
    lab = VirtualLab(news())
    await lab.request("order", 1)
    await lab.later(1, lambda: lab.toggle(**{"sub.audit.subscribed": False}))
    await lab.later(2, lambda: lab.request("order", 2))

    async def back() -> None:
        await lab.toggle(**{"sub.audit.subscribed": True})
        await lab.dispatch_all()

    await lab.later(5, back)
    events = await lab.finish()
    audit = [e for e in events if e.get("queue") == "sub.audit" and e["type"] != "message.published"]
    assert trace(audit, "correlation_id") == [
        ("message.consumed", 0, "r00001-order"),
        ("message.processed", 10, "r00001-order"),
        ("message.consumed", 5000, "r00002-order"),
        ("message.processed", 5010, "r00002-order"),
    ]
    assert not [e for e in events if e["type"] == "message.missed"]


async def test_a_late_subscriber_gets_nothing_published_before_it_joined() -> None:
    lab = VirtualLab(news(subscribed=False))
    await lab.request("order", 1)
    await lab.later(1, lambda: lab.toggle(**{"sub.mail.subscribed": True}))
    await lab.later(2, lambda: lab.request("order", 2))
    events = await lab.finish()
    assert [c for c in copies(events) if c[1] == "sub.mail"] == [("r00002-order", "sub.mail")]
    assert not [e for e in events if e["type"] == "message.missed"]  # it did not exist yet: nothing to miss


async def test_a_step_whose_when_knob_is_off_is_skipped() -> None:
    lab = VirtualLab(news(), **{"sub.mail.subscribed": False})
    await lab.request("direct", 1)
    await lab.later(1, lambda: lab.toggle(**{"sub.mail.subscribed": True}))
    await lab.later(2, lambda: lab.request("direct", 2))
    events = await lab.finish()
    assert trace([e for e in events if e["type"] in ("call.started", "request.finished")], "correlation_id") == [
        ("request.finished", 0, "r00001-direct"),
        ("call.started", 2000, "r00002-direct"),
        ("request.finished", 2010, "r00002-direct"),
    ]


async def test_a_pull_subscriber_takes_a_copy_at_its_next_poll_while_a_push_one_gets_it_at_once() -> None:
    lab = VirtualLab(news(), **{"sub.mail.delivery": "pull", "sub.mail.poll_ms": 1000})
    await lab.later(0.3, lambda: lab.request("order", 1))
    await lab.later(2.0, lambda: lab.request("order", 2))  # exactly on a poll: taken at once
    events = await lab.finish()
    consumed = [e for e in events if e["type"] == "message.consumed"]
    # two copies taken at the same instant have no order between them, so compare sorted by (time, subscription)
    assert sorted(trace(consumed, "queue", "correlation_id")) == [
        ("message.consumed", 300, "sub.audit", "r00001-order"),
        ("message.consumed", 1000, "sub.mail", "r00001-order"),
        ("message.consumed", 2000, "sub.audit", "r00002-order"),
        ("message.consumed", 2000, "sub.mail", "r00002-order"),
    ]
