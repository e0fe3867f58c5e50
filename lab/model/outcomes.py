"""What each construct did in a run, counted from its events: the numbers behind the findings' plain sentences.

`figures(events)` folds a run's log into counts per construct (request-reply, outbox, streams and projections,
sagas, the aggregator); `sentences(figures)` says them in words. Both are pure, so the findings of a stored run can
be recomputed from its log, and tests feed them hand-written events.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from lab.model.projections import drifted_rows
from lab.model.sagas import CRASHED_BEFORE_SAVING, saga_groups

SAGA_STATES = ("completed", "compensated", "failed", "stuck")
# The counts `_replies` gives a run that used request-reply (a run summary's `replies`).
# The saga counts a run's summary holds under `sagas` (lab questions may name them).
SAGA_FIGURES = (
    "sagas",
    "participants",
    "completed",
    "compensated",
    "failed",
    "stuck",
    "unended",
    "stranded",
    "compensation_retries",
    "crashes",
    "steps_repeated",
)
REPLY_FIGURES = ("requests", "on_time", "mismatched", "error_replies", "timed_out", "late", "never", "duplicates")


# The stream counts a run's summary holds under `streams`, and per consumer group under `streams.groups.<group>`
# (lab questions may name them).
STREAM_FIGURES = ("appended", "redelivered", "reads", "stale_reads", "mean_read_wait_ms")
STREAM_GROUP_FIGURES = (
    "processed",
    "out_of_order",
    "out_of_order_after_retry",
    "replayed",
    "skipped",
    "parked",
    "max_lag",
    "max_lag_at_s",
)
# What a stream consumer group counts per request class, under `streams.groups.<group>.by_<group_by>.<class>`.
ORDER_COUNTS = STREAM_GROUP_FIGURES[:3]
# What a group that projects its stream adds about its read model: rows in the log, rows that differ from what their
# events add up to, rebuilds, its worst lag in ms, the page reads it served and how many were stale.
PROJECTION_FIGURES = ("rows", "rows_differing", "rebuilds", "max_lag_ms", "reads", "stale_reads")


def figures(events: list[dict[str, Any]], *, group_by: str | None = None) -> dict[str, Any]:
    """Counts per construct; a construct the run did not use is left out. With `group_by` (the workload's class
    field), stream groups also count per request class, found from each request's `request.created`."""
    found: dict[str, Any] = {}
    for name, fold in (
        ("calls", _calls),
        ("replies", _replies),
        ("outbox", _outbox),
        ("streams", lambda log: _streams(log, group_by)),
        ("sagas", _sagas),
        ("aggregates", _aggregates),
    ):
        counted = fold(events)
        if counted:
            found[name] = counted
    return found


def _calls(events: list[dict[str, Any]]) -> dict[str, Any]:
    """Per called service: sync calls that timed out (and of those, the ones it went on working on after its caller
    had left: abandoned work) and calls a circuit breaker answered without calling it."""
    found: dict[str, dict[str, int]] = {}
    for e in events:
        if e["type"] != "call.finished" or e.get("outcome") not in ("timeout", "short_circuited"):
            continue
        counts = found.setdefault(e["to"], {"timed_out": 0, "abandoned": 0, "short_circuited": 0})
        if e["outcome"] == "short_circuited":
            counts["short_circuited"] += 1
        else:
            counts["timed_out"] += 1
            counts["abandoned"] += not e.get("reason")  # a timeout with a reason never reached the callee's work
    return found


def _replies(events: list[dict[str, Any]]) -> dict[str, Any]:
    sent = {e["request_id"] for e in events if e["type"] == "request.sent"}
    if not sent:
        return {}
    received = [e for e in events if e["type"] == "reply.received"]
    late = [e for e in events if e["type"] == "reply.late"]
    timed_out = {e["request_id"] for e in events if e["type"] == "reply.timeout"}
    late_answers = {e["in_reply_to"] for e in late if not e.get("duplicate")}
    return {
        "requests": len(sent),
        "on_time": len({e["request_id"] for e in received}),
        "mismatched": sum(1 for e in received if e["in_reply_to"] != e["request_id"]),
        "error_replies": sum(1 for e in received if e.get("outcome") != "ok"),
        "timed_out": len(timed_out),
        "late": len(late_answers),
        "never": len(timed_out - late_answers),
        "duplicates": sum(1 for e in late if e.get("duplicate")),
    }


