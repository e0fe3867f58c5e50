"""What the request-reply experiment's presets say a run shows, checked in numbers over three seeds.

Each preset is played on the engine's virtual clock (real Redis, exact times), shortened where the claim is already
visible in the first seconds; the three seeds of a claim run at once (each on its own clock), since their time goes
on Redis round trips. tests/integration/lab/test_request_reply.py runs the experiment on the real worker.
"""

from __future__ import annotations

from typing import Any

import pytest

from lab.model import outcomes
from quizzes.banks import catalogue
from quizzes.grading import metric_value
from tests.support.engine import run_preset_seeds

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("redis_server")]
SEEDS = (1, 2, 3)


def of_type(events: list[dict[str, Any]], kind: str, **match: Any) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == kind and all(e.get(k) == v for k, v in match.items())]


async def seeded(preset: str, **overrides: Any) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """The preset played once per seed: (summary, events) each."""
    return await run_preset_seeds("request-reply", preset, SEEDS, **overrides)


def question(question_id: str) -> Any:
    """A lab question of the experiment's banks, whose metric must be in the preset's real summary."""
    found = catalogue().question(question_id)
    assert found is not None and found.preset in {"slow-inventory", "arrival-order"}
    return found


def holds(summary: dict[str, Any], invariant: str) -> bool:
    return {i["name"]: i["holds"] for i in summary["invariants"]}[invariant]


async def test_replies_come_back_out_of_order_and_each_still_completes_its_own_request() -> None:
    for summary, events in await seeded("side-by-side", mode="async", duration=5):
        sent_order = [e["request_id"] for e in of_type(events, "request.sent")]
        reply_order = [e["in_reply_to"] for e in of_type(events, "reply.received")]
        assert sorted(reply_order) == sorted(sent_order) and len(sent_order) == 50
        assert reply_order != sent_order  # jitter lets later requests' replies overtake earlier ones
        served = [e["duration_ms"] for e in of_type(events, "message.processed", to="inventory")]
        assert min(served) >= 100 and max(served) <= 400 and max(served) - min(served) >= 200
        assert all(e["request_id"] == e["in_reply_to"] for e in of_type(events, "reply.received"))
        assert holds(summary, "no_reply_mismatched")
        assert summary["by_mode"]["async"]["success_rate_pct"] == 100.0


async def test_with_inventory_down_less_than_the_deadline_async_requests_complete_and_sync_ones_fail() -> None:
    for summary, events in await seeded("inventory-blip", duration=7):
        refused = of_type(events, "call.finished", to="inventory", outcome="refused")
        assert len(refused) >= 8 and all(3.0 <= e["t"] < 5.0 for e in refused)  # 5 a second for the 2 s outage
        assert summary["by_mode"]["sync"]["failed"] == len(refused)
        assert summary["by_mode"]["async"]["success_rate_pct"] == 100.0
        created = {e["correlation_id"]: e["t"] for e in of_type(events, "request.created", mode="async")}
        waited = [
            e["latency_ms"]
            for e in of_type(events, "request.finished", mode="async")
            if 3.0 <= created[e["correlation_id"]] < 5.0
        ]
        assert len(waited) >= 8 and max(waited) > 1500  # answered after the recovery at 5 s, inside the 3 s deadline
        assert outcomes.figures(events)["replies"]["timed_out"] == 0


async def test_with_slow_inventory_sync_throughput_caps_at_threads_over_latency_while_async_keeps_up() -> None:
    for summary, events in await seeded("slow-inventory", duration=5):
        by_mode = summary["by_mode"]
        latency_s = by_mode["sync"]["latency_ms"]["p50"] / 1000
        assert 1.0 <= latency_s <= 1.3
        assert 10 / 1.3 <= by_mode["sync"]["goodput_rps"] <= 10 / 1.0  # 10 threads, each busy 1 to 1.3 s
        assert metric_value(summary, question("rr-lab-blocking-throughput").metric) == by_mode["sync"]["goodput_rps"]
        rejected = of_type(events, "call.finished", to="sync-client", outcome="rejected")
        assert len(rejected) == by_mode["sync"]["failed"] >= 15
        assert by_mode["async"]["goodput_rps"] == 15.0 and by_mode["async"]["success_rate_pct"] == 100.0


async def test_replies_after_the_deadline_are_counted_late_and_dropped_never_matched() -> None:
    for summary, events in await seeded("late-replies", duration=7):
        replies = outcomes.figures(events)["replies"]
        assert replies["timed_out"] >= 12 and replies["late"] == replies["timed_out"] and replies["never"] == 0
        late_by = [e["late_by_ms"] for e in of_type(events, "reply.late")]
        assert all(600 <= ms <= 900 for ms in late_by)  # 3.6-3.9 s answers against a 3 s deadline
        assert holds(summary, "no_reply_mismatched")
        sync_reasons = {
            e["outcome"] for e in of_type(events, "call.finished", to="sync-client") if e["outcome"] != "ok"
        }
        assert summary["by_mode"]["sync"]["failed"] >= 12 and sync_reasons <= {"error", "rejected"}


async def test_matching_by_arrival_order_completes_requests_with_other_requests_replies() -> None:
    for summary, events in await seeded("arrival-order", duration=5):
        replies = outcomes.figures(events)["replies"]
        assert replies["mismatched"] >= replies["requests"] / 5 and replies["requests"] == 50
        assert summary["by_mode"]["async"]["success_rate_pct"] == 100.0
        assert not holds(summary, "no_reply_mismatched")
        broken = next(i for i in summary["invariants"] if i["name"] == "no_reply_mismatched")
        assert broken["violations"] == replies["mismatched"]
        assert metric_value(summary, question("rr-lab-arrival-order").metric) == replies["mismatched"]
