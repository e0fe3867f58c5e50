"""What a run's saga events prove: every saga ended completed, or with each completed step undone.

An orchestrated saga is one instance. A choreographed one is every participant's saga for the same order (their
`saga.started` says `reaction`): it is consistent when all of them completed, or when every step any of them
completed was undone; one participant's failure obliges all the others to compensate. A participant whose step
handed the order over (its `saga.step` names in `hands_to` the services whose saga that message starts) expects
each of them to take it up: an order whose next participant never started its saga (its message dead-lettered,
dropped or missed) while completed steps stand is half-done too, however "completed" its participants say they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SAGA_CONSISTENT = (
    "Every saga ended completed or fully compensated: no step that completed was left standing after its saga failed."
)
EXAMPLES = 3
# `saga.crashed`'s moment when the orchestrator died between doing a step and saving its outcome (it redoes the step).
CRASHED_BEFORE_SAVING = "before saving its outcome"
# How a hand-over can fail to arrive, as the explanation names it.
UNDELIVERED = {"dlq.added": "dead-lettered", "message.dropped": "dropped", "message.missed": "missed"}


@dataclass
class Participant:
    """One saga instance as its events tell it: who ran it, the compensable steps it completed, what was undone."""

    name: str
    service: str
    state: str | None = None  # its last end; an undone participant ends twice: completed, then compensated
    done: list[str] = field(default_factory=list)
    undone: set[str] = field(default_factory=set)
    hands_to: set[str] = field(default_factory=set)


@dataclass
class SagaGroup:
    """One saga as a whole: an orchestrated instance, or a choreographed order's participants."""

    correlation_id: str
    members: list[Participant] = field(default_factory=list)
    stranded: list[str] = field(default_factory=list)  # services handed the order that never started their saga

    @property
    def standing(self) -> list[str]:
        """Completed compensable steps never undone, in the order they completed."""
        return [step for m in self.members for step in m.done if step not in m.undone]

    @property
    def state(self) -> str | None:
        """`completed`, `compensated`, `failed` (half-done), `stuck`, or None while some participant has not ended."""
        ends = [m.state for m in self.members]
        if None in ends:
            return None
        for state in ("stuck", "failed"):
            if state in ends:
                return state
        if self.stranded and self.standing:
            return "failed"
        if all(end == "completed" for end in ends):
            return "completed"
        return "failed" if self.standing else "compensated"


def saga_groups(events: list[dict[str, Any]]) -> dict[str, SagaGroup]:
    """Every saga of the run by its id (a choreographed order's by its correlation id), folded from its events."""
    groups: dict[str, SagaGroup] = {}
    instances: dict[str, Participant] = {}
    started: set[tuple[str, str]] = set()  # (correlation id, service) of every reaction saga
    dead: dict[tuple[str, str], str] = {}  # (correlation id, consumer) → how its message ended, when it never arrived
    for event in events:
        kind = event["type"]
        if kind == "saga.started":
            correlation = str(event.get("correlation_id"))
            group_id = correlation if event.get("reaction") else event["saga"]
            member = Participant(name=str(event.get("name")), service=str(event.get("service", "")))
            if event["saga"] not in instances:
                groups.setdefault(group_id, SagaGroup(correlation)).members.append(member)
                instances[event["saga"]] = member
            if event.get("reaction"):
                started.add((correlation, member.service))
            continue
        if kind in ("dlq.added", "message.dropped", "message.missed"):
            dead[str(event.get("correlation_id")), str(event.get("to"))] = UNDELIVERED[kind]
            continue
        saga = instances.get(event.get("saga", ""))
        if saga is None:
            continue
        if kind == "saga.step" and event.get("outcome") in ("ok", "late_ok"):
            if event.get("compensable"):
                saga.done.append(event["step"])
            saga.hands_to.update(event.get("hands_to") or ())
        elif kind == "saga.compensation" and event.get("outcome") == "ok":
            saga.undone.add(event["step"])
        elif kind == "saga.ended":
            saga.state = event["state"]
    for group in groups.values():
        expected = sorted({taker for m in group.members for taker in m.hands_to})
        group.stranded = [
            f"{taker} ({dead.get((group.correlation_id, taker), 'never started')})"
            for taker in expected
            if (group.correlation_id, taker) not in started
        ]
    return groups


def saga_violations(events: list[dict[str, Any]]) -> tuple[int, str]:
    """Sagas left half-done (a completed step with a compensation was never undone) or never ended, and why."""
    groups = saga_groups(events)
    bad = [problem for group_id, group in groups.items() if (problem := _problem(group_id, group))]
    if not bad:
        return 0, ""
    shown = "; ".join(bad[:EXAMPLES]) + (f"; and {len(bad) - EXAMPLES} more" if len(bad) > EXAMPLES else "")
    return len(bad), f"{len(bad)} of {len(groups)} sagas were left half-done: {shown}."


def _problem(group_id: str, group: SagaGroup) -> str:
    state = group.state
    if state is None:
        return f"{group_id} never ended"
    if state == "completed" or not group.standing:
        return ""
    members = group.members
    if len(members) == 1 and not group.stranded:
        states = members[0].state
    else:
        states = ", ".join(f"{m.name} {m.state}" for m in members)
    stranded = f": the order never reached {', '.join(group.stranded)}" if group.stranded else ""
    return f"{group_id} ({states}) left {', '.join(group.standing)} done{stranded}"
