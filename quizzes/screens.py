"""What the attempt page shows: the question on screen, its stored steps and feedback, or the results.

Views stay thin and templates stay simple: everything a template would otherwise compute (display order,
which options to explain, the learner's lab run) is prepared here from the attempt and its responses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.urls import reverse
from django.utils import timezone

from comms_lab.learners import Learner
from lab.model.experiments import EXPERIMENTS
from lab.models import Prediction, Run
from lab.predictions import predict_of
from quizzes.banks import Bank, Question, catalogue
from quizzes.behaviours import BEHAVIOURS, Behaviour
from quizzes.grading import CBM_MARKS, CBM_MAX, grade
from quizzes.models import Attempt, Response
from quizzes.scheduling import RetryWindow
from quizzes.selectors import lab_evidence, lab_page_prediction
from quizzes.services import answer_points, current_question_id, retry_window, shown_question

INSTRUCTIONS = {
    "single": "choose one answer",
    "scenario": "choose the design that fits",
    "true_false": "true or false",
    "multiple": "choose every answer that applies",
    "ordering": "put the steps in order",
    "numeric": "work out the number",
    "lab": "predict, run it in the lab, then read your run",
}


@dataclass(frozen=True)
class Choice:
    id: str
    text: str
    correct: bool
    explanation: str
    chosen: bool


@dataclass(frozen=True)
class Placed:
    id: str
    text: str
    explanation: str
    position: int  # 1-based position in the correct order
    given: int | None  # where the learner put it


@dataclass(frozen=True)
class LabSetup:
    experiment: str
    experiment_title: str
    preset: str
    preset_title: str
    notice: str
    settings: list[tuple[str, Any]]
    script: list[tuple[float, str]]
    url: str
    run: Run | None  # the learner's latest run of the preset that qualifies (quizzes.qualify)
    metric: str
    problems: tuple[str, ...] = ()  # why their latest run of it does not count, when none does
    latest: Run | None = None
    asks_prediction: bool = False  # the preset asks a prediction on the lab page, which counts for the question


@dataclass
class QuestionScreen:
    question: Question
    number: int
    total: int
    choices: list[Choice] = field(default_factory=list)
    items: list[Placed] = field(default_factory=list)  # ordering: display order for the form
    key: list[Placed] = field(default_factory=list)  # ordering: the correct order, for feedback
    prediction: Response | None = None
    answer: Response | None = None
    skipped: bool = False
    lab: LabSetup | None = None
    # A prediction made on the lab page for the same experiment and preset: it stands in for the prediction step.
    lab_prediction: Prediction | None = None
    lab_prediction_text: str = ""
    # A review or retry chose which version of the question to show: one other than the learner answered last.
    another_version: bool = False

    @property
    def instruction(self) -> str:
        return INSTRUCTIONS[self.question.type]

    @property
    def done(self) -> bool:
        return self.answer is not None or self.skipped

    @property
    def stage(self) -> str:
        """prediction → answer → done; only lab questions have the prediction stage."""
        if self.done:
            return "done"
        if self.question.has_prediction and self.prediction is None and self.lab_prediction is None:
            return "prediction"
        return "answer"

    @property
    def points(self) -> tuple[int, int]:
        return answer_points(self.answer) if self.answer else (0, 0)

    @property
    def explained_choices(self) -> list[Choice]:
        """Feedback explains the options the learner chose and the right ones, not every distractor."""
        return [c for c in self.choices if c.chosen or c.correct]

    @property
    def typical_wrong(self) -> str:
        if self.answer is None or self.question.type != "numeric":
            return ""
        return grade(self.question, self.answer.answer).details["typical_wrong"]


def _choices(question: Question, order: list[str], chosen: Any) -> list[Choice]:
    picked = set(chosen) if isinstance(chosen, list) else {chosen}
    result = []
    for oid in order:
        option = question.option(oid)
        if option is not None:
            result.append(Choice(option.id, option.text, option.correct, option.explanation, oid in picked))
    return result


def _said(prediction: Prediction | None) -> str:
    """A lab-page prediction in words: the chosen choice's text, or the number with its unit."""
    predict = predict_of(prediction.experiment, prediction.preset) if prediction else None
    if prediction is None or predict is None:
        return ""
    choice = predict.choice(str(prediction.answer))
    return choice.text if choice else f"{prediction.answer:g} {predict.unit}"


def _lab_setup(question: Question, learner: Learner) -> LabSetup:
    experiment = EXPERIMENTS[question.experiment]
    preset = experiment.preset(question.preset)
    evidence = lab_evidence(learner, question)
    assert preset is not None  # the bank loader checked it
    return LabSetup(
        experiment=experiment.slug,
        experiment_title=experiment.title,
        preset=preset.slug,
        preset_title=preset.title,
        notice=preset.notice,
        settings=sorted(preset.config.items()),
        script=[(step.at, ", ".join(f"{k} → {v}" for k, v in step.values.items())) for step in preset.script],
        url=f"{reverse('lab:experiment', args=[experiment.slug])}?preset={preset.slug}",
        run=evidence.run,
        metric=question.metric,
        problems=evidence.problems,
        latest=evidence.latest,
        asks_prediction=preset.predict is not None,
    )


