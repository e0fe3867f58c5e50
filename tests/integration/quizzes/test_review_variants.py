"""Spaced review and retries ask another version of a question and grade it by that version's key; the learner's
history stays one per question. Retrying wrong answers opens only after a pause. Real views, real database."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client

from comms_lab.learners import Learner
from quizzes.banks import Question, catalogue
from quizzes.models import Attempt, Response, ReviewCard
from quizzes.selectors import answer_facts
from quizzes.services import shown_question
from quizzes.templatetags.quiz_tags import md
from tests.integration.quizzes.conftest import QuizDriver, right_form, wait_out_the_retry_delay

pytestmark = pytest.mark.django_db

QUIZ = "observability"  # no lab questions, and numeric questions with one variant each
# Questions with exactly one other version, so "another version than last time" has one answer.
VARIED = [q for q in catalogue().banks[QUIZ].questions if len(q.variants) == 1 and q.type == "numeric"]
PLAIN = next(q for q in catalogue().banks[QUIZ].questions if not q.variants)


def attempt_from(response: Any) -> Attempt:
    assert response.status_code == 302, response.content.decode()[:2000]
    return Attempt.objects.get(pk=response["Location"].rstrip("/").rsplit("/", 1)[1])


def learner_of(client: Client) -> Learner:
    return Learner(user_id=None, anonymous_id=client.session["learner_id"])


def retry_button(response: Any) -> tuple[str, bool]:
    """The retry button's words as a reader gets them, and whether it is disabled."""
    page = response.content.decode()
    button = page[page.index("<button", page.index('class="inline retry-form"')) :]
    button = button[: button.index("</button>")]
    return " ".join(re.sub(r"<[^>]+>", "", button.split(">", 1)[1]).split()), " disabled" in button.split(">", 1)[0]


def wrong_at_first(driver: QuizDriver, *questions: Question) -> Attempt:
    """A whole quiz with `questions` answered wrong with high confidence, so their cards are due at once."""
    ids = {q.id for q in questions}
    return driver.take(driver.start(QUIZ, confidence="on"), right=lambda q: q.id not in ids, confidence="high")


def test_the_quiz_has_questions_with_one_variant_for_these_tests() -> None:
    assert len(VARIED) >= 2


def test_a_review_asks_another_version_and_grades_it_by_that_versions_key(client: Client, driver: QuizDriver) -> None:
    first, second = VARIED[:2]
    wrong_at_first(driver, first, second)
    review = attempt_from(client.post("/quizzes/review/"))
    assert sorted(review.question_ids) == sorted([first.id, second.id])
    shown = {qid: shown_question(review, qid) for qid in review.question_ids}
    assert all(s.variant and s.prompt != catalogue().questions[s.id].prompt for s in shown.values())

    page = client.get(f"/quizzes/attempts/{review.id}/").content.decode()
    on_screen = shown[review.question_ids[0]]
    assert "Another version of a question you have answered before" in page
    assert md(on_screen.prompt) in page and md(catalogue().questions[on_screen.id].prompt) not in page

    # The first is answered with its own version's key: right.
    html = driver.post(review, "answer", {**right_form(on_screen), "confidence": "medium"}).content.decode()
    assert "Correct" in html and "The answer is <strong>" in html
    driver.next(review)
    # The second is answered with the key of the question as written, which this version does not have: wrong.
    other = catalogue().questions[review.question_ids[1]]
    html = driver.post(review, "answer", {**right_form(other), "confidence": "medium"}).content.decode()
    assert "Not right" in html
    answers = dict(Response.objects.filter(attempt=review).values_list("question_id", "correct"))
    assert answers == {on_screen.id: True, other.id: False}


