"""What the sagas experiment's presets say a run shows, checked in numbers over three seeds each.

Each preset is played whole on the engine's virtual clock (real Redis, exact times). An orchestrated order is one
saga (`r00001-orchestrated`); a choreographed order is one saga per participant (`r00001-choreographed:payment`,
`...:inventory`, `...:shipping`), each undoing its own step when a failure event reaches it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

import pytest

from quizzes.banks import catalogue
from quizzes.grading import metric_value
from tests.support.engine import run_preset

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("redis_server")]
SEEDS = (1, 2, 3)
LAB_QUESTIONS = [q for q in catalogue().questions.values() if q.type == "lab" and q.experiment == "sagas"]
_played: dict[tuple[str, int], tuple[dict[str, Any], list[dict[str, Any]]]] = {}


async def play(preset: str, seed: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A preset's summary and events, played once per seed for all the tests that read it."""
    if (preset, seed) not in _played:
        _played[preset, seed] = await run_preset("sagas", preset, seed=seed, alongside=SEEDS)
    return _played[preset, seed]


def of_type(events: list[dict[str, Any]], kind: str, **match: Any) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == kind and all(e.get(k) == v for k, v in match.items())]


def order_of(saga: str) -> str:
    return saga.split(":")[0]


def style_of(saga: str) -> str:
    return order_of(saga).split("-")[1]


def ends(events: list[dict[str, Any]]) -> dict[str, str]:
    """Each saga's last state (a choreographed participant that was undone ends twice: completed, then compensated)."""
    return {e["saga"]: e["state"] for e in of_type(events, "saga.ended")}


def undone_by_order(events: list[dict[str, Any]]) -> dict[str, list[tuple[str, str]]]:
    """Per order, the steps whose compensation succeeded, in the order they were undone: (who undid it, step)."""
    found: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for event in of_type(events, "saga.compensation", outcome="ok"):
        participant = event["saga"].split(":")[1] if ":" in event["saga"] else "orchestrator"
        found[order_of(event["saga"])].append((participant, event["step"]))
    return dict(found)


def invariant(summary: dict[str, Any], name: str) -> dict[str, Any]:
    return next(i for i in summary["invariants"] if i["name"] == name)


@pytest.mark.parametrize("seed", SEEDS)
async def test_when_every_order_ships_both_styles_complete_and_only_choreography_splits_an_order_in_three(
    seed: int,
) -> None:
    summary, events = await play("happy-path", seed=seed)
    assert set(ends(events).values()) == {"completed"}
    assert of_type(events, "saga.compensation") == []
    started = Counter(order_of(e["saga"]) for e in of_type(events, "saga.started"))
    orders = {e["correlation_id"] for e in of_type(events, "request.created")}
    assert len(orders) == 16  # 8 s at 1 order a second, each run both ways
    assert {order: started[order] for order in orders} == {
        order: 1 if order.endswith("orchestrated") else 3 for order in orders
    }
    orchestrated = of_type(events, "saga.started", service="orders")
    assert {tuple(e["steps"]) for e in orchestrated} == {("charge", "reserve", "ship", "notify")}
    assert invariant(summary, "saga_consistent")["holds"]


@pytest.mark.parametrize("seed", SEEDS)
async def test_a_failing_carrier_undoes_release_then_refund_in_both_styles_and_leaves_no_order_charged(
    seed: int,
) -> None:
    summary, events = await play("carrier-fails", seed=seed)
    failed_ship = {order_of(e["saga"]) for e in of_type(events, "saga.step", step="ship") if e["outcome"] == "error"}
    # The carrier rejects from second 3 to 9: 6 orders of each style, at 1 a second.
    assert Counter(o.split("-")[1] for o in failed_ship) == {"orchestrated": 6, "choreographed": 6}
    undone = undone_by_order(events)
    for order in failed_ship:
        if order.endswith("orchestrated"):
            assert undone[order] == [("orchestrator", "reserve"), ("orchestrator", "charge")], order
        else:
            # inventory undoes its reservation and announces it; only then does payment refund
            steps = [(saga, step) for saga, step in undone[order] if step in ("reserve", "charge")]
            assert steps == [("inventory", "reserve"), ("payment", "charge")], order
            said = [e["key"] for e in of_type(events, "message.published", correlation_id=order)]
            assert said == ["order.placed", "payment.completed", "stock.reserved", "shipment.failed", "stock.released"]
    assert set(undone) == failed_ship  # orders outside the window are never undone
    # the client of a choreographed order was answered at the first publish; the orchestrated one saw the failure
    assert summary["by_style"]["choreographed"]["success_rate_pct"] == 100.0
    assert summary["by_style"]["orchestrated"]["success_rate_pct"] == 50.0
    final = ends(events)
    for saga, state in final.items():
        expected = "compensated" if order_of(saga) in failed_ship else "completed"
        assert state == expected, saga
    assert invariant(summary, "saga_consistent") == {
        "name": "saga_consistent",
        "holds": True,
        "violations": 0,
        "explanation": invariant(summary, "saga_consistent")["explanation"],
    }


