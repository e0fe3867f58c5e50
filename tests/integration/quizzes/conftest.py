"""Helpers that take quizzes through the real views, answering right or wrong from the bank's own answer key."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from django.db.models import F
from django.test import Client

from quizzes.banks import Question
from quizzes.models import Attempt
from quizzes.services import retry_delay, shown_question

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as TestResponse

HTMX: dict[str, Any] = {"HTTP_HX_REQUEST": "true"}


def right_form(question: Question) -> dict[str, Any]:
    form: dict[str, Any] = {"question": question.id, "step": "answer"}
    if question.type == "multiple":
        form["choice"] = sorted(question.correct_ids)
    elif question.type == "ordering":
        form.update({f"pos-{item.id}": str(n) for n, item in enumerate(question.items, 1)})
    elif question.type == "numeric":
        form["value"] = str(question.answer)
    else:
        form["choice"] = next(iter(question.correct_ids))
    return form


def wrong_form(question: Question) -> dict[str, Any]:
    form: dict[str, Any] = {"question": question.id, "step": "answer"}
    if question.type == "ordering":
        form.update({f"pos-{item.id}": str(len(question.items) - n) for n, item in enumerate(question.items)})
    elif question.type == "numeric":
        assert question.answer is not None and question.tolerance is not None  # a numeric question has both
        form["value"] = str(question.answer + question.tolerance + 1000)
    else:
        form["choice"] = next(o.id for o in question.options if not o.correct)
    return form


class QuizDriver:
    """Drives one browser session (a Django test client) through quizzes, as htmx would."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def start(self, quiz: str, **options: str) -> Attempt:
        response = self.client.post(f"/quizzes/{quiz}/start", options)
        assert response.status_code == 302, response.content
        return Attempt.objects.get(pk=response["Location"].rstrip("/").rsplit("/", 1)[1])

    def post(self, attempt: Attempt, action: str, data: dict[str, Any], **headers: Any) -> TestResponse:
        return self.client.post(f"/quizzes/attempts/{attempt.id}/{action}", data, **HTMX, **headers)

    def current(self, attempt: Attempt) -> Question:
        """The question on screen, in the version the attempt shows (reviews and retries may show a variant)."""
        attempt.refresh_from_db()
        return shown_question(attempt, attempt.question_ids[attempt.position])

    def answer(self, attempt: Attempt, *, right: bool, **extra: str) -> TestResponse:
        question = self.current(attempt)
        form = {**(right_form(question) if right else wrong_form(question)), **extra}
        response = self.post(attempt, "answer", form)
        assert response.status_code == 200, response.content.decode()[:2000]
        return response

    def next(self, attempt: Attempt) -> TestResponse:
        return self.post(attempt, "next", {"question": self.current(attempt).id})

    def take(self, attempt: Attempt, *, right: Callable[[Question], bool], **extra: str) -> Attempt:
        """Answer every question (right when `right(question)`), moving on after each, then finish."""
        while True:
            attempt.refresh_from_db()
            if attempt.position >= len(attempt.question_ids):
                break
            question = self.current(attempt)
            if not attempt.responses.filter(question_id=question.id, step__in=["answer", "skip"]).exists():
                self.answer(attempt, right=right(question), **extra)
            if attempt.behaviour == "immediate":
                if attempt.position == len(attempt.question_ids) - 1:
                    break
                assert self.next(attempt).status_code == 200
        response = self.post(attempt, "finish", {})
        assert response.status_code == 200, response.content.decode()[:2000]
        attempt.refresh_from_db()
        return attempt


def wait_out_the_retry_delay(attempt: Attempt) -> None:
    """Move the attempt's end back past QUIZ_RETRY_DELAY_MINUTES, as if the learner came back later to retry."""
    Attempt.objects.filter(pk=attempt.pk).update(finished_at=F("finished_at") - retry_delay() - timedelta(seconds=1))


@pytest.fixture(autouse=True)
def fast_password_hashing(settings: Any) -> None:
    """Sign-up and log-in tests hash passwords many times; the production hasher is slow on purpose."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def driver(client: Client) -> QuizDriver:
    return QuizDriver(client)
