"""Experiment 2 on the real broker: a slow dependency cascading upstream, and each defence's effect."""

import cmath
import math
import time
from collections import Counter
from typing import Any

import pytest

from lab.models import Run
from tests.support.lab import new_learner, of_type, start, summary_of, toggle, wait_finished, wait_until_running

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
    run = cascade(
        duration=9,
        rate=20,
        **{
            "breaker.enabled": True,
            "breaker.wait_duration_in_open_state_ms": 1000.0,
            "breaker.minimum_number_of_calls": 6,
            "breaker.sliding_window_size": 10,
        },
    )
    started = wait_until_running(run)
    time.sleep(max(0.0, started + 1 - time.time()))
    toggle(run, inventory__down=True)
    time.sleep(max(0.0, started + 4.5 - time.time()))
    toggle(run, inventory__down=False)
    run = wait_finished(run)
    events = run.stored_events()
    moves = [(e["from"], e["to"]) for e in of_type(events, "breaker.state")]
    assert moves[0] == ("CLOSED", "OPEN")
    assert ("OPEN", "HALF_OPEN") in moves
    assert moves[-1] == ("HALF_OPEN", "CLOSED")
    assert summary_of(run)["calls_while_open"] == 0
    short_circuited = of_type(events, "call.finished", to="inventory", outcome="short_circuited")
    assert short_circuited, "while open, calls fail fast without reaching inventory"
    opened = next(e for e in of_type(events, "breaker.state") if e["to"] == "OPEN")
    half_open = next(e for e in of_type(events, "breaker.state") if e["to"] == "HALF_OPEN")
    assert half_open["t"] - opened["t"] == pytest.approx(1.0, abs=0.5)


def phase_locking(events: list[dict], target: str) -> float:
    """How tightly retries line up with the once-a-second bursts: 1 when all land at the same phase, ~0 when
    spread evenly. (The mean resultant length of each retry's arrival time modulo one second.)"""
    times = [e["t"] for e in of_type(events, "call.started", to=target) if e["attempt"] > 1]
    return abs(sum(cmath.exp(2j * math.pi * t) for t in times) / len(times))


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
    locked, jittered = (
        phase_locking(waves.stored_events(), "inventory"),
        phase_locking(spread.stored_events(), "inventory"),
    )
    assert locked > 0.3  # measured 0.72 on an idle machine, 0.38 under full test load
    assert locked > 3 * jittered
    assert summary_of(waves)["throughput_rps"] > summary_of(waves)["goodput_rps"]  # retry amplification
