"""Request-reply's thread hand-back and its two ways of matching replies, event by event on the virtual clock."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.integration.lab.test_engine_replies_outbox import request_reply
from tests.support.engine import VirtualLab, trace

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("redis_server")]


def pooled_shop(threads: int = 1) -> dict[str, Any]:
    """The skeleton's shop with a pool of `threads` and, as a blocking alternative, a call to the same inventory."""
    document = copy.deepcopy(request_reply())
    document["services"]["shop"]["pool"] = {"size": threads}
    del document["services"]["inventory"]["steps"]  # it replies by itself to a request, and answers a call
    document["links"].append({"id": "stock-call", "kind": "call", "from": "shop", "to": "inventory"})
    document["workload"]["classes"]["call"] = {"steps": [{"call": "stock-call"}]}
    return document


async def test_a_request_gives_its_thread_back_while_it_waits_so_one_thread_serves_two_requests() -> None:
    lab = VirtualLab(pooled_shop(threads=1))
    await lab.request("check", 1)
    await lab.later(0.05, lambda: lab.request("check", 2))
    events = await lab.finish()
    done = [e for e in events if e["type"] == "request.finished"]
    assert trace(done, "correlation_id", "outcome") == [
        ("request.finished", 150, "r00001-check", "ok"),
        ("request.finished", 200, "r00002-check", "ok"),
    ]


async def test_a_blocking_call_keeps_its_thread_so_the_second_request_finds_none() -> None:
    lab = VirtualLab(pooled_shop(threads=1))
    await lab.request("call", 1)
    await lab.later(0.05, lambda: lab.request("call", 2))
    events = await lab.finish()
    done = [e for e in events if e["type"] == "request.finished"]
    assert trace(done, "correlation_id", "outcome", "reason") == [
        ("request.finished", 50, "r00002-call", "failed", "shop pool exhausted"),
        ("request.finished", 150, "r00001-call", "ok", ""),
    ]


def two_requests(match: str) -> VirtualLab:
    """Request 1's reply takes 300 ms more than request 2's, so it comes back second."""
    document = request_reply()
    document["links"][0]["match"] = match
    document["services"]["inventory"]["steps"] = [{"work": 10}, {"reply": {}}]
    lab = VirtualLab(document, **{"inventory.latency_ms": 0.0})
    return lab


async def overtaken(match: str) -> list[tuple[Any, ...]]:
    lab = two_requests(match)
    await lab.toggle(inventory__latency_ms=300.0)
    await lab.request("check", 1)

    async def second() -> None:
        await lab.toggle(inventory__latency_ms=0.0)
        await lab.request("check", 2)

    await lab.later(0.01, second)
    events = await lab.finish()
    sent = {e["request_id"]: e["correlation_id"] for e in events if e["type"] == "request.sent"}
    received = [e for e in events if e["type"] == "reply.received"]
    return [(round(e["t"] * 1000), e["correlation_id"], sent[e["in_reply_to"]]) for e in received]


async def test_matched_by_correlation_id_each_request_gets_its_own_reply_whatever_the_order() -> None:
    assert await overtaken("correlation_id") == [
        (170, "r00002-check", "r00002-check"),
        (460, "r00001-check", "r00001-check"),
    ]


async def test_matched_by_arrival_order_the_first_reply_back_completes_the_oldest_request() -> None:
    # request 1 takes request 2's answer at 170 ms; request 2 takes request 1's at 460 ms
    assert await overtaken("arrival_order") == [
        (170, "r00001-check", "r00002-check"),
        (460, "r00002-check", "r00001-check"),
    ]
