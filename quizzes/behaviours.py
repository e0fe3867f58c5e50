"""How an attempt treats an answer, independent of the question's type (Moodle's "question behaviours").

Immediate feedback shows the verdict and explanations after each Check; deferred feedback (exam style) stores
the answer, moves on, and shows everything at the end. "Retry my wrong answers" is an attempt kind, not a
behaviour: it runs with immediate feedback over the questions a finished attempt got wrong.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Behaviour:
    slug: str
    label: str
    description: str
    feedback_after_each_answer: bool

    @property
    def advances_on_answer(self) -> bool:
        """Without feedback to read there is nothing to stay for: the next question comes at once."""
        return not self.feedback_after_each_answer


IMMEDIATE = Behaviour(
    "immediate",
    "Immediate feedback",
    "Check each answer as you go and read why each option is right or wrong.",
    feedback_after_each_answer=True,
)
DEFERRED = Behaviour(
    "deferred",
    "Exam (feedback at the end)",
    "Answer every question first; the verdicts and explanations come when you finish.",
    feedback_after_each_answer=False,
)
BEHAVIOURS: dict[str, Behaviour] = {b.slug: b for b in (IMMEDIATE, DEFERRED)}
