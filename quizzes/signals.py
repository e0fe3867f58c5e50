"""Log-in and sign-up both fire `user_logged_in`: the one place an anonymous learner's quiz work joins the account."""

from typing import Any

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from comms_lab.learners import SESSION_KEY
from quizzes.services import merge_learner


@receiver(user_logged_in)
def merge_anonymous_quiz_work(sender: Any, request: Any, user: Any, **_: Any) -> None:
    anonymous_id = request.session.get(SESSION_KEY) if request is not None else None
    if anonymous_id:
        merge_learner(anonymous_id=anonymous_id, user_id=user.pk)
