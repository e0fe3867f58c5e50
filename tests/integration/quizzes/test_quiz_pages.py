"""The quiz pages of a returning learner: no query while nothing changed, and every change shows on the next view."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from quizzes.selectors import QuizRecord
from tests.integration.quizzes.conftest import QuizDriver

pytestmark = pytest.mark.django_db

QUIZ = "observability"


def test_a_returning_learners_quiz_pages_read_their_rows_once_then_nothing(
    client: Client, driver: QuizDriver, django_assert_num_queries: object
) -> None:
    driver.start(QUIZ)
    with django_assert_num_queries(2):  # type: ignore[operator]  # their attempts, their review cards' due times
        assert client.get("/quizzes/").status_code == 200
    with django_assert_num_queries(0):  # type: ignore[operator]
        assert client.get("/quizzes/").status_code == 200
        assert client.get(f"/quizzes/{QUIZ}/").status_code == 200  # the same rows serve the quiz's own page


def test_a_finished_quiz_shows_its_score_on_pages_seen_before_it_was_finished(
    client: Client, driver: QuizDriver
) -> None:
    attempt = driver.start(QUIZ)
    assert f'href="/quizzes/attempts/{attempt.id}/">Resume' in client.get("/quizzes/").content.decode()
    assert "100%" not in client.get(f"/quizzes/{QUIZ}/").content.decode()
    driver.take(attempt, right=lambda question: True)
    index = client.get("/quizzes/").content.decode()
    assert "Resume" not in index and "100%" in index
    assert "100%" in client.get(f"/quizzes/{QUIZ}/").content.decode()


def test_a_review_card_counts_as_due_once_its_time_comes_without_anything_written() -> None:
    noon = datetime(2026, 11, 30, 12, tzinfo=UTC)
    record = QuizRecord(attempts=(), due_times=(noon, noon, noon + timedelta(hours=1)))
    assert record.due_count(noon - timedelta(seconds=1)) == 0
    assert record.due_count(noon) == 2  # due at noon means due at noon (due_cards: due <= now)
    assert record.due_count(noon + timedelta(days=1)) == 3
