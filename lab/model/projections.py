"""Read models rebuilt from a run's event log, the way the engine's `project` step folds entries into a row: the
reference a projection is checked against, and the answer to "what was this key's state at version k?"."""

from __future__ import annotations

from typing import Any


def empty_row() -> dict[str, Any]:
    return {"version": 0, "events": 0, "event": "", "data": {}}


def apply(row: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
    """One `stream.appended` event folded into a row: its body merged over the data, its key_seq the version."""
    return {
        "version": max(row["version"], event["key_seq"]),
        "events": row["events"] + 1,
        "event": event.get("event", ""),
        "data": {**row["data"], **(event.get("body") or {})},
    }


def rows_from_log(events: list[dict[str, Any]], *, upto: int | None = None) -> dict[tuple[str, str], dict[str, Any]]:
    """Every (link, key)'s row from the log's appended events in key order; with `upto`, as of that version."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    appended = sorted((e for e in events if e["type"] == "stream.appended"), key=lambda e: e["key_seq"])
    for event in appended:
        if upto is None or event["key_seq"] <= upto:
            where = (event["link"], event["key"])
            rows[where] = apply(rows.get(where, empty_row()), event)
    return rows


def state_at(events: list[dict[str, Any]], *, link: str, key: str, version: int) -> dict[str, Any]:
    """What the read model's row for `key` held once it had applied the key's first `version` events."""
    return rows_from_log(events, upto=version).get((link, key), empty_row())


def key_history(events: list[dict[str, Any]], *, link: str, key: str) -> list[dict[str, Any]]:
    """A key's appended events in version order: what a question "state at version k?" may ask about."""
    mine = [e for e in events if e["type"] == "stream.appended" and e["link"] == link and e["key"] == key]
    return sorted(mine, key=lambda e: e["key_seq"])


def drifted_rows(events: list[dict[str, Any]]) -> dict[str, tuple[int, int]]:
    """Per projecting group: (rows that differ from the fold of their key's logged events, rows in all). A group's
    row is its last `projection.updated` state of the newest generation (a rebuild starts a new one), the state
    that counted most events within it (workers log in batches, so the log's order is not the applying order)."""
    final: dict[tuple[str, str, str], tuple[int, int, dict[str, Any]]] = {}
    for event in events:
        if event["type"] == "projection.updated" and event.get("state"):
            where = (event["link"], event["group"], event["key"])
            rank = (int(event.get("generation", 0)), int(event["state"]["events"]))
            if where not in final or rank >= final[where][:2]:
                final[where] = (*rank, event["state"])
    if not final:
        return {}
    folded = rows_from_log(events)
    generation = {(link, group): 0 for link, group, _ in final}
    for (link, group, _), (gen, _, _) in final.items():
        generation[(link, group)] = max(generation[(link, group)], gen)
    drift: dict[str, tuple[int, int]] = {}
    for link, group in sorted(generation):
        rows = [key for (on, key) in folded if on == link]
        current = {
            key: state
            for (on, g, key), (gen, _, state) in final.items()
            if (on, g) == (link, group) and gen == generation[(link, group)]
        }
        drift[group] = (sum(1 for key in rows if current.get(key) != folded[(link, key)]), len(rows))
    return drift
