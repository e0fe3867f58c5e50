"""Log-in and sign-up both fire `user_logged_in`: the one place an anonymous learner's quiz work joins the account.
Any change to a learner's attempts or review cards makes the quiz pages read them again (comms_lab.learner_state).
"""

from typing import Any

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from comms_lab import learner_state
from comms_lab.learners import SESSION_KEY, Learner
from quizzes.models import Attempt, ReviewCard
from quizzes.services import merge_learner

learner_state.forget_on_change(Attempt, ReviewCard)


@receiver(user_logged_in)
def merge_anonymous_quiz_work(sender: Any, request: Any, user: Any, **_: Any) -> None:
    anonymous_id = request.session.get(SESSION_KEY) if request is not None else None
    if anonymous_id:
        merge_learner(anonymous_id=anonymous_id, user_id=user.pk)
        # The attempts moved in one update(), which sends no signal.
        learner_state.forget(Learner(user_id=user.pk, anonymous_id="").key)
