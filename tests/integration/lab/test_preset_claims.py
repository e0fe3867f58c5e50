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
    summary, events = await run_preset("checkout", "email-down", seed=seed, alongside=SEEDS)
    sync_failures = finished(events, mode="sync", outcome="failed")
    assert len(sync_failures) >= 20 and {e["reason"] for e in sync_failures} == {"email: refused"}
    assert summary["by_mode"]["hybrid"]["success_rate_pct"] == 100.0
    assert summary["max_queue_depth_by_queue"]["q.email"] >= 25  # 15 s of two checkouts a second, waiting
    assert summary["final_queue_depth"] == 0
    assert {i["name"]: i["holds"] for i in summary["invariants"]}["exactly_once"]


@pytest.mark.parametrize("seed", SEEDS)
async def test_a_bulkhead_keeps_browse_succeeding_while_slow_inventory_fails_checkouts(seed: int) -> None:
    summary, _ = await run_preset("cascade", "bulkhead", seed=seed, alongside=SEEDS)
    assert summary["by_path"]["browse"]["success_rate_pct"] == 100.0
    assert summary["by_path"]["checkout"]["success_rate_pct"] < 80.0


@pytest.mark.parametrize("seed", SEEDS)
async def test_the_breaker_opens_blocks_every_call_while_open_then_closes_once_inventory_is_back(seed: int) -> None:
    summary, events = await run_preset("cascade", "circuit-breaker", seed=seed, alongside=SEEDS)
    moves = [(e["from"], e["to"]) for e in events if e["type"] == "breaker.state"]
    assert moves[0] == ("CLOSED", "OPEN") and moves[-1] == ("HALF_OPEN", "CLOSED")
    assert ("OPEN", "HALF_OPEN") in moves
    opened = next(e["t"] for e in events if e["type"] == "breaker.state" and e["to"] == "OPEN")
    half_open = next(e["t"] for e in events if e["type"] == "breaker.state" and e["to"] == "HALF_OPEN")
    # waitDurationInOpenState is 5 s; the first call after it (checkouts come every 0.1 s) half-opens the breaker
    assert 5.0 <= half_open - opened <= 5.2
    assert summary["calls_while_open"] == 0
    assert {i["name"]: i["holds"] for i in summary["invariants"]}["breaker_blocks_calls"]


# The cascade's slowdown presets, each compared with the undefended run on the same seed. Inventory slows to 3 s at
# second 5; 20 s of load keep the slowdown on to the end and the suite quick.
SLOWDOWN_S = 20
_runs: dict[tuple[str, int], tuple[dict[str, Any], list[dict[str, Any]]]] = {}


async def cascade(preset: str, seed: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A cascade preset's run, played once per seed for all the claims that read it."""
    if (preset, seed) not in _runs:
        short = {} if preset.startswith("retries-") else {"duration": SLOWDOWN_S}
        _runs[preset, seed] = await run_preset("cascade", preset, seed=seed, alongside=SEEDS, **short)
    return _runs[preset, seed]


def failure_reasons(events: list[dict[str, Any]], path: str) -> set[str]:
    return {e["reason"] for e in finished(events, path=path, outcome="failed")}


@pytest.mark.parametrize("seed", SEEDS)
async def test_slow_inventory_fails_browse_requests_that_never_touch_it(seed: int) -> None:
    summary, events = await cascade("slow-inventory", seed)
    assert summary["by_path"]["browse"]["success_rate_pct"] < 75.0
    assert failure_reasons(events, "browse") == {"gateway pool exhausted"}
    assert summary["by_path"]["checkout"]["latency_ms"]["p99"] >= 3000


@pytest.mark.parametrize("seed", SEEDS)
async def test_a_timeout_saves_browse_but_fails_fast_the_checkouts_that_slowly_succeeded_before(seed: int) -> None:
    undefended, _ = await cascade("slow-inventory", seed)
    summary, events = await cascade("timeouts", seed)
    assert summary["by_path"]["browse"]["success_rate_pct"] == 100.0
    checkout, before = summary["by_path"]["checkout"], undefended["by_path"]["checkout"]
    assert checkout["latency_ms"]["p99"] <= 520 < 3000 <= before["latency_ms"]["p99"]
    assert checkout["success_rate_pct"] <= before["success_rate_pct"] - 10
    # inventory's pool stays full of work whose callers have left
    assert max(e["pools"]["inventory"] for e in events if e["type"] == "pool.usage" and e["t"] > 7) == 10
    assert summary["calls"]["inventory"]["abandoned"] >= 50
    assert any("went on working on" in line and "inventory" in line for line in summary["findings"])


@pytest.mark.parametrize("seed", SEEDS)
async def test_retries_without_jitter_land_in_a_comb_that_full_jitter_flattens(seed: int) -> None:
    in_step, _ = await cascade("retries-no-jitter", seed)
    jittered, _ = await cascade("retries-full-jitter", seed)
    assert in_step["retry_waves"]["peak"] >= 12  # a tooth: retries in one 50 ms slot
    assert jittered["retry_waves"]["peak"] * 2 <= in_step["retry_waves"]["peak"]
    assert in_step["retry_waves"]["peak_to_mean"] >= 2 * jittered["retry_waves"]["peak_to_mean"]
    # jitter buys a flat load, not successes: its shorter waits use up a few checkouts' attempts inside an outage
    assert in_step["by_path"]["checkout"]["success_rate_pct"] == 100.0
    assert 85.0 <= jittered["by_path"]["checkout"]["success_rate_pct"] <= 100.0
    assert any(line.startswith("Client retries came in waves") for line in in_step["findings"])


@pytest.mark.parametrize("seed", SEEDS)
async def test_all_defences_protect_browse_and_goodput_while_checkouts_fail_faster_and_retry_three_times(
    seed: int,
) -> None:
    undefended, _ = await cascade("slow-inventory", seed)
    summary, _ = await cascade("all-defences", seed)
    checkout, before = summary["by_path"]["checkout"], undefended["by_path"]["checkout"]
    assert summary["by_path"]["browse"]["success_rate_pct"] == 100.0
    assert summary["goodput_rps"] > undefended["goodput_rps"]
    assert checkout["success_rate_pct"] < before["success_rate_pct"]
    assert checkout["attempts_per_request"] >= 2.5
    assert checkout["latency_ms"]["p99"] < before["latency_ms"]["p99"]
    assert summary["calls_while_open"] == 0 and summary["calls"]["inventory"]["short_circuited"] > 0
    assert any(line.startswith("Checkout requests took") for line in summary["findings"])
