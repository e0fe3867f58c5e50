"""Writes: starting attempts, storing each response step, moving on, finishing, and merging at log-in.

Every write re-reads the attempt under a row lock inside one transaction, so two copies of the same request
(a double click, a retried POST) cannot both count: the second sees the first's response and replays it.
"""

from __future__ import annotations

import logging
import random
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from fsrs import Scheduler

from comms_lab.learners import Learner
from lab import predictions as lab_predictions
from lab.model.predictions import judge
from lab.models import Run
from quizzes import grading, scheduling
from quizzes.banks import Question, catalogue
from quizzes.behaviours import BEHAVIOURS, IMMEDIATE
from quizzes.models import Attempt, Response, ReviewCard
from quizzes.selectors import due_cards, lab_evidence, lab_page_prediction, owned_by

log = logging.getLogger(__name__)
REVIEW_SIZE = 10


class QuizError(Exception):
    """A request the attempt cannot accept: 400 for a malformed one, 404 for unknown things, 409 for state."""

    def __init__(self, status: int, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.status = status
        self.field = field
        self.message = message


def _owner_fields(learner: Learner) -> dict[str, Any]:
    if learner.user_id:
        return {"user_id": learner.user_id, "anonymous_id": ""}
    return {"user_id": None, "anonymous_id": learner.anonymous_id}


def _layout(attempt_id: str, question: Question) -> list[str]:
    """The display order of a question's options or items, seeded by attempt so a resume shows the same screen."""
    rng = random.Random(f"{attempt_id}:{question.id}")
    if question.type == "true_false":
        return ["true", "false"]
    if question.type == "ordering":
        key = [i.id for i in question.items]
        order = key[:]
        while order == key:
            rng.shuffle(order)
        return order
    order = [o.id for o in question.options]
    rng.shuffle(order)
    return order


def _new_attempt(
    learner: Learner, question_ids: list[str], *, variants: dict[str, str] | None = None, **fields: Any
) -> Attempt:
    attempt = Attempt(question_ids=question_ids, variants=variants or {}, **_owner_fields(learner), **fields)
    attempt.layout = {qid: _layout(str(attempt.id), shown_question(attempt, qid)) for qid in question_ids}
    attempt.save()
    return attempt


def shown_question(attempt: Attempt, question_id: str) -> Question:
    """The question in the version this attempt shows: what its screen asks and what its answer is graded by."""
    return catalogue().questions[question_id].in_variant(attempt.variants.get(question_id, ""))


def _fresh_variants(
    learner: Learner, question_ids: list[str], *, fallback: dict[str, str], rng: random.Random
) -> dict[str, str]:
    """For each question that has variants, a version other than the one the learner answered last (their review
    card's; `fallback` for a question without a card)."""
    questions = catalogue().questions
    with_variants = [qid for qid in question_ids if questions[qid].variants]
    cards = ReviewCard.objects.filter(owned_by(learner), question_id__in=with_variants)
    last_seen = dict(cards.values_list("question_id", "variant"))
    return {
        qid: scheduling.next_variant(
            questions[qid].variant_ids, last_seen=last_seen.get(qid, fallback.get(qid, "")), rng=rng
        )
        for qid in with_variants
    }


def retry_delay() -> timedelta:
    return timedelta(minutes=settings.QUIZ_RETRY_DELAY_MINUTES)


def retry_window(attempt: Attempt, *, now: datetime) -> scheduling.RetryWindow | None:
    """When this finished quiz or retry attempt's wrong answers may be retried (None for other attempts)."""
    if not attempt.is_finished or not attempt.counts_for_quiz or attempt.finished_at is None:
        return None
    return scheduling.RetryWindow(finished_at=attempt.finished_at, delay=retry_delay(), now=now)


def start_attempt(
    *, learner: Learner, quiz: str, behaviour: str = "immediate", use_confidence: bool = False
) -> Attempt:
    bank = catalogue().bank(quiz)
    if bank is None:
        raise QuizError(404, "quiz", f"there is no quiz {quiz!r}")
    if behaviour not in BEHAVIOURS:
        raise QuizError(400, "behaviour", f"must be one of {', '.join(BEHAVIOURS)}")
    return _new_attempt(
        learner,
        [q.id for q in bank.questions],
        quiz=quiz,
        kind=Attempt.Kind.QUIZ,
        behaviour=behaviour,
        use_confidence=use_confidence,
    )


def start_retry(
    *, learner: Learner, parent: Attempt, now: datetime | None = None, rng: random.Random | None = None
) -> Attempt:
    """A new attempt over the questions `parent` got wrong, in other versions where the bank has them; it keeps
    the parent's right answers for its score. It opens QUIZ_RETRY_DELAY_MINUTES after the parent finished."""
    window = retry_window(parent, now=now or timezone.now())
    if window is None:
        raise QuizError(409, "attempt", "only a finished quiz attempt can be retried")
    if not window.open:
        raise QuizError(
            409,
            "attempt",
            f"your wrong answers come back at {window.opens_at:%H:%M} UTC, in {window.minutes_left} "
            f"minute{'s' if window.minutes_left != 1 else ''}: a pause after the explanations makes the retry test "
            "what you remember",
        )
    answers = list(parent.responses.filter(step=Response.Step.ANSWER))
    wrong = {r.question_id for r in answers if answer_points(r)[0] < answer_points(r)[1]}
    if not wrong:
        raise QuizError(409, "attempt", "this attempt has no wrong answers to retry")
    kept = sum(answer_points(r)[0] for r in answers if r.question_id not in wrong)
    question_ids = [qid for qid in parent.question_ids if qid in wrong]
    return _new_attempt(
        learner,
        question_ids,
        variants=_fresh_variants(learner, question_ids, fallback=parent.variants, rng=rng or random.Random()),
        quiz=parent.quiz,
        kind=Attempt.Kind.RETRY,
        behaviour=IMMEDIATE.slug,
        use_confidence=parent.use_confidence,
        parent=parent,
        carried_correct=parent.carried_correct + kept,
    )


def start_review(
    *, learner: Learner, now: datetime, use_confidence: bool = False, rng: random.Random | None = None
) -> Attempt:
    """A session over the questions due for review, most overdue first, each in a version other than the one the
    learner answered last when the bank has variants of it."""
    questions = catalogue().questions
    due = [
        card.question_id
        for card in due_cards(learner, now=now)
        if card.question_id in questions and questions[card.question_id].reviewable
    ][:REVIEW_SIZE]
    if not due:
        raise QuizError(409, "review", "nothing is due for review yet")
    return _new_attempt(
        learner,
        due,
        variants=_fresh_variants(learner, due, fallback={}, rng=rng or random.Random()),
        quiz="",
        kind=Attempt.Kind.REVIEW,
        behaviour=IMMEDIATE.slug,
        use_confidence=use_confidence,
    )


@dataclass(frozen=True)
class StepResult:
    """What happened to a submitted step. `response` is None when a lab answer found no run to grade against."""

    attempt: Attempt
    response: Response | None = None
    replayed: bool = False


def _one(form: Mapping[str, Sequence[str]], name: str) -> str:
    values = [v for v in form.get(name, ()) if v.strip()]
    if len(values) != 1:
        raise QuizError(400, name, "is required" if not values else "must be given once")
    return values[0].strip()


def current_question_id(attempt: Attempt) -> str | None:
    if attempt.position >= len(attempt.question_ids):
        return None
    return attempt.question_ids[attempt.position]


def _locked(attempt: Attempt) -> Attempt:
    return Attempt.objects.select_for_update().get(pk=attempt.pk)


def _is_done(attempt: Attempt, question_id: str) -> bool:
    return attempt.responses.filter(
        question_id=question_id, step__in=[Response.Step.ANSWER, Response.Step.SKIP]
    ).exists()


def _replay(existing: Response, *, answer: Any, confidence: str, attempt: Attempt, question: Question) -> StepResult:
    """The same step again: identical content replays the stored result, different content is refused."""
    if existing.answer == answer and existing.confidence == confidence:
        return StepResult(attempt=attempt, response=existing, replayed=True)
    raise QuizError(
        409,
        "question",
        f"{question.id!r} already has a recorded {existing.step} in this attempt; answers are final",
    )


def submit(
    *,
    learner: Learner,
    attempt: Attempt,
    form: Mapping[str, Sequence[str]],
    now: datetime | None = None,
    scheduler: Scheduler = scheduling.SCHEDULER,
) -> StepResult:
    """Check, grade and store one step (prediction, answer or skip) for the question on screen."""
    now = now or timezone.now()
    if attempt.is_finished:
        raise QuizError(409, "attempt", "this attempt is finished; its answers can no longer change")
    question_id = _one(form, "question")
    if question_id not in attempt.question_ids or catalogue().question(question_id) is None:
        raise QuizError(400, "question", f"{question_id!r} is not a question of this attempt")
    question = shown_question(attempt, question_id)
    step = (form.get("step") or ["answer"])[0]
    if step not in Response.Step.values:
        raise QuizError(400, "step", f"must be one of {', '.join(Response.Step.values)}")
    if step != Response.Step.ANSWER and question.type != "lab":
        raise QuizError(400, "step", f"a {question.type} question has only an answer step")
    try:
        answer: Any = None
        if step == Response.Step.PREDICTION:
            answer = grading.parse_choice(question, form)
        elif step == Response.Step.ANSWER:
            answer = grading.parse_answer(question, form)
        confidence = grading.parse_confidence(form, required=attempt.use_confidence and step == Response.Step.ANSWER)
    except grading.AnswerError as exc:
        raise QuizError(400, exc.field, exc.message) from None
    try:
        with transaction.atomic():
            return _store_step(learner, attempt, question, step, answer, confidence, now=now, scheduler=scheduler)
    except IntegrityError:
        # A concurrent copy of this request stored the step first (possible on PostgreSQL).
        existing = Response.objects.get(attempt=attempt, question_id=question_id, step=step)
        return _replay(existing, answer=answer, confidence=confidence, attempt=attempt, question=question)


def _store_step(
    learner: Learner,
    attempt: Attempt,
    question: Question,
    step: str,
    answer: Any,
    confidence: str,
    *,
    now: datetime,
    scheduler: Scheduler,
) -> StepResult:
    attempt = _locked(attempt)
    if attempt.is_finished:
        raise QuizError(409, "attempt", "this attempt is finished; its answers can no longer change")
    existing = attempt.responses.filter(question_id=question.id, step=step).first()
    if existing is not None:
        return _replay(existing, answer=answer, confidence=confidence, attempt=attempt, question=question)
    current = current_question_id(attempt)
    if question.id != current:
        raise QuizError(409, "question", f"{question.id!r} is not the question on screen ({current!r})")
    if _is_done(attempt, question.id):
        raise QuizError(409, "question", f"{question.id!r} was already answered or skipped in this attempt")
    predicted = attempt.responses.filter(question_id=question.id, step=Response.Step.PREDICTION).exists()
    predicted = predicted or (question.type == "lab" and lab_page_prediction(learner, question) is not None)
    if question.has_prediction and step != Response.Step.PREDICTION and not predicted:
        raise QuizError(409, "step", "make your prediction first")

    response = Response(attempt=attempt, question_id=question.id, step=step, confidence=confidence, created_at=now)
    if step == Response.Step.SKIP and lab_evidence(learner, question).gradable:
        raise QuizError(409, "step", "you have a finished run of this preset that counts: enter the number it recorded")
    if step == Response.Step.PREDICTION:
        graded = grading.grade_prediction(question, answer)
        response.answer, response.correct = graded.answer, graded.correct
    elif step == Response.Step.ANSWER:
        if question.type == "lab":
            evidence = lab_evidence(learner, question)
            if evidence.run is None or evidence.observed is None:
                return StepResult(attempt=attempt)  # nothing stored: the learner's number waits in the form
            graded = grading.grade_lab(question, answer, evidence.observed)
            credit = _prediction_credit(learner, attempt, question, evidence.run)
            response.observed = {"run": str(evidence.run.id), **graded.details, "prediction": credit}
        else:
            graded = grading.grade(question, answer)
        response.answer, response.correct = graded.answer, graded.correct
        response.marks = grading.marks(correct=graded.correct, confidence=confidence)
    response.save()
    if step == Response.Step.ANSWER and question.reviewable:
        _review(attempt, question, correct=bool(response.correct), confidence=confidence, now=now, scheduler=scheduler)
    behaviour = BEHAVIOURS[attempt.behaviour]
    if step == Response.Step.SKIP or (step == Response.Step.ANSWER and behaviour.advances_on_answer):
        attempt.position += 1
    attempt.updated_at = now
    attempt.save(update_fields=["position", "updated_at"])
    return StepResult(attempt=attempt, response=response)


def _prediction_credit(learner: Learner, attempt: Attempt, question: Question, run: Run) -> dict[str, Any]:
    """The prediction point of a lab answer: from the quiz's own prediction step or from the learner's prediction
    on the lab page for the same experiment and preset, whichever earns it. On the lab page only the learner's first
    prediction for the preset, made before they ever ran it, can earn it: each prediction reveals the answers. A
    lab-page prediction of a number is judged against the graded run's figure."""
    started = run.started_at or run.created_at
    quiz = attempt.responses.filter(question_id=question.id, step=Response.Step.PREDICTION).first()
    credit = grading.prediction_credit(
        correct=quiz.correct if quiz else None, made_at=quiz.created_at if quiz else None, run_started_at=started
    )
    page = lab_page_prediction(learner, question, before=started) or lab_page_prediction(learner, question)
    predict = lab_predictions.predict_of(question.experiment, question.preset)
    if credit["credited"] or page is None or predict is None:
        return credit
    blind = lab_predictions.first_blind(learner, experiment=question.experiment, preset=question.preset)
    if blind is not None and blind.created_at < started:
        page = blind
    page_credit = grading.prediction_credit(
        correct=judge(predict, page.answer, run.summary),
        made_at=page.created_at,
        run_started_at=started,
        blind=blind is not None and page.pk == blind.pk,
    )
    if page_credit["credited"] or quiz is None:
        return {**page_credit, "on_lab_page": True}
    return credit


def answer_points(response: Response) -> tuple[int, int]:
    """(earned, possible) for a stored answer; a lab answer carries its prediction's point (grading.points)."""
    question = catalogue().question(response.question_id)
    if question is None:  # a question since removed from its bank still counts as it was graded
        return int(bool(response.correct)), 1
    return grading.points(question, correct=response.correct, observed=response.observed)


def _review(
    attempt: Attempt, question: Question, *, correct: bool, confidence: str, now: datetime, scheduler: Scheduler
) -> None:
    """One card per question, whichever version was answered; it remembers the version so the next one differs."""
    owner = {"user_id": attempt.user_id} if attempt.user_id else {"user_id": None, "anonymous_id": attempt.anonymous_id}
    card = ReviewCard.objects.select_for_update().filter(question_id=question.id, **owner).first()
    if card is None:
        card = ReviewCard(question_id=question.id, **owner)
        card.state = scheduling.new_card_state(zlib.crc32(question.id.encode()), now)
    card.state, card.due = scheduling.review(
        card.state, correct=correct, confidence=confidence, now=now, scheduler=scheduler
    )
    card.last_review = now
    card.variant = question.variant
    card.reviews += 1
    card.lapses += not correct
    card.save()


def advance(*, attempt: Attempt, question_id: str, now: datetime | None = None) -> Attempt:
    """Move from an answered question to the next one. Repeating the move for the same question is a no-op."""
    with transaction.atomic():
        attempt = _locked(attempt)
        if attempt.is_finished:
            raise QuizError(409, "attempt", "this attempt is finished")
        if question_id not in attempt.question_ids:
            raise QuizError(400, "question", f"{question_id!r} is not a question of this attempt")
        if attempt.question_ids.index(question_id) < attempt.position:
            return attempt
        if not _is_done(attempt, question_id):
            raise QuizError(409, "question", "answer this question (or skip it, for a lab question) first")
        attempt.position += 1
        attempt.updated_at = now or timezone.now()
        attempt.save(update_fields=["position", "updated_at"])
        return attempt


def finish(*, learner: Learner, attempt: Attempt, now: datetime | None = None) -> Attempt:
    """Score the attempt once every question is answered or skipped; finishing twice returns the same result."""
    now = now or timezone.now()
    with transaction.atomic():
        attempt = _locked(attempt)
        if attempt.is_finished:
            return attempt
        done = set(
            attempt.responses.filter(step__in=[Response.Step.ANSWER, Response.Step.SKIP]).values_list(
                "question_id", flat=True
            )
        )
        left = [qid for qid in attempt.question_ids if qid not in done]
        if left:
            raise QuizError(409, "attempt", f"{len(left)} question(s) still need an answer, starting with {left[0]!r}")
        answers = list(attempt.responses.filter(step=Response.Step.ANSWER))
        earned = [answer_points(r) for r in answers]
        attempt.correct_count = sum(e for e, _ in earned)
        attempt.graded_count = sum(p for _, p in earned)
        total = attempt.carried_correct + attempt.graded_count
        attempt.score = (attempt.carried_correct + attempt.correct_count) / total if total else None
        attempt.marks = sum(r.marks or 0 for r in answers) if attempt.use_confidence else None
        bank = catalogue().bank(attempt.quiz)
        attempt.passed = bool(
            attempt.counts_for_quiz and bank and attempt.score is not None and attempt.score >= bank.pass_mark
        )
        attempt.status = Attempt.Status.FINISHED
        attempt.position = len(attempt.question_ids)
        attempt.finished_at = attempt.updated_at = now
        attempt.save()
        if attempt.passed:  # in the same transaction: the pass and the completed lesson commit together
            _complete_lesson(learner, attempt.quiz)
        return attempt


def _complete_lesson(learner: Learner, slug: str) -> None:
    from lessons.services import mark_lesson_completed

    mark_lesson_completed(learner=learner, slug=slug, reason="quiz")


def merge_learner(*, anonymous_id: str, user_id: int) -> None:
    """Give an anonymous learner's attempts (with their responses) and review cards to the account they signed in to.

    Attempts move as they are. A question with a card on both sides keeps the state of the one reviewed last
    (the fresher memory) and the review and lapse counts of both, so no question ends up with two cards.
    """
    if not anonymous_id:
        return
    with transaction.atomic():
        Attempt.objects.filter(user__isnull=True, anonymous_id=anonymous_id).update(user_id=user_id, anonymous_id="")
        theirs = {c.question_id: c for c in ReviewCard.objects.select_for_update().filter(user_id=user_id)}
        for card in ReviewCard.objects.select_for_update().filter(user__isnull=True, anonymous_id=anonymous_id):
            existing = theirs.get(card.question_id)
            if existing is None:
                card.user_id, card.anonymous_id = user_id, ""
                card.save(update_fields=["user", "anonymous_id"])
                continue
            newer, older = (existing, card) if existing.last_review >= card.last_review else (card, existing)
            newer.reviews += older.reviews
            newer.lapses += older.lapses
            older.delete()
            newer.user_id, newer.anonymous_id = user_id, ""
            newer.save()
    log.info("merged anonymous learner %s into user %s", anonymous_id, user_id)
