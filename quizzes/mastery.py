"""Mastery levels and confidence calibration per concept, computed from stored answers: pure functions.

The rule (also in docs/quizzes.md), over the questions tagged with a concept that the learner has answered,
judging each question by its most recent graded answer:

- attempted: at least one question answered;
- familiar: at least half of them right;
- proficient: at least 80% right, over at least two questions (or every question the concept has, if fewer);
- mastered: proficient, and at least one question answered right again a day or more after it was first
  answered right, so the knowledge has survived a spacing interval (what the review queue provides).

Latest answers count, not the first: a learner who fixes a misconception is not held back by it forever, and
one who forgets (a wrong review) drops a level until they get it right again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import IntEnum

from quizzes.grading import CBM_BANDS, CONFIDENCE_LEVELS

RETENTION_GAP = timedelta(days=1)
PROFICIENT_ACCURACY = 0.8
FAMILIAR_ACCURACY = 0.5


class Level(IntEnum):
    NOT_STARTED = 0
    ATTEMPTED = 1
    FAMILIAR = 2
    PROFICIENT = 3
    MASTERED = 4

    @property
    def label(self) -> str:
        return self.name.replace("_", " ").lower()


@dataclass(frozen=True)
class AnswerFact:
    """One graded answer step, as mastery and calibration see it."""

    question_id: str
    correct: bool
    at: datetime
    confidence: str = ""


@dataclass(frozen=True)
class ConceptMastery:
    level: Level
    answered: int  # distinct questions answered
    right: int  # of those, right on the latest answer
    available: int  # questions the banks have for the concept


def mastery(facts: Iterable[AnswerFact], *, available: int) -> ConceptMastery:
    by_question: dict[str, list[AnswerFact]] = {}
    for fact in sorted(facts, key=lambda f: f.at):
        by_question.setdefault(fact.question_id, []).append(fact)
    answered = len(by_question)
    right = sum(answers[-1].correct for answers in by_question.values())
    if not answered:
        return ConceptMastery(Level.NOT_STARTED, 0, 0, available)
    accuracy = right / answered
    level = Level.ATTEMPTED
    if accuracy >= FAMILIAR_ACCURACY:
        level = Level.FAMILIAR
    if accuracy >= PROFICIENT_ACCURACY and answered >= min(2, max(available, 1)):
        level = Level.PROFICIENT
        if any(_retained(answers) for answers in by_question.values()):
            level = Level.MASTERED
    return ConceptMastery(level, answered, right, available)


def _retained(answers: list[AnswerFact]) -> bool:
    """Right now, and right at least RETENTION_GAP after the first right answer."""
    if not answers[-1].correct:
        return False
    first_right = next(a.at for a in answers if a.correct)
    return any(a.correct and a.at - first_right >= RETENTION_GAP for a in answers)


@dataclass(frozen=True)
class LevelCalibration:
    confidence: str
    answers: int
    right: int

    @property
    def accuracy(self) -> float | None:
        return self.right / self.answers if self.answers else None

    @property
    def verdict(self) -> str:
        """ "over" when this confidence claims more than the accuracy earns, "under" when less, else "ok"."""
        if self.accuracy is None:
            return ""
        low, high = CBM_BANDS[self.confidence]
        if self.accuracy < low:
            return "over"
        if self.accuracy > high:
            return "under"
        return "ok"


@dataclass(frozen=True)
class Calibration:
    levels: tuple[LevelCalibration, ...]

    @property
    def answers(self) -> int:
        return sum(level.answers for level in self.levels)

    @property
    def verdict(self) -> str:
        """overconfident, underconfident, well calibrated, or "" without confidence-rated answers."""
        verdicts = {level.verdict for level in self.levels} - {""}
        if not verdicts:
            return ""
        if "over" in verdicts:
            return "overconfident"
        if "under" in verdicts:
            return "underconfident"
        return "well calibrated"


def calibration(facts: Iterable[AnswerFact]) -> Calibration:
    """How often the learner was right at each confidence they claimed, against the band CBM rewards."""
    counts = {level: [0, 0] for level in CONFIDENCE_LEVELS}
    for fact in facts:
        if fact.confidence in counts:
            counts[fact.confidence][0] += 1
            counts[fact.confidence][1] += fact.correct
    return Calibration(tuple(LevelCalibration(level, n, right) for level, (n, right) in counts.items()))
