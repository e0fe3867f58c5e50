"""Findings in plain words, with their numbers, for each construct: from hand-written event lists."""

from __future__ import annotations

from typing import Any

from lab.model.invariants import check_invariants, findings
from lab.model.metrics import summarize
from lab.model.outcomes import REPLY_FIGURES, figures, sentences

SUMMARY: dict[str, Any] = {
    "requests": 0,
    "succeeded": 0,
    "success_rate_pct": None,
    "latency_ms": {"p50": None, "p95": None, "p99": None},
}


def ev(kind: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, **fields}


def replies(on_time: int, late: int, never: int, errors: int = 0) -> list[dict[str, Any]]:
    events = []
    for i in range(on_time + late + never):
        events.append(ev("request.sent", request_id=f"q{i}", correlation_id=f"r{i}"))
    for i in range(on_time):
        outcome = "error" if i < errors else "ok"
        events.append(ev("reply.received", request_id=f"q{i}", in_reply_to=f"q{i}", outcome=outcome))
    for i in range(on_time, on_time + late + never):
        events.append(ev("reply.timeout", request_id=f"q{i}"))
    for i in range(on_time, on_time + late):
        events.append(ev("reply.late", in_reply_to=f"q{i}", duplicate=False, late_by_ms=300.0))
    return events


def test_replies_on_time_late_and_never() -> None:
    assert sentences(figures(replies(on_time=8, late=2, never=0))) == [
        "8 of 10 replies arrived before their deadline; 2 came late and were dropped."
    ]
    assert sentences(figures(replies(on_time=5, late=1, never=2, errors=1))) == [
        "5 of 8 replies arrived before their deadline; 1 came late and were dropped; 2 never came; 1 of those on"
        " time were error replies."
    ]


def test_a_second_reply_to_an_answered_request_is_counted_as_a_dropped_duplicate() -> None:
    events = [*replies(on_time=3, late=0, never=0), ev("reply.late", in_reply_to="q0", duplicate=True)]
    assert figures(events)["replies"]["duplicates"] == 1
    assert sentences(figures(events)) == [
        "3 of 3 replies arrived before their deadline; 1 duplicate replies were dropped."
    ]


def writes(mode: str, saved: int, published: list[int], crashed_before: int = 0) -> list[dict[str, Any]]:
    events = [ev("writer.crashed", point="before_commit", mode=mode) for _ in range(crashed_before)]
    for i in range(saved):
        events.append(ev("db.committed", record=f"{mode}{i}", mode=mode))
    for i in published:
        events.append(ev("record.published", record=f"{mode}{i}", mode=mode, waited_ms=100.0 + i))
    return events


def test_a_dual_write_loses_the_writes_that_crashed_between_the_save_and_the_publish() -> None:
    events = writes("dual_write", 20, [i for i in range(20) if i not in (3, 7, 11)])
    assert figures(events)["outbox"] == {
        "dual_write": {
            "writes": 20,
            "lost": 3,
            "twice": 0,
            "crashed_before_save": 0,
            "orphaned": 0,
            "mean_wait_ms": 109.9,
        }
    }
    assert sentences(figures(events)) == ["3 of 20 writes were lost between the save and the publish (dual write)."]


def test_the_outbox_publishes_every_saved_write_and_says_how_long_the_relay_took() -> None:
    events = writes("outbox", 4, [0, 1, 2, 3, 3], crashed_before=2)
    assert sentences(figures(events)) == [
        "All 4 writes were published (outbox), 102 ms after the save on average.",
        "1 records were published more than once (outbox).",
        "2 writes crashed before saving: nothing saved, nothing sent (outbox).",
    ]


def processed(group: str, n: int, *, out_of_order: int = 0, replayed: int = 0) -> list[dict[str, Any]]:
    return [
        ev("stream.processed", group=group, outcome="ok", out_of_order=i < out_of_order, replay=i < replayed)
        for i in range(n)
    ]


