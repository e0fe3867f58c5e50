"""The hourly clean-up keeps each learner's newest runs, forgets abandoned anonymous learners and expired
sessions, and never touches an account's data or a run still going."""

import time
from datetime import timedelta
from importlib import import_module
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.utils import timezone

from comms_lab import retention, tasks
from lab.models import Run
from lessons.models import LessonProgress
from quizzes.models import Attempt, ReviewCard

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def a_run(*, days_ago: float = 0, status: str = "finished", **owner: Any) -> Run:
    run = Run.objects.create(experiment="checkout", config={}, status=status, **owner)
    Run.objects.filter(pk=run.pk).update(created_at=timezone.now() - timedelta(days=days_ago))
    return run


def anonymous_learner_active(days_ago: float) -> str:
    anonymous_id = f"anon{time.monotonic_ns()}"
    when = timezone.now() - timedelta(days=days_ago)
    a_run(anonymous_id=anonymous_id, days_ago=days_ago)
    Attempt.objects.create(quiz="sagas", anonymous_id=anonymous_id, started_at=when, updated_at=when)
    ReviewCard.objects.create(anonymous_id=anonymous_id, question_id="q1", state={}, due=when, last_review=when)
    LessonProgress.objects.create(anonymous_id=anonymous_id, lesson="sagas", started_at=when, touched_at=when)
    return anonymous_id


def kept(anonymous_id: str) -> list[int]:
    return [
        model.objects.filter(anonymous_id=anonymous_id).count() for model in (Run, Attempt, ReviewCard, LessonProgress)
    ]


def test_each_learner_keeps_their_newest_finished_runs_and_every_run_still_going(settings) -> None:
    settings.LAB_MAX_STORED_RUNS_PER_LEARNER = 2
    user = get_user_model().objects.create_user("ada", password="a long enough password")
    oldest, middle, newest = (a_run(user=user, days_ago=d) for d in (3, 2, 1))
    going = a_run(user=user, days_ago=5, status="running")
    someone_else = a_run(anonymous_id="other", days_ago=4)

    report = retention.clean_up()

    assert report.runs_over_limit == 1
    assert set(Run.objects.filter(user=user)) == {middle, newest, going}
    assert Run.objects.filter(pk=someone_else.pk).exists() and not Run.objects.filter(pk=oldest.pk).exists()


def test_an_anonymous_learner_idle_past_the_retention_is_forgotten_while_recent_ones_and_accounts_stay() -> None:
    idle = anonymous_learner_active(days_ago=settings.ANONYMOUS_RETENTION_DAYS + 1)
    recent = anonymous_learner_active(days_ago=1)
    user = get_user_model().objects.create_user("grace", password="a long enough password")
    account_run = a_run(user=user, days_ago=400)

    report = retention.clean_up()

    assert kept(idle) == [0, 0, 0, 0]
    assert kept(recent) == [1, 1, 1, 1]
    assert Run.objects.filter(pk=account_run.pk).exists()
    assert (report.anonymous_runs, report.anonymous_attempts, report.anonymous_lesson_progress) == (1, 1, 1)


def test_expired_sessions_are_deleted_and_live_ones_kept() -> None:
    store = import_module(settings.SESSION_ENGINE).SessionStore
    expired, live = store(), store()
    expired.set_expiry(-60)
    for session in (expired, live):
        session["seen"] = True
        session.save()

    assert retention.clean_up().sessions == 1
    assert list(Session.objects.values_list("session_key", flat=True)) == [live.session_key]


@pytest.mark.usefixtures("worker")
def test_the_clean_up_runs_as_a_task_on_the_real_worker() -> None:
    idle = anonymous_learner_active(days_ago=settings.ANONYMOUS_RETENTION_DAYS + 5)
    tasks.clean_up.delay()
    deadline = time.monotonic() + 30
    while kept(idle) != [0, 0, 0, 0] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert kept(idle) == [0, 0, 0, 0]
