"""What a run proved: invariants checked against its event log, and findings in plain words with their numbers."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from lab.model import outcomes
from lab.model.projections import drifted_rows
from lab.model.sagas import SAGA_CONSISTENT, saga_violations

EXPLANATIONS = {
    "saga_consistent": SAGA_CONSISTENT,
    "exactly_once": "Every queued message was processed successfully exactly once.",
    "per_key_order": "Every consumer group processed the events of each key in the order they were appended.",
    "projection_converges": "Once caught up, the read model holds for every key exactly what its events in the log"
    " add up to.",
    "no_stale_reads": "Every query right after a command saw that command's event in the read model.",
    "no_dead_letters": "No message ended in the dead-letter queue (a re-driven one is back on its queue).",
    "no_missed_messages": "Every subscription got a copy of every message that matched it, also while its subscriber"
    " was away.",
    "breaker_blocks_calls": "No call reached a service while the circuit breaker guarding it was open.",
    "every_request_accounted": "Every request that arrived finished, successfully or not; none was left hanging.",
    "no_reply_mismatched": "Every reply completed its own request (same request id and correlation id), at most"
    " once; a reply after its deadline was dropped, never matched to another request.",
    "no_lost_writes": "Every committed write produced exactly one message: none saved without its message, none"
    " published twice, none published without its record.",
    "effect_once": "Every accepted order (its request succeeded, or its record was saved) had the effect exactly"
    " once: none lost, none repeated, none for an order that does not exist.",
}


def check_invariants(
    invariants: Iterable[str | dict[str, Any]],
    events: list[dict[str, Any]],
    summary: dict[str, Any],
    *,
    group_by: str | None = None,
) -> list[dict[str, Any]]:
    """`{name, holds, violations, explanation}` for each invariant the experiment declares (a kind, or its spec).

    An `effect_once` invariant also leaves its counts in `summary["effects"][<event>]` (split by `group_by` when
    given), the live counters' final values that findings and lab-graded questions read."""
    results = []
    for item in invariants:
        spec = {"kind": item} if isinstance(item, str) else item
        kind = spec["kind"]
        if kind == "effect_once":
            counts = effect_counts(events, spec["event"], group_by=group_by)
            summary.setdefault("effects", {})[spec["event"]] = counts
            violations, detail = _effect_violations(spec["event"], counts)
        else:
            violations, detail = _violations(kind, events, summary)
        results.append(
            {
                "name": kind,
                "holds": violations == 0,
                "violations": violations,
                "explanation": EXPLANATIONS[kind] + (f" {detail}" if detail else ""),
            }
        )
    return results


def _violations(kind: str, events: list[dict[str, Any]], summary: dict[str, Any]) -> tuple[int, str]:
    if kind == "saga_consistent":
        return saga_violations(events)
    if kind == "per_key_order":
        return _out_of_key_order(events)
    if kind == "projection_converges":
        return _projection_drift(events)
    if kind == "no_stale_reads":
        reads = [e for e in events if e["type"] == "projection.read"]
        stale = sum(1 for e in reads if e["stale"])
        return stale, f"{stale} of {len(reads)} reads came before the projection had the event." if stale else ""
    if kind == "exactly_once":
        published = {e["message_id"] for e in events if e["type"] == "message.published"}
        dead = {e["message_id"] for e in events if e["type"] == "dlq.added"}
        done = Counter(e["message_id"] for e in events if e["type"] == "message.processed" and e.get("outcome") == "ok")
        missing = len(published - dead - set(done))
        extra = sum(n - 1 for n in done.values() if n > 1)
        lost = sum(1 for e in events if e["type"] == "message.processed" and e.get("outcome") == "lost")
        detail = f"{missing} never processed, {extra} processed more than once, {lost} lost after acknowledgement."
        return missing + extra, detail if missing + extra else ""
    if kind == "no_dead_letters":
        left = int(summary.get("dlq_count", 0)) - int(summary.get("dlq_redriven", 0))
        return left, f"{left} left there at the end (re-driven ones do not count)." if left else ""
    if kind == "no_missed_messages":
        return _missed(events)
    if kind == "breaker_blocks_calls":
        return int(summary.get("calls_while_open", 0)), ""
    if kind == "no_reply_mismatched":
        return _reply_mismatches(events)
    if kind == "no_lost_writes":
        return _lost_writes(events)
    return int(summary.get("unfinished", 0)), ""


def _missed(events: list[dict[str, Any]]) -> tuple[int, str]:
    by_subscription = Counter(e["subscription"] for e in events if e["type"] == "message.missed")
    detail = "; ".join(f"{sub} missed {n}" for sub, n in sorted(by_subscription.items()))
    return sum(by_subscription.values()), f"Not durable, away: {detail}." if detail else ""