def test_a_variant_answer_joins_its_questions_history_card_and_mastery(client: Client, driver: QuizDriver) -> None:
    question = VARIED[0]
    quiz = wrong_at_first(driver, question)
    review = driver.take(attempt_from(client.post("/quizzes/review/")), right=lambda q: True, confidence="medium")
    assert review.score == 1.0
    card = ReviewCard.objects.get(question_id=question.id)
    assert (card.reviews, card.lapses, card.variant) == (2, 1, question.variants[0].variant)
    assert ReviewCard.objects.filter(question_id=question.id).count() == 1
    # Both answers stay, under the question's own id, and mastery judges the latest (the right variant answer).
    history = [f for f in answer_facts(learner_of(client)) if f.question_id == question.id]
    assert [f.correct for f in sorted(history, key=lambda f: f.at)] == [False, True]
    assert Response.objects.filter(attempt=quiz, question_id=question.id, correct=False).exists()


def test_the_next_review_asks_a_version_other_than_the_one_answered_last(client: Client, driver: QuizDriver) -> None:
    question = VARIED[0]
    wrong_at_first(driver, question)
    first_review = attempt_from(client.post("/quizzes/review/"))
    assert shown_question(first_review, question.id).variant == question.variants[0].variant
    driver.take(first_review, right=lambda q: False, confidence="high")  # wrong again: due at once
    second_review = attempt_from(client.post("/quizzes/review/"))
    assert shown_question(second_review, question.id).prompt == question.prompt  # back to the question as written


def test_the_retry_opens_only_after_the_delay_and_both_pages_say_when(
    client: Client, driver: QuizDriver, settings: Any
) -> None:
    settings.QUIZ_RETRY_DELAY_MINUTES = 15
    quiz = driver.take(driver.start(QUIZ), right=lambda q: q.id != PLAIN.id)
    assert quiz.finished_at is not None
    opens = (quiz.finished_at + timedelta(minutes=15)).strftime("%H:%M")
    results = retry_button(client.get(f"/quizzes/attempts/{quiz.id}/"))
    assert results == (f"Retry my 1 wrong answer: available at {opens} UTC, in 15 minutes", True)
    quiz_page = retry_button(client.get(f"/quizzes/{QUIZ}/"))
    assert quiz_page == (
        f"Retry the wrong answers of your latest finished attempt: available at {opens} UTC, in 15 minutes",
        True,
    )

    refused = client.post(f"/quizzes/attempts/{quiz.id}/retry")
    assert refused.status_code == 409
    assert f"your wrong answers come back at {opens} UTC, in 15 minutes" in refused.content.decode()
    assert not Attempt.objects.filter(kind="retry").exists()

    wait_out_the_retry_delay(quiz)
    assert retry_button(client.get(f"/quizzes/attempts/{quiz.id}/")) == ("Retry my 1 wrong answer", False)
    retry = attempt_from(client.post(f"/quizzes/attempts/{quiz.id}/retry"))
    assert retry.kind == "retry" and retry.question_ids == [PLAIN.id]


def test_with_no_delay_set_the_retry_opens_as_soon_as_the_attempt_ends(
    client: Client, driver: QuizDriver, settings: Any
) -> None:
    settings.QUIZ_RETRY_DELAY_MINUTES = 0
    quiz = driver.take(driver.start(QUIZ), right=lambda q: q.id != PLAIN.id)
    assert attempt_from(client.post(f"/quizzes/attempts/{quiz.id}/retry")).question_ids == [PLAIN.id]


def test_a_retry_asks_other_versions_of_the_wrong_questions_that_have_them(client: Client, driver: QuizDriver) -> None:
    question = VARIED[0]
    quiz = driver.take(driver.start(QUIZ), right=lambda q: q.id not in {question.id, PLAIN.id})
    wait_out_the_retry_delay(quiz)
    retry = attempt_from(client.post(f"/quizzes/attempts/{quiz.id}/retry"))
    assert shown_question(retry, question.id).variant == question.variants[0].variant
    # no variants: asked as written (equal, not the same object: the catalogue may have been rebuilt since import)
    assert shown_question(retry, PLAIN.id) == PLAIN
    retry = driver.take(retry, right=lambda q: True)  # right by each shown version's key
    assert retry.score == 1.0