def _outbox(events: list[dict[str, Any]]) -> dict[str, Any]:
    committed: dict[str, str] = {}
    for e in events:
        if e["type"] == "db.committed":
            committed[e["record"]] = e.get("mode", "outbox")
    crashed_before = Counter(
        e.get("mode", "outbox") for e in events if e["type"] == "writer.crashed" and e.get("point") == "before_commit"
    )
    if not committed and not crashed_before:
        return {}
    published = Counter(e["record"] for e in events if e["type"] == "record.published")
    orphans = Counter(
        e.get("mode", "outbox") for e in events if e["type"] == "record.published" and e["record"] not in committed
    )
    waits: dict[str, list[float]] = defaultdict(list)
    for e in events:
        if e["type"] == "record.published" and e.get("waited_ms") is not None:
            waits[e.get("mode", "outbox")].append(float(e["waited_ms"]))
    by_mode = {}
    for mode in sorted(set(committed.values()) | set(crashed_before) | set(orphans)):
        records = [r for r, m in committed.items() if m == mode]
        by_mode[mode] = {
            "writes": len(records),
            "lost": sum(1 for r in records if not published[r]),
            "twice": sum(published[r] - 1 for r in records if published[r] > 1),
            "crashed_before_save": crashed_before[mode],
            "orphaned": orphans[mode],
            "mean_wait_ms": round(sum(waits[mode]) / len(waits[mode]), 1) if waits[mode] else None,
        }
    return by_mode


def _streams(events: list[dict[str, Any]], group_by: str | None = None) -> dict[str, Any]:
    processed = [e for e in events if e["type"] == "stream.processed"]
    reads = [e for e in events if e["type"] == "projection.read"]
    if not processed and not reads and not any(e["type"] == "stream.appended" for e in events):
        return {}
    class_of = {e["correlation_id"]: e.get(group_by) for e in events if group_by and e["type"] == "request.created"}
    groups: dict[str, dict[str, Any]] = {}
    for e in processed:
        group = groups.setdefault(e["group"], _group_counts())
        late = bool(e.get("out_of_order"))
        done = e.get("outcome") in ("ok", "lost", "duplicate_skipped", "dead_lettered", "error")
        group["processed"] += done
        group["out_of_order"] += late
        group["out_of_order_after_retry"] += late and int(e.get("attempt") or 1) > 1
        group["replayed"] += bool(e.get("replay"))
        if request_class := class_of.get(e.get("correlation_id")):
            counts = group.setdefault(f"by_{group_by}", {}).setdefault(request_class, dict.fromkeys(ORDER_COUNTS, 0))
            counts["processed"] += done
            counts["out_of_order"] += late
            counts["out_of_order_after_retry"] += late and int(e.get("attempt") or 1) > 1
    for e in events:
        if e["type"] in ("stream.skipped", "stream.parked") and e.get("group") in groups:
            field = "skipped" if e["type"] == "stream.skipped" else "parked"
            groups[e["group"]][field] += int(e.get("count", 1))
        elif e["type"] == "stream.lag":
            behind: Counter[str] = Counter()
            for where, lag in e["lags"].items():
                behind[where.split("/")[1]] += lag
            for name, lag in behind.items():
                if name in groups and lag > groups[name]["max_lag"]:
                    groups[name].update(max_lag=lag, max_lag_at_s=round(float(e.get("t", 0)), 2))
    for name, (wrong, rows) in drifted_rows(events).items():
        if name in groups:
            groups[name].update(_projection(events, name, rows=rows, rows_differing=wrong))
    waited = [float(e.get("waited_ms") or 0) for e in reads]
    return {
        "appended": sum(1 for e in events if e["type"] == "stream.appended"),
        "groups": groups,
        "redelivered": sum(1 for e in events if e["type"] == "stream.redelivered"),
        "reads": len(reads),
        "stale_reads": sum(1 for e in reads if e.get("stale")),
        "mean_read_wait_ms": round(sum(waited) / len(waited), 1) if waited else None,
    }


def _group_counts() -> dict[str, Any]:
    """A stream consumer group's counts: `max_lag` is the most entries it was behind, all partitions together, first
    seen at run second `max_lag_at_s`."""
    return dict.fromkeys(STREAM_GROUP_FIGURES, 0)