def _reply_mismatches(events: list[dict[str, Any]]) -> tuple[int, str]:
    """Replies matched to a request that is not the one they answer, or completing a request twice."""
    sent = {e["request_id"]: e["correlation_id"] for e in events if e["type"] == "request.sent"}
    received = [e for e in events if e["type"] == "reply.received"]
    wrong = sum(
        1
        for e in received
        if e["in_reply_to"] != e["request_id"] or sent.get(e["request_id"]) != e.get("reply_correlation_id")
    )
    twice = sum(n - 1 for n in Counter(e["request_id"] for e in received).values() if n > 1)
    late = sum(1 for e in events if e["type"] == "reply.late")
    detail = f"{wrong} replies matched to another request, {twice} completed one twice ({late} late ones dropped)."
    return wrong + twice, detail if wrong + twice else ""


def _lost_writes(events: list[dict[str, Any]]) -> tuple[int, str]:
    committed = {e["record"] for e in events if e["type"] == "db.committed"}
    published = Counter(e["record"] for e in events if e["type"] == "record.published")
    lost = len(committed - set(published))
    twice = sum(n - 1 for n in published.values() if n > 1)
    orphans = len(set(published) - committed)
    detail = (
        f"{lost} of {len(committed)} committed writes never published, {twice} published more than once,"
        f" {orphans} published without being saved."
    )
    return lost + twice + orphans, detail if lost + twice + orphans else ""


def effect_counts(events: list[dict[str, Any]], effect: str, *, group_by: str | None = None) -> dict[str, Any]:
    """Per order (correlation id), how often the named effect happened, against the orders that were accepted:
    `expected`, `once`, `repeated` (orders with it twice or more), `extra` (the repeats), `lost` (accepted, never
    had it) and `orphaned` (had it, never accepted); with `group_by`, the same per request class (`by_<field>`)."""
    expected = {e["correlation_id"] for e in events if e["type"] == "request.finished" and e.get("outcome") == "ok"}
    expected |= {e["correlation_id"] for e in events if e["type"] == "db.committed"}
    done = Counter(e["correlation_id"] for e in events if e["type"] == "service.event" and e.get("name") == effect)
    counts = _effect_tally(expected, done)
    if group_by:
        classes = {e["correlation_id"]: e.get(group_by) for e in events if e["type"] == "request.created"}
        split: dict[str, Any] = {}
        for name in dict.fromkeys(c for c in classes.values() if c is not None):
            mine = {c for c, owner in classes.items() if owner == name}
            split[str(name)] = _effect_tally(expected & mine, Counter({c: n for c, n in done.items() if c in mine}))
        counts[f"by_{group_by}"] = split
    return counts


EFFECT_COUNTS = ("expected", "once", "repeated", "extra", "lost", "orphaned")


def effect_metrics(invariants: Iterable[dict[str, Any]], *, group_by: str | None, classes: Iterable[str]) -> list[str]:
    """The summary paths an experiment's `effect_once` invariants fill in: `effects.<event>.<count>`, and
    `effects.<event>.by_<group_by>.<class>.<count>` per request class."""
    names = [f"{count}" for count in EFFECT_COUNTS]
    if group_by:
        names += [f"by_{group_by}.{cls}.{count}" for cls in classes for count in EFFECT_COUNTS]
    return [f"effects.{i['event']}.{name}" for i in invariants if i["kind"] == "effect_once" for name in names]


def _effect_tally(expected: set[str], done: Counter[str]) -> dict[str, Any]:
    return {
        "expected": len(expected),
        "once": sum(1 for c in expected if done[c] == 1),
        "repeated": sum(1 for c in expected if done[c] > 1),
        "extra": sum(done[c] - 1 for c in expected if done[c] > 1),
        "lost": sum(1 for c in expected if not done[c]),
        "orphaned": sum(1 for c in done if c not in expected),
    }


def _effect_violations(effect: str, c: dict[str, Any]) -> tuple[int, str]:
    bad = c["lost"] + c["repeated"] + c["orphaned"]
    detail = (
        f"'{effect}' exactly once for {c['once']} of {c['expected']} accepted orders; {c['lost']} never,"
        f" {c['repeated']} more than once ({c['extra']} extra), {c['orphaned']} for orders never accepted."
    )
    return bad, detail if bad else ""


def _out_of_key_order(events: list[dict[str, Any]]) -> tuple[int, str]:
    """Entries a group processed after it had already processed a later entry of the same key (the engine decides
    atomically at commit time, so the count does not depend on the order the log received the events)."""
    late = Counter(e["group"] for e in events if e["type"] == "stream.processed" and e.get("out_of_order"))
    total = sum(late.values())
    detail = ", ".join(f"{group}: {count}" for group, count in sorted(late.items()))
    return total, f"Processed after a later event of the same key: {detail}." if total else ""


