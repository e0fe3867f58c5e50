"""Attempts, every response step, and review cards. Questions themselves live in the YAML banks, by id.

Ownership follows the lab's runs: a signed-in learner's rows carry `user`; an anonymous learner's carry only
the session's stable `anonymous_id` until log-in or sign-up merges them into the account.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class Attempt(models.Model):
    """One pass through a quiz, a retry of the questions a finished attempt got wrong, or a review session."""

    class Kind(models.TextChoices):
        QUIZ = "quiz"
        RETRY = "retry"
        REVIEW = "review"

    class Status(models.TextChoices):
        IN_PROGRESS = "in_progress"
        FINISHED = "finished"

    # UUIDs, so attempt URLs cannot be guessed by counting.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    quiz = models.CharField(max_length=80, blank=True, help_text="The bank's slug; blank for a review session.")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.QUIZ)
    behaviour = models.CharField(max_length=20, default="immediate")
    use_confidence = models.BooleanField(default=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE)
    anonymous_id = models.CharField(max_length=32, blank=True, db_index=True)
    # The questions in the order shown, and each question's option or item order, fixed at the start so
    # that resuming shows exactly the same screen.
    question_ids = models.JSONField(default=list)
    layout = models.JSONField(default=dict)
    # Which version of a question (banks.Question.variant) this attempt shows, for the questions it chose a version
    # of (reviews and retries); grading reads the key of that version. A question missing here shows as written.
    variants = models.JSONField(default=dict)
    position = models.PositiveIntegerField(default=0, help_text="Index of the question on screen.")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="retries")
    # A retry keeps the parent's right answers: its score is (carried + right now) / (carried + graded now),
    # which can only be at least the parent's.
    carried_correct = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.IN_PROGRESS)
    started_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    correct_count = models.PositiveIntegerField(default=0)
    graded_count = models.PositiveIntegerField(default=0)
    score = models.FloatField(null=True, blank=True, help_text="Fraction right, set when finished.")
    marks = models.IntegerField(null=True, blank=True, help_text="Certainty-based marks, when confidence is on.")
    passed = models.BooleanField(default=False)

    class Meta:
        ordering = ["-started_at"]
        indexes = [
            models.Index(fields=["user", "quiz", "status"]),
            models.Index(fields=["anonymous_id", "quiz", "status"]),
        ]

    def __str__(self) -> str:
        return f"{self.kind} attempt {self.id} at {self.quiz or 'review'} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status == self.Status.FINISHED

    @property
    def counts_for_quiz(self) -> bool:
        """Quiz and retry attempts make up a quiz's best and last score; review sessions do not."""
        return self.kind in (self.Kind.QUIZ, self.Kind.RETRY)


class Response(models.Model):
    """One step of answering one question: a lab prediction, an answer, or skipping a lab question.

    The unique constraint makes a step idempotent: a double-submitted answer is stored, graded and counted once.
    """

    class Step(models.TextChoices):
        PREDICTION = "prediction"
        ANSWER = "answer"
        SKIP = "skip"

    attempt = models.ForeignKey(Attempt, on_delete=models.CASCADE, related_name="responses")
    question_id = models.CharField(max_length=80)
    step = models.CharField(max_length=12, choices=Step.choices)
    answer = models.JSONField(null=True, blank=True)
    correct = models.BooleanField(null=True, blank=True)
    confidence = models.CharField(max_length=8, blank=True)
    marks = models.IntegerField(null=True, blank=True)
    # Lab answers: the run graded against and the value it recorded, kept so the verdict can be explained later.
    observed = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["attempt", "question_id", "step"], name="one_response_per_step"),
        ]

    def __str__(self) -> str:
        return f"{self.step} to {self.question_id} ({'right' if self.correct else 'wrong'})"


class ReviewCard(models.Model):
    """A learner's FSRS card for one question: its memory state and when it is next due."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE)
    anonymous_id = models.CharField(max_length=32, blank=True, db_index=True)
    question_id = models.CharField(max_length=80)
    state = models.JSONField(help_text="fsrs Card.to_dict()")
    due = models.DateTimeField(db_index=True)
    last_review = models.DateTimeField()
    reviews = models.PositiveIntegerField(default=0)
    lapses = models.PositiveIntegerField(default=0)
    # The version of the question the learner answered last ("" = as written): the next review shows another.
    variant = models.CharField(max_length=80, blank=True, default="")

    class Meta:
        ordering = ["due"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "question_id"], condition=models.Q(user__isnull=False), name="one_card_per_user"
            ),
            models.UniqueConstraint(
                fields=["anonymous_id", "question_id"],
                condition=models.Q(user__isnull=True),
                name="one_card_per_anonymous_learner",
            ),
        ]

    def __str__(self) -> str:
        return f"card {self.question_id} due {self.due:%Y-%m-%d %H:%M}"
