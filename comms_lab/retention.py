"""What the app keeps and for how long, applied by a clean-up that Celery beat runs every hour.

- Finished runs: each learner keeps their newest `LAB_MAX_STORED_RUNS_PER_LEARNER`; older ones are deleted with
  their event logs (a 5-minute run at 50 requests/s stores ~100k events, compressed). A run still going is never
  touched. Quiz answers graded from a run keep the numbers they were graded on, so nothing a learner earned goes.
- Sessions: expired ones are deleted (Django's own `clear_expired`).
- Anonymous learners: once nothing of theirs (a run, a quiz attempt, a review, a lesson visit) is newer than
  `ANONYMOUS_RETENTION_DAYS`, their browser session has long expired and nobody can reach their data again, so
  it is deleted. Accounts keep everything until their owner deletes them.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from importlib import import_module

from django.conf import settings
from django.db import models
from django.db.models import Count
from django.utils import timezone

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CleanUpReport:
    sessions: int
    runs_over_limit: int
    anonymous_runs: int
    anonymous_attempts: int
    anonymous_review_cards: int
    anonymous_lesson_progress: int

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def clean_up(now: datetime | None = None) -> CleanUpReport:
    """Apply every retention rule once; safe to run at any time and as often as wanted."""
    now = now or timezone.now()
    anonymous = _delete_abandoned_anonymous_learners(now - timedelta(days=settings.ANONYMOUS_RETENTION_DAYS))
    report = CleanUpReport(
        sessions=_delete_expired_sessions(),
        runs_over_limit=_delete_runs_over_limit(settings.LAB_MAX_STORED_RUNS_PER_LEARNER),
        **anonymous,
    )
    log.info("retention clean-up: %s", report.as_dict())
    return report


def _delete_expired_sessions() -> int:
    from django.contrib.sessions.models import Session

    before = Session.objects.count()
    import_module(settings.SESSION_ENGINE).SessionStore.clear_expired()
    return before - Session.objects.count()


def _finished_runs() -> models.QuerySet:
    from lab.models import Run

    return Run.objects.exclude(status__in=[Run.Status.QUEUED, Run.Status.RUNNING, Run.Status.CLOSING])


def _delete_runs_over_limit(limit: int) -> int:
    """Each learner's finished runs beyond their newest `limit`."""
    owners = (
        _finished_runs()
        .values("user_id", "anonymous_id")
        .annotate(stored=Count("id"))
        .filter(stored__gt=limit)
        .order_by()
    )
    doomed: list[str] = []
    for owner in owners:
        runs = _finished_runs().filter(user_id=owner["user_id"], anonymous_id=owner["anonymous_id"])
        doomed += [str(pk) for pk in runs.order_by("-created_at").values_list("pk", flat=True)[limit:]]
    return _delete_runs(doomed)


def _delete_runs(run_ids: list[str]) -> int:
    from lab.models import Run
    from lab.runstate import RunState

    deleted = Run.objects.filter(pk__in=run_ids).delete()[0]
    for run_id in run_ids:
        try:
            RunState(run_id).forget_saved()  # a recent run's log may still be in Redis until its TTL
        except Exception as exc:  # Redis down: the keys expire by themselves
            log.warning("keys of deleted run %s left to expire: %s", run_id, exc)
    return deleted


def _delete_abandoned_anonymous_learners(cutoff: datetime) -> dict[str, int]:
    from lab.models import Run
    from lessons.models import LessonProgress
    from quizzes.models import Attempt, ReviewCard

    activity: dict[type[models.Model], str] = {
        Run: "created_at",
        Attempt: "updated_at",
        ReviewCard: "last_review",
        LessonProgress: "touched_at",
    }
    recent: set[str] = set()
    for model, when in activity.items():
        rows = model.objects.filter(user__isnull=True, **{f"{when}__gte": cutoff})  # type: ignore[attr-defined]
        recent.update(rows.values_list("anonymous_id", flat=True).distinct())

    def abandoned(rows: models.QuerySet) -> models.QuerySet:
        return rows.filter(user__isnull=True).exclude(anonymous_id="").exclude(anonymous_id__in=recent)

    runs = abandoned(_finished_runs()).values_list("pk", flat=True)
    return {
        "anonymous_runs": _delete_runs([str(pk) for pk in runs]),
        "anonymous_attempts": abandoned(Attempt.objects.all()).delete()[1].get("quizzes.Attempt", 0),
        "anonymous_review_cards": abandoned(ReviewCard.objects.all()).delete()[0],
        "anonymous_lesson_progress": abandoned(LessonProgress.objects.all()).delete()[0],
    }