def _projection(events: list[dict[str, Any]], group: str, *, rows: int, rows_differing: int) -> dict[str, Any]:
    """A projecting group's read model: rows against the log, rebuilds, its worst lag, and the reads it served."""
    lags = [float(e["lag_ms"]) for e in events if e["type"] == "projection.updated" and e["group"] == group]
    served = [e for e in events if e["type"] == "projection.read" and e["group"] == group]
    return {
        "rows": rows,
        "rows_differing": rows_differing,
        "rebuilds": sum(1 for e in events if e["type"] == "projection.rebuilt" and e["group"] == group),
        "max_lag_ms": round(max(lags), 1) if lags else 0.0,
        "reads": len(served),
        "stale_reads": sum(1 for e in served if e.get("stale")),
    }


def _sagas(events: list[dict[str, Any]]) -> dict[str, Any]:
    """Counted per saga as saga_consistent judges them (lab/model/sagas.py): an orchestrated one is its instance; a
    choreographed one is every participant's saga for the same order, half-done (`failed`) when a participant left
    its completed steps standing or the order never reached the next participant."""
    groups = saga_groups(events)
    if not groups:
        return {}
    states = Counter(group.state for group in groups.values())
    compensations = [e for e in events if e["type"] == "saga.compensation"]
    crashes = [e for e in events if e["type"] == "saga.crashed"]
    return {
        "sagas": len(groups),
        "participants": sum(len(group.members) for group in groups.values()),
        **{state: states[state] for state in SAGA_STATES},
        "unended": states[None],
        "stranded": sum(1 for group in groups.values() if group.stranded and group.standing),
        "compensation_retries": sum(1 for e in compensations if e.get("retry_in_ms") is not None),
        "crashes": len(crashes),
        "steps_repeated": sum(1 for e in crashes if e.get("moment") == CRASHED_BEFORE_SAVING),
    }


def _aggregates(events: list[dict[str, Any]]) -> dict[str, Any]:
    arrived = [e for e in events if e["type"] == "aggregate.arrived"]
    if not arrived:
        return {}
    outcomes = Counter(e["outcome"] for e in arrived)
    keys = {(e["aggregate"], e["key"]) for e in arrived if e["outcome"] in ("added", "complete")}
    return {
        "keys": len(keys),
        "completed": sum(1 for e in events if e["type"] == "aggregate.completed"),
        "timed_out": sum(1 for e in events if e["type"] == "aggregate.timed_out"),
        "duplicates": outcomes["duplicate"],
        "late": outcomes["late"],
    }


def sentences(found: dict[str, Any]) -> list[str]:
    """Each construct's figures as plain sentences with their numbers."""
    lines: list[str] = []
    for target, counts in sorted((found.get("calls") or {}).items()):
        lines += _call_sentences(target, counts)
    if replies := found.get("replies"):
        lines.append(_reply_sentence(replies))
    for mode, counts in (found.get("outbox") or {}).items():
        lines += _outbox_sentences(mode, counts)
    if streams := found.get("streams"):
        lines += _stream_sentences(streams)
    if sagas := found.get("sagas"):
        lines += _saga_sentences(sagas)
    if aggregates := found.get("aggregates"):
        lines.append(_aggregate_sentence(aggregates))
    return lines


def _call_sentences(target: str, c: dict[str, int]) -> list[str]:
    lines = []
    if c["timed_out"]:
        line = f"{c['timed_out']} calls to {target} timed out: each caller gave up and failed fast instead of waiting"
        if c["abandoned"]:
            line += f", while {target} went on working on {c['abandoned']} of them for nobody"
        lines.append(line + ".")
    if c["short_circuited"]:
        lines.append(
            f"The circuit breaker failed {c['short_circuited']} calls to {target} at once, without calling it."
        )
    return lines


def _reply_sentence(r: dict[str, Any]) -> str:
    line = f"{r['on_time']} of {r['requests']} replies arrived before their deadline"
    if r["late"]:
        line += f"; {r['late']} came late and were dropped"
    if r["never"]:
        line += f"; {r['never']} never came"
    if r["error_replies"]:
        line += f"; {r['error_replies']} of those on time were error replies"
    if r.get("mismatched"):
        line += f"; {r['mismatched']} completed a request they did not answer (matched by arrival order)"
    if r["duplicates"]:
        line += f"; {r['duplicates']} duplicate replies were dropped"
    return line + "."