@pytest.mark.parametrize(
    ("seed", "failing", "undone"),
    [
        (1, "psp", []),  # the charge itself fails: nothing was done, nothing is undone
        (2, "stock", [("orchestrator", "charge")]),
        (3, "carrier", [("orchestrator", "reserve"), ("orchestrator", "charge")]),
    ],
)
async def test_a_failure_at_any_step_undoes_exactly_the_steps_completed_before_it_newest_first(
    seed: int, failing: str, undone: list[tuple[str, str]]
) -> None:
    summary, events = await run_preset("sagas", "happy-path", seed=seed, duration=5, **{f"{failing}.error_rate": 1.0})
    by_order = undone_by_order(events)
    orders = {e["correlation_id"] for e in of_type(events, "request.created")}
    for order in orders:
        mine = by_order.get(order, [])
        if order.endswith("orchestrated"):
            assert mine == undone, order
        else:  # each participant undoes its own step, in the same order the failure events travel back
            steps = [step for _, step in mine if step in ("reserve", "charge")]
            assert steps == [step for _, step in undone], order
    assert summary["sagas"] == {**summary["sagas"], "completed": 0, "compensated": 10, "failed": 0, "stuck": 0}
    assert invariant(summary, "saga_consistent")["holds"]


@pytest.mark.parametrize("seed", SEEDS)
async def test_a_refund_that_fails_is_retried_with_growing_backoff_until_it_succeeds(seed: int) -> None:
    summary, events = await play("refund-retried", seed=seed)
    refunds = of_type(events, "saga.compensation", step="charge")
    failed = [e for e in refunds if e["outcome"] != "ok"]
    assert failed  # 30% of about 30 refunds fail at their first attempt
    for event in failed:
        # 200 ms after the first failed attempt, doubling after each further one (exponential, at most 2 s)
        assert event["retry_in_ms"] == min(2000.0, 200.0 * 2 ** (event["attempt"] - 1))
        later = [e for e in refunds if e["saga"] == event["saga"] and e["attempt"] == event["attempt"] + 1]
        assert len(later) == 1
        assert later[0]["t"] - event["t"] >= event["retry_in_ms"] / 1000
    assert all(any(e["saga"] == f["saga"] and e["outcome"] == "ok" for e in refunds) for f in failed)
    assert "stuck" not in ends(events).values()
    assert invariant(summary, "saga_consistent")["holds"]


@pytest.mark.parametrize("seed", SEEDS)
async def test_a_shipment_that_times_out_is_undone_and_its_late_success_cancelled_while_choreography_waits(
    seed: int,
) -> None:
    summary, events = await play("slow-carrier", seed=seed)
    timed_out = [e["saga"] for e in of_type(events, "saga.step", step="ship", outcome="timeout")]
    assert len(timed_out) == 3  # orders at seconds 3, 4 and 5 meet a carrier taking 1.5 s; the orchestrator waits 1 s
    for saga in timed_out:
        late = of_type(events, "saga.step", saga=saga, step="ship")
        assert [e["outcome"] for e in late] == ["timeout", "late_ok"]
        undone = [e["step"] for e in of_type(events, "saga.compensation", saga=saga, outcome="ok")]
        assert undone == ["reserve", "charge", "ship"], saga
        assert ends(events)[saga] == "compensated"
    assert summary["by_style"]["choreographed"]["success_rate_pct"] == 100.0
    choreographed = {s: state for s, state in ends(events).items() if style_of(s) == "choreographed"}
    assert set(choreographed.values()) == {"completed"}
    assert invariant(summary, "saga_consistent")["holds"]


