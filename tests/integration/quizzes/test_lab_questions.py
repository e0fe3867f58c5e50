"""Lab-graded questions: predict first, then enter the number your own latest finished run recorded."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from django.test import Client
from django.utils import timezone

from lab.model.catalog import EXPERIMENTS
from lab.models import Run
from quizzes.banks import catalogue
from quizzes.models import Attempt, Response
from tests.integration.quizzes.conftest import QuizDriver
from tests.support.lab import summary_of

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as TestResponse

pytestmark = pytest.mark.django_db

QUIZ = "why-patterns-matter"
LAB = "wpm-lab-side-by-side"  # checkout / side-by-side, metric by_mode.hybrid.latency_ms.p50 in ms


def reach_the_lab_question(driver: QuizDriver) -> Attempt:
    attempt = driver.start(QUIZ)
    while driver.current(attempt).id != LAB:
        driver.answer(attempt, right=True)
        driver.next(attempt)
    return attempt


def save_run(
    client: Client,
    p50: float | None,
    *,
    minutes_ago: float = 1,
    status: str = "finished",
    load_s: float = 30.0,
    started: datetime | None = None,
    **owner: str,
) -> Run:
    """A stored full run of checkout / side-by-side, as the engine saves one, that recorded `p50`."""
    checkout = EXPERIMENTS["checkout"]
    preset = checkout.preset("side-by-side")
    assert preset is not None
    finished = started + timedelta(seconds=35) if started else timezone.now() - timedelta(minutes=minutes_ago)
    summary: dict[str, Any] = {"load_s": load_s, "toggles": [], "fidelity": {"lag_pct": 0.2, "ok": True}}
    if p50 is not None:
        summary["by_mode"] = {"hybrid": {"latency_ms": {"p50": p50}}}
    run = Run.objects.create(
        experiment="checkout",
        preset="side-by-side",
        config={**checkout.schema.defaults(), **preset.config},
        topology=checkout.topology.document,
        status=status,
        anonymous_id=owner.get("anonymous_id", client.session["learner_id"]),
        summary=summary,
        started_at=finished - timedelta(seconds=35),
        finished_at=finished,
    )
    Run.objects.filter(pk=run.pk).update(created_at=finished - timedelta(seconds=36))
    run.refresh_from_db()
    return run


def right_prediction() -> str:
    return next(iter(catalogue().questions[LAB].correct_ids))


def predict(driver: QuizDriver, attempt: Attempt, choice: str = "a") -> TestResponse:
    return driver.post(attempt, "answer", {"question": LAB, "step": "prediction", "choice": choice})


def enter(driver: QuizDriver, attempt: Attempt, value: str) -> TestResponse:
    return driver.post(attempt, "answer", {"question": LAB, "step": "answer", "value": value})


def test_the_prediction_comes_first_and_gets_feedback_without_marks(driver: QuizDriver) -> None:
    attempt = reach_the_lab_question(driver)
    page = driver.client.get(f"/quizzes/attempts/{attempt.id}/").content.decode()
    assert "/lab/checkout/?preset=side-by-side" in page and "Your prediction, before you run it" in page
    early = enter(driver, attempt, "400")
    assert early.status_code == 409 and "make your prediction first" in early.content.decode()
    html = predict(driver, attempt, "c").content.decode()
    assert "Prediction: not what should happen" in html and "worth two points" in html
    assert "What should happen" in html and "Now run it" in html


def test_without_a_run_the_learner_is_told_so_and_nothing_counts_against_them(driver: QuizDriver) -> None:
    attempt = reach_the_lab_question(driver)
    predict(driver, attempt)
    html = enter(driver, attempt, "400").content.decode()
    assert "No finished run of checkout / side-by-side that recorded" in html
    assert "/lab/checkout/?preset=side-by-side" in html
    assert not Response.objects.filter(attempt=attempt, question_id=LAB, step="answer").exists()
    skipped = driver.post(attempt, "answer", {"question": LAB, "step": "skip"}).content.decode()
    assert "All 13 questions done" in skipped and "Score: 12 of 12 points" in skipped
    attempt = driver.take(attempt, right=lambda q: True)
    assert (attempt.correct_count, attempt.graded_count, attempt.score) == (12, 12, 1.0)


def test_the_entered_number_is_checked_against_the_learners_own_run(client: Client, driver: QuizDriver) -> None:
    attempt = reach_the_lab_question(driver)
    predict(driver, attempt, right_prediction())
    run = save_run(client, 412.3, started=timezone.now())
    html = enter(driver, attempt, "412").content.decode()
    assert "Correct" in html and "412.3 ms" in html and f"/lab/runs/{run.id}/" in html
    answer = Response.objects.get(attempt=attempt, question_id=LAB, step="answer")
    assert (
        answer.correct
        and answer.observed is not None
        and answer.observed["run"] == str(run.id)
        and answer.observed["observed"] == 412.3
    )
    attempt = driver.take(attempt, right=lambda q: True)
    assert attempt.score == 1.0


def test_a_misread_number_is_wrong_and_the_run_value_is_explained(client: Client, driver: QuizDriver) -> None:
    attempt = reach_the_lab_question(driver)
    save_run(client, 412.3)
    predict(driver, attempt)
    html = enter(driver, attempt, "1850").content.decode()
    assert "Not right" in html and "412.3 ms" in html and "not what the run recorded" in html


def test_only_the_most_recent_finished_run_of_the_learner_counts(client: Client, driver: QuizDriver) -> None:
    attempt = reach_the_lab_question(driver)
    save_run(client, 900.0, minutes_ago=30)
    latest = save_run(client, 420.0, minutes_ago=5)
    save_run(client, 100.0, minutes_ago=1, status="running")
    save_run(client, 100.0, minutes_ago=0, anonymous_id="someone-else")
    predict(driver, attempt)
    enter(driver, attempt, "420")
    answer = Response.objects.get(attempt=attempt, question_id=LAB, step="answer")
    assert answer.correct and answer.observed is not None and answer.observed["run"] == str(latest.id)


def test_skipping_is_refused_once_the_learner_has_a_run(client: Client, driver: QuizDriver) -> None:
    attempt = reach_the_lab_question(driver)
    save_run(client, 412.3)
    predict(driver, attempt)
    response = driver.post(attempt, "answer", {"question": LAB, "step": "skip"})
    assert response.status_code == 409 and "enter the number it recorded" in response.content.decode()


def test_a_run_without_the_metric_counts_as_no_run(client: Client, driver: QuizDriver) -> None:
    attempt = reach_the_lab_question(driver)
    save_run(client, None)
    predict(driver, attempt)
    html = enter(driver, attempt, "400").content.decode()
    assert "does not count yet" in html and "That run recorded no by_mode.hybrid.latency_ms.p50." in html


def test_a_run_whose_timings_drifted_from_the_model_is_not_graded(client: Client, driver: QuizDriver) -> None:
    attempt = reach_the_lab_question(driver)
    trustworthy = save_run(client, 420.0, minutes_ago=5)
    drifted = save_run(client, 900.0, minutes_ago=1)
    summary_of(drifted)["fidelity"] = {"lag_pct": 12.5, "ok": False}
    drifted.save(update_fields=["summary"])
    predict(driver, attempt)
    enter(driver, attempt, "420")
    answer = Response.objects.get(attempt=attempt, question_id=LAB, step="answer")
    assert answer.correct and answer.observed is not None and answer.observed["run"] == str(trustworthy.id)


def test_a_right_prediction_made_before_the_run_earns_the_second_point(client: Client, driver: QuizDriver) -> None:
    attempt = reach_the_lab_question(driver)
    predict(driver, attempt, right_prediction())
    save_run(client, 412.3, started=timezone.now())
    html = enter(driver, attempt, "412").content.decode()
    assert "Points: <strong>2 of 2</strong>" in html and "its point counts" in html


def test_a_prediction_made_after_the_run_started_earns_nothing(client: Client, driver: QuizDriver) -> None:
    attempt = reach_the_lab_question(driver)
    save_run(client, 412.3, minutes_ago=5)
    predict(driver, attempt, right_prediction())
    html = enter(driver, attempt, "412").content.decode()
    assert "Points: <strong>1 of 2</strong>" in html and "made after that run started" in html
    attempt = driver.take(attempt, right=lambda q: True)
    assert (attempt.correct_count, attempt.graded_count) == (13, 14)


def test_a_run_stopped_early_says_what_to_change_and_keeps_the_learners_number(
    client: Client, driver: QuizDriver
) -> None:
    attempt = reach_the_lab_question(driver)
    predict(driver, attempt)
    save_run(client, 380.0, load_s=8.0, minutes_ago=0)
    html = enter(driver, attempt, "380").content.decode()
    assert "Your latest run of side-by-side stopped at 8 s of 30 s: run it to the end." in html
    assert 'value="380"' in html
    assert not Response.objects.filter(attempt=attempt, question_id=LAB, step="answer").exists()


def test_the_latest_qualifying_run_is_graded_not_merely_the_latest_run(client: Client, driver: QuizDriver) -> None:
    attempt = reach_the_lab_question(driver)
    predict(driver, attempt)
    full = save_run(client, 420.0, minutes_ago=0.5)
    save_run(client, 100.0, load_s=2.0, minutes_ago=0)
    enter(driver, attempt, "420")
    answer = Response.objects.get(attempt=attempt, question_id=LAB, step="answer")
    assert answer.correct and answer.observed is not None and answer.observed["run"] == str(full.id)
