from typing import Any

from lab.model.metrics import percentile, retry_waves, summarize


def finished(t: float, latency: float, outcome: str = "ok", **extra: Any) -> dict[str, Any]:
    return {"type": "request.finished", "t": t, "latency_ms": latency, "outcome": outcome, **extra}


def test_percentiles_interpolate_between_ranks() -> None:
    values = [100, 200, 300, 400, 500]
    assert (percentile(values, 50), percentile(values, 95), percentile(values, 99)) == (300, 480, 496)


def test_percentile_of_nothing_is_none() -> None:
    assert percentile([], 50) is None


def test_the_summary_counts_successes_and_failures() -> None:
    events = [finished(1, 100), finished(2, 300, "failed"), finished(3, 200), finished(4, 400)]
    summary = summarize(events, duration_s=4)
    assert (summary["requests"], summary["succeeded"], summary["failed"]) == (4, 3, 1)
    assert summary["success_rate_pct"] == 75.0
    assert summary["latency_ms"] == {"p50": 250.0, "p95": 385.0, "p99": 397.0}
    assert summary["goodput_rps"] == 0.75


def test_throughput_counts_every_attempt_and_goodput_only_successes() -> None:
    events: list[dict[str, Any]] = [
        {"type": "request.attempt", "attempt": 1, "path": "checkout"},
        {"type": "retry.scheduled"},
        {"type": "request.attempt", "attempt": 2, "path": "checkout"},
        finished(1, 900, path="checkout"),
    ]
    summary = summarize(events, duration_s=2)
    assert (summary["throughput_rps"], summary["goodput_rps"]) == (1.0, 0.5)
    assert summary["retries_per_request"] == 1.0


def test_it_splits_by_mode_when_requests_carry_one() -> None:
    events = [finished(1, 1850, mode="sync"), finished(1, 5, "failed", mode="sync"), finished(1, 420, mode="hybrid")]
    by_mode = summarize(events, duration_s=1)["by_mode"]
    assert by_mode["sync"]["success_rate_pct"] == 50.0
    assert by_mode["hybrid"]["latency_ms"]["p50"] == 420.0


def test_queue_depth_keeps_the_peak_and_the_last_sample() -> None:
    events: list[dict[str, Any]] = [
        {"type": "queue.depth", "depths": {"email": 3, "warehouse": 1}},
        {"type": "queue.depth", "depths": {"email": 12, "warehouse": 0}},
        {"type": "queue.depth", "depths": {"email": 0, "warehouse": 0}},
    ]
    summary = summarize(events, duration_s=1)
    assert (summary["max_queue_depth"], summary["final_queue_depth"]) == (12, 0)
    assert summary["max_queue_depth_by_queue"] == {"email": 12, "warehouse": 1}


def test_calls_reaching_a_target_while_its_breaker_is_open_are_counted() -> None:
    events: list[dict[str, Any]] = [
        {"type": "call.started", "to": "inventory"},
        {"type": "breaker.state", "target": "inventory", "from": "CLOSED", "to": "OPEN", "reason": "x"},
        {"type": "call.started", "to": "inventory"},
        {"type": "call.started", "to": "orders"},
        {"type": "breaker.state", "target": "inventory", "from": "OPEN", "to": "HALF_OPEN", "reason": "y"},
        {"type": "call.started", "to": "inventory"},
    ]
    summary = summarize(events, duration_s=1)
    assert (summary["calls_while_open"], summary["breaker_opened"]) == (1, 1)
    assert [c["to"] for c in summary["breaker_changes"]] == ["OPEN", "HALF_OPEN"]


def test_dead_letters_and_processed_duplicates_are_counted() -> None:
    events: list[dict[str, Any]] = [
        {"type": "dlq.added"},
        {"type": "message.processed", "duplicate": True},
        {"type": "message.processed", "duplicate": False},
    ]
    summary = summarize(events, duration_s=1)
    assert (summary["dlq_count"], summary["duplicates_processed"]) == (1, 1)


def test_copies_a_non_durable_subscription_missed_while_away_are_counted() -> None:
    events: list[dict[str, Any]] = [{"type": "message.missed", "subscription": "sub.mail"}] * 3
    assert summarize(events, duration_s=1)["missed_messages"] == 3


def test_retry_waves_compare_the_busiest_50_ms_with_the_mean_while_retries_lasted() -> None:
    in_step = [{"type": "request.attempt", "attempt": 2, "t": 1.51} for _ in range(6)]
    in_step += [
        {"type": "request.attempt", "attempt": 1, "t": 1.0},
        {"type": "request.attempt", "attempt": 3, "t": 2.49},
    ]
    assert retry_waves(in_step) == {
        "bucket_ms": 50,
        "retries": 7,
        "peak": 6,
        "mean": 0.35,
        "peak_to_mean": 17.1,
        "lasted_s": 1.0,
    }
    assert retry_waves([{"type": "request.attempt", "attempt": 1, "t": 1.0}]) is None


def test_each_pool_is_full_for_its_share_of_the_run_to_the_last_sample() -> None:
    def usage(t: float, **full_s: float) -> dict[str, Any]:
        return {"type": "pool.usage", "t": t, "pools": {}, "breakers": {}, "breaker": "CLOSED", "full_s": full_s}

    summary = summarize([usage(10.0, gateway=2.0, orders=5.0), usage(40.0, gateway=19.6, orders=30.0)], duration_s=40)
    assert summary["pool_full_pct"] == {"gateway": 49.0, "orders": 75.0}


def test_a_run_stored_before_pools_kept_their_full_time_has_no_such_figure() -> None:
    old = {"type": "pool.usage", "t": 4.0, "pools": {"gateway": 20}, "breakers": {}, "breaker": "CLOSED"}
    assert "pool_full_pct" not in summarize([old], duration_s=4)
