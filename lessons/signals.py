"""At log-in, the anonymous learner's progress moves onto the account (no loss, no duplicates); any change to a
learner's progress rows makes the pages read them again (comms_lab.learner_state)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest

from comms_lab import learner_state
from comms_lab.learners import SESSION_KEY
from lessons.models import LessonProgress
from lessons.services import merge_anonymous_progress

learner_state.forget_on_change(LessonProgress)


@receiver(user_logged_in, dispatch_uid="lessons.merge_anonymous_progress")
def merge_progress_at_login(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    session = getattr(request, "session", None)
    anonymous_id = session.get(SESSION_KEY) if session is not None else None
    if anonymous_id:
        merge_anonymous_progress(anonymous_id=anonymous_id, user_id=user.pk)
