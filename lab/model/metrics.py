"""Summary metrics computed from a run's event log, so every number shown is derived from what happened."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from lab.model import outcomes


def percentile(values: Sequence[float], pct: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default), or None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * pct / 100.0
    low, high = math.floor(position), math.ceil(position)
    if low == high:
        return float(ordered[low])
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def latency_summary(latencies: Sequence[float]) -> dict[str, float | None]:
    return {f"p{p}": _round(percentile(latencies, p)) for p in (50, 95, 99)}


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def _outcome_summary(finished: list[dict[str, Any]], attempts: int, duration_s: float) -> dict[str, Any]:
    succeeded = sum(1 for e in finished if e["outcome"] == "ok")
    total = len(finished)
    return {
        "requests": total,
        "attempts_per_request": _round(attempts / total if total else None, 2),
        "succeeded": succeeded,
        "failed": total - succeeded,
        "success_rate_pct": _round(100.0 * succeeded / total if total else None),
        "latency_ms": latency_summary([e["latency_ms"] for e in finished]),
        "throughput_rps": _round(attempts / duration_s if duration_s else 0.0, 2),
        "goodput_rps": _round(succeeded / duration_s if duration_s else 0.0, 2),
    }


# Client retries are counted per bucket of this width: small enough that retries sent in step share a bucket.
WAVE_BUCKET_MS = 50


def retry_waves(events: Iterable[dict[str, Any]], *, bucket_ms: int = WAVE_BUCKET_MS) -> dict[str, Any] | None:
    """How bunched the clients' retries were: the most retries in one bucket against their mean per bucket over the
    time retries lasted (first to last). Retries sent in step (no jitter) give a high peak over a low mean."""
    buckets: dict[int, int] = defaultdict(int)
    for event in events:
        if event.get("type") == "request.attempt" and int(event.get("attempt", 1)) > 1:
            buckets[math.floor(float(event.get("t", 0.0)) * 1000 / bucket_ms)] += 1
    if not buckets:
        return None
    retries = sum(buckets.values())
    mean = retries / (max(buckets) - min(buckets) + 1)
    peak = max(buckets.values())
    return {
        "bucket_ms": bucket_ms,
        "retries": retries,
        "peak": peak,
        "mean": round(mean, 2),
        "peak_to_mean": round(peak / mean, 1),
        "lasted_s": round((max(buckets) - min(buckets) + 1) * bucket_ms / 1000, 2),
    }


def summarize(events: Iterable[dict[str, Any]], *, duration_s: float, group_by: str | None = None) -> dict[str, Any]:
    """Fold a run's events (in seq order) into the summary the API, the page and lab-graded quizzes use.

    `group_by` names the event field that tells request classes apart (the checkout's "mode", the cascade's
    "path"); their figures appear under `by_<group_by>`. Requests created but never finished count as
    `unfinished`, never as left out. What each construct did (`replies`, `outbox`, `streams`, `sagas`,
    `aggregates`: lab/model/outcomes.py) is added under its name when the run used it.
    """
    events = list(events)
    finished: list[dict[str, Any]] = []
    created = lost = 0
    attempts_by_group: dict[str, int] = defaultdict(int)
    retries = dlq = duplicates = breaker_opened = calls_while_open = missed = 0
    max_depth = final_depth = 0
    max_depth_by_queue: dict[str, int] = defaultdict(int)
    breaker_state: dict[str, str] = {}
    breaker_changes: list[dict[str, Any]] = []
    pools_full: tuple[dict[str, float], float] | None = None  # the last sample's seconds full per pool, and its time
    for event in events:
        kind = event.get("type")
        if kind == "request.finished":
            finished.append(event)
        elif kind == "request.created":
            created += 1
        elif kind == "request.lost":
            lost += 1
        elif kind == "request.attempt":
            group = event.get(group_by) if group_by else event.get("mode") or event.get("path")
            attempts_by_group[group or ""] += 1
            attempts_by_group["*"] += 1
        elif kind == "retry.scheduled":
            retries += 1
        elif kind == "dlq.added":
            dlq += 1
        elif kind == "message.processed" and event.get("duplicate"):
            duplicates += 1
        elif kind == "message.missed":
            missed += 1
        elif kind == "queue.depth":
            depths = event.get("depths", {})
            for queue, depth in depths.items():
                max_depth_by_queue[queue] = max(max_depth_by_queue[queue], depth)
            final_depth = sum(depths.values())
            max_depth = max(max_depth, max(depths.values(), default=0))
        elif kind == "pool.usage" and "full_s" in event:  # runs stored before pools kept their full time lack it
            pools_full = event["full_s"], float(event.get("t", 0.0))
        elif kind == "breaker.state":
            breaker_state[event["target"]] = event["to"]
            breaker_changes.append({k: event.get(k) for k in ("t", "target", "from", "to", "reason")})
            breaker_opened += event["to"] == "OPEN"
        elif kind == "call.started" and breaker_state.get(event.get("to", "")) == "OPEN":
            calls_while_open += 1
    summary = _outcome_summary(finished, attempts_by_group["*"] or len(finished), duration_s)
    summary.update(
        retries_per_request=_round(retries / len(finished) if finished else 0.0, 3),
        dlq_count=dlq,
        max_queue_depth=max_depth,
        max_queue_depth_by_queue=dict(max_depth_by_queue),
        final_queue_depth=final_depth,
        breaker_opened=breaker_opened,
        breaker_changes=breaker_changes,
        calls_while_open=calls_while_open,
        duplicates_processed=duplicates,
        missed_messages=missed,
        unfinished=max(0, created - len(finished)),
        lost=lost,
    )
    if pools_full and pools_full[1] > 0:
        full_s, until = pools_full
        summary["pool_full_pct"] = {pool: _round(100.0 * seconds / until) for pool, seconds in full_s.items()}
    waves = retry_waves(events)
    if waves:
        summary["retry_waves"] = waves
    summary.update(outcomes.figures(events, group_by=group_by))
    messages = message_summary(events, duration_s=duration_s)
    if messages:
        summary["messages"] = messages
    redriven = sum(1 for e in events if e.get("type") == "dlq.redriven")  # a queue's, or a stream group's entries
    if messages or redriven:
        summary["dlq_redriven"] = redriven
    for key in (group_by,) if group_by else ("mode", "path"):
        label = f"by_{key}"
        groups = sorted({e[key] for e in finished if e.get(key)})
        if groups:
            summary[label] = {
                g: _outcome_summary(
                    [e for e in finished if e.get(key) == g],
                    attempts_by_group[g] or sum(1 for e in finished if e.get(key) == g),
                    duration_s,
                )
                for g in groups
            }
    return summary


# The figures message_summary gives each queue, as a lab question names them (`messages.<queue>.<figure>`), besides
# `by_consumer.<n>`.
MESSAGE_FIGURES = (
    "published",
    "processed",
    "processed_per_s",
    "dead_lettered",
    "redriven",
    "wait_ms.p50",
    "wait_ms.p95",
    "wait_ms.p99",
    "wait_ms.max",
)


def message_summary(events: Iterable[dict[str, Any]], *, duration_s: float) -> dict[str, dict[str, Any]]:
    """Per queue: messages published and processed (each counted once), how many were processed per second
    while the load lasted, how long each waited from publish to the start of its first delivery (prefetched
    time included), which consumer processed each, and the dead letters and re-drives."""
    published: dict[str, dict[str, float]] = defaultdict(dict)
    started: dict[str, dict[str, float]] = defaultdict(dict)
    done: dict[str, dict[str, tuple[float, Any]]] = defaultdict(dict)
    dead: dict[str, set[str]] = defaultdict(set)
    redriven: dict[str, int] = defaultdict(int)
    for event in events:
        kind, queue, message = event.get("type"), event.get("queue"), event.get("message_id")
        if not queue or not message:
            continue
        if kind == "message.published":
            published[queue].setdefault(message, event["t"])
        elif kind == "message.consumed":
            started[queue].setdefault(message, event["t"])
        elif kind == "message.processed" and event.get("outcome") == "ok":
            done[queue].setdefault(message, (event["t"], event.get("consumer")))
        elif kind == "dlq.added":
            dead[queue].add(message)
        elif kind == "dlq.redriven":
            redriven[queue] += 1
    found = {}
    for queue, sent in published.items():
        waits = [1000 * (started[queue][m] - t) for m, t in sent.items() if m in started[queue]]
        by_consumer: dict[str, int] = defaultdict(int)
        for _, consumer in done[queue].values():
            by_consumer[str(consumer or 1)] += 1
        in_load = sum(1 for t, _ in done[queue].values() if t <= duration_s)
        found[queue] = {
            "published": len(sent),
            "processed": len(done[queue]),
            "processed_per_s": _round(in_load / duration_s if duration_s else 0.0, 2),
            "wait_ms": {**latency_summary(waits), "max": _round(max(waits, default=0.0))},
            "by_consumer": dict(sorted(by_consumer.items(), key=lambda item: int(item[0]))),
            "dead_lettered": len(dead[queue]),
            "redriven": redriven[queue],
        }
    return found