def test_a_group_that_processed_events_out_of_key_order_is_named_with_the_count() -> None:
    events = [ev("stream.appended") for _ in range(20)]
    events += processed("fulfilment", 20, out_of_order=5) + processed("analytics", 20)
    assert sentences(figures(events)) == [
        "analytics processed all 20 events in key order.",
        "fulfilment processed 5 events out of key order (of 20).",
    ]


def test_parked_replayed_skipped_and_redelivered_stream_events_are_counted() -> None:
    events = processed("fulfilment", 12, replayed=4)
    events += [ev("stream.parked", group="fulfilment") for _ in range(3)]
    events += [ev("stream.skipped", group="fulfilment", count=6), ev("stream.redelivered", group="fulfilment")]
    assert sentences(figures(events)) == [
        "fulfilment processed all 12 events in key order.",
        "fulfilment's resequencer held back 3 events until their key's previous one.",
        "fulfilment replayed 4 events after a rewind.",
        "fulfilment skipped 6 events that retention had trimmed before it read them.",
        "1 events were handed out again after their worker died.",
    ]


def test_out_of_order_events_are_split_by_request_class_with_the_retried_ones_and_the_largest_lag() -> None:
    events = [ev("request.created", correlation_id=f"r{i}", partitioning=c) for i, c in enumerate(("keyed", "rr"))]
    for i, request in enumerate(("r0", "r0", "r1", "r1", "r1")):
        late, attempt = i >= 3, 2 if i == 4 else 1
        events.append(ev("stream.processed", group="fulfilment", outcome="ok", out_of_order=late, attempt=attempt,
                         correlation_id=request, replay=False))  # fmt: skip
    samples = ((1.0, 3), (2.5, 9), (3.0, 9), (4.0, 0))  # the worst lag is held for two samples: the first is named
    events += [ev("stream.lag", t=t, lags={"orders/fulfilment/0": lag, "orders/fulfilment/1": 2}) for t, lag in samples]
    fulfilment = figures(events, group_by="partitioning")["streams"]["groups"]["fulfilment"]
    assert (fulfilment["out_of_order"], fulfilment["out_of_order_after_retry"]) == (2, 1)
    assert (fulfilment["max_lag"], fulfilment["max_lag_at_s"]) == (11, 2.5)
    assert fulfilment["by_partitioning"] == {
        "keyed": {"processed": 2, "out_of_order": 0, "out_of_order_after_retry": 0},
        "rr": {"processed": 3, "out_of_order": 2, "out_of_order_after_retry": 1},
    }
    assert sentences(figures(events, group_by="partitioning")) == [
        "fulfilment processed 2 events out of key order (of 5) (keyed: 0 of 2, rr: 2 of 3).",
        "1 of fulfilment's out-of-order events were retries: while one waited to be tried again, a later event of its"
        " key was processed.",
        "fulfilment fell furthest behind at 2.5 s: 11 events appended that it had not yet processed.",
    ]


def test_stale_reads_and_the_wait_read_your_writes_costs() -> None:
    stale = [ev("projection.read", stale=True, waited_ms=0.0) for _ in range(10)]
    assert sentences(figures(stale)) == [
        "10 of 10 reads right after a command were stale (the read model did not have its event yet)."
    ]
    waited = [ev("projection.read", stale=False, waited_ms=ms) for ms in (200.0, 220.0)]
    assert sentences(figures(waited)) == [
        "0 of 2 reads right after a command were stale (the read model did not have its event yet); reads waited"
        " 210 ms on average."
    ]


def saga(saga_id: str, *ends: str) -> list[dict[str, Any]]:
    return [ev("saga.started", saga=saga_id)] + [ev("saga.ended", saga=saga_id, state=state) for state in ends]