@pytest.mark.parametrize("seed", SEEDS)
async def test_an_orchestrator_that_crashes_mid_saga_resumes_from_redis_losing_no_saga_and_redoing_no_step(
    seed: int,
) -> None:
    summary, events = await play("orchestrator-crash", seed=seed)
    crashed = {e["saga"] for e in of_type(events, "saga.crashed")}
    assert len(crashed) >= 4  # the orchestrator crashes after every saved step from second 3 to 8
    assert len(of_type(events, "saga.resumed")) == len(of_type(events, "saga.crashed"))
    # each crash costs its order the orchestrator's 1 s restart, never the saga
    crashes = Counter(e["saga"] for e in of_type(events, "saga.crashed"))
    latency = {e["correlation_id"]: e["latency_ms"] for e in of_type(events, "request.finished")}
    assert all(latency[saga] >= 1000 * count for saga, count in crashes.items())
    crashed_times = sum(crashes.values())
    assert f"The orchestrator crashed {crashed_times} times and resumed its sagas from Redis." in summary["findings"]
    assert "10 sagas: 10 completed, 0 compensated, 0 stuck." in summary["findings"]
    started = [e["saga"] for e in of_type(events, "saga.started")]
    assert len(started) == 10
    assert ends(events) == {saga: "completed" for saga in started}
    # each order's charge, reservation, booking and email reached its resource exactly once
    calls = Counter((e["correlation_id"], e["to"]) for e in of_type(events, "call.finished") if e["from"] != "orders")
    assert set(calls.values()) == {1}
    assert len(calls) == 4 * 10  # card processor, stock ledger, carrier, email provider
    assert summary["succeeded"] == 10
    assert invariant(summary, "saga_consistent")["holds"]


# The resource each orchestrated step reaches (notify reaches the email provider through the notify queue).
RESOURCE_OF_STEP = {"charge": "psp", "reserve": "stock", "ship": "carrier", "notify": "mailer"}


@pytest.mark.parametrize("seed", SEEDS)
async def test_an_orchestrator_that_crashes_before_saving_a_step_redoes_it_on_resume_so_its_effect_happens_twice(
    seed: int,
) -> None:
    summary, events = await play("crash-before-save", seed=seed)
    crashes = of_type(events, "saga.crashed")
    assert len(crashes) >= 8  # every second step it finishes from second 3 to 8 (13 on the first seed)
    assert {e["moment"] for e in crashes} == {"before saving its outcome"}
    assert len(of_type(events, "saga.resumed")) == len(crashes)
    crashed_at = Counter((e["saga"], e["step"]) for e in crashes)
    reached = Counter((e["correlation_id"], e["to"]) for e in of_type(events, "call.finished") if e["from"] != "orders")
    for order in {e["correlation_id"] for e in of_type(events, "request.created")}:
        for step, resource in RESOURCE_OF_STEP.items():
            # each crash between doing the step and saving it makes the resumed saga do it once more
            assert reached[order, resource] == 1 + crashed_at[order, step], (order, step)
    assert sum(reached.values()) == 4 * 10 + len(crashes)
    assert ends(events) == {saga: "completed" for saga in ends(events)} and len(ends(events)) == 10
    assert summary["succeeded"] == 10
    assert summary["sagas"]["steps_repeated"] == len(crashes)
    assert (
        f"{len(crashes)} steps ran twice: the orchestrator crashed after doing them but before saving that they were"
        " done, so it resumed at them again." in summary["findings"]
    )
    # the saga's own bookkeeping is consistent; the repeated charges are the participants' to deduplicate
    assert invariant(summary, "saga_consistent")["holds"]


