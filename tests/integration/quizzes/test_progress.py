"""The progress dashboard and the review queue, as a learner sees them."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.utils import timezone

from lab.models import Run
from lessons.catalog import get_catalog
from quizzes.banks import catalogue
from quizzes.models import Attempt, ReviewCard
from tests.integration.quizzes.conftest import QuizDriver

pytestmark = pytest.mark.django_db

QUIZ = "observability"  # no lab questions: every answer is in the key
TESTED_CONCEPTS = {concept for question in catalogue().questions.values() for concept in question.concepts}


def test_a_new_learner_sees_helpful_empty_states(client: Client) -> None:
    page = client.get("/progress/").content.decode()
    assert "Nothing to review yet" in page
    assert "No quizzes taken yet" in page and "No lab runs yet" in page and "No lessons opened yet" in page
    assert "Mastery appears here once you answer quiz questions" in page
    assert f"Not started: {len(TESTED_CONCEPTS)}" in page  # the chart's text description


def test_the_dashboard_shows_quizzes_lessons_runs_mastery_and_the_concept_map(
    client: Client, driver: QuizDriver
) -> None:
    driver.take(driver.start(QUIZ), right=lambda q: True)
    Run.objects.create(
        experiment="cascade",
        preset="circuit-breaker",
        config={},
        status="finished",
        anonymous_id=client.session["learner_id"],
        summary={"success_rate_pct": 81.5, "latency_ms": {"p50": 42.0}},
        finished_at=timezone.now(),
    )
    page = client.get("/progress/").content.decode()
    scores = page[page.index('id="quiz-scores"') :]
    assert catalogue().banks[QUIZ].title in scores and "100%" in scores and "yes" in scores
    assert f"1 of {len(get_catalog().lessons)} completed" in page and "(quiz passed)" in page
    assert "81.5%" in page and "circuit-breaker" in page
    mastery = page[page.index('id="mastery-table"') :]
    assert "proficient" in mastery or "familiar" in mastery
    concepts = {c for q in catalogue().banks[QUIZ].questions for c in q.concepts}
    not_started = re.search(r"Not started: (\d+)", page)
    assert not_started and not_started.group(1) == str(len(TESTED_CONCEPTS) - len(concepts))
    concept = catalogue().banks[QUIZ].questions[0].concepts[0]
    assert f'id="concept-{concept}"' in page
    entry = page[page.index(f'id="concept-{concept}"') :][:2000]
    assert f"/lessons/{QUIZ}/" in entry and f"/quizzes/{QUIZ}/" in entry


def test_confident_wrong_answers_are_due_at_once_and_review_now_brings_them_back(
    client: Client, driver: QuizDriver
) -> None:
    bank = catalogue().banks[QUIZ]
    wrong_ids = [q.id for q in bank.questions[:2]]
    driver.take(driver.start(QUIZ, confidence="on"), right=lambda q: q.id not in wrong_ids, confidence="high")
    assert "2 questions" in client.get("/progress/").content.decode()
    response = client.post("/quizzes/review/")
    review = Attempt.objects.get(pk=response["Location"].rstrip("/").rsplit("/", 1)[1])
    assert review.kind == "review" and review.question_ids == wrong_ids
    review = driver.take(review, right=lambda q: True)
    assert review.score == 1.0
    cards = ReviewCard.objects.filter(question_id__in=wrong_ids)
    assert all(card.due > timezone.now() and card.reviews == 2 for card in cards)
    assert "Nothing is due right now" in client.get("/progress/").content.decode()


def test_unsure_wrong_answers_wait_for_their_learning_step(client: Client, driver: QuizDriver) -> None:
    first = catalogue().banks[QUIZ].questions[0].id
    driver.take(driver.start(QUIZ), right=lambda q: q.id != first)
    assert client.post("/quizzes/review/").status_code == 409
    assert "Nothing is due right now" in client.get("/progress/").content.decode()


def test_a_review_session_does_not_change_the_quiz_best_or_last_score(client: Client, driver: QuizDriver) -> None:
    first = catalogue().banks[QUIZ].questions[0].id
    driver.take(driver.start(QUIZ, confidence="on"), right=lambda q: q.id != first, confidence="medium")
    review = Attempt.objects.get(pk=client.post("/quizzes/review/")["Location"].rstrip("/").rsplit("/", 1)[1])
    driver.take(review, right=lambda q: False, confidence="medium")
    scores = client.get("/progress/").content.decode()
    scores = scores[scores.index('id="quiz-scores"') :]
    questions = len(catalogue().banks[QUIZ].questions)
    one_wrong = f"{round(100 * (questions - 1) / questions)}%"
    assert scores.count(one_wrong) == 2  # best and last are the quiz attempt's, with one wrong


def test_the_dashboard_shows_only_the_learners_own_work(client: Client, driver: QuizDriver) -> None:
    driver.take(driver.start(QUIZ), right=lambda q: True)
    stranger = Client().get("/progress/").content.decode()
    assert "No quizzes taken yet" in stranger and "Nothing to review yet" in stranger
