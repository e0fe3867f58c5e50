"""Writes to lesson progress. Other apps call `mark_lesson_completed`; the rest serve lessons' own views and
the log-in signal."""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.core import signing
from django.db import transaction
from django.utils import timezone

from comms_lab.learners import Learner
from lessons.catalog import Lesson, get_catalog
from lessons.models import LessonProgress, Reason, Status

# Reaching the end of a lesson counts as reading it once the learner has spent this share of its estimated
# reading time on the page (over all visits), and never less than MIN_READ_SECONDS.
READ_SHARE = 0.4
MIN_READ_SECONDS = 20
# Reading this long is what first makes a visitor worth a session and a progress row (lesson.js reports then).
WORTH_KEEPING_S = 15
# A page's visit token stops counting after this long: a tab left open overnight is not a day of reading.
MAX_VISIT_SECONDS = 3 * 3600
_SALT = "lessons.visit"


def required_read_seconds(lesson: Lesson) -> int:
    """Seconds on the page after which reaching the end completes the lesson."""
    return max(MIN_READ_SECONDS, round(READ_SHARE * lesson.reading_minutes * 60))


def visit_token(*, slug: str, read_seconds: int, now: float | None = None) -> str:
    """A signed note of when the page was served and how long the learner had already read: the server's own
    clock bounds what a page may later claim, so a learner cannot complete a lesson 2 s after opening it."""
    return signing.dumps({"s": slug, "t": int(time.time() if now is None else now), "b": read_seconds}, salt=_SALT)


@dataclass(frozen=True)
class Visit:
    """What a visit token vouches for: the lesson, and the seconds read up to now."""

    slug: str
    seconds: int


def read_visit(token: str, *, slug: str, claimed: int | None = None, now: float | None = None) -> Visit | None:
    """The reading time a page may report: the seconds before this visit plus this visit's time, which is the
    page's own count of visible seconds (`claimed`) capped by the wall-clock time since the page was served.
    None when the token is missing, forged or for another lesson."""
    try:
        data = signing.loads(token, salt=_SALT)
        served, before = int(data["t"]), int(data["b"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None
    if data.get("s") != slug:
        return None
    elapsed = max(0, min(int((time.time() if now is None else now) - served), MAX_VISIT_SECONDS))
    this_visit = elapsed if claimed is None else max(0, min(claimed, elapsed))
    return Visit(slug=slug, seconds=before + this_visit)


def record_reading(*, learner: Learner, slug: str, seconds: int) -> LessonProgress:
    """The learner has been reading the lesson: it is in progress (unless further along) and its reading time
    grows to `seconds` (never shrinks)."""
    _require_lesson(slug)
    with transaction.atomic():
        progress = _progress_row(learner=learner, slug=slug)
        progress.read_seconds = max(progress.read_seconds, seconds)
        progress.touched_at = timezone.now()
        progress.save(update_fields=["read_seconds", "touched_at"])
    return progress


def complete_by_reading(*, learner: Learner, slug: str, seconds: int) -> bool:
    """The learner reached the end of the lesson after `seconds` on its page (all visits): completed when that
    is a reasonable share of the reading time; otherwise it stays in progress. Returns whether it is completed."""
    lesson = _require_lesson(slug)
    progress = record_reading(learner=learner, slug=slug, seconds=seconds)
    if progress.status == Status.COMPLETED:
        return True
    if progress.read_seconds < required_read_seconds(lesson):
        return False
    mark_lesson_completed(learner=learner, slug=slug, reason=Reason.READ)
    return True


def mark_lesson_opened(*, learner: Learner, slug: str) -> None:
    """The learner is on the lesson: it is in progress unless it is already further along."""
    record_reading(learner=learner, slug=slug, seconds=0)


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
        kept.read_seconds = max(kept.read_seconds, anon.read_seconds)
        kept.touched_at = max(kept.touched_at, anon.touched_at)
        kept.save()
        anon.delete()


def _require_lesson(slug: str) -> Lesson:
    lesson = get_catalog().lesson(slug)
    if lesson is None:
        raise ValueError(f"unknown lesson {slug!r}")
    return lesson


def _progress_row(*, learner: Learner, slug: str) -> LessonProgress:
    """The learner's row for a lesson, created as in progress (get_or_create survives a race on the unique key)."""
    owner = {"user_id": learner.user_id} if learner.user_id else {"user": None, "anonymous_id": learner.anonymous_id}
    return LessonProgress.objects.get_or_create(lesson=slug, **owner)[0]
