"""A prediction made on the lab page counts as the prediction of the quiz's lab question on the same experiment
and preset: the question skips its own prediction step, says so, and credits the point when the lab-page
prediction was right and made before the graded run started."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from quizzes.models import Attempt, Response
from tests.integration.quizzes.conftest import QuizDriver
from tests.integration.quizzes.test_lab_questions import LAB, enter, reach_the_lab_question, save_run

pytestmark = pytest.mark.django_db


def predict_on_the_lab_page(client: Client, choice: str) -> None:
    body = {"experiment": "checkout", "preset": "side-by-side", "choice": choice}
    made = client.post("/lab/api/predictions", json.dumps(body), content_type="application/json")
    assert made.status_code == 201, made.content


def prediction_credit(attempt: Attempt) -> dict[str, object]:
    answer = Response.objects.get(attempt=attempt, question_id=LAB, step="answer")
    assert answer.observed is not None
    return answer.observed["prediction"]


def test_a_right_lab_page_prediction_before_the_run_earns_the_prediction_point(
    client: Client, driver: QuizDriver
) -> None:
    attempt = reach_the_lab_question(driver)
    before = client.get(f"/quizzes/attempts/{attempt.id}/").content.decode()
    assert "answering it there counts as your prediction here" in before
    predict_on_the_lab_page(client, "below")
    page = client.get(f"/quizzes/attempts/{attempt.id}/").content.decode()
    assert "You predicted on the lab page" in page and "Far below it." in page
    assert "Your prediction, before you run it" not in page  # the quiz does not ask again
    save_run(client, 412.3, started=timezone.now() + timedelta(seconds=1))
    html = enter(driver, attempt, "412").content.decode()
    assert "2 of 2" in html and "Your prediction on the lab page" in html and "its point counts" in html
    assert prediction_credit(attempt) == {
        "correct": True,
        "before_run": True,
        "blind": True,
        "credited": True,
        "on_lab_page": True,
    }


def test_a_lab_page_prediction_made_after_the_run_started_earns_no_point(client: Client, driver: QuizDriver) -> None:
    attempt = reach_the_lab_question(driver)
    save_run(client, 412.3, started=timezone.now() - timedelta(minutes=2))
    predict_on_the_lab_page(client, "below")
    html = enter(driver, attempt, "412").content.decode()
    assert "1 of 2" in html and "made after that run started" in html
    assert prediction_credit(attempt)["credited"] is False


def test_a_wrong_lab_page_prediction_earns_no_point(client: Client, driver: QuizDriver) -> None:
    attempt = reach_the_lab_question(driver)
    predict_on_the_lab_page(client, "above")
    save_run(client, 412.3, started=timezone.now() + timedelta(seconds=1))
    html = enter(driver, attempt, "412").content.decode()
    assert "1 of 2" in html and "was not what happened" in html


def test_a_second_lab_page_prediction_made_once_the_first_showed_the_answers_earns_no_point(
    client: Client, driver: QuizDriver
) -> None:
    attempt = reach_the_lab_question(driver)
    predict_on_the_lab_page(client, "above")  # wrong, and the reply tells which choice is right
    predict_on_the_lab_page(client, "below")
    save_run(client, 412.3, started=timezone.now() + timedelta(seconds=1))
    html = enter(driver, attempt, "412").content.decode()
    assert "1 of 2" in html and "was not what happened" in html  # judged on the first, blind prediction
    assert prediction_credit(attempt)["credited"] is False


def test_a_first_prediction_made_after_running_the_preset_once_earns_no_point(
    client: Client, driver: QuizDriver
) -> None:
    attempt = reach_the_lab_question(driver)
    save_run(client, 400.0, started=timezone.now() - timedelta(minutes=5))  # the debrief showed the answers
    predict_on_the_lab_page(client, "below")
    save_run(client, 412.3, started=timezone.now() + timedelta(seconds=1))
    html = enter(driver, attempt, "412").content.decode()
    assert "1 of 2" in html and "after the answers had been shown" in html
    assert prediction_credit(attempt) == {
        "correct": True,
        "before_run": True,
        "blind": False,
        "credited": False,
        "on_lab_page": True,
    }
