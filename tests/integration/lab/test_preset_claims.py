"""What each preset's "what to notice" says a run shows, checked in numbers over several seeds.

Presets are played whole on the engine's virtual clock (real Redis, exact times), so three seeds of a 35 s
preset take seconds; tests/integration/lab/test_checkout.py and test_cascade.py check the same stories on the
real worker in real time.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.engine import run_preset

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("redis_server")]
SEEDS = (1, 2, 3)


def finished(events: list[dict[str, Any]], **match: Any) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == "request.finished" and all(e.get(k) == v for k, v in match.items())]


async def test_a_healthy_sync_chain_settles_at_the_sum_of_its_five_calls() -> None:
    summary, _ = await run_preset("checkout", "sync-baseline", seed=1, duration=10)
    assert summary["by_mode"]["sync"]["latency_ms"]["p50"] == pytest.approx(1850, rel=0.01)


async def test_a_healthy_hybrid_checkout_waits_only_for_payment_and_its_publishes() -> None:
    summary, _ = await run_preset("checkout", "hybrid-baseline", seed=1, duration=10)
    assert 400 <= summary["by_mode"]["hybrid"]["latency_ms"]["p50"] <= 410


@pytest.mark.parametrize("seed", SEEDS)
async def test_with_email_down_sync_fails_hybrid_succeeds_and_the_email_queue_drains_once_each(seed: int) -> None:
    summary, events = await run_preset("checkout", "email-down", seed=seed)
    sync_failures = finished(events, mode="sync", outcome="failed")
    assert len(sync_failures) >= 20 and {e["reason"] for e in sync_failures} == {"email: refused"}
    assert summary["by_mode"]["hybrid"]["success_rate_pct"] == 100.0
    assert summary["max_queue_depth_by_queue"]["q.email"] >= 25  # 15 s of two checkouts a second, waiting
    assert summary["final_queue_depth"] == 0
    assert {i["name"]: i["holds"] for i in summary["invariants"]}["exactly_once"]


@pytest.mark.parametrize("seed", SEEDS)
async def test_a_bulkhead_keeps_browse_succeeding_while_slow_inventory_fails_checkouts(seed: int) -> None:
    summary, _ = await run_preset("cascade", "bulkhead", seed=seed)
    assert summary["by_path"]["browse"]["success_rate_pct"] == 100.0
    assert summary["by_path"]["checkout"]["success_rate_pct"] < 80.0


@pytest.mark.parametrize("seed", SEEDS)
async def test_the_breaker_opens_blocks_every_call_while_open_then_closes_once_inventory_is_back(seed: int) -> None:
    summary, events = await run_preset("cascade", "circuit-breaker", seed=seed)
    moves = [(e["from"], e["to"]) for e in events if e["type"] == "breaker.state"]
    assert moves[0] == ("CLOSED", "OPEN") and moves[-1] == ("HALF_OPEN", "CLOSED")
    assert ("OPEN", "HALF_OPEN") in moves
    opened = next(e["t"] for e in events if e["type"] == "breaker.state" and e["to"] == "OPEN")
    half_open = next(e["t"] for e in events if e["type"] == "breaker.state" and e["to"] == "HALF_OPEN")
    # waitDurationInOpenState is 5 s; the first call after it (checkouts come every 0.1 s) half-opens the breaker
    assert 5.0 <= half_open - opened <= 5.2
    assert summary["calls_while_open"] == 0
    assert {i["name"]: i["holds"] for i in summary["invariants"]}["breaker_blocks_calls"]
