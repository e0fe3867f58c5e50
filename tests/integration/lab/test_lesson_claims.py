"""What lessons 2, 9, 11 and 18 say a checkout or cascade run shows, checked in numbers over three seeds.

Each test names the sentence it checks. Presets are played whole on the engine's virtual clock (real Redis, exact
times); runs another claim file also plays (tests/integration/lab/test_preset_claims.py) are played once per session,
so the cascade's slowdown presets use the same 20 s of load as there: inventory stays slow from second 5 to the end.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest

from tests.support.engine import depth_at, run_preset

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("redis_server")]
SEEDS = (1, 2, 3)
SLOWDOWN_S = 20
HYBRID_QUEUES = {"q.inventory", "q.email", "q.warehouse", "q.analytics"}


def finished(events: list[dict[str, Any]], **match: Any) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == "request.finished" and all(e.get(k) == v for k, v in match.items())]


@pytest.mark.parametrize("seed", SEEDS)
async def test_a_hybrid_checkout_answers_near_the_payment_hop_not_the_sum_of_the_chain(seed: int) -> None:
    """Lesson 2: hybrid-baseline's `latency_ms.p50` sits near the payment hop rather than the sum of all hops the
    synchronous baseline showed."""
    hybrid, _ = await run_preset("checkout", "hybrid-baseline", seed=seed, alongside=SEEDS)
    chain, _ = await run_preset("checkout", "sync-baseline", seed=seed, alongside=SEEDS)
    assert 400 <= hybrid["latency_ms"]["p50"] <= 450
    assert chain["latency_ms"]["p50"] == pytest.approx(400 + 200 + 800 + 300 + 150, rel=0.02)


@pytest.mark.parametrize("seed", SEEDS)
async def test_with_email_down_sync_checkouts_fail_while_hybrid_ones_all_succeed_and_only_their_emails_wait(
    seed: int,
) -> None:
    """Lessons 2 and 9 on email-down: `by_mode.sync.success_rate_pct` falls, the hybrid one stays where payment
    alone puts it (100%: payment is healthy), and the hybrid checkouts only delay their emails: every one is sent
    once email is back, the oldest after waiting out the outage."""
    summary, _ = await run_preset("checkout", "email-down", seed=seed, alongside=SEEDS)
    assert summary["by_mode"]["sync"]["success_rate_pct"] <= 75.0
    assert summary["by_mode"]["hybrid"]["success_rate_pct"] == 100.0
    emails = summary["messages"]["q.email"]
    assert emails["processed"] == emails["published"] == summary["by_mode"]["hybrid"]["requests"]
    assert emails["wait_ms"]["max"] >= 10_000


@pytest.mark.parametrize("seed", SEEDS)
async def test_the_email_backlog_grows_two_a_second_as_old_as_the_outage_and_drains_to_zero(seed: int) -> None:
    """Lesson 18: email is down for 15 s while checkouts arrive at 2 a second; the email queue grows by about 2
    messages a second (the run's `max_queue_depth` is its peak), drains to zero once email is back, and its
    oldest message is about as old as the outage when email returns."""
    summary, events = await run_preset("checkout", "email-down", seed=seed, alongside=SEEDS)
    assert depth_at(events, "q.email", 4.9) <= 1
    growth_per_s = (depth_at(events, "q.email", 19.9) - depth_at(events, "q.email", 6.0)) / 13.9
    assert 1.6 <= growth_per_s <= 2.4
    assert summary["max_queue_depth"] == summary["max_queue_depth_by_queue"]["q.email"]
    assert 25 <= summary["max_queue_depth"] <= 33
    assert summary["final_queue_depth"] == 0 and depth_at(events, "q.email", 30.0) == 0
    assert 13_500 <= summary["messages"]["q.email"]["wait_ms"]["max"] <= 15_500


@pytest.mark.parametrize("seed", SEEDS)
async def test_a_hybrid_checkout_waits_for_payment_and_four_hand_offs_and_nothing_after_them(seed: int) -> None:
    """Lesson 9 on side-by-side: the hybrid response waits for the 400 ms payment call, then for four messages to
    be handed to their queues, and nothing after that; its p95 is far below the sync one's, by about the 1,450 ms of
    downstream calls, and never below the payment call."""
    summary, events = await run_preset("checkout", "side-by-side", seed=seed, alongside=SEEDS)
    paid = {e["correlation_id"]: e["t"] for e in events if e["type"] == "call.finished" and e["to"] == "payment"}
    handed: dict[str, list[tuple[float, str]]] = defaultdict(list)
    worked_from: dict[str, float] = {}
    for e in events:
        if e["type"] == "message.published" and e.get("queue") in HYBRID_QUEUES:
            handed[e["correlation_id"]].append((e["t"], e["queue"]))
        elif e["type"] == "message.processed" and e.get("queue") in HYBRID_QUEUES:
            worked_from[e["correlation_id"]] = min(e["t"], worked_from.get(e["correlation_id"], e["t"]))
    answers = finished(events, mode="hybrid")
    assert len(answers) >= 50
    for answer in answers:
        request = answer["correlation_id"]
        assert sorted(queue for _, queue in handed[request]) == sorted(HYBRID_QUEUES)
        assert all(paid[request] <= t <= answer["t"] for t, _ in handed[request])
        assert answer["t"] < worked_from[request]  # the queued work happens after the answer
        assert answer["latency_ms"] >= 400
    sync, hybrid = summary["by_mode"]["sync"]["latency_ms"]["p95"], summary["by_mode"]["hybrid"]["latency_ms"]["p95"]
    assert 400 <= hybrid <= 450
    assert sync - hybrid == pytest.approx(1450, rel=0.05)


@pytest.mark.parametrize("seed", SEEDS)
async def test_email_duplicates_are_processed_twice_until_consumers_are_idempotent_then_skipped(seed: int) -> None:
    """Lesson 11 on hybrid-baseline: with Email's duplicate rate at 0.2 and Idempotent consumers off,
    `duplicates_processed` counts repeats; with them on it stays at 0 while the duplicate copies still arrive."""
    duplicating = {"email.duplicate_rate": 0.2}
    careless, _ = await run_preset(
        "checkout", "hybrid-baseline", seed=seed, alongside=SEEDS, **duplicating, **{"consumer.idempotent": False}
    )
    careful, events = await run_preset("checkout", "hybrid-baseline", seed=seed, alongside=SEEDS, **duplicating)
    assert careless["duplicates_processed"] >= 3
    skipped = [e for e in events if e["type"] == "message.processed" and e["outcome"] == "duplicate_skipped"]
    assert careful["duplicates_processed"] == 0 and len(skipped) >= 3
    assert {e["queue"] for e in skipped} == {"q.email"}


@pytest.mark.parametrize("seed", SEEDS)
async def test_a_retry_after_a_timeout_starts_the_same_work_in_inventory_while_the_first_copy_still_runs(
    seed: int,
) -> None:
    """Lesson 11 on timeouts with Retry on: the abandoned call keeps its inventory thread for its 3 s of work, the
    retry sends the same request again, and when inventory has a free thread it starts the same work a second time
    while the first copy is still running; the lab counts the repeats as `retries_per_request`."""
    summary, events = await run_preset(
        "cascade", "timeouts", seed=seed, alongside=SEEDS, duration=SLOWDOWN_S, **{"retry.enabled": True}
    )
    worked: dict[str, list[float]] = defaultdict(list)  # when inventory started work on each checkout
    for e in events:
        if (
            e["type"] == "call.finished"
            and e["to"] == "inventory"
            and e["outcome"] == "timeout"
            and not e.get("reason")
        ):
            worked[e["correlation_id"]].append(e["t"] - e["duration_ms"] / 1000)
    overlapping = [starts for starts in worked.values() if len(starts) >= 2 and sorted(starts)[1] - min(starts) < 3]
    assert len(overlapping) >= 3
    assert summary["calls"]["inventory"]["abandoned"] >= 30
    assert summary["retries_per_request"] >= 0.3


@pytest.mark.parametrize("seed", SEEDS)
async def test_retries_at_a_down_inventory_are_refused_within_5_ms_before_any_work(seed: int) -> None:
    """Lesson 11: on retries-no-jitter inventory is down, and a down service refuses the connection within 5 ms,
    before doing any work, so those retries repeat nothing."""
    summary, events = await run_preset("cascade", "retries-no-jitter", seed=seed, alongside=SEEDS)
    failed = [e for e in events if e["type"] == "call.finished" and e["to"] == "inventory" and e["outcome"] != "ok"]
    assert len(failed) >= 50
    assert {e["outcome"] for e in failed} == {"refused"} and max(e["duration_ms"] for e in failed) <= 5.0
    assert "calls" not in summary  # no call timed out, so none left work behind


@pytest.mark.parametrize("seed", SEEDS)
async def test_a_bulkhead_refuses_extra_checkouts_at_once_and_succeeds_more_often_than_no_defence(seed: int) -> None:
    """Lesson 18 on bulkhead: checkouts may hold only 8 of the gateway's 20 threads; the rest are refused at once
    while browse requests keep succeeding, and its `success_rate_pct` beats a slow-inventory run's."""
    summary, events = await run_preset("cascade", "bulkhead", seed=seed, alongside=SEEDS, duration=SLOWDOWN_S)
    undefended, _ = await run_preset("cascade", "slow-inventory", seed=seed, alongside=SEEDS, duration=SLOWDOWN_S)
    refused = [e for e in finished(events, path="checkout", outcome="failed") if e["reason"] == "bulkhead full"]
    assert len(refused) >= 50 and max(e["latency_ms"] for e in refused) <= 5.0
    assert summary["by_path"]["browse"]["success_rate_pct"] == 100.0
    assert summary["success_rate_pct"] >= undefended["success_rate_pct"] + 5
