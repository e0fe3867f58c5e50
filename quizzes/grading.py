"""Reading a submitted answer and grading it: pure functions, no Django, no database.

The question type decides what an answer looks like and when it is right; how and when feedback is shown is the
behaviour's business (behaviours.py). Grading happens only here, on the server: the form carries choices and
numbers, never a score.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# One reader of dotted summary paths for the lab and the quizzes (re-exported: the quiz selectors use it).
from lab.model.predictions import metric_value as metric_value
from quizzes.banks import Question

CONFIDENCE_LEVELS = ("low", "medium", "high")

# Certainty-based marking (Gardner-Medwin): marks for (right, wrong) at each confidence level. Claiming high
# confidence pays only when you are right more than 80% of the time, medium between 67% and 80%.
CBM_MARKS: dict[str, tuple[int, int]] = {"low": (1, 0), "medium": (2, -2), "high": (3, -6)}
CBM_MAX = 3
# The accuracy band in which each level maximises expected marks; calibration compares learners with it.
CBM_BANDS: dict[str, tuple[float, float]] = {"low": (0.0, 2 / 3), "medium": (2 / 3, 0.8), "high": (0.8, 1.0)}

_THOUSANDS = re.compile(r"^-?\d{1,3}(,\d{3})+(\.\d+)?$")


class AnswerError(ValueError):
    """An answer of the wrong shape; `field` is the form field to fix."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


Form = Mapping[str, Sequence[str]]


@dataclass(frozen=True)
class Grade:
    correct: bool
    answer: Any  # the normalised answer as stored: an option id, a list of ids, or a number
    details: dict[str, Any] = field(default_factory=dict)


def _values(form: Form, name: str) -> list[str]:
    return [v.strip() for v in form.get(name, ()) if v.strip()]


def parse_choice(question: Question, form: Form) -> str:
    values = _values(form, "choice")
    ids = ", ".join(o.id for o in question.options)
    if len(values) != 1:
        raise AnswerError("choice", f"choose exactly one option ({ids})")
    if question.option(values[0]) is None:
        raise AnswerError("choice", f"{values[0]!r} is not an option of this question ({ids})")
    return values[0]


def parse_choices(question: Question, form: Form) -> list[str]:
    values = _values(form, "choice")
    if not values:
        raise AnswerError("choice", "choose at least one option")
    unknown = [v for v in values if question.option(v) is None]
    if unknown:
        raise AnswerError("choice", f"{unknown[0]!r} is not an option of this question")
    if len(set(values)) != len(values):
        raise AnswerError("choice", "each option may be chosen once")
    return sorted(values)


def parse_order(question: Question, form: Form) -> list[str]:
    """Ordering answers arrive as one `pos-<item id>` number per item, which needs no drag and no script."""
    n = len(question.items)
    positions: dict[int, str] = {}
    for item in question.items:
        name = f"pos-{item.id}"
        values = _values(form, name)
        # ASCII digits only: str.isdigit() also accepts "²" or "٣", which int() then rejects or reads oddly.
        text = values[0].strip() if len(values) == 1 else ""
        if not (text.isascii() and text.isdigit() and len(text) <= 3) or not 1 <= int(text) <= n:
            raise AnswerError(name, f"give a position from 1 to {n}")
        position = int(text)
        if position in positions:
            raise AnswerError(name, f"position {position} is already taken by another item; use each of 1–{n} once")
        positions[position] = item.id
    return [positions[p] for p in range(1, n + 1)]


def parse_number(question: Question, form: Form) -> float:
    """A number as a person types it: "1850", "1,850", "1850 ms", "57.5%" are all accepted."""
    values = _values(form, "value")
    if len(values) != 1:
        raise AnswerError("value", f"enter one number{f' in {question.unit}' if question.unit else ''}")
    text = values[0]
    if question.unit and text.lower().endswith(question.unit.lower()):
        text = text[: -len(question.unit)]
    text = text.replace(" ", "").replace("\u202f", "").replace("_", "").removesuffix("%")
    if "," in text:
        if not _THOUSANDS.match(text):
            raise AnswerError("value", "use a point for decimals, e.g. 0.5")
        text = text.replace(",", "")
    try:
        number = float(text)
    except ValueError:
        raise AnswerError("value", f"{values[0]!r} is not a number; enter digits, e.g. 1850 or 0.25") from None
    if not math.isfinite(number):
        raise AnswerError("value", "enter a finite number")
    return number


