"""Helpers for tests that start real lab runs on the real worker and wait for what they produce."""

from __future__ import annotations

import time
import uuid
from typing import Any

from django.contrib.sessions.backends.db import SessionStore

from comms_lab.learners import SESSION_KEY, Learner
from lab import services
from lab.events import RunEventLog
from lab.model.events import problems
from lab.models import Run


def new_learner() -> Learner:
    return Learner(user_id=None, anonymous_id=uuid.uuid4().hex)


def session_cookie_for(learner: Learner) -> str:
    """A saved session belonging to `learner`, as a Cookie header value."""
    session = SessionStore()
    session[SESSION_KEY] = learner.anonymous_id
    session.create()
    return f"sessionid={session.session_key}"


def start(
    learner: Learner | None = None, *, experiment: str = "checkout", preset: str | None = None, **config: Any
) -> Run:
    return services.start_run(learner=learner or new_learner(), experiment=experiment, preset=preset, config=config)


def wait_until_running(run: Run, *, timeout: float = 30) -> float:
    """Wait for the driver to start the run; returns the wall-clock start time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events = RunEventLog(str(run.id)).after(0, limit=1)
        if events and events[0]["type"] == "run.started":
            return time.time()
        time.sleep(0.05)
    raise AssertionError(f"run {run.id} did not start within {timeout} s")


def wait_finished(run: Run, *, timeout: float = 180) -> Run:
    """Wait for the run to be saved; every event it logged must keep the contract in lab/model/events.py."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if not run.is_active:
            broken = sorted({p for event in run.stored_events() for p in problems(event)})
            assert not broken, f"run {run.id}'s events break their contract: {broken}"
            return run
        time.sleep(0.25)
    raise AssertionError(f"run {run.id} still {run.status} after {timeout} s")


def stop_and_wait(run: Run) -> Run:
    """Press Stop on a run the test needs no longer and wait until it is saved: quicker than playing it out, and it
    leaves no run going into the next test."""
    run.refresh_from_db()
    services.request_stop(run)
    return wait_finished(run)


def summary_of(run: Run) -> dict[str, Any]:
    """A finished run's summary (the field is None only while the run is active)."""
    assert run.summary is not None, f"run {run.id} ({run.status}) has no summary"
    return run.summary


def toggle(run: Run, **values: Any) -> None:
    services.apply_toggles(run, {k.replace("__", "."): v for k, v in values.items()}, by="learner")


def of_type(events: list[dict[str, Any]], kind: str, **match: Any) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == kind and all(e.get(k) == v for k, v in match.items())]


def wait_until_lab_idle(*, timeout: float = 120) -> None:
    """Wait for every run other tests started to end, for tests that measure the lab's shared capacity."""
    from comms_lab.redis_client import redis_client, rkey

    deadline = time.monotonic() + timeout
    while redis_client().zcard(rkey("lab", "active", "all")) and time.monotonic() < deadline:
        time.sleep(0.25)