def _projection_drift(events: list[dict[str, Any]]) -> tuple[int, str]:
    """Read-model rows (per projecting group and key) that differ from the fold of that key's logged events."""
    drift = drifted_rows(events)
    wrong, rows = sum(n for n, _ in drift.values()), sum(total for _, total in drift.values())
    groups = ", ".join(f"{group}: {n}" for group, (n, _) in drift.items() if n)
    return wrong, f"{wrong} of {rows} read-model rows differ from their events in the log ({groups})." if wrong else ""


def findings(summary: dict[str, Any], *, group_by: str | None, events: list[dict[str, Any]] | None = None) -> list[str]:
    """The run's headline results, one sentence each, with the numbers behind them; given the run's `events`, also
    what each construct did (replies on time, writes lost, events out of key order, sagas compensated...)."""
    lines = []
    groups = summary.get(f"by_{group_by}") if group_by else None
    for name, figures in (groups or {"all": summary}).items():
        label = "all requests" if name == "all" else f"{name} requests"
        if not figures.get("requests"):
            continue
        lines.append(
            f"{label}: {figures['success_rate_pct']:g}% succeeded ({figures['succeeded']} of {figures['requests']}),"
            f" median {_ms(figures['latency_ms']['p50'])}, p99 {_ms(figures['latency_ms']['p99'])}."
        )
    fidelity = summary.get("fidelity") or {}
    if fidelity and not fidelity.get("ok", True):
        lines.append(
            f"This run's timings are not trustworthy: simulated waits ended {fidelity['lag_pct']:g}% late on average"
            " (the machine was too busy), so it is not graded."
        )
    if summary.get("unfinished"):
        lines.append(f"{summary['unfinished']} requests never finished.")
    by_queue = summary.get("max_queue_depth_by_queue") or {}
    if by_queue and max(by_queue.values()) > 0:
        queue, depth = max(by_queue.items(), key=lambda item: item[1])
        lines.append(
            f"Largest backlog: {depth} messages waiting in {queue}; {summary['final_queue_depth']} left at the end."
        )
    if summary.get("dlq_count"):
        lines.append(f"{summary['dlq_count']} messages were dead-lettered after their retries ran out.")
    if summary.get("retries_per_request"):
        lines.append(f"Retries added {summary['retries_per_request']:g} attempts per request on average.")
    for name, figures in (groups or {"all": summary}).items():
        if (figures.get("attempts_per_request") or 0) >= 1.1:
            label = "Requests" if name == "all" else f"{name.capitalize()} requests"
            lines.append(
                f"{label} took {figures['attempts_per_request']:g} attempts each on average: retries multiplied"
                f" their load by {figures['attempts_per_request']:g}."
            )
    if waves := summary.get("retry_waves"):
        lines.append(
            f"Client retries came in waves: up to {waves['peak']} in one {waves['bucket_ms']} ms slot,"
            f" {waves['peak_to_mean']:g} times their average over the {waves['lasted_s']:g} s they lasted."
        )
    full = {pool: pct for pool, pct in (summary.get("pool_full_pct") or {}).items() if pct}
    if full:
        lines.append(
            "Thread pools were full (every thread taken, so the next caller waited or was turned away) for "
            + ", ".join(f"{pct:g}% of the run in {pool}" for pool, pct in sorted(full.items(), key=lambda i: -i[1]))
            + "."
        )
    if summary.get("breaker_opened"):
        lines.append(
            f"The circuit breaker opened {summary['breaker_opened']} times; {summary['calls_while_open']} calls got"
            " through while it was open."
        )
    for effect, counts in (summary.get("effects") or {}).items():
        split = counts.get(f"by_{group_by}") if group_by else None
        for name, figures in (split or {"all": counts}).items():
            if figures["expected"] or figures["orphaned"]:
                lines.append(_effect_sentence(effect, figures, "" if name == "all" else f" ({name})"))
    if summary.get("duplicates_processed"):
        lines.append(f"{summary['duplicates_processed']} duplicate messages were processed a second time.")
    if summary.get("missed_messages"):
        lines.append(
            f"{summary['missed_messages']} matching messages were never delivered: published while a non-durable"
            " subscription's subscriber was away."
        )
    if events:
        lines += outcomes.sentences(outcomes.figures(events, group_by=group_by))
    return lines


def _effect_sentence(effect: str, c: dict[str, Any], label: str) -> str:
    line = f"'{effect}' happened exactly once for {c['once']} of {c['expected']} accepted orders{label}"
    if c["lost"]:
        line += f"; {c['lost']} never had it"
    if c["repeated"]:
        line += f"; {c['repeated']} had it more than once"
    if c["orphaned"]:
        line += f"; {c['orphaned']} for orders never accepted"
    return line + "."


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f} ms"
