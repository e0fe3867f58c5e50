"""Reading progress per learner and lesson.

Lessons live in files, not tables, so progress refers to a lesson by slug. A row belongs to a signed-in user or,
before log-in, to the anonymous learner id kept in the session (`comms_lab.learners`); logging in moves the
anonymous rows onto the account. "Not started" has no row.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Status(models.TextChoices):
    IN_PROGRESS = "in_progress", "in progress"
    COMPLETED = "completed", "completed"


class Reason(models.TextChoices):
    """Why a lesson counts as completed; a passed quiz is the stronger evidence and is never replaced."""

    READ = "read", "read to the end"
    QUIZ = "quiz", "quiz passed"


class LessonProgress(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="lesson_progress"
    )
    anonymous_id = models.CharField(max_length=64, blank=True, db_index=True)
    lesson = models.SlugField(max_length=100)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.IN_PROGRESS)
    reason = models.CharField(max_length=8, choices=Reason.choices, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)
    # Last time the learner opened or finished the lesson: "continue where you left off" picks the latest.
    touched_at = models.DateTimeField(default=timezone.now)
    # Seconds the learner has spent on the lesson's page, over all visits (the page reports them, the server caps
    # them by the time since it served the page). Reaching the end counts as reading it only after a share of the
    # reading time (`lessons.services.required_read_seconds`).
    read_seconds = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "lesson"], condition=Q(user__isnull=False), name="lesson_progress_one_per_user"
            ),
            models.UniqueConstraint(
                fields=["anonymous_id", "lesson"],
                condition=Q(user__isnull=True),
                name="lesson_progress_one_per_anonymous",
            ),
            models.CheckConstraint(
                condition=Q(user__isnull=False) | ~Q(anonymous_id=""), name="lesson_progress_has_an_owner"
            ),
            models.CheckConstraint(
                condition=Q(status="in_progress", reason="") | Q(status="completed", reason__in=["read", "quiz"]),
                name="lesson_progress_reason_iff_completed",
            ),
        ]

    def __str__(self) -> str:
        owner = f"user {self.user_id}" if self.user_id else f"anonymous {self.anonymous_id[:8]}"
        return f"{owner}: {self.lesson} {self.status}"

    @property
    def rank(self) -> int:
        """How far along this is: in progress < completed by reading < completed by quiz."""
        if self.status == Status.IN_PROGRESS:
            return 1
        return 3 if self.reason == Reason.QUIZ else 2
