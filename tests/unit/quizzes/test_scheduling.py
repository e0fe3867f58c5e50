"""FSRS review scheduling with a fixed clock and no fuzz: exact, repeatable due dates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fsrs import Rating

from quizzes.scheduling import make_scheduler, new_card_state, rating_for, review

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SCHEDULER = make_scheduler(fuzzing=False)


def due_after(*, correct: bool, confidence: str) -> timedelta:
    _, due = review(new_card_state(1, NOW), correct=correct, confidence=confidence, now=NOW, scheduler=SCHEDULER)
    return due - NOW


def test_correctness_and_confidence_choose_the_rating() -> None:
    assert rating_for(correct=True, confidence="high") is Rating.Easy
    assert rating_for(correct=True, confidence="medium") is Rating.Good
    assert rating_for(correct=True, confidence="") is Rating.Good
    assert rating_for(correct=True, confidence="low") is Rating.Hard
    assert rating_for(correct=False, confidence="high") is Rating.Again


def test_a_first_answer_is_scheduled_by_fsrs_learning_steps() -> None:
    assert due_after(correct=False, confidence="") == timedelta(hours=1)
    assert due_after(correct=True, confidence="") == timedelta(days=1)
    assert due_after(correct=True, confidence="high") == timedelta(days=8)


def test_a_confident_wrong_answer_comes_back_sooner_than_an_unsure_one() -> None:
    assert due_after(correct=False, confidence="high") == timedelta(0)
    assert due_after(correct=False, confidence="medium") == timedelta(0)
    assert due_after(correct=False, confidence="low") == timedelta(hours=1)


def test_right_answers_in_a_row_push_the_next_review_further_out() -> None:
    state, due = review(new_card_state(1, NOW), correct=True, confidence="", now=NOW, scheduler=SCHEDULER)
    gaps = [due - NOW]
    for _ in range(3):
        at = due
        state, due = review(state, correct=True, confidence="", now=at, scheduler=SCHEDULER)
        gaps.append(due - at)
    assert gaps == sorted(gaps)
    assert gaps[-1] > timedelta(days=7)


def test_a_lapse_sends_a_reviewed_card_back_to_relearning() -> None:
    state, due = review(new_card_state(1, NOW), correct=True, confidence="high", now=NOW, scheduler=SCHEDULER)
    _, after_lapse = review(state, correct=False, confidence="", now=due, scheduler=SCHEDULER)
    assert after_lapse - due == timedelta(hours=1)