def test_sagas_are_counted_by_how_they_ended_last() -> None:
    events = saga("a", "completed") + saga("b", "compensated") + saga("c", "compensated")
    events += saga("d", "completed", "compensated")  # a choreographed participant undone after completing
    events += saga("e", "stuck") + saga("f", "failed") + saga("g")
    events += [ev("saga.compensation", saga="e", outcome="error", retry_in_ms=200.0) for _ in range(4)]
    events += [ev("saga.crashed", saga="a")]
    assert sentences(figures(events)) == [
        "7 sagas: 1 completed, 3 compensated, 1 stuck, 1 left half-done, 1 never ended.",
        "Compensations were retried 4 times before they succeeded or gave up.",
        "The orchestrator crashed 1 times and resumed its sagas from Redis.",
    ]


def test_crashes_before_saving_and_stranded_orders_are_said_with_their_counts() -> None:
    events = saga("a", "completed")
    events += [ev("saga.crashed", saga="a", moment="before saving its outcome") for _ in range(2)]
    events += [ev("saga.crashed", saga="a", moment="after saving its outcome")]
    events += [
        ev("saga.started", saga="o1:payment", name="payment", service="payment", reaction=True, correlation_id="o1"),
        ev("saga.step", saga="o1:payment", step="charge", outcome="ok", compensable=True),
        ev("saga.step", saga="o1:payment", step="announce", outcome="ok", hands_to=["inventory"]),
        ev("saga.ended", saga="o1:payment", state="completed"),
        ev("dlq.added", correlation_id="o1", to="inventory"),
    ]
    found = figures(events)["sagas"]
    assert (found["crashes"], found["steps_repeated"], found["stranded"], found["failed"]) == (3, 2, 1, 1)
    assert sentences(figures(events)) == [
        "2 sagas: 1 completed, 0 compensated, 0 stuck, 1 left half-done.",
        "1 orders were stranded between participants: their message to the next one never arrived (dead-lettered,"
        " dropped or missed), so the steps already done stand with nobody to undo them.",
        "The orchestrator crashed 3 times and resumed its sagas from Redis.",
        "2 steps ran twice: the orchestrator crashed after doing them but before saving that they were done, so it"
        " resumed at them again.",
    ]


def test_five_compensated_sagas_and_none_stuck() -> None:
    events = [e for i in range(5) for e in saga(f"s{i}", "compensated")]
    assert sentences(figures(events)) == ["5 sagas: 0 completed, 5 compensated, 0 stuck."]


def test_the_aggregator_acts_once_per_complete_key_and_counts_what_it_ignored() -> None:
    def arrived(key: str, outcome: str) -> dict[str, Any]:
        return ev("aggregate.arrived", aggregate="ship", key=key, outcome=outcome)

    events = [arrived("o1", "added"), arrived("o1", "complete"), ev("aggregate.completed", key="o1")]
    events += [arrived("o2", "added"), arrived("o2", "duplicate"), ev("aggregate.timed_out", key="o2")]
    events += [arrived("o2", "late"), arrived("o3", "not_listed")]
    assert sentences(figures(events)) == [
        "1 of 2 keys had every event and were acted on once; 1 timed out incomplete; 1 duplicate events were"
        " ignored; 1 arrived after their key was done and were ignored."
    ]


def test_a_run_without_constructs_gets_no_construct_findings() -> None:
    events = [ev("request.created", correlation_id="r1"), ev("message.published", message_id="m1")]
    assert figures(events) == {}
    assert findings(SUMMARY, group_by=None, events=events) == []


def test_findings_keep_their_headlines_and_add_the_constructs_after_them() -> None:
    summary = {
        "requests": 10,
        "succeeded": 8,
        "success_rate_pct": 80.0,
        "latency_ms": {"p50": 120.0, "p95": 900.0, "p99": 2000.0},
        "unfinished": 0,
    }
    lines = findings(summary, group_by=None, events=replies(on_time=8, late=2, never=0))
    assert lines == [
        "all requests: 80% succeeded (8 of 10), median 120 ms, p99 2,000 ms.",
        "8 of 10 replies arrived before their deadline; 2 came late and were dropped.",
    ]
    assert findings(summary, group_by=None) == lines[:1]  # without events, as before


