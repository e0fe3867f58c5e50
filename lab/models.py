"""Lab runs as stored in the database: config, status, summary and, once finished, the whole event log."""

import json
import secrets
import uuid
import zlib
from typing import Any

from django.conf import settings
from django.db import models


def new_share_token() -> str:
    return secrets.token_urlsafe(16)


class Run(models.Model):
    """One experiment run. Live state lives in Redis while it runs; this row is what outlasts it."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        CLOSING = "closing"  # being summarised and saved; one closer only
        FINISHED = "finished"
        FAILED = "failed"
        INTERRUPTED = "interrupted"  # its worker died and none was left to take it over

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    experiment = models.CharField(max_length=40)
    preset = models.CharField(max_length=40, blank=True)
    config = models.JSONField()
    # The topology document the run executed, so a learner-made design replays exactly like a built-in one.
    topology = models.JSONField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE)
    anonymous_id = models.CharField(max_length=32, blank=True, db_index=True)
    share_token = models.CharField(max_length=32, unique=True, default=new_share_token)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    summary = models.JSONField(null=True, blank=True)
    event_count = models.PositiveIntegerField(default=0)
    # zlib-compressed JSON list of events: a 5-minute run at 50 requests/s logs ~100k events.
    event_log = models.BinaryField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.experiment} run {self.id} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING, self.Status.CLOSING)

    def store_events(self, events: list[dict[str, Any]]) -> None:
        self.event_log = zlib.compress(json.dumps(events, separators=(",", ":")).encode())
        self.event_count = len(events)

    def stored_events(self) -> list[dict[str, Any]]:
        if not self.event_log:
            return []
        return json.loads(zlib.decompress(bytes(self.event_log)))


class Prediction(models.Model):
    """What a learner expected a preset to show, committed on the lab page before running it.

    Kept server-side, with its time, so the debrief can set it beside the result and a quiz's lab question on the
    same experiment and preset can credit it when it was made before the graded run started."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE)
    anonymous_id = models.CharField(max_length=32, blank=True, db_index=True)
    experiment = models.CharField(max_length=40)
    preset = models.CharField(max_length=40)
    # A choice id, or the number predicted in the preset's unit.
    answer = models.JSONField()
    # Known at once for a choice; a number is judged against the run it is compared with (None here).
    correct = models.BooleanField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["experiment", "preset", "-created_at"])]

    def __str__(self) -> str:
        return f"prediction {self.answer!r} for {self.experiment}/{self.preset}"