@pytest.mark.parametrize("seed", SEEDS)
async def test_a_participant_that_is_down_fails_orchestrated_orders_while_choreographed_ones_wait_and_complete(
    seed: int,
) -> None:
    summary, events = await play("inventory-down", seed=seed)
    created = {e["correlation_id"]: e["t"] for e in of_type(events, "request.created")}
    in_outage = {order for order, t in created.items() if 3 <= t < 6}
    assert len(in_outage) == 6  # 3 orders of each style arrive while inventory is down
    refused = {e["correlation_id"] for e in of_type(events, "call.finished", to="inventory", outcome="refused")}
    final = ends(events)
    for saga, state in final.items():
        order = order_of(saga)
        if order in in_outage and style_of(saga) == "orchestrated":
            assert order in refused and state == "compensated", saga
            assert undone_by_order(events)[order] == [("orchestrator", "charge")]
        else:
            assert state == "completed", saga
    # the choreographed orders of the outage waited in inventory's queue and reserved once it was back at second 6
    reserved = {order_of(e["saga"]): e["t"] for e in of_type(events, "saga.step", step="reserve", outcome="ok")}
    for order in in_outage:
        if order.endswith("choreographed"):
            assert reserved[order] >= 6.0, order
    assert summary["by_style"]["orchestrated"]["succeeded"] == 7
    assert summary["by_style"]["choreographed"]["success_rate_pct"] == 100.0
    assert summary["sagas"]["compensated"] == 3
    assert summary["max_queue_depth_by_queue"]["inventory.payments"] == 3
    assert invariant(summary, "saga_consistent")["holds"]


@pytest.mark.parametrize("seed", SEEDS)
async def test_a_failing_participant_strands_choreographed_orders_in_the_dead_letters_and_the_invariant_counts_them(
    seed: int,
) -> None:
    summary, events = await play("inventory-errors", seed=seed)
    created = {e["correlation_id"]: e["t"] for e in of_type(events, "request.created")}
    in_outage = {order for order, t in created.items() if 3 <= t < 6}
    stranded = sorted(o for o in in_outage if o.endswith("choreographed"))
    assert len(stranded) == 3
    # payment charged and announced; inventory failed the event and, with no retry, it was dead-lettered
    assert sorted(e["correlation_id"] for e in of_type(events, "dlq.added")) == stranded
    assert {e["to"] for e in of_type(events, "dlq.added")} == {"inventory"}
    for order in stranded:
        assert ends(events) == {**ends(events), f"{order}:payment": "completed"}
        assert f"{order}:inventory" not in ends(events)
        assert undone_by_order(events).get(order) is None  # nobody refunds it
    orchestrated = [o for o in in_outage if o.endswith("orchestrated")]
    assert all(ends(events)[o] == "compensated" for o in orchestrated)
    verdict = invariant(summary, "saga_consistent")
    assert (verdict["holds"], verdict["violations"]) == (False, 3)
    assert (
        f"3 of 20 sagas were left half-done: {stranded[0]} (payment completed) left charge done: the order never"
        " reached inventory (dead-lettered)" in verdict["explanation"]
    )
    assert (summary["sagas"]["stranded"], summary["sagas"]["failed"], summary["sagas"]["compensated"]) == (3, 3, 3)


@pytest.mark.parametrize("seed", SEEDS)
async def test_without_compensations_every_failed_order_stays_charged_and_reserved_and_the_invariant_counts_it(
    seed: int,
) -> None:
    summary, events = await play("no-compensations", seed=seed)
    assert of_type(events, "saga.compensation") == []
    verdict = invariant(summary, "saga_consistent")
    assert (verdict["holds"], verdict["violations"]) == (False, 16)  # 8 orders, each run both ways
    assert (
        "16 of 16 sagas were left half-done: r00001-orchestrated (failed) left charge, reserve done"
        in (verdict["explanation"])
    )
    assert (
        "(payment completed, inventory completed, shipping compensated) left charge, reserve done"
        in (verdict["explanation"])
    )


@pytest.mark.parametrize("question", LAB_QUESTIONS, ids=lambda q: q.id)
async def test_each_lab_question_reads_a_metric_its_preset_reports_and_the_keyed_prediction_matches_it(
    question,
) -> None:
    expected = {
        "by_style.choreographed.success_rate_pct": 100.0,  # every request answered at the first publish
        "sagas.failed": 16.0,  # 8 orders, each run both ways, every one left charged and reserved
        "sagas.completed": 10.0,  # every saga of the crash preset
        "sagas.stranded": 3.0,  # the choreographed orders of inventory's three failing seconds
    }
    for seed in SEEDS:
        summary, _ = await play(question.preset, seed)
        assert metric_value(summary, question.metric) == expected[question.metric]
