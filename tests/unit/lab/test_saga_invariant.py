"""The saga invariant, from event lists: completed sagas and fully undone ones hold; half-done ones are named."""

from typing import Any

from lab.model.invariants import check_invariants
from lab.model.sagas import saga_violations


def saga(saga_id: str, state: str | None, done: list[str], undone: list[str]) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = [{"type": "saga.started", "saga": saga_id}]
    events += [{"type": "saga.step", "saga": saga_id, "step": s, "outcome": "ok", "compensable": True} for s in done]
    events += [{"type": "saga.compensation", "saga": saga_id, "step": s, "outcome": "ok", "attempt": 1} for s in undone]
    if state is not None:
        events.append({"type": "saga.ended", "saga": saga_id, "state": state})
    return events


def test_completed_and_fully_compensated_sagas_hold() -> None:
    events = saga("a", "completed", ["charge", "reserve", "ship"], []) + saga(
        "b", "compensated", ["charge", "reserve"], ["reserve", "charge"]
    )
    assert saga_violations(events) == (0, "")


def test_a_step_without_a_compensation_need_not_be_undone() -> None:
    events = saga("a", "compensated", ["charge"], ["charge"])
    events.insert(2, {"type": "saga.step", "saga": "a", "step": "notify", "outcome": "ok", "compensable": False})
    assert saga_violations(events) == (0, "")


def test_a_late_success_counts_as_completed_and_must_be_undone() -> None:
    events = saga("a", "compensated", ["charge"], ["charge"])
    events.insert(2, {"type": "saga.step", "saga": "a", "step": "ship", "outcome": "late_ok", "compensable": True})
    assert saga_violations(events) == (1, "1 of 1 sagas were left half-done: a (compensated) left ship done.")


def test_half_done_stuck_and_unfinished_sagas_are_counted_and_named() -> None:
    events = (
        saga("a", "failed", ["charge", "reserve"], [])
        + saga("b", "stuck", ["charge", "reserve"], ["reserve"])
        + saga("c", None, ["charge"], [])
        + saga("d", "failed", ["charge"], [])
        + saga("e", "compensated", [], [])
    )
    count, detail = saga_violations(events)
    assert count == 4
    assert detail == (
        "4 of 5 sagas were left half-done: a (failed) left charge, reserve done; b (stuck) left charge done;"
        " c never ended; and 1 more."
    )


def test_the_invariant_is_reported_with_its_explanation() -> None:
    [result] = check_invariants(["saga_consistent"], saga("a", "failed", ["charge"], []), {})
    assert result["name"] == "saga_consistent" and not result["holds"] and result["violations"] == 1
    assert result["explanation"].startswith("Every saga ended completed or fully compensated")
    assert result["explanation"].endswith("a (failed) left charge done.")


def participant(saga_id: str, done: list[str], ends: list[tuple[str, list[str]]]) -> list[dict[str, Any]]:
    """A choreographed participant: its saga for the order, ended once or more (completed, later undone)."""
    events: list[dict[str, Any]] = [
        {
            "type": "saga.started",
            "saga": saga_id,
            "name": saga_id.split(":")[1],
            "reaction": True,
            "correlation_id": saga_id.split(":")[0],
            "service": saga_id.split(":")[1],
        }
    ]
    events += [{"type": "saga.step", "saga": saga_id, "step": s, "outcome": "ok", "compensable": True} for s in done]
    for state, undone in ends:
        events += [{"type": "saga.compensation", "saga": saga_id, "step": s, "outcome": "ok"} for s in undone]
        events.append({"type": "saga.ended", "saga": saga_id, "state": state})
    return events


def test_choreographed_participants_of_one_order_are_judged_together() -> None:
    all_done = participant("o1:payment", ["charge"], [("completed", [])]) + participant(
        "o1:inventory", ["reserve"], [("completed", [])]
    )
    assert saga_violations(all_done) == (0, "")
    undone = (
        participant("o1:payment", ["charge"], [("completed", []), ("compensated", ["charge"])])
        + participant("o1:inventory", ["reserve"], [("completed", []), ("compensated", ["reserve"])])
        + participant("o1:shipping", [], [("compensated", [])])
    )
    assert saga_violations(undone) == (0, "")
    # Shipping failed, but payment and inventory never heard: both still stand, one order half-done.
    half = all_done + participant("o1:shipping", [], [("compensated", [])])
    assert saga_violations(half) == (
        1,
        "1 of 1 sagas were left half-done: o1 (payment completed, inventory completed, shipping compensated)"
        " left charge, reserve done.",
    )


def handed_over(saga_id: str, to: list[str]) -> dict[str, Any]:
    """A participant's announce step: its message starts the sagas of the services `to`."""
    return {"type": "saga.step", "saga": saga_id, "step": "announce", "outcome": "ok", "hands_to": to}


def test_an_order_whose_hand_over_was_dead_lettered_is_stranded_though_every_participant_completed() -> None:
    charged = participant("o1:payment", ["charge"], [("completed", [])])
    charged.insert(2, handed_over("o1:payment", ["inventory"]))
    dead = {"type": "dlq.added", "correlation_id": "o1", "to": "inventory", "reason": "retries exhausted"}
    assert saga_violations([*charged, dead]) == (
        1,
        "1 of 1 sagas were left half-done: o1 (payment completed) left charge done: the order never reached"
        " inventory (dead-lettered).",
    )
    # Re-driven, the event reaches inventory after all: its saga starts and the order goes on.
    reserved = participant("o1:inventory", ["reserve"], [("completed", [])])
    assert saga_violations([*charged, dead, *reserved]) == (0, "")


def test_a_hand_over_to_a_service_without_a_saga_or_with_nothing_left_standing_strands_nothing() -> None:
    notified = participant("o1:shipping", ["ship"], [("completed", [])])
    notified.insert(2, handed_over("o1:shipping", []))  # notification runs no saga: nothing expects it
    assert saga_violations(notified) == (0, "")
    refunded = participant("o2:payment", ["charge"], [("completed", []), ("compensated", ["charge"])])
    refunded.insert(2, handed_over("o2:payment", ["inventory"]))
    assert saga_violations(refunded) == (0, "")  # lost on the way, but the charge was already undone