def _outbox_sentences(mode: str, c: dict[str, Any]) -> list[str]:
    label = {"dual_write": "dual write", "publish_then_save": "publish, then save"}.get(mode, mode)
    lines = []
    if c["writes"]:
        if c["lost"]:
            lines.append(f"{c['lost']} of {c['writes']} writes were lost between the save and the publish ({label}).")
        else:
            waited = c["mean_wait_ms"] is not None and mode != "publish_then_save"  # that one publishes first
            wait = f", {c['mean_wait_ms']:,.0f} ms after the save on average" if waited else ""
            lines.append(f"All {c['writes']} writes were published ({label}){wait}.")
        if c["twice"]:
            lines.append(f"{c['twice']} records were published more than once ({label}).")
    if c["orphaned"]:
        lines.append(f"{c['orphaned']} messages announced records that were never saved ({label}).")
    if c["crashed_before_save"]:
        lines.append(f"{c['crashed_before_save']} writes crashed before saving: nothing saved, nothing sent ({label}).")
    return lines


def _stream_sentences(s: dict[str, Any]) -> list[str]:
    lines = []
    for group, g in sorted(s["groups"].items()):
        by_class: dict[str, dict[str, int]] = next((v for k, v in g.items() if k.startswith("by_")), {})
        split = ", ".join(f"{name}: {c['out_of_order']} of {c['processed']}" for name, c in sorted(by_class.items()))
        split = f" ({split})" if len(by_class) > 1 else ""
        if g["out_of_order"]:
            lines.append(f"{group} processed {g['out_of_order']} events out of key order (of {g['processed']}){split}.")
        elif g["processed"]:
            lines.append(f"{group} processed all {g['processed']} events in key order{split}.")
        if g["out_of_order_after_retry"]:
            lines.append(
                f"{g['out_of_order_after_retry']} of {group}'s out-of-order events were retries: while one waited"
                " to be tried again, a later event of its key was processed."
            )
        if g["max_lag"]:
            lines.append(
                f"{group} fell furthest behind at {g['max_lag_at_s']:g} s: {g['max_lag']} events appended that it had"
                " not yet processed."
            )
        if g["parked"]:
            lines.append(f"{group}'s resequencer held back {g['parked']} events until their key's previous one.")
        if g["replayed"]:
            lines.append(f"{group} replayed {g['replayed']} events after a rewind.")
        if g.get("rebuilds"):
            lines.append(f"{group}'s read model was rebuilt from the log {g['rebuilds']} times.")
        if g.get("rows_differing"):
            lines.append(f"{group}'s read model ended with {g['rows_differing']} rows that differ from the log.")
        if g["skipped"]:
            lines.append(f"{group} skipped {g['skipped']} events that retention had trimmed before it read them.")
    if s["redelivered"]:
        lines.append(f"{s['redelivered']} events were handed out again after their worker died.")
    if s["reads"]:
        wait = f"; reads waited {s['mean_read_wait_ms']:,.0f} ms on average" if s["mean_read_wait_ms"] else ""
        lines.append(
            f"{s['stale_reads']} of {s['reads']} reads right after a command were stale (the read model did not"
            f" have its event yet){wait}."
        )
    return lines


def _saga_sentences(s: dict[str, Any]) -> list[str]:
    sagas = f"{s['sagas']} sagas" + (f" ({s['participants']} participants)" if s["participants"] != s["sagas"] else "")
    line = f"{sagas}: {s['completed']} completed, {s['compensated']} compensated, {s['stuck']} stuck"
    if s["failed"]:
        line += f", {s['failed']} left half-done"
    if s["unended"]:
        line += f", {s['unended']} never ended"
    lines = [line + "."]
    if s["stranded"]:
        lines.append(
            f"{s['stranded']} orders were stranded between participants: their message to the next one never arrived"
            " (dead-lettered, dropped or missed), so the steps already done stand with nobody to undo them."
        )
    if s["compensation_retries"]:
        lines.append(f"Compensations were retried {s['compensation_retries']} times before they succeeded or gave up.")
    if s["crashes"]:
        lines.append(f"The orchestrator crashed {s['crashes']} times and resumed its sagas from Redis.")
    if s["steps_repeated"]:
        lines.append(
            f"{s['steps_repeated']} steps ran twice: the orchestrator crashed after doing them but before saving"
            " that they were done, so it resumed at them again."
        )
    return lines


def _aggregate_sentence(a: dict[str, Any]) -> str:
    line = f"{a['completed']} of {a['keys']} keys had every event and were acted on once"
    if a["timed_out"]:
        line += f"; {a['timed_out']} timed out incomplete"
    if a["duplicates"]:
        line += f"; {a['duplicates']} duplicate events were ignored"
    if a["late"]:
        line += f"; {a['late']} arrived after their key was done and were ignored"
    return line + "."