def question_screen(attempt: Attempt, question_id: str, responses: list[Response], learner: Learner) -> QuestionScreen:
    question = shown_question(attempt, question_id)
    steps = {r.step: r for r in responses if r.question_id == question_id}
    screen = QuestionScreen(
        question=question,
        another_version=question_id in attempt.variants,
        number=attempt.question_ids.index(question_id) + 1,
        total=len(attempt.question_ids),
        prediction=steps.get(Response.Step.PREDICTION),
        answer=steps.get(Response.Step.ANSWER),
        skipped=Response.Step.SKIP in steps,
    )
    order = attempt.layout.get(question_id, [])
    if question.type == "ordering":
        given: list[Any] = (screen.answer.answer or []) if screen.answer else []
        placed = {i.id: n for n, i in enumerate(question.items, 1)}
        screen.items = [
            Placed(i.id, i.text, i.explanation, placed[i.id], given.index(i.id) + 1 if i.id in given else None)
            for i in (question.item(x) for x in order)
            if i is not None
        ]
        screen.key = sorted(screen.items, key=lambda p: p.position)
    elif question.type == "lab":
        screen.choices = _choices(question, order, screen.prediction.answer if screen.prediction else None)
        screen.lab = _lab_setup(question, learner)
        screen.lab_prediction = lab_page_prediction(learner, question)
        screen.lab_prediction_text = _said(screen.lab_prediction)
    elif question.options:
        screen.choices = _choices(question, order, screen.answer.answer if screen.answer else None)
    return screen


@dataclass
class Panel:
    """Everything the attempt panel renders: header numbers plus the question on screen, or the results."""

    attempt: Attempt
    bank: Bank | None
    behaviour: Behaviour
    screen: QuestionScreen | None
    answered: int  # questions done: answered or skipped
    graded: int  # points possible over the answers so far (a lab question is worth two; skipped ones none)
    right: int  # points earned
    answers: int  # questions answered
    results: list[QuestionScreen] = field(default_factory=list)
    error: str = ""
    error_field: str = ""
    no_run: bool = False
    kept_value: str = ""  # a lab answer that found no qualifying run, shown again in its box
    replayed: bool = False
    retry: RetryWindow | None = None  # when the wrong answers of this finished attempt may be retried

    @property
    def title(self) -> str:
        return self.bank.title if self.bank else "Review"

    @property
    def total(self) -> int:
        return len(self.attempt.question_ids)

    @property
    def position_number(self) -> int:
        return min(self.attempt.position + 1, self.total)

    @property
    def progress_pct(self) -> int:
        return round(100 * self.answered / self.total) if self.total else 0

    @property
    def is_last(self) -> bool:
        return self.attempt.position >= self.total - 1

    @property
    def wrong(self) -> list[QuestionScreen]:
        return [s for s in self.results if s.answer is not None and s.points[0] < s.points[1]]

    @property
    def skipped(self) -> list[QuestionScreen]:
        return [s for s in self.results if s.skipped]

    @property
    def cbm_max(self) -> int:
        return CBM_MAX * self.answers

    @property
    def score_pct(self) -> int | None:
        return None if self.attempt.score is None else round(100 * self.attempt.score)

    @property
    def pass_pct(self) -> int | None:
        return round(100 * self.bank.pass_mark) if self.bank else None


def panel(attempt: Attempt, learner: Learner, **flags: Any) -> Panel:
    responses = list(attempt.responses.all())
    done = {r.question_id for r in responses if r.step in (Response.Step.ANSWER, Response.Step.SKIP)}
    answers = [r for r in responses if r.step == Response.Step.ANSWER]
    earned = [answer_points(r) for r in answers]
    result = Panel(
        attempt=attempt,
        bank=catalogue().bank(attempt.quiz),
        behaviour=BEHAVIOURS[attempt.behaviour],
        screen=None,
        answered=len(done),
        graded=sum(p for _, p in earned),
        right=sum(e for e, _ in earned),
        answers=len(answers),
        **flags,
    )
    if attempt.is_finished:
        result.retry = retry_window(attempt, now=timezone.now())
        result.results = [question_screen(attempt, qid, responses, learner) for qid in attempt.question_ids]
    elif (qid := current_question_id(attempt)) is not None:
        result.screen = question_screen(attempt, qid, responses, learner)
    return result


CBM_TABLE = [(level, right, wrong) for level, (right, wrong) in CBM_MARKS.items()]
