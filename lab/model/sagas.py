"""What a run's saga events prove: every saga ended completed, or with each completed step undone."""

from __future__ import annotations

from typing import Any

SAGA_CONSISTENT = (
    "Every saga ended completed or fully compensated: no step that completed was left standing after its saga failed."
)
EXAMPLES = 3


def saga_violations(events: list[dict[str, Any]]) -> tuple[int, str]:
    """Sagas left half-done (a completed step with a compensation was never undone) or never ended, and why."""
    sagas: dict[str, dict[str, Any]] = {}
    for event in events:
        kind = event["type"]
        if kind == "saga.started":
            sagas[event["saga"]] = {"done": [], "undone": set(), "state": None}
            continue
        saga = sagas.get(event.get("saga", ""))
        if saga is None:
            continue
        if kind == "saga.step" and event.get("compensable") and event.get("outcome") in ("ok", "late_ok"):
            saga["done"].append(event["step"])
        elif kind == "saga.compensation" and event.get("outcome") == "ok":
            saga["undone"].add(event["step"])
        elif kind == "saga.ended":
            saga["state"] = event["state"]
    bad: list[str] = []
    for saga_id, saga in sagas.items():
        if saga["state"] is None:
            bad.append(f"{saga_id} never ended")
            continue
        if saga["state"] == "completed":
            continue
        left = [step for step in saga["done"] if step not in saga["undone"]]
        if left:
            bad.append(f"{saga_id} ({saga['state']}) left {', '.join(left)} done")
    if not bad:
        return 0, ""
    shown = "; ".join(bad[:EXAMPLES]) + (f"; and {len(bad) - EXAMPLES} more" if len(bad) > EXAMPLES else "")
    return len(bad), f"{len(bad)} of {len(sagas)} sagas were left half-done: {shown}."
