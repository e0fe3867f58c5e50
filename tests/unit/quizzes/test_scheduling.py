"""FSRS review scheduling with a fixed clock and no fuzz, which version a review shows (seeded), and when a retry
opens."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta

from fsrs import Rating

from quizzes.scheduling import RetryWindow, make_scheduler, new_card_state, next_variant, rating_for, review

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


VERSIONS = ("", "busy-day", "quiet-day")


def test_a_review_never_shows_the_version_answered_last_and_spreads_over_the_others() -> None:
    for last_seen in VERSIONS:
        picks = Counter(next_variant(VERSIONS, last_seen=last_seen, rng=random.Random(seed)) for seed in range(400))
        assert last_seen not in picks
        # Each of the two others is a fair coin over 400 draws: 200 ± 60 is more than six standard deviations.
        assert all(140 <= picks[v] <= 260 for v in VERSIONS if v != last_seen), picks


def test_a_question_without_variants_is_always_shown_as_written() -> None:
    assert next_variant(("",), last_seen="", rng=random.Random(1)) == ""


def test_a_version_the_bank_since_dropped_leaves_every_current_version_possible() -> None:
    picks = {next_variant(VERSIONS, last_seen="removed", rng=random.Random(seed)) for seed in range(50)}
    assert picks == set(VERSIONS)


def test_the_retry_window_opens_at_the_delay_and_counts_whole_minutes_up() -> None:
    def window(after: timedelta) -> RetryWindow:
        return RetryWindow(finished_at=NOW, delay=timedelta(minutes=15), now=NOW + after)

    assert window(timedelta(0)).opens_at == NOW + timedelta(minutes=15)
    assert (window(timedelta(0)).open, window(timedelta(0)).minutes_left) == (False, 15)
    assert window(timedelta(minutes=14, seconds=1)).minutes_left == 1  # 59 s left still says "in 1 minute"
    assert window(timedelta(minutes=14, seconds=1)).ms_left == 59_000  # what the page's script waits
    assert (window(timedelta(minutes=15)).open, window(timedelta(minutes=15)).minutes_left) == (True, 0)
    assert window(timedelta(days=2)).minutes_left == 0