def test_a_choreographed_saga_is_counted_once_per_order_with_its_participants() -> None:
    def participant(saga_id: str, order: str, *ends: str) -> list[dict[str, Any]]:
        started = ev("saga.started", saga=saga_id, correlation_id=order, reaction=True)
        return [started] + [ev("saga.ended", saga=saga_id, state=state) for state in ends]

    events = participant("o1:payment", "o1", "completed", "compensated")
    events += participant("o1:shipping", "o1", "compensated")
    events += participant("o2:payment", "o2", "completed") + participant("o2:shipping", "o2", "completed")
    events += participant("o3:payment", "o3", "completed") + participant("o3:shipping", "o3", "failed")
    assert sentences(figures(events)) == [
        "3 sagas (6 participants): 1 completed, 1 compensated, 0 stuck, 1 left half-done."
    ]


def test_replies_that_completed_another_request_are_counted_as_mismatched() -> None:
    events = replies(on_time=3, late=0, never=0)
    events[3:5] = [  # q0 and q1 swapped their replies (matched by arrival order)
        ev("reply.received", request_id="q0", in_reply_to="q1", outcome="ok"),
        ev("reply.received", request_id="q1", in_reply_to="q0", outcome="ok"),
    ]
    assert figures(events)["replies"]["mismatched"] == 2
    assert sentences(figures(events)) == [
        "3 of 3 replies arrived before their deadline; 2 completed a request they did not answer (matched by"
        " arrival order)."
    ]


def test_a_summarys_reply_figures_are_the_ones_lab_questions_may_name() -> None:
    assert tuple(figures(replies(on_time=1, late=1, never=1))["replies"]) == REPLY_FIGURES


def test_a_choreographed_order_whose_others_never_undid_their_steps_is_half_done_not_compensated() -> None:
    def participant(saga_id: str, *steps: str, undone: tuple[str, ...] = (), ends: tuple[str, ...]) -> list[Any]:
        started = [ev("saga.started", saga=saga_id, correlation_id=saga_id.split(":")[0], reaction=True)]
        done = [ev("saga.step", saga=saga_id, step=s, outcome="ok", compensable=True) for s in steps]
        undo = [ev("saga.compensation", saga=saga_id, step=s, outcome="ok") for s in undone]
        return started + done + undo + [ev("saga.ended", saga=saga_id, state=state) for state in ends]

    # o1: the carrier failed and nobody undid the charge (compensations off); o2: the charge was refunded
    events = participant("o1:payment", "charge", ends=("completed",))
    events += participant("o1:shipping", ends=("compensated",))
    events += participant("o2:payment", "charge", undone=("charge",), ends=("completed", "compensated"))
    events += participant("o2:shipping", ends=("compensated",))
    assert figures(events)["sagas"]["failed"] == 1
    assert sentences(figures(events)) == [
        "2 sagas (4 participants): 0 completed, 1 compensated, 0 stuck, 1 left half-done."
    ]


def test_copies_missed_by_a_non_durable_subscription_break_no_missed_messages_and_are_named() -> None:
    events = [ev("message.missed", subscription="sub.mail")] * 2 + [ev("message.missed", subscription="sub.log")]
    summary = summarize(events, duration_s=1)
    [result] = check_invariants(["no_missed_messages"], events, summary)
    assert (result["holds"], result["violations"]) == (False, 3)
    assert result["explanation"].endswith("Not durable, away: sub.log missed 1; sub.mail missed 2.")
    assert (
        "3 matching messages were never delivered: published while a non-durable subscription's subscriber was away."
        in findings(summary, group_by=None)
    )


