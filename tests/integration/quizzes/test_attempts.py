"""Taking a quiz through the views: feedback, behaviours, resume, retries, scores and lesson completion."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from comms_lab.learners import Learner
from lessons.selectors import lesson_progress
from quizzes.banks import catalogue
from quizzes.models import Attempt, Response, ReviewCard
from tests.integration.quizzes.conftest import QuizDriver, right_form, wait_out_the_retry_delay

pytestmark = pytest.mark.django_db

QUIZ = "observability"  # no lab questions: every question can be answered from the answer key
N = len(catalogue().banks[QUIZ].questions)  # an attempt asks every question of the bank
# The fewest wrong answers that fail the quiz.
FAILING = next(k for k in range(N + 1) if (N - k) / N < catalogue().banks[QUIZ].pass_mark)


def pct(right: int) -> str:
    return f"{round(100 * right / N)}%"


def panel_of(page: str) -> str:
    """The quiz panel without the per-request CSRF tokens."""
    panel = page[page.index('<section id="quiz-panel"') : page.index("</section>")]
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", panel)


def learner_of(client: Client) -> Learner:
    return Learner(user_id=None, anonymous_id=client.session["learner_id"])


def test_checking_an_answer_returns_feedback_in_a_status_region_with_icon_text_and_explanations(
    driver: QuizDriver,
) -> None:
    attempt = driver.start(QUIZ)
    question = driver.current(attempt)
    html = driver.answer(attempt, right=True).content.decode()
    assert 'id="quiz-panel"' in html and "<html" not in html  # htmx gets the panel, not a page
    assert 'role="status"' in html
    assert "✔" in html and "Correct" in html
    right_option = next((o for o in question.options if o.correct), None)
    if right_option:
        assert right_option.explanation.split()[0] in html
    assert f"Question 1 of {N}" in html and "Score: 1 of 1 points" in html


def test_a_wrong_answer_explains_the_chosen_and_the_right_option(driver: QuizDriver) -> None:
    attempt = driver.start(QUIZ)
    question = driver.current(attempt)
    assert question.type in ("single", "scenario", "true_false")
    html = driver.answer(attempt, right=False).content.decode()
    assert "✘" in html and "Not right" in html
    assert "Your answer, wrong" in html and "The right answer" in html


def test_a_plain_form_post_without_javascript_redirects_back_to_the_attempt(client: Client, driver: QuizDriver) -> None:
    attempt = driver.start(QUIZ)
    response = client.post(f"/quizzes/attempts/{attempt.id}/answer", right_form(driver.current(attempt)))
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "<html" in page and "Correct" in page and "Next question" in page


def test_the_learner_resumes_exactly_where_they_left_off(client: Client, driver: QuizDriver) -> None:
    attempt = driver.start(QUIZ)
    driver.answer(attempt, right=True)
    driver.next(attempt)
    driver.answer(attempt, right=False)
    second = driver.current(attempt)
    first_page = client.get(f"/quizzes/attempts/{attempt.id}/").content.decode()
    quiz_page = client.get(f"/quizzes/{QUIZ}/").content.decode()
    assert "Pick up where you left off" in quiz_page and f"question 2 of {N}" in quiz_page
    resumed = client.get(f"/quizzes/attempts/{attempt.id}/").content.decode()
    assert f"Question 2 of {N}" in resumed and "Not right" in resumed and second.id in resumed
    assert panel_of(resumed) == panel_of(first_page)  # same options in the same order, same feedback


def test_a_full_attempt_scores_best_and_last_and_passing_completes_the_lesson(
    client: Client, driver: QuizDriver
) -> None:
    bank = catalogue().banks[QUIZ]
    wrong_ids = {q.id for q in bank.questions[:2]}
    attempt = driver.take(driver.start(QUIZ), right=lambda q: q.id not in wrong_ids)
    assert attempt.is_finished and attempt.correct_count == N - 2 and attempt.graded_count == N
    assert attempt.score == pytest.approx((N - 2) / N)
    assert attempt.passed
    status = next(s for s in lesson_progress(learner_of(client)) if s.slug == QUIZ)
    assert (status.status, status.reason) == ("completed", "quiz")
    results = client.get(f"/quizzes/attempts/{attempt.id}/").content.decode()
    assert pct(N - 2) in results and "Passed" in results and "Retry my 2 wrong answers" in results


def test_a_failed_attempt_does_not_complete_the_lesson(client: Client, driver: QuizDriver) -> None:
    attempt = driver.take(driver.start(QUIZ), right=lambda q: False)
    assert attempt.score == 0 and not attempt.passed
    status = next(s for s in lesson_progress(learner_of(client)) if s.slug == QUIZ)
    assert status.status == "not_started"


def test_retrying_wrong_answers_keeps_right_ones_and_never_lowers_the_best_score(
    client: Client, driver: QuizDriver
) -> None:
    bank = catalogue().banks[QUIZ]
    wrong_ids = [q.id for q in bank.questions[:FAILING]]
    first = driver.take(driver.start(QUIZ), right=lambda q: q.id not in wrong_ids)
    assert first.score == pytest.approx((N - FAILING) / N) and not first.passed
    wait_out_the_retry_delay(first)
    response = client.post(f"/quizzes/attempts/{first.id}/retry")
    retry = Attempt.objects.get(pk=response["Location"].rstrip("/").rsplit("/", 1)[1])
    assert retry.kind == "retry" and retry.question_ids == wrong_ids and retry.carried_correct == N - FAILING
    retry = driver.take(retry, right=lambda q: False)  # even all wrong again…
    assert retry.score == pytest.approx((N - FAILING) / N)  # …the retry cannot score below its parent
    page = client.get("/progress/").content.decode()
    assert pct(N - FAILING) in page
    wait_out_the_retry_delay(retry)
    again = Attempt.objects.get(
        pk=client.post(f"/quizzes/attempts/{retry.id}/retry")["Location"].rstrip("/").rsplit("/", 1)[1]
    )
    again = driver.take(again, right=lambda q: True)
    assert again.score == 1.0 and again.passed


def test_deferred_feedback_saves_answers_silently_and_explains_everything_at_the_end(driver: QuizDriver) -> None:
    attempt = driver.start(QUIZ, behaviour="deferred")
    html = driver.answer(attempt, right=False).content.decode()
    assert "Not right" not in html and f"Question 2 of {N}" in html and "1 answer saved" in html
    attempt = driver.take(attempt, right=lambda q: True)
    results = driver.client.get(f"/quizzes/attempts/{attempt.id}/").content.decode()
    assert attempt.correct_count == N - 1
    assert "Not right" in results and "Correct" in results and "<details open>" in results


def test_certainty_based_marking_needs_a_confidence_and_scores_it(driver: QuizDriver) -> None:
    attempt = driver.start(QUIZ, confidence="on")
    missing = driver.post(attempt, "answer", right_form(driver.current(attempt)))
    assert missing.status_code == 400
    assert "(confidence): choose low, medium or high" in missing.content.decode()
    wrong_ids = {q.id for q in catalogue().banks[QUIZ].questions[:1]}
    attempt = driver.take(attempt, right=lambda q: q.id not in wrong_ids, confidence="high")
    assert attempt.marks == (N - 1) * 3 - 6
    assert attempt.score == pytest.approx((N - 1) / N)


def test_every_answer_schedules_its_question_for_review(client: Client, driver: QuizDriver) -> None:
    wrong_ids = {q.id for q in catalogue().banks[QUIZ].questions[:3]}
    driver.take(driver.start(QUIZ), right=lambda q: q.id not in wrong_ids, confidence="")
    cards = ReviewCard.objects.filter(anonymous_id=learner_of(client).anonymous_id)
    assert cards.count() == N
    assert cards.filter(lapses=1).count() == 3


def test_each_response_step_is_stored_with_its_answer(driver: QuizDriver) -> None:
    attempt = driver.take(driver.start(QUIZ), right=lambda q: True)
    stored = list(Response.objects.filter(attempt=attempt).values_list("question_id", "step", "correct"))
    assert stored == [(qid, "answer", True) for qid in attempt.question_ids]


def test_the_quiz_index_lists_every_quiz_and_offers_to_resume_an_unfinished_one(
    client: Client, driver: QuizDriver
) -> None:
    attempt = driver.start(QUIZ)
    page = client.get("/quizzes/").content.decode()
    assert page.count('href="/quizzes/') >= 17
    assert f'href="/quizzes/attempts/{attempt.id}/">Resume' in page
