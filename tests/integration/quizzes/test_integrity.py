"""Integrity: answers count once, nobody touches another learner's attempts, bad input gets a named error."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from quizzes.banks import catalogue
from quizzes.models import Response
from tests.integration.quizzes.conftest import HTMX, QuizDriver, right_form, wrong_form

pytestmark = pytest.mark.django_db

QUIZ = "observability"  # no lab questions: every answer is in the key


def test_a_double_submitted_answer_is_stored_and_counted_once(driver: QuizDriver) -> None:
    attempt = driver.start(QUIZ)
    form = right_form(driver.current(attempt))
    first = driver.post(attempt, "answer", form)
    second = driver.post(attempt, "answer", form)
    assert (first.status_code, second.status_code) == (200, 200)
    assert "already recorded; it counts once" in second.content.decode()
    assert Response.objects.filter(attempt=attempt).count() == 1


def test_a_different_second_answer_to_the_same_question_is_refused(driver: QuizDriver) -> None:
    attempt = driver.start(QUIZ)
    question = driver.current(attempt)
    driver.post(attempt, "answer", right_form(question))
    changed = driver.post(attempt, "answer", wrong_form(question))
    assert changed.status_code == 409 and "answers are final" in changed.content.decode()
    assert Response.objects.get(attempt=attempt).correct is True


def test_another_learner_cannot_read_or_answer_an_attempt(driver: QuizDriver) -> None:
    attempt = driver.start(QUIZ)
    stranger = Client()
    assert stranger.get(f"/quizzes/attempts/{attempt.id}/").status_code == 404
    form = right_form(driver.current(attempt))
    for action in ("answer", "next", "finish", "retry"):
        assert stranger.post(f"/quizzes/attempts/{attempt.id}/{action}", form, **HTMX).status_code == 404
    assert not Response.objects.filter(attempt=attempt).exists()


def test_a_signed_in_learner_cannot_reach_another_accounts_attempt() -> None:
    owner, other = Client(), Client()
    owner.force_login(User.objects.create_user("ada", password="pw-ada-123456"))
    other.force_login(User.objects.create_user("bob", password="pw-bob-123456"))
    attempt_url = owner.post(f"/quizzes/{QUIZ}/start")["Location"]
    assert owner.get(attempt_url).status_code == 200
    assert other.get(attempt_url).status_code == 404
    assert other.get("/quizzes/attempts/not-a-uuid/").status_code == 404


def test_unknown_question_ids_and_missing_fields_are_400s_naming_the_field(driver: QuizDriver) -> None:
    attempt = driver.start(QUIZ)
    unknown = driver.post(attempt, "answer", {"question": "no-such-question", "choice": "a"})
    assert unknown.status_code == 400 and "(question): &#x27;no-such-question&#x27; is not a question" in (
        unknown.content.decode()
    )
    missing = driver.post(attempt, "answer", {"choice": "a"})
    assert missing.status_code == 400 and "(question): is required" in missing.content.decode()
    bad_step = driver.post(attempt, "answer", {"question": driver.current(attempt).id, "step": "prediction"})
    assert bad_step.status_code == 400 and "(step)" in bad_step.content.decode()


@pytest.mark.parametrize(
    ("form", "field"),
    [({}, "choice"), ({"choice": ["a", "b"]}, "choice"), ({"choice": "zz"}, "choice")],
)
def test_answers_of_the_wrong_shape_are_refused_naming_the_field(driver: QuizDriver, form: dict, field: str) -> None:
    attempt = driver.start(QUIZ)
    response = driver.post(attempt, "answer", {"question": driver.current(attempt).id, **form})
    assert response.status_code == 400
    assert f"({field})" in response.content.decode() and 'role="alert"' in response.content.decode()
    assert not Response.objects.filter(attempt=attempt).exists()


def test_answering_a_question_that_is_not_on_screen_is_a_conflict(driver: QuizDriver) -> None:
    attempt = driver.start(QUIZ)
    later = attempt.question_ids[3]
    response = driver.post(attempt, "answer", right_form(catalogue().questions[later]))
    assert response.status_code == 409 and "is not the question on screen" in response.content.decode()


def test_moving_on_or_finishing_before_answering_is_a_conflict(driver: QuizDriver) -> None:
    attempt = driver.start(QUIZ)
    assert driver.next(attempt).status_code == 409
    finish = driver.post(attempt, "finish", {})
    unanswered = len(catalogue().banks[QUIZ].questions)
    assert finish.status_code == 409 and f"{unanswered} question(s) still need an answer" in finish.content.decode()


def test_a_finished_attempt_refuses_new_answers_and_replays_its_result(driver: QuizDriver) -> None:
    attempt = driver.take(driver.start(QUIZ), right=lambda q: True)
    replay = driver.post(attempt, "answer", wrong_form(catalogue().questions[attempt.question_ids[0]]))
    assert replay.status_code == 409 and "this attempt is finished" in replay.content.decode()
    assert driver.post(attempt, "finish", {}).status_code == 200  # finishing twice is harmless
    assert Response.objects.filter(attempt=attempt, correct=False).count() == 0


def test_a_plain_post_with_bad_input_gets_the_whole_page_with_the_error(client: Client, driver: QuizDriver) -> None:
    attempt = driver.start(QUIZ)
    response = client.post(f"/quizzes/attempts/{attempt.id}/answer", {"question": driver.current(attempt).id})
    assert response.status_code == 400
    assert "<html" in response.content.decode() and "(choice): choose exactly one option" in response.content.decode()


def test_the_client_cannot_send_a_score(driver: QuizDriver) -> None:
    attempt = driver.start(QUIZ)
    form = {**wrong_form(driver.current(attempt)), "correct": "true", "score": "1", "marks": "3"}
    driver.post(attempt, "answer", form)
    assert Response.objects.get(attempt=attempt).correct is False
