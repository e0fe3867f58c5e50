"""Progress per learner: not started, in progress, completed with a reason, and merged into the account at log-in."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from comms_lab.learners import SESSION_KEY, Learner
from lessons import selectors, services
from lessons.models import LessonProgress

pytestmark = pytest.mark.django_db

ANON = Learner(user_id=None, anonymous_id="a" * 32)


def status_of(learner: Learner, slug: str) -> tuple[str, str]:
    found = next(s for s in selectors.lesson_progress(learner) if s.slug == slug)
    return found.status, found.reason


def test_it_starts_every_lesson_as_not_started() -> None:
    statuses = selectors.lesson_progress(ANON)
    assert [s.order for s in statuses] == list(range(1, len(statuses) + 1))
    assert {s.status for s in statuses} == {"not_started"}


def test_it_marks_an_opened_lesson_in_progress() -> None:
    services.mark_lesson_opened(learner=ANON, slug="rpc")
    assert status_of(ANON, "rpc") == ("in_progress", "")


def test_it_completes_a_lesson_with_its_reason() -> None:
    services.mark_lesson_completed(learner=ANON, slug="rpc", reason="read")
    assert status_of(ANON, "rpc") == ("completed", "read")


def test_it_keeps_a_quiz_pass_when_the_learner_reads_again() -> None:
    services.mark_lesson_completed(learner=ANON, slug="rpc", reason="quiz")
    services.mark_lesson_completed(learner=ANON, slug="rpc", reason="read")
    services.mark_lesson_opened(learner=ANON, slug="rpc")
    assert status_of(ANON, "rpc") == ("completed", "quiz")


def test_it_upgrades_a_read_lesson_when_its_quiz_is_passed() -> None:
    services.mark_lesson_completed(learner=ANON, slug="rpc", reason="read")
    services.mark_lesson_completed(learner=ANON, slug="rpc", reason="quiz")
    assert status_of(ANON, "rpc") == ("completed", "quiz")


def test_it_refuses_unknown_lessons_and_reasons() -> None:
    with pytest.raises(ValueError, match="unknown lesson"):
        services.mark_lesson_completed(learner=ANON, slug="no-such-lesson", reason="read")
    with pytest.raises(ValueError, match="unknown reason"):
        services.mark_lesson_completed(learner=ANON, slug="rpc", reason="skimmed")


def test_it_continues_with_the_lesson_in_progress_then_the_next_unfinished_one() -> None:
    def next_slug() -> str | None:
        status = selectors.continue_learning(ANON)
        return status.slug if status else None

    assert next_slug() == "why-patterns-matter"
    services.mark_lesson_opened(learner=ANON, slug="sagas")
    assert next_slug() == "sagas"
    services.mark_lesson_completed(learner=ANON, slug="sagas", reason="read")
    assert next_slug() == "why-patterns-matter"


def test_it_offers_nothing_to_continue_once_everything_is_completed() -> None:
    for status in selectors.lesson_progress(ANON):
        services.mark_lesson_completed(learner=ANON, slug=status.slug, reason="read")
    assert selectors.continue_learning(ANON) is None


def test_it_merges_anonymous_progress_into_the_account_at_log_in() -> None:
    user = User.objects.create_user("ada", password="correct-horse-battery")
    client = Client()
    session = client.session
    session[SESSION_KEY] = "b" * 32
    session.save()
    anon = Learner(user_id=None, anonymous_id="b" * 32)
    services.mark_lesson_opened(learner=anon, slug="rpc")
    services.mark_lesson_completed(learner=anon, slug="sagas", reason="quiz")
    services.mark_lesson_opened(learner=anon, slug="ordering")
    account = Learner(user_id=user.pk, anonymous_id="")
    services.mark_lesson_completed(learner=account, slug="ordering", reason="read")  # further along already
    services.mark_lesson_opened(learner=account, slug="sagas")  # behind the anonymous quiz pass

    response = client.post("/accounts/login/", {"username": "ada", "password": "correct-horse-battery"})

    assert response.status_code == 302
    assert status_of(account, "rpc") == ("in_progress", "")
    assert status_of(account, "sagas") == ("completed", "quiz")
    assert status_of(account, "ordering") == ("completed", "read")
    assert LessonProgress.objects.filter(user__isnull=True).count() == 0
    assert LessonProgress.objects.filter(user=user).count() == 3


def test_it_exposes_lessons_by_concept_with_their_lab_entries() -> None:
    lessons = selectors.lessons_for_concept("circuit-breaker")
    assert "failure-handling" in [lesson.slug for lesson in lessons]
    failure = next(lesson for lesson in lessons if lesson.slug == "failure-handling")
    assert any(link.url == "/lab/cascade/?preset=circuit-breaker" for link in failure.lab)


def test_it_exposes_the_glossary_by_slug() -> None:
    terms = selectors.glossary()
    assert terms["jitter"].term
    assert terms["jitter"].url == "/glossary/#jitter"
