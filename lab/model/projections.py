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
