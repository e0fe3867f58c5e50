"""What a run's saga events prove: every saga ended completed, or with each completed step undone.

An orchestrated saga is one instance. A choreographed one is every participant's saga for the same order (their
`saga.started` says `reaction`): it is consistent when all of them completed, or when every step any of them
completed was undone; one participant's failure obliges all the others to compensate.
"""

from __future__ import annotations

from typing import Any

SAGA_CONSISTENT = (
    "Every saga ended completed or fully compensated: no step that completed was left standing after its saga failed."
)
EXAMPLES = 3


def saga_violations(events: list[dict[str, Any]]) -> tuple[int, str]:
    """Sagas left half-done (a completed step with a compensation was never undone) or never ended, and why."""
    instances: dict[str, dict[str, Any]] = {}
    groups: dict[str, list[str]] = {}
    for event in events:
        kind = event["type"]
        if kind == "saga.started":
            group = str(event.get("correlation_id")) if event.get("reaction") else event["saga"]
            instances[event["saga"]] = {"done": [], "undone": set(), "state": None, "name": event.get("name")}
            groups.setdefault(group, []).append(event["saga"])
            continue
        saga = instances.get(event.get("saga", ""))
        if saga is None:
            continue
        if kind == "saga.step" and event.get("compensable") and event.get("outcome") in ("ok", "late_ok"):
            saga["done"].append(event["step"])
        elif kind == "saga.compensation" and event.get("outcome") == "ok":
            saga["undone"].add(event["step"])
        elif kind == "saga.ended":
            saga["state"] = event["state"]  # an undone participant ends twice: completed, then compensated
    bad = [problem for group, members in groups.items() if (problem := _problem(group, members, instances))]
    if not bad:
        return 0, ""
    shown = "; ".join(bad[:EXAMPLES]) + (f"; and {len(bad) - EXAMPLES} more" if len(bad) > EXAMPLES else "")
    return len(bad), f"{len(bad)} of {len(groups)} sagas were left half-done: {shown}."


def _problem(group: str, members: list[str], instances: dict[str, dict[str, Any]]) -> str:
    sagas = [instances[m] for m in members]
    if any(s["state"] is None for s in sagas):
        return f"{group} never ended"
    if all(s["state"] == "completed" for s in sagas):
        return ""
    left = [step for s in sagas for step in s["done"] if step not in s["undone"]]
    if not left:
        return ""
    if len(sagas) == 1:
        return f"{group} ({sagas[0]['state']}) left {', '.join(left)} done"
    states = ", ".join(f"{s['name']} {s['state']}" for s in sagas)
    return f"{group} ({states}) left {', '.join(left)} done"
