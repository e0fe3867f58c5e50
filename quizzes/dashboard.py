"""The progress dashboard's data: lessons, quizzes, lab runs, mastery by concept, the concept map, review.

Lessons and the glossary come from lessons.selectors and runs from the lab's selectors: this module only reads
and arranges, so the page shows exactly what the owning apps record.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from comms_lab.learners import Learner
from lab.selectors import runs_of
from quizzes.banks import Bank, catalogue
from quizzes.mastery import Calibration, ConceptMastery, Level, calibration
from quizzes.selectors import (
    answer_facts,
    concept_calibration,
    concept_mastery,
    due_cards,
    open_review,
    quiz_scores,
    upcoming_cards,
)

CHART_BAR_WIDTH = 360


@dataclass
class ConceptRow:
    slug: str
    name: str
    definition: str
    url: str
    mastery: ConceptMastery
    calibration: Calibration | None
    lessons: list[Any] = field(default_factory=list)  # lessons.catalog.Lesson
    experiments: list[tuple[str, str]] = field(default_factory=list)  # (label, url)
    quizzes: list[tuple[Bank, int]] = field(default_factory=list)  # (bank, questions testing the concept)

    @property
    def bar_pct(self) -> int:
        return 25 * int(self.mastery.level)


@dataclass(frozen=True)
class ChartBar:
    level: Level
    count: int
    width: int
    y: int


def _concept_rows(mastery: dict[str, ConceptMastery], calibrations: dict[str, Calibration]) -> list[ConceptRow]:
    from lessons.selectors import glossary, lessons_for_concept

    terms = glossary()
    banks = catalogue()
    rows = []
    for slug, level in mastery.items():
        term = terms.get(slug)
        lessons = lessons_for_concept(slug)
        experiments: dict[str, str] = {}
        for lesson in lessons:
            for link in lesson.lab:
                if link.url:
                    experiments.setdefault(f"{link.experiment} · {link.preset}", link.url)
        per_quiz: dict[str, int] = defaultdict(int)
        for question in banks.questions_for_concept(slug):
            per_quiz[question.quiz] += 1
            if question.type == "lab":
                experiments.setdefault(
                    f"{question.experiment} · {question.preset}",
                    f"/lab/{question.experiment}/?preset={question.preset}",
                )
        rows.append(
            ConceptRow(
                slug=slug,
                name=term.term if term else slug,
                definition=term.definition if term else "",
                url=term.url if term else "",
                mastery=level,
                calibration=calibrations.get(slug),
                lessons=lessons,
                experiments=sorted(experiments.items()),
                quizzes=[(banks.banks[q], n) for q, n in per_quiz.items() if q in banks.banks],
            )
        )
    return rows


def _chart(rows: list[ConceptRow]) -> list[ChartBar]:
    counts = {level: 0 for level in Level}
    for row in rows:
        counts[row.mastery.level] += 1
    most = max(counts.values()) or 1
    return [
        ChartBar(level=level, count=n, width=round(CHART_BAR_WIDTH * n / most), y=8 + 34 * i)
        for i, (level, n) in enumerate(counts.items())
    ]


def _by_lesson(rows: list[ConceptRow]) -> list[tuple[Any, list[ConceptRow]]]:
    """Concepts grouped under the first lesson that teaches them, in guided order; untaught ones last."""
    groups: dict[str, list[ConceptRow]] = defaultdict(list)
    first: dict[str, Any] = {}
    for row in rows:
        lesson = row.lessons[0] if row.lessons else None  # lessons_for_concept keeps the guided order
        key = lesson.slug if lesson else ""
        first[key] = lesson
        groups[key].append(row)
    return sorted(((first[k], v) for k, v in groups.items()), key=lambda g: g[0].order if g[0] else 1_000_000)


def dashboard(learner: Learner, *, now: datetime) -> dict[str, Any]:
    from lessons.selectors import lesson_progress, progress_summary

    statuses = lesson_progress(learner)
    scores = quiz_scores(learner)
    facts = answer_facts(learner)
    mastery = concept_mastery(learner, facts)
    rows = _concept_rows(mastery, concept_calibration(learner, facts))
    started = [r for r in rows if r.mastery.level > Level.NOT_STARTED]
    return {
        "lessons": statuses,
        "lesson_summary": progress_summary(statuses),
        "quizzes": [(bank, scores[bank.quiz]) for bank in catalogue().banks.values() if bank.quiz in scores],
        "runs": runs_of(learner),
        "concepts": rows,
        "started": sorted(started, key=lambda r: (-r.mastery.level, r.name.casefold())),
        "chart": _chart(rows),
        "chart_height": 8 + 34 * len(Level),
        "concept_groups": _by_lesson(rows),
        "calibration": calibration(facts),
        "due": due_cards(learner, now=now).count(),
        "upcoming": [(card, catalogue().question(card.question_id)) for card in upcoming_cards(learner, now=now)],
        "review": open_review(learner),
        "answered": len({f.question_id for f in facts}),
        "total_questions": len(catalogue().questions),
    }
