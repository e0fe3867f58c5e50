"""Writes to lesson progress. Other apps call `mark_lesson_completed`; the rest serve lessons' own views and
the log-in signal."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from comms_lab.learners import Learner
from lessons.catalog import get_catalog
from lessons.models import LessonProgress, Reason, Status


def mark_lesson_opened(*, learner: Learner, slug: str) -> None:
    """The learner opened the lesson: it is in progress unless it is already further along."""
    _require_lesson(slug)
    now = timezone.now()
    progress = _progress_row(learner=learner, slug=slug)
    progress.touched_at = now
    progress.save(update_fields=["touched_at"])


def mark_lesson_completed(*, learner: Learner, slug: str, reason: str) -> None:
    """Count the lesson as completed, for `reason` "read" (read to the end) or "quiz" (its quiz was passed).

    The quizzes app calls this with reason="quiz" when a learner passes a lesson's quiz. Completing again never
    downgrades: a lesson completed by its quiz stays so when the learner later reads to the end.
    Raises ValueError for an unknown lesson or reason.
    """
    if reason not in Reason.values:
        raise ValueError(f"unknown reason {reason!r}; one of {', '.join(Reason.values)}")
    _require_lesson(slug)
    now = timezone.now()
    with transaction.atomic():
        progress = _progress_row(learner=learner, slug=slug)
        if progress.status == Status.COMPLETED and (progress.reason == Reason.QUIZ or reason == Reason.READ):
            progress.touched_at = now
            progress.save(update_fields=["touched_at"])
            return
        progress.status = Status.COMPLETED
        progress.reason = reason
        progress.completed_at = progress.completed_at or now
        progress.touched_at = now
        progress.save(update_fields=["status", "reason", "completed_at", "touched_at"])


@transaction.atomic
def merge_anonymous_progress(*, anonymous_id: str, user_id: int) -> None:
    """Move an anonymous learner's progress onto their account at log-in.

    Where both have a row for the same lesson, the more advanced one wins and keeps the earliest start, so
    nothing is lost and no lesson appears twice.
    """
    if not anonymous_id:
        return
    mine = {p.lesson: p for p in LessonProgress.objects.select_for_update().filter(user_id=user_id)}
    for anon in LessonProgress.objects.select_for_update().filter(user__isnull=True, anonymous_id=anonymous_id):
        kept = mine.get(anon.lesson)
        if kept is None:
            anon.user_id = user_id
            anon.save(update_fields=["user"])
            continue
        if anon.rank > kept.rank:
            kept.status, kept.reason, kept.completed_at = anon.status, anon.reason, anon.completed_at
        kept.started_at = min(kept.started_at, anon.started_at)
        kept.touched_at = max(kept.touched_at, anon.touched_at)
        kept.save()
        anon.delete()


def _require_lesson(slug: str) -> None:
    if get_catalog().lesson(slug) is None:
        raise ValueError(f"unknown lesson {slug!r}")


def _progress_row(*, learner: Learner, slug: str) -> LessonProgress:
    """The learner's row for a lesson, created as in progress (get_or_create survives a race on the unique key)."""
    owner = {"user_id": learner.user_id} if learner.user_id else {"user": None, "anonymous_id": learner.anonymous_id}
    return LessonProgress.objects.get_or_create(lesson=slug, **owner)[0]
