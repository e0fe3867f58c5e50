"""What the event-sourcing experiment's presets, findings and lesson 13 say a run shows, checked in numbers over
three seeds on the engine's virtual clock (real Redis, exact times).

Each preset is played with its own config and script, but only as long as its claims need (`PLAYED_FOR`): a few
seconds past the last scripted toggle, enough to see the recovery the notice promises, so the file stays quick."""

from __future__ import annotations

from typing import Any

import pytest

from lab.model.projections import drifted_rows
from tests.support.engine import run_preset

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("redis_server")]
SEEDS = (1, 2, 3)
# Seconds of load each preset is played for: its toggles come at 5 to 15 s (12 s for the rebuild).
PLAYED_FOR = {
    "caught-up": 10,
    "lagging-projector": 20,
    "projector-down": 20,
    "read-your-writes": 20,
    "duplicate-delivery": 10,
    "rebuild": 16,
}


async def played(preset: str, seed: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Each preset and seed is played once for all the claims about it, a preset's seeds side by side."""
    return await run_preset("event-sourcing", preset, seed=seed, alongside=SEEDS, duration=PLAYED_FOR[preset])


def holds(summary: dict[str, Any]) -> dict[str, tuple[bool, int]]:
    return {i["name"]: (i["holds"], i["violations"]) for i in summary["invariants"]}


def reads(events: list[dict[str, Any]], **match: Any) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == "projection.read" and all(e.get(k) == v for k, v in match.items())]


def lag_ms(events: list[dict[str, Any]], group: str, since: float = 0, until: float = 1e9) -> float:
    lags = [
        e["lag_ms"]
        for e in events
        if e["type"] == "projection.updated" and e["group"] == group and since <= e["t"] < until
    ]
    return max(lags)


@pytest.mark.parametrize("seed", SEEDS)
async def test_a_read_model_that_keeps_up_serves_no_stale_page_and_ends_equal_to_the_log(seed: int) -> None:
    summary, events = await played("caught-up", seed)
    assert lag_ms(events, "read-model") < 100  # the page is read 100 ms after the payment
    assert len(reads(events)) == 20 and not reads(events, stale=True)
    assert holds(summary)["projection_converges"] == (True, 0)
    assert holds(summary)["no_stale_reads"] == (True, 0)


@pytest.mark.parametrize("seed", SEEDS)
async def test_a_lagging_projector_serves_stale_pages_only_while_it_lags_then_converges_to_the_log(seed: int) -> None:
    summary, events = await played("lagging-projector", seed)
    assert 1500 <= lag_ms(events, "read-model", since=5, until=16) <= 5000  # "a few seconds"
    assert lag_ms(events, "read-model", since=18) < 100  # caught up within seconds of second 15
    stale = reads(events, stale=True)
    assert len(stale) >= 15 and all(5 <= r["t"] <= 17 for r in stale)
    # what escq-lab-stale-pages reads: the summary counts the same stale pages, all of them the versioned model's
    assert summary["streams"]["stale_reads"] == summary["streams"]["groups"]["read-model"]["stale_reads"] == len(stale)
    assert [r for r in reads(events) if r["t"] > 18] and not [r for r in reads(events) if r["t"] > 17 and r["stale"]]
    assert holds(summary)["no_stale_reads"][0] is False
    assert holds(summary)["projection_converges"] == (True, 0)
    assert [e["lags"] for e in events if e["type"] == "stream.lag"][-1] == dict.fromkeys(
        (f"order-events/{g}/{p}" for g in ("read-model", "naive-model") for p in (0, 1)), 0
    )


@pytest.mark.parametrize("seed", SEEDS)
async def test_a_stopped_projector_freezes_its_read_model_then_works_through_the_backlog_to_the_log(seed: int) -> None:
    summary, events = await played("projector-down", seed)
    during = [r for r in reads(events) if 5.2 <= r["t"] <= 15]
    assert len(during) >= 18 and all(r["stale"] for r in during)
    behind = [sum(v for k, v in e["lags"].items() if "/read-model/" in k) for e in events if e["type"] == "stream.lag"]
    assert max(behind) >= 50 and behind[-1] == 0  # ten seconds of events waited, then every one was projected
    assert holds(summary)["projection_converges"] == (True, 0)
    assert lag_ms(events, "naive-model") < 100  # the other projector never stopped


@pytest.mark.parametrize("seed", SEEDS)
async def test_reading_your_writes_ends_stale_reads_at_a_price_in_latency(seed: int) -> None:
    summary, events = await played("read-your-writes", seed)
    assert len(reads(events, mode="eventual", stale=True)) >= 8
    assert not reads(events, mode="read-your-writes", stale=True)
    eventual, waiting = (
        summary["by_mode"]["eventual"]["latency_ms"],
        summary["by_mode"]["read-your-writes"]["latency_ms"],
    )
    assert eventual["p99"] == pytest.approx(100, abs=5)  # the 100 ms before the read, nothing more
    assert waiting["p99"] >= 2000  # "its slowest orders wait seconds"


@pytest.mark.parametrize("seed", SEEDS)
async def test_under_duplicate_delivery_only_the_projection_without_a_version_check_double_counts(seed: int) -> None:
    summary, events = await played("duplicate-delivery", seed)
    drift = drifted_rows(events)
    assert drift["read-model"] == (0, 20)
    assert 5 <= drift["naive-model"][0] <= 20
    twice = [e for e in events if e["type"] == "stream.duplicate"]
    skipped = [e for e in events if e["type"] == "projection.updated" and not e["applied"]]
    assert {e["group"] for e in skipped} == {"read-model"}  # only the versioned projector skips a copy
    assert len(skipped) == sum(1 for e in twice if e["group"] == "read-model")
    appended = {e["key"]: e["key_seq"] for e in events if e["type"] == "stream.appended"}
    naive = {
        e["key"]: e["state"]["events"]
        for e in events
        if e["type"] == "projection.updated" and e["group"] == "naive-model"
    }
    assert all(naive[key] >= count for key, count in appended.items())
    assert sum(naive[key] > count for key, count in appended.items()) == drift["naive-model"][0]
    assert holds(summary)["projection_converges"] == (False, drift["naive-model"][0])
    groups = summary["streams"]["groups"]  # what escq-lab-naive-double-count reads
    assert groups["read-model"]["rows_differing"] == 0
    assert groups["naive-model"]["rows_differing"] == drift["naive-model"][0]


async def test_about_a_third_of_the_events_reach_each_projector_twice() -> None:
    """Pooled over the three seeds (60 events each), so chance alone cannot push the share out of its bounds."""
    runs = [(await played("duplicate-delivery", seed))[1] for seed in SEEDS]
    for group in ("read-model", "naive-model"):
        twice = sum(1 for events in runs for e in events if e["type"] == "stream.duplicate" and e["group"] == group)
        assert 0.2 <= twice / (60 * len(SEEDS)) <= 0.42


@pytest.mark.parametrize("seed", SEEDS)
async def test_a_rebuild_from_the_log_repairs_a_read_model_that_double_counted(seed: int) -> None:
    summary, events = await played("rebuild", seed)
    before = [e for e in events if e["t"] < 12]
    assert drifted_rows(before)["naive-model"][0] >= 3  # it had miscounted by then
    rebuilt = [e for e in events if e["type"] == "projection.rebuilt"]
    assert [(e["group"], e["t"]) for e in rebuilt] == [("naive-model", 12.0)]
    assert rebuilt[0]["replay"] >= 40
    assert summary["streams"]["groups"]["naive-model"]["rebuilds"] == 1
    assert holds(summary)["projection_converges"] == (True, 0)
