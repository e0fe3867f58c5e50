"""Reads: whose attempts these are, scores per quiz, mastery and calibration per concept, what is due."""

from __future__ import annotations

import bisect
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q, QuerySet

from comms_lab import learner_state
from comms_lab.learners import Learner
from lab.model.catalog import EXPERIMENTS
from lab.models import Prediction, Run
from lab.predictions import latest_before, predict_of
from quizzes.banks import Question, catalogue
from quizzes.grading import metric_value
from quizzes.mastery import AnswerFact, Calibration, ConceptMastery, calibration, mastery
from quizzes.models import Attempt, Response, ReviewCard
from quizzes.qualify import RunRecord, qualification_problems


def owned_by(learner: Learner) -> Q:
    """The learner's rows: by account once signed in, else by the session's anonymous id (never both)."""
    if learner.user_id:
        return Q(user_id=learner.user_id)
    return Q(user__isnull=True, anonymous_id=learner.anonymous_id)


def attempts_of(learner: Learner) -> QuerySet[Attempt]:
    return Attempt.objects.filter(owned_by(learner))


def attempt_for(learner: Learner, attempt_id: str) -> Attempt | None:
    """The attempt if this learner owns it; None (a 404, never a 403 that confirms it exists) otherwise."""
    try:
        pk = uuid.UUID(str(attempt_id))
    except ValueError:
        return None
    return attempts_of(learner).filter(pk=pk).first()


def _unfinished_quiz_attempts(learner: Learner) -> QuerySet[Attempt]:
    return attempts_of(learner).filter(
        status=Attempt.Status.IN_PROGRESS, kind__in=[Attempt.Kind.QUIZ, Attempt.Kind.RETRY]
    )


def open_attempt(learner: Learner, quiz: str) -> Attempt | None:
    """The quiz attempt to resume: the most recently touched unfinished quiz or retry attempt."""
    return _unfinished_quiz_attempts(learner).filter(quiz=quiz).order_by("-updated_at").first()


def open_attempts(learner: Learner) -> dict[str, Attempt]:
    """open_attempt for every quiz at once (one query), by quiz slug."""
    return {a.quiz: a for a in _unfinished_quiz_attempts(learner).order_by("updated_at")}


def open_review(learner: Learner) -> Attempt | None:
    return (
        attempts_of(learner)
        .filter(kind=Attempt.Kind.REVIEW, status=Attempt.Status.IN_PROGRESS)
        .order_by("-updated_at")
        .first()
    )


@dataclass(frozen=True)
class QuizScore:
    quiz: str
    attempts: int
    best: float | None
    last: float | None
    passed: bool


def quiz_scores(learner: Learner) -> dict[str, QuizScore]:
    """Best and last score per quiz over finished quiz and retry attempts."""
    finished: dict[str, list[Attempt]] = defaultdict(list)
    counts: dict[str, int] = defaultdict(int)
    for attempt in attempts_of(learner).exclude(kind=Attempt.Kind.REVIEW).order_by("started_at"):
        counts[attempt.quiz] += 1
        if attempt.is_finished and attempt.score is not None:
            finished[attempt.quiz].append(attempt)
    scores = {}
    for quiz, count in counts.items():
        done = sorted(finished[quiz], key=lambda a: a.finished_at or a.started_at)
        scores[quiz] = QuizScore(
            quiz=quiz,
            attempts=count,
            best=max((a.score for a in done if a.score is not None), default=None),
            last=done[-1].score if done else None,
            passed=any(a.passed for a in done),
        )
    return scores


def answer_facts(learner: Learner) -> list[AnswerFact]:
    """Every graded answer the learner gave, in any quiz, retry or review."""
    rows = Response.objects.filter(
        attempt__in=attempts_of(learner), step=Response.Step.ANSWER, correct__isnull=False
    ).values_list("question_id", "correct", "created_at", "confidence")
    # correct__isnull=False: every c is a bool
    return [AnswerFact(question_id=q, correct=bool(c), at=at, confidence=conf) for q, c, at, conf in rows]


def _facts_by_concept(facts: list[AnswerFact]) -> dict[str, list[AnswerFact]]:
    questions = catalogue().questions
    grouped: dict[str, list[AnswerFact]] = defaultdict(list)
    for fact in facts:
        question = questions.get(fact.question_id)
        for concept in question.concepts if question else ():
            grouped[concept].append(fact)
    return grouped


