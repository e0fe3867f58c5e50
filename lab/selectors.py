"""Reads for the lab: who may see or steer a run, its events, and its JSON form."""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import QuerySet
from django.urls import reverse

from comms_lab import learner_state
from comms_lab.http import BadRequest
from comms_lab.learners import Learner
from lab.events import RunEventLog
from lab.model.experiments import EXPERIMENTS
from lab.model.metrics import summarize
from lab.model.projections import key_history, state_at
from lab.models import Run


def is_owner(run: Run, learner: Learner | None) -> bool:
    if learner is None:
        return False
    if run.user_id is not None:
        return run.user_id == learner.user_id
    return bool(learner.anonymous_id) and run.anonymous_id == learner.anonymous_id


def run_access(run_id: str, learner: Learner | None, share_token: str | None = None) -> tuple[Run, bool] | None:
    """The run and whether this learner may control it; None when they may not even see it."""
    try:
        run = Run.objects.get(pk=uuid.UUID(str(run_id)))
    except (ValueError, Run.DoesNotExist):
        return None
    if is_owner(run, learner):
        return run, True
    if share_token and share_token == run.share_token:
        return run, False
    return None


def events_after(run: Run, after: int, *, limit: int | None = None) -> list[dict[str, Any]]:
    """From the live Redis log while it lasts, from the database copy once the run is saved."""
    events = RunEventLog(str(run.id)).after(after, limit=limit)
    if events or run.is_active:
        return events
    run.refresh_from_db(fields=["event_log"])
    stored = [e for e in run.stored_events() if e["seq"] > after]
    return stored[:limit] if limit else stored


def state_at_version(run: Run, *, link: str, key: str, version: str) -> dict[str, Any]:
    """ "What was this key's state at version k?", answered from the run's event log (live or saved): the row a
    projection holds once it has applied the key's first k events, and those events. 400s name the field."""
    known = EXPERIMENTS.get(run.experiment)
    document = run.topology or (known.topology.document if known else {})
    streams = sorted(str(x.get("id")) for x in document.get("links") or [] if x.get("kind") == "stream")
    if link not in streams:
        raise BadRequest({"link": f"must name a stream of this run; its streams are {', '.join(streams) or 'none'}"})
    events = events_after(run, 0)
    history = key_history(events, link=link, key=key)
    if not history:
        raise BadRequest({"key": f"has no events in {link} (yet); give a key its events were appended under"})
    text = version.strip()
    number = int(text) if text.isascii() and text.isdigit() and len(text) <= 9 else 0
    if not 1 <= number <= len(history):
        raise BadRequest({"version": f"must be a whole number from 1 to {len(history)} (the versions of {key})"})
    fields = ("key_seq", "event", "body", "offset", "partition", "t")
    return {
        "link": link,
        "key": key,
        "version": number,
        "versions": len(history),
        "state": state_at(events, link=link, key=key, version=number),
        "events": [{f: e.get(f) for f in fields} for e in history[:number]],
    }


def dead_letters(run: Run) -> list[dict[str, Any]]:
    """The run's dead-letter queue as its log tells it (live or saved): each message still there, oldest first,
    with its queue, deliveries made and last error."""
    held: dict[str, dict[str, Any]] = {}
    for event in events_after(run, 0):
        if event["type"] == "dlq.added":
            held[event["message_id"]] = {
                "message_id": event["message_id"],
                "queue": event.get("queue", ""),
                "correlation_id": event.get("correlation_id"),
                "attempts": event.get("attempt"),
                "last_error": event.get("last_error") or event.get("reason"),
                "reason": event.get("reason"),
                "key": event.get("key", ""),
                "body": event.get("body", {}),
                "t": event["t"],
            }
        elif event["type"] == "dlq.redriven":
            held.pop(event["message_id"], None)
    return list(held.values())


def ws_path(run_id: str) -> str:
    return f"/ws/lab/runs/{run_id}/"


def run_as_json(run: Run, *, can_control: bool) -> dict[str, Any]:
    summary = run.summary
    if summary is None and run.status == Run.Status.RUNNING:
        events = RunEventLog(str(run.id)).after(0)
        group_by = (run.topology or {}).get("workload", {}).get("group_by")
        summary = summarize(events, duration_s=max(events[-1]["t"], 0.001) if events else 0.001, group_by=group_by)
    run_id = str(run.id)
    return {
        "id": run_id,
        "experiment": run.experiment,
        "preset": run.preset,
        "status": run.status,
        "config": run.config,
        "summary": summary,
        "event_count": run.event_count,
        "created_at": run.created_at.isoformat() if run.created_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "url": reverse("lab:run", args=[run_id]),
        "ws_url": ws_path(run_id),
        "share_url": f"{reverse('lab:run', args=[run_id])}?share={run.share_token}" if can_control else None,
        "can_control": can_control,
    }


def runs_of(learner: Learner, *, limit: int = 20) -> list[Run]:
    return list(_runs_of(learner)[:limit])


def recent_runs(learner: Learner, *, limit: int = 3, summaries: bool = False) -> list[Run]:
    """The learner's newest runs as the home page (3) and the lab's index (20, with their summaries) list them (no
    config or event log), read once and reused until one of their runs changes. Shared between requests: do not
    change them."""
    fields: tuple[str, ...] = ("id", "experiment", "preset", "status", "created_at", "user_id", "anonymous_id")
    fields += ("summary",) if summaries else ()
    return learner_state.remembered(
        learner, f"recent-runs:{limit}:{summaries}", lambda: list(_runs_of(learner).only(*fields)[:limit])
    )


def _runs_of(learner: Learner) -> QuerySet[Run]:
    if learner.user_id:
        return Run.objects.filter(user_id=learner.user_id)
    return Run.objects.filter(anonymous_id=learner.anonymous_id, user__isnull=True)
