"""Experiment 2 on the real broker: a slow dependency cascading upstream, and each defence's effect."""

import statistics
from bisect import bisect_left, bisect_right
from collections import Counter
from typing import Any

import pytest

from lab.models import Run
from tests.support.lab import new_learner, of_type, start, summary_of, wait_finished

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("worker")]
SLOW_INVENTORY: dict[str, Any] = {"inventory.latency_ms": 3000.0}


def cascade(**config: Any) -> Run:
    return start(new_learner(), experiment="cascade", **config)


def test_slow_inventory_starves_browse_requests_unless_a_bulkhead_fences_checkouts(transactional_db: None) -> None:
    # Six seconds fill the pools as well as eight: browse measured 51% bare, 100% fenced; fenced checkouts 26%.
    bare = cascade(duration=6, **SLOW_INVENTORY)
    fenced = cascade(duration=6, **SLOW_INVENTORY, **{"bulkhead.enabled": True})
    bare, fenced = wait_finished(bare), wait_finished(fenced)
    assert summary_of(bare)["by_path"]["browse"]["success_rate_pct"] < 80  # browse never touches inventory
    reasons = Counter(e["reason"] for e in of_type(bare.stored_events(), "request.finished", path="browse"))
    assert reasons["gateway pool exhausted"] > 0
    assert summary_of(fenced)["by_path"]["browse"]["success_rate_pct"] == 100.0
    assert summary_of(fenced)["by_path"]["checkout"]["success_rate_pct"] < 100.0


def test_a_timeout_caps_how_long_callers_wait(transactional_db: None) -> None:
    run = wait_finished(cascade(duration=6, **SLOW_INVENTORY, **{"timeout.enabled": True, "timeout.ms": 400.0}))
    checkout = summary_of(run)["by_path"]["checkout"]
    assert checkout["latency_ms"]["p99"] < 1000
    assert summary_of(run)["by_path"]["browse"]["success_rate_pct"] == 100.0


def test_the_breaker_opens_short_circuits_half_opens_and_closes_after_recovery(transactional_db: None) -> None:
    # The outage is the run's own schedule (inventory down for its first 4 s), not toggles this process times with
    # sleeps: under the full suite such a run once showed no breaker move at all, most likely the test process late.
    run = cascade(
        duration=9,
        rate=20,
        **{
            "inventory.down": True,
            "inventory.schedule": "for_seconds",
            "inventory.schedule_n": 4,
            "breaker.enabled": True,
            "breaker.wait_duration_in_open_state_ms": 1000.0,
            "breaker.minimum_number_of_calls": 6,
            "breaker.sliding_window_size": 10,
        },
    )
    run = wait_finished(run)
    events = run.stored_events()
    moves = [(e["from"], e["to"]) for e in of_type(events, "breaker.state")]
    assert moves[:1] == [("CLOSED", "OPEN")], f"breaker moves {moves}; fidelity {summary_of(run)['fidelity']}"
    assert ("OPEN", "HALF_OPEN") in moves
    assert moves[-1] == ("HALF_OPEN", "CLOSED")
    closed = next(e for e in of_type(events, "breaker.state") if e["to"] == "CLOSED")
    assert closed["t"] >= 4.0, "it closes only once inventory is back"
    assert summary_of(run)["calls_while_open"] == 0
    short_circuited = of_type(events, "call.finished", to="inventory", outcome="short_circuited")
    assert short_circuited, "while open, calls fail fast without reaching inventory"
    opened = next(e for e in of_type(events, "breaker.state") if e["to"] == "OPEN")
    half_open = next(e for e in of_type(events, "breaker.state") if e["to"] == "HALF_OPEN")
    assert half_open["t"] - opened["t"] == pytest.approx(1.0, abs=0.5)


def crowding(events: list[dict], *, within_s: float = 0.05) -> float:
    """How many other retries land within 50 ms of the average retry: nearly a whole burst's when retries move in
    step, about one when jitter spreads them. Where the waves fall does not matter, so a loaded machine's drift
    (each wave a little later than planned) does not hide them."""
    times = sorted(e["t"] for e in of_type(events, "request.attempt") if e["attempt"] > 1)
    return statistics.mean(bisect_right(times, t + within_s) - bisect_left(times, t - within_s) - 1 for t in times)


def test_retries_without_jitter_arrive_in_waves_and_full_jitter_spreads_them(transactional_db: None) -> None:
    common = {
        "duration": 6,
        "rate": 10,
        "arrival": "burst",
        "browse_share": 0.0,
        "inventory.down": True,
        "inventory.schedule": "for_seconds",
        "inventory.schedule_n": 2,
        "retry.enabled": True,
        "retry.max_attempts": 3,
        "retry.delay_ms": 1000.0,
    }
    waves = cascade(**common)
    spread = cascade(**common, **{"retry.jitter": "full"})
    waves, spread = wait_finished(waves), wait_finished(spread)
    assert summary_of(waves)["retries_per_request"] > 0.3
    in_step, jittered = crowding(waves.stored_events()), crowding(spread.stored_events())
    assert in_step >= 5  # a burst is 10 requests, failing together and retrying together
    assert in_step >= 3 * jittered, (in_step, jittered)
    assert summary_of(waves)["throughput_rps"] > summary_of(waves)["goodput_rps"]  # retry amplification
