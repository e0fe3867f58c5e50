"""Experiment 1 on the real broker: a sync chain against a hybrid checkout, healthy and with email down."""

import itertools
import statistics
import time

import pytest

from tests.support.lab import of_type, start, summary_of, toggle, wait_finished, wait_until_running

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("worker")]


def test_sync_checkouts_take_the_sum_of_the_chain_and_hybrid_ones_only_payment(transactional_db: None) -> None:
    run = wait_finished(start(mode="side_by_side", duration=8, rate=2))
    by_mode = summary_of(run)["by_mode"]
    assert by_mode["sync"]["success_rate_pct"] == by_mode["hybrid"]["success_rate_pct"] == 100.0
    assert by_mode["sync"]["latency_ms"]["p50"] == pytest.approx(1850, rel=0.10)
    events = run.stored_events()
    payment_done = {e["correlation_id"]: e["t"] for e in of_type(events, "call.finished", to="payment", mode="hybrid")}
    publish_ms = statistics.median(
        (e["t"] - payment_done[e["correlation_id"]]) * 1000 for e in of_type(events, "request.finished", mode="hybrid")
    )
    assert by_mode["hybrid"]["latency_ms"]["p50"] == pytest.approx(400 + publish_ms, rel=0.10)


def test_with_email_down_sync_checkouts_fail_while_hybrid_ones_queue_and_drain(transactional_db: None) -> None:
    run = start(mode="side_by_side", duration=9, rate=2)  # email is down from second 2 to 7; two more to recover
    started = wait_until_running(run)
    time.sleep(max(0.0, started + 2 - time.time()))
    toggle(run, email__down=True)
    time.sleep(max(0.0, started + 7 - time.time()))
    toggle(run, email__down=False)
    run = wait_finished(run)
    events = run.stored_events()
    down_at, up_at = (e["t"] for e in of_type(events, "toggle", by="learner"))

    created = {e["correlation_id"]: e["t"] for e in of_type(events, "request.created", mode="sync")}
    # A sync checkout reaches email 600 ms after it starts (payment, then inventory).
    reached_email_while_down = [
        e
        for e in of_type(events, "request.finished", mode="sync")
        if down_at < created[e["correlation_id"]] + 0.6 and created[e["correlation_id"]] + 0.7 < up_at
    ]
    assert len(reached_email_while_down) >= 6
    assert {(e["outcome"], e.get("reason")) for e in reached_email_while_down} == {("failed", "email: refused")}
    assert summary_of(run)["by_mode"]["hybrid"]["success_rate_pct"] == 100.0

    email_depths = [(e["t"], e["depths"]["q.email"]) for e in of_type(events, "queue.depth")]
    peak = max(d for _, d in email_depths)
    assert peak >= 8  # two checkouts a second for five seconds, none consumed
    assert max(d for t, d in email_depths if t < down_at) <= 1
    assert email_depths[-1][1] == 0 and summary_of(run)["final_queue_depth"] == 0

    published = {e["message_id"] for e in of_type(events, "message.published", to="email")}
    processed = [e["message_id"] for e in of_type(events, "message.processed", to="email", outcome="ok")]
    assert sorted(processed) == sorted(published)  # every queued email handled, each exactly once
    assert summary_of(run)["dlq_count"] == 0


def test_failing_consumers_retry_after_the_policy_delay_then_dead_letter(transactional_db: None) -> None:
    run = start(
        mode="hybrid",
        duration=5,
        rate=1,
        **{
            "analytics.error_rate": 1.0,
            "retry.max_attempts": 3,
            "retry.delay_ms": 300.0,
            "retry.backoff": "exponential",
        },
    )
    run = wait_finished(run)
    events = run.stored_events()
    first = of_type(events, "message.published", to="analytics")[0]["message_id"]
    consumed = [e["t"] for e in of_type(events, "message.consumed", message_id=first)]
    assert [e["attempt"] for e in of_type(events, "message.consumed", message_id=first)] == [1, 2, 3]
    gaps_ms = [(b - a) * 1000 - 150 for a, b in itertools.pairwise(consumed)]  # minus service time
    assert gaps_ms == [pytest.approx(300, abs=150), pytest.approx(600, abs=150)]
    assert summary_of(run)["dlq_count"] == 5
    assert {e["reason"] for e in of_type(events, "dlq.added")} == {"analytics failed 3 times"}
    assert summary_of(run)["by_mode"]["hybrid"]["success_rate_pct"] == 100.0  # the checkout itself never waited


@pytest.mark.parametrize(("idempotent", "processed_twice"), [(True, 0), (False, 4)])
def test_duplicated_messages_are_processed_twice_unless_consumers_are_idempotent(
    transactional_db: None, idempotent: bool, processed_twice: int
) -> None:
    run = start(mode="hybrid", duration=5, rate=0.8, **{"email.duplicate_rate": 1.0, "consumer.idempotent": idempotent})
    run = wait_finished(run)
    events = run.stored_events()
    assert len(of_type(events, "message.published", to="email")) == 8  # four messages, each delivered twice
    assert summary_of(run)["duplicates_processed"] == processed_twice
    assert len(of_type(events, "message.processed", to="email", outcome="duplicate_skipped")) == 4 - processed_twice