def parse_confidence(form: Form, *, required: bool) -> str:
    values = _values(form, "confidence")
    if not values:
        if required:
            raise AnswerError("confidence", "choose low, medium or high")
        return ""
    if len(values) != 1 or values[0] not in CONFIDENCE_LEVELS:
        raise AnswerError("confidence", "must be low, medium or high")
    return values[0]


def parse_answer(question: Question, form: Form) -> Any:
    """The answer step's value for this question's type (a lab question's answer is the number observed)."""
    if question.type in ("single", "scenario", "true_false"):
        return parse_choice(question, form)
    if question.type == "multiple":
        return parse_choices(question, form)
    if question.type == "ordering":
        return parse_order(question, form)
    return parse_number(question, form)


def within(value: float, target: float, tolerance: float) -> bool:
    """|value - target| ≤ tolerance, forgiving the last bits of binary floating point (0.1 + 0.2 vs 0.3)."""
    return abs(value - target) <= tolerance + 1e-9 * max(1.0, abs(target))


def grade(question: Question, answer: Any) -> Grade:
    """Grade a parsed answer to a non-lab question (lab answers need the learner's run: see grade_lab)."""
    if question.type in ("single", "scenario", "true_false"):
        return Grade(correct=answer in question.correct_ids, answer=answer, details={"chosen": [answer]})
    if question.type == "multiple":
        chosen = set(answer)
        return Grade(
            correct=chosen == question.correct_ids,
            answer=sorted(chosen),
            details={
                "chosen": sorted(chosen),
                "missed": sorted(question.correct_ids - chosen),
                "wrongly_chosen": sorted(chosen - question.correct_ids),
            },
        )
    if question.type == "ordering":
        key = [i.id for i in question.items]
        placed = [a == k for a, k in zip(answer, key, strict=True)]
        return Grade(correct=answer == key, answer=list(answer), details={"in_place": placed})
    if question.type == "numeric":
        assert question.answer is not None and question.tolerance is not None
        typical = next(
            (w for w in question.wrong_answers if within(answer, w.value, question.tolerance)),
            None,
        )
        return Grade(
            correct=within(answer, question.answer, question.tolerance),
            answer=answer,
            details={"typical_wrong": typical.explanation if typical else ""},
        )
    raise ValueError(f"grade() cannot grade a {question.type} answer; use grade_lab")


def grade_prediction(question: Question, choice: str) -> Grade:
    """A lab question's prediction, judged at once; whether it earns its point waits for the run (see
    prediction_credit)."""
    return Grade(correct=choice in question.correct_ids, answer=choice, details={"chosen": [choice]})


def prediction_credit(
    *, correct: bool | None, made_at: datetime | None, run_started_at: datetime, blind: bool = True
) -> dict[str, Any]:
    """A prediction earns its point only if it was right, made before the graded run started, and made blind
    (before the answers were shown): a guess made while watching the run, after it, or after reading the answers
    predicts nothing."""
    before = made_at is not None and made_at < run_started_at
    return {
        "correct": bool(correct),
        "before_run": before,
        "blind": blind,
        "credited": bool(correct) and before and blind,
    }


def points(question: Question, *, correct: bool | None, observed: Mapping[str, Any] | None) -> tuple[int, int]:
    """(earned, possible) for one answer. A lab question is worth two: its prediction (right, and made before the
    run it is graded with) and the reading of the run. Every other question is worth one."""
    reading = int(bool(correct))
    if question.type != "lab":
        return reading, 1
    if "prediction" not in (observed or {}):  # answered before predictions were scored: graded as it was then
        return reading, 1
    prediction = (observed or {})["prediction"] or {}
    return reading + int(bool(prediction.get("credited"))), 2


def lab_tolerance(question: Question, observed: float) -> float:
    """The bank's tolerance, or 1% of the observed value (at least 0.01): enough for a number read off a page."""
    if question.tolerance is not None:
        return question.tolerance
    return max(abs(observed) * 0.01, 0.01)


def grade_lab(question: Question, entered: float, observed: float) -> Grade:
    """The learner's reading of their own run against the value the server stored for that run."""
    tolerance = lab_tolerance(question, observed)
    return Grade(
        correct=within(entered, observed, tolerance),
        answer=entered,
        details={"observed": observed, "tolerance": tolerance},
    )


def marks(*, correct: bool, confidence: str) -> int:
    """Marks for one answer: 1 or 0 without a confidence, the certainty-based table with one."""
    if not confidence:
        return 1 if correct else 0
    right, wrong = CBM_MARKS[confidence]
    return right if correct else wrong