def concept_mastery(learner: Learner, facts: list[AnswerFact] | None = None) -> dict[str, ConceptMastery]:
    """Mastery of every concept the banks test, including the ones not started yet."""
    grouped = _facts_by_concept(answer_facts(learner) if facts is None else facts)
    available: dict[str, int] = defaultdict(int)
    for question in catalogue().questions.values():
        for concept in question.concepts:
            available[concept] += 1
    return {concept: mastery(grouped.get(concept, []), available=n) for concept, n in sorted(available.items())}


def concept_calibration(learner: Learner, facts: list[AnswerFact] | None = None) -> dict[str, Calibration]:
    """Calibration for each concept that has confidence-rated answers."""
    grouped = _facts_by_concept(answer_facts(learner) if facts is None else facts)
    result = {concept: calibration(f) for concept, f in sorted(grouped.items())}
    return {concept: c for concept, c in result.items() if c.answers}


def due_cards(learner: Learner, *, now: datetime) -> QuerySet[ReviewCard]:
    return ReviewCard.objects.filter(owned_by(learner), due__lte=now).order_by("due")


@dataclass(frozen=True)
class QuizRecord:
    """What the quiz pages show of a learner: every attempt (newest first) and when each review card is due.

    It holds no clock reading, so it can be reused until the learner's rows change (comms_lab.learner_state);
    what is due now is counted from it per request.
    """

    attempts: tuple[Attempt, ...]
    due_times: tuple[datetime, ...]  # ascending

    def due_count(self, now: datetime) -> int:
        """len(due_cards(learner, now=now)), without a query."""
        return bisect.bisect_right(self.due_times, now)


def quiz_record(learner: Learner) -> QuizRecord:
    """The learner's QuizRecord: two queries, or none while their attempts and cards have not changed."""

    def read() -> QuizRecord:
        return QuizRecord(
            attempts=tuple(attempts_of(learner)),
            due_times=tuple(ReviewCard.objects.filter(owned_by(learner)).order_by("due").values_list("due", flat=True)),
        )

    if not learner.known:
        return QuizRecord(attempts=(), due_times=())
    return learner_state.remembered(learner, "quizzes", read)


def upcoming_cards(learner: Learner, *, now: datetime, limit: int = 5) -> list[ReviewCard]:
    return list(ReviewCard.objects.filter(owned_by(learner), due__gt=now).order_by("due")[:limit])


# How many of a learner's latest runs of a preset are looked through for one that qualifies.
RUNS_CONSIDERED = 20


@dataclass(frozen=True)
class LabEvidence:
    """What a lab question can be graded against: the learner's latest qualifying run of its preset and the
    value it recorded, or, when none qualifies, what is wrong with their latest run of it (in plain words)."""

    run: Run | None
    observed: float | None
    problems: tuple[str, ...] = ()
    latest: Run | None = None  # the latest run of the preset, qualifying or not

    @property
    def gradable(self) -> bool:
        return self.run is not None and self.observed is not None


def run_record(run: Run) -> RunRecord:
    return RunRecord(
        experiment=run.experiment,
        preset=run.preset,
        status=run.status,
        config=run.config or {},
        summary=run.summary,
        document=run.topology,
    )


def lab_evidence(learner: Learner, question: Question) -> LabEvidence:
    """Pick the latest run that qualifies (quizzes.qualify), not merely the latest run."""
    experiment = EXPERIMENTS[question.experiment]
    preset = experiment.preset(question.preset)
    assert preset is not None  # the bank loader checked it
    recent = list(
        Run.objects.filter(owned_by(learner), experiment=question.experiment, preset=question.preset).order_by(
            "-created_at"
        )[:RUNS_CONSIDERED]
    )
    latest_problems: tuple[str, ...] = ()
    for index, run in enumerate(recent):
        problems = qualification_problems(
            run_record(run), topology=experiment.topology, preset=preset, metric=question.metric
        )
        if not problems:
            observed = metric_value(run.summary, question.metric)
            return LabEvidence(run=run, observed=observed, latest=recent[0])
        if index == 0:
            latest_problems = tuple(problems)
    return LabEvidence(run=None, observed=None, problems=latest_problems, latest=recent[0] if recent else None)


def lab_page_prediction(learner: Learner, question: Question, *, before: datetime | None = None) -> Prediction | None:
    """The learner's prediction on the lab page for the question's experiment and preset (the latest, or the
    latest made before `before`): it stands in for the question's own prediction step."""
    if question.type != "lab" or predict_of(question.experiment, question.preset) is None:
        return None
    return latest_before(learner, experiment=question.experiment, preset=question.preset, before=before)
