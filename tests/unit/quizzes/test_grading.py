"""Grading each question type on the server, with tolerances and certainty-based marks."""

from __future__ import annotations

import pytest

from quizzes.banks import Item, Option, Question, WrongAnswer
from quizzes.grading import (
    AnswerError,
    grade,
    grade_lab,
    grade_prediction,
    marks,
    metric_value,
    parse_answer,
    parse_confidence,
)

SINGLE = Question(
    id="q-single",
    type="single",
    quiz="retries",
    concepts=("retry",),
    prompt="?",
    options=(Option("a", "A", True, "yes"), Option("b", "B", False, "no")),
)
MULTIPLE = Question(
    id="q-multi",
    type="multiple",
    quiz="retries",
    concepts=("retry",),
    prompt="?",
    options=(Option("a", "A", True, ""), Option("b", "B", True, ""), Option("c", "C", False, "")),
)
ORDERING = Question(
    id="q-order",
    type="ordering",
    quiz="retries",
    concepts=("retry",),
    prompt="?",
    items=(Item("send", "Send", ""), Item("wait", "Wait", ""), Item("retry", "Retry", "")),
)
NUMERIC = Question(
    id="q-num",
    type="numeric",
    quiz="retries",
    concepts=("retry",),
    prompt="?",
    answer=700.0,
    tolerance=5.0,
    unit="ms",
    wrong_answers=(WrongAnswer(400.0, "That is only the last delay."),),
)
LAB = Question(
    id="q-lab",
    type="lab",
    quiz="retries",
    concepts=("retry",),
    prompt="?",
    options=(Option("a", "None", True, ""), Option("b", "Some", False, "")),
    unit="%",
    metric="by_mode.hybrid.success_rate_pct",
)


def test_a_single_choice_is_right_only_with_the_correct_option() -> None:
    assert grade(SINGLE, parse_answer(SINGLE, {"choice": ["a"]})).correct
    assert not grade(SINGLE, parse_answer(SINGLE, {"choice": ["b"]})).correct


def test_a_single_choice_names_the_field_when_the_shape_is_wrong() -> None:
    with pytest.raises(AnswerError, match="choose exactly one option") as info:
        parse_answer(SINGLE, {"choice": ["a", "b"]})
    assert info.value.field == "choice"
    with pytest.raises(AnswerError, match="'z' is not an option"):
        parse_answer(SINGLE, {"choice": ["z"]})


def test_multiple_select_needs_all_and_only_the_correct_options() -> None:
    assert grade(MULTIPLE, parse_answer(MULTIPLE, {"choice": ["b", "a"]})).correct
    partial = grade(MULTIPLE, parse_answer(MULTIPLE, {"choice": ["a"]}))
    assert not partial.correct
    assert partial.details["missed"] == ["b"]
    extra = grade(MULTIPLE, parse_answer(MULTIPLE, {"choice": ["a", "b", "c"]}))
    assert not extra.correct
    assert extra.details["wrongly_chosen"] == ["c"]


def test_ordering_reads_one_position_per_item_and_needs_the_exact_order() -> None:
    right = parse_answer(ORDERING, {"pos-send": ["1"], "pos-wait": ["2"], "pos-retry": ["3"]})
    assert right == ["send", "wait", "retry"]
    assert grade(ORDERING, right).correct
    swapped = grade(ORDERING, parse_answer(ORDERING, {"pos-send": ["1"], "pos-wait": ["3"], "pos-retry": ["2"]}))
    assert not swapped.correct
    assert swapped.details["in_place"] == [True, False, False]


def test_ordering_refuses_a_position_used_twice_or_missing() -> None:
    with pytest.raises(AnswerError, match="position 1 is already taken") as info:
        parse_answer(ORDERING, {"pos-send": ["1"], "pos-wait": ["1"], "pos-retry": ["3"]})
    assert info.value.field == "pos-wait"
    with pytest.raises(AnswerError, match="give a position from 1 to 3"):
        parse_answer(ORDERING, {"pos-send": ["1"], "pos-wait": ["2"]})


@pytest.mark.parametrize(
    ("typed", "right"),
    [("700", True), ("705", True), ("695", True), ("705.01", False), ("694.9", False), ("700 ms", True), ("7e2", True)],
)
def test_numeric_answers_are_right_within_the_tolerance_inclusive(typed: str, right: bool) -> None:
    assert grade(NUMERIC, parse_answer(NUMERIC, {"value": [typed]})).correct is right


def test_numeric_tolerance_forgives_floating_point_noise() -> None:
    tenths = Question(id="q", type="numeric", quiz="r", concepts=("retry",), prompt="?", answer=0.3, tolerance=0.0)
    assert grade(tenths, 0.1 + 0.2).correct


def test_numeric_answers_accept_thousands_separators_and_explain_typical_slips() -> None:
    assert parse_answer(NUMERIC, {"value": ["1,850"]}) == 1850
    slip = grade(NUMERIC, parse_answer(NUMERIC, {"value": ["400"]}))
    assert not slip.correct
    assert slip.details["typical_wrong"] == "That is only the last delay."


@pytest.mark.parametrize("typed", ["1,5", "fast", "nan", ""])
def test_numeric_answers_that_are_not_numbers_are_refused_naming_value(typed: str) -> None:
    with pytest.raises(AnswerError) as info:
        parse_answer(NUMERIC, {"value": [typed]})
    assert info.value.field == "value"


def test_a_lab_answer_is_graded_against_the_observed_value_with_one_percent_by_default() -> None:
    assert grade_lab(LAB, 57.0, 57.5).correct
    assert not grade_lab(LAB, 56.0, 57.5).correct
    assert grade_lab(LAB, 0.0, 0.0).correct
    assert not grade_lab(LAB, 1.0, 0.0).correct


def test_a_lab_prediction_gets_a_verdict_but_no_marks() -> None:
    assert grade_prediction(LAB, "a").correct
    assert not grade_prediction(LAB, "b").correct


def test_a_metric_is_read_from_the_run_summary_by_dotted_path() -> None:
    summary = {"success_rate_pct": 50.0, "by_mode": {"hybrid": {"success_rate_pct": 100.0}}, "dlq_count": 3}
    assert metric_value(summary, "by_mode.hybrid.success_rate_pct") == 100.0
    assert metric_value(summary, "dlq_count") == 3.0
    assert metric_value(summary, "by_mode.sync.success_rate_pct") is None
    assert metric_value(None, "dlq_count") is None


@pytest.mark.parametrize(
    ("correct", "confidence", "expected"),
    [
        (True, "", 1),
        (False, "", 0),
        (True, "low", 1),
        (False, "low", 0),
        (True, "medium", 2),
        (False, "medium", -2),
        (True, "high", 3),
        (False, "high", -6),
    ],
)
def test_certainty_based_marking_rewards_honest_confidence(correct: bool, confidence: str, expected: int) -> None:
    assert marks(correct=correct, confidence=confidence) == expected


def test_confidence_is_required_only_when_the_attempt_uses_it() -> None:
    assert parse_confidence({}, required=False) == ""
    with pytest.raises(AnswerError, match="choose low, medium or high"):
        parse_confidence({}, required=True)
    with pytest.raises(AnswerError, match="must be low, medium or high"):
        parse_confidence({"confidence": ["certain"]}, required=True)
