"""The shipped banks carry no item-writing cue that lets a learner score without knowing the answer.

The figures are computed over every bank as it ships, so a new or edited bank that brings a cue back fails here:
the key is rarely the longest option, true/false keys are balanced, and the key is not stored first.
"""

from __future__ import annotations

from collections.abc import Callable

from quizzes.banks import Question, catalogue

SINGLE_ANSWER_TYPES = ("single", "scenario")
MAX_KEY_LONGEST_SHARE = 0.35
# With about four options chance is 25%: a key that is almost never the longest (or often the shortest) is a cue too.
MIN_KEY_LONGEST_SHARE = 0.10
MAX_KEY_SHORTEST_SHARE = 0.35
TRUE_SHARE_RANGE = (0.40, 0.60)
MAX_KEY_FIRST_SHARE = 0.40


def single_answer_questions() -> list[Question]:
    return [q for q in catalogue().questions.values() if q.type in SINGLE_ANSWER_TYPES]


def key_is_longest(question: Question) -> bool:
    """Ties count as longest: a learner picking the longest option would pick the key at least as often."""
    key = next(o for o in question.options if o.correct)
    return len(key.text) >= max(len(o.text) for o in question.options if not o.correct)


def share(questions: list[Question], predicate: Callable[[Question], bool]) -> float:
    return sum(1 for q in questions if predicate(q)) / len(questions)


def test_there_are_enough_single_answer_and_true_false_questions_for_the_figures_to_mean_something() -> None:
    assert len(single_answer_questions()) >= 100
    assert len([q for q in catalogue().questions.values() if q.type == "true_false"]) >= 30


def test_the_correct_option_is_the_longest_in_at_most_35_percent_of_single_answer_questions() -> None:
    questions = single_answer_questions()
    longest = [q.id for q in questions if key_is_longest(q)]
    assert len(longest) / len(questions) <= MAX_KEY_LONGEST_SHARE, (
        f"the key is the longest option in {len(longest)} of {len(questions)}: {longest}"
    )


def key_is_shortest(question: Question) -> bool:
    key = next(o for o in question.options if o.correct)
    return len(key.text) <= min(len(o.text) for o in question.options if not o.correct)


def test_the_correct_option_is_not_kept_short_instead_so_length_points_neither_way() -> None:
    questions = single_answer_questions()
    assert share(questions, key_is_longest) >= MIN_KEY_LONGEST_SHARE
    assert share(questions, key_is_shortest) <= MAX_KEY_SHORTEST_SHARE


def test_true_is_the_answer_to_between_40_and_60_percent_of_true_false_questions() -> None:
    questions = [q for q in catalogue().questions.values() if q.type == "true_false"]
    true_share = share(questions, lambda q: q.correct_ids == {"true"})
    low, high = TRUE_SHARE_RANGE
    assert low <= true_share <= high, f"true is the key in {true_share:.0%} of {len(questions)} true/false questions"


def test_the_correct_option_is_stored_first_in_at_most_40_percent_of_single_answer_questions() -> None:
    questions = single_answer_questions()
    first = share(questions, lambda q: q.options[0].correct)
    assert first <= MAX_KEY_FIRST_SHARE, f"the key is stored first in {first:.0%} of {len(questions)}"


def test_the_correct_option_is_stored_in_every_position_somewhere_in_the_banks() -> None:
    positions = {next(i for i, o in enumerate(q.options) if o.correct) for q in single_answer_questions()}
    assert positions >= {0, 1, 2, 3}


def test_lab_predictions_do_not_store_their_key_first_in_most_questions() -> None:
    labs = [q for q in catalogue().questions.values() if q.type == "lab"]
    first = share(labs, lambda q: q.options[0].correct)
    assert first <= MAX_KEY_FIRST_SHARE, f"the prediction key is stored first in {first:.0%} of {len(labs)}"


def test_multiple_answer_questions_do_not_store_their_correct_options_as_a_leading_block_in_most_questions() -> None:
    def correct_options_lead(question: Question) -> bool:
        flags = [o.correct for o in question.options]
        return flags == sorted(flags, reverse=True)

    questions = [q for q in catalogue().questions.values() if q.type == "multiple"]
    assert share(questions, correct_options_lead) <= 0.5


def variants() -> list[Question]:
    return [v for q in catalogue().questions.values() for v in q.variants]


def test_a_numeric_variant_asks_for_a_different_number_than_its_question() -> None:
    """Otherwise a learner who remembers the last answer passes the review without redoing the reasoning."""
    questions = catalogue().questions
    same = [v.id for v in variants() if v.type == "numeric" and v.answer == questions[v.id].answer]
    assert not same, f"these numeric variants keep their question's answer: {same}"


def test_reviews_have_other_versions_to_show_in_nearly_every_bank() -> None:
    """At least two questions with variants in all but two banks, so a review session mostly asks anew."""
    varied = [sum(1 for q in bank.questions if q.variants) >= 2 for bank in catalogue().banks.values()]
    assert sum(varied) >= len(varied) - 2
    assert len(variants()) >= 40