def test_timed_out_calls_say_the_callee_went_on_working_and_breaker_rejections_are_counted() -> None:
    events = [
        ev("call.finished", to="stock", outcome="timeout"),
        ev("call.finished", to="stock", outcome="timeout"),
        ev("call.finished", to="stock", outcome="timeout", reason="no free stock thread"),
        ev("call.finished", to="stock", outcome="short_circuited", reason="circuit breaker open"),
        ev("call.finished", to="stock", outcome="ok"),
    ]
    assert figures(events)["calls"] == {"stock": {"timed_out": 3, "abandoned": 2, "short_circuited": 1}}
    assert sentences(figures(events)) == [
        "3 calls to stock timed out: each caller gave up and failed fast instead of waiting, while stock went on"
        " working on 2 of them for nobody.",
        "The circuit breaker failed 1 calls to stock at once, without calling it.",
    ]


def test_retries_say_how_they_multiplied_a_class_and_how_they_bunched() -> None:
    summary = {
        **SUMMARY,
        "by_path": {
            "checkout": {
                **SUMMARY,
                "requests": 2,
                "succeeded": 1,
                "success_rate_pct": 50.0,
                "attempts_per_request": 3.0,
            }
        },
        "retry_waves": {"bucket_ms": 50, "retries": 4, "peak": 3, "mean": 1.0, "peak_to_mean": 3.0, "lasted_s": 0.2},
    }
    lines = findings(summary, group_by="path")
    assert "Checkout requests took 3 attempts each on average: retries multiplied their load by 3." in lines
    assert (
        "Client retries came in waves: up to 3 in one 50 ms slot, 3 times their average over the 0.2 s they lasted."
        in lines
    )


def projected(group: str, key: str, *, events: int, lag_ms: float) -> dict[str, Any]:
    """The row a projector ended with for `key`, having counted `events` events."""
    state = {"version": 2, "events": events, "event": "paid", "data": {"paid": True}}
    return ev("projection.updated", link="log", group=group, key=key, state=state, lag_ms=lag_ms, generation=0)


def test_a_projecting_group_counts_its_rows_against_the_log_its_rebuilds_worst_lag_and_the_reads_it_served() -> None:
    appended = [
        ev("stream.appended", link="log", key=key, key_seq=seq, event="paid", body={"paid": True})
        for key in ("a", "b")
        for seq in (1, 2)
    ]
    rows = [projected("view", "a", events=2, lag_ms=40.0), projected("view", "b", events=3, lag_ms=900.0)]
    rebuilt = [ev("projection.rebuilt", link="log", group="view", replay=4)] * 2
    reads = [ev("projection.read", group="view", stale=stale, waited_ms=0.0) for stale in (True, True, False)]
    events = appended + processed("view", 4) + rows + rebuilt + reads
    assert figures(events)["streams"]["groups"]["view"] == {
        "processed": 4,
        "out_of_order": 0,
        "out_of_order_after_retry": 0,
        "replayed": 0,
        "skipped": 0,
        "parked": 0,
        "max_lag": 0,
        "max_lag_at_s": 0,
        "rows": 2,
        "rows_differing": 1,  # b counted an event twice
        "rebuilds": 2,
        "max_lag_ms": 900.0,
        "reads": 3,
        "stale_reads": 2,
    }
    assert sentences(figures(events))[1:3] == [
        "view's read model was rebuilt from the log 2 times.",
        "view's read model ended with 1 rows that differ from the log.",
    ]


def test_pools_that_were_full_are_named_fullest_first_with_their_share_of_the_run() -> None:
    summary = {**SUMMARY, "pool_full_pct": {"gateway": 49.0, "orders": 81.5, "inventory": 0.0}}
    assert findings(summary, group_by=None)[-1] == (
        "Thread pools were full (every thread taken, so the next caller waited or was turned away) for 81.5% of the"
        " run in orders, 49% of the run in gateway."
    )
