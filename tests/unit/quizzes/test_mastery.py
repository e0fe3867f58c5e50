"""Mastery levels and confidence calibration follow the documented rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from quizzes.mastery import AnswerFact, Level, calibration, mastery

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def fact(question: str, correct: bool, *, hours: float = 0, confidence: str = "") -> AnswerFact:
    return AnswerFact(question_id=question, correct=correct, at=T0 + timedelta(hours=hours), confidence=confidence)


def test_a_concept_nobody_answered_is_not_started() -> None:
    assert mastery([], available=4).level is Level.NOT_STARTED


def test_one_wrong_answer_makes_a_concept_attempted() -> None:
    assert mastery([fact("q1", False)], available=4).level is Level.ATTEMPTED


def test_half_right_is_familiar() -> None:
    assert mastery([fact("q1", True), fact("q2", False)], available=4).level is Level.FAMILIAR


def test_proficient_needs_eighty_percent_over_at_least_two_questions() -> None:
    assert mastery([fact("q1", True)], available=4).level is Level.FAMILIAR
    assert mastery([fact("q1", True), fact("q2", True)], available=4).level is Level.PROFICIENT


def test_a_concept_with_a_single_question_can_be_proficient_on_it() -> None:
    assert mastery([fact("q1", True)], available=1).level is Level.PROFICIENT


def test_mastered_needs_a_right_answer_again_a_day_after_the_first() -> None:
    same_day = [fact("q1", True), fact("q2", True), fact("q1", True, hours=5)]
    assert mastery(same_day, available=2).level is Level.PROFICIENT
    next_day = [fact("q1", True), fact("q2", True), fact("q1", True, hours=24)]
    assert mastery(next_day, available=2).level is Level.MASTERED


def test_the_latest_answer_to_a_question_counts() -> None:
    fixed = [fact("q1", False), fact("q1", True, hours=1), fact("q2", True)]
    assert mastery(fixed, available=2).right == 2
    forgotten = [fact("q1", True), fact("q2", True), fact("q1", False, hours=30)]
    assert mastery(forgotten, available=2).level is Level.FAMILIAR


def test_calibration_compares_accuracy_with_the_band_each_confidence_pays_in() -> None:
    overconfident = calibration([fact("q1", False, confidence="high"), fact("q2", True, confidence="high")])
    assert overconfident.verdict == "overconfident"
    underconfident = calibration([fact(f"q{i}", True, confidence="low") for i in range(4)])
    assert underconfident.verdict == "underconfident"
    honest = calibration(
        [fact("q1", True, confidence="high"), fact("q2", False, confidence="low"), fact("q3", True, confidence="low")]
    )
    assert honest.verdict == "well calibrated"
    assert [(c.confidence, c.answers, c.right) for c in honest.levels] == [
        ("low", 2, 1),
        ("medium", 0, 0),
        ("high", 1, 1),
    ]


def test_answers_without_confidence_do_not_count_for_calibration() -> None:
    assert calibration([fact("q1", True)]).verdict == ""
