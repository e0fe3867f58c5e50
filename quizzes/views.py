"""Quiz pages. Every form works as a plain POST (then a redirect) and, with htmx, swaps only the quiz panel.

Pages that only read use `current_learner`, so viewing them writes no session; a visitor who has done nothing yet
is shown empty scores without a query. Starting an attempt is what creates the learner.
"""

from __future__ import annotations

import time
from typing import Any, cast

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST
from django_htmx.middleware import HtmxDetails

from comms_lab.learners import Learner, current_learner, learner_for
from lessons.page_cache import render_page
from quizzes import dashboard, selectors, services
from quizzes.banks import catalogue
from quizzes.behaviours import BEHAVIOURS
from quizzes.models import Attempt
from quizzes.screens import CBM_TABLE, panel
from quizzes.services import QuizError


class HtmxHttpRequest(HttpRequest):
    """A request that django-htmx's middleware has annotated (as its docs type it)."""

    htmx: HtmxDetails


def index(request: HttpRequest) -> HttpResponse:
    """Every quiz with the learner's scores, from their QuizRecord: no query while it has not changed."""
    record = selectors.quiz_record(current_learner(request))
    banks = catalogue().banks.values()
    due = record.due_count(timezone.now())
    by_quiz: dict[str, list[Attempt]] = {}
    for attempt in record.attempts:
        if attempt.kind != Attempt.Kind.REVIEW:
            by_quiz.setdefault(attempt.quiz, []).append(attempt)
    rows = [(bank, _score(bank.quiz, by_quiz.get(bank.quiz, [])), _open(by_quiz.get(bank.quiz, []))) for bank in banks]
    reviews = [a for a in record.attempts if a.kind == Attempt.Kind.REVIEW and not a.is_finished]
    review = max(reviews, key=lambda a: a.updated_at) if reviews else None
    key = (
        id(catalogue()),
        tuple((score.best, score.last, score.passed) if score else None for _, score, _ in rows),
        tuple(str(open_.pk) if open_ else "" for _, _, open_ in rows),
        due,
        str(review.pk) if review else "",
    )
    return render_page(request, "quizzes/index.html", {"rows": rows, "due": due, "review": review}, key=key)


def _open(attempts: list[Attempt]) -> Attempt | None:
    """selectors.open_attempt from rows already read: the most recently touched unfinished attempt."""
    unfinished = [a for a in attempts if not a.is_finished]
    return max(unfinished, key=lambda a: a.updated_at) if unfinished else None


def quiz(request: HttpRequest, slug: str) -> HttpResponse:
    bank = catalogue().bank(slug)
    if bank is None:
        raise Http404(f"There is no quiz {slug!r}.")
    record = selectors.quiz_record(current_learner(request))
    attempts = [a for a in record.attempts if a.quiz == slug and a.kind != Attempt.Kind.REVIEW]  # newest first
    latest = next((a for a in attempts if a.is_finished), None)
    retryable = latest if latest and latest.score is not None and latest.score < 1 else None
    retry = services.retry_window(retryable, now=timezone.now()) if retryable else None
    # The page shows "started 3 minutes ago": with attempts, a cached copy is good for the current minute only
    # (and until the retry button opens).
    key: tuple[Any, ...] = (id(catalogue()), tuple((str(a.pk), a.status, a.position, a.score) for a in attempts))
    if attempts:
        key += (int(time.time() // 60), bool(retry and retry.open))
    return render_page(
        request,
        "quizzes/quiz.html",
        {
            "bank": bank,
            "score": _score(slug, attempts),
            "open": _open(attempts),
            "attempts": attempts,
            "retryable": retryable,
            "retry": retry,
            "behaviours": BEHAVIOURS.values(),
            "cbm_table": CBM_TABLE,
            "lab_questions": sum(q.type == "lab" for q in bank.questions),
        },
        key=key,
    )


def _score(quiz: str, attempts: list[Attempt]) -> selectors.QuizScore | None:
    """selectors.quiz_scores for one quiz, from the attempts the page has already read (saves a query)."""
    if not attempts:
        return None
    done = [a for a in attempts if a.is_finished and a.score is not None]
    done.sort(key=lambda a: a.finished_at or a.started_at)
    return selectors.QuizScore(
        quiz=quiz,
        attempts=len(attempts),
        best=max((a.score for a in done if a.score is not None), default=None),
        last=done[-1].score if done else None,
        passed=any(a.passed for a in done),
    )


@require_POST
def start(request: HttpRequest, slug: str) -> HttpResponse:
    try:
        attempt = services.start_attempt(
            learner=learner_for(request),
            quiz=slug,
            behaviour=request.POST.get("behaviour", "immediate"),
            use_confidence=request.POST.get("confidence") == "on",
        )
    except QuizError as exc:
        if exc.status == 404:
            raise Http404(exc.message) from None
        return render(request, "quizzes/error.html", {"error": exc}, status=exc.status)
    return redirect("quizzes:attempt", attempt.id)


@require_POST
def start_review(request: HttpRequest) -> HttpResponse:
    try:
        attempt = services.start_review(
            learner=learner_for(request), now=timezone.now(), use_confidence=request.POST.get("confidence") == "on"
        )
    except QuizError as exc:
        return render(request, "quizzes/error.html", {"error": exc}, status=exc.status)
    return redirect("quizzes:attempt", attempt.id)


def _owned(request: HttpRequest, attempt_id: str) -> tuple[Learner, Attempt]:
    learner = learner_for(request)
    attempt = selectors.attempt_for(learner, attempt_id)
    if attempt is None:
        raise Http404("No such attempt among yours.")
    return learner, attempt


def _panel_response(
    request: HttpRequest, attempt: Attempt, learner: Learner, *, status: int = 200, **flags: object
) -> HttpResponse:
    """The panel alone for htmx; the whole page otherwise (errors), or a redirect after a plain successful POST."""
    htmx = cast(HtmxHttpRequest, request).htmx
    context = {"panel": panel(attempt, learner, **flags), "cbm_table": CBM_TABLE, "focus": bool(htmx)}
    if htmx:
        return render(request, "quizzes/attempt.html#panel", context, status=status)
    if request.method == "POST" and status == 200 and not flags.get("no_run"):
        return redirect("quizzes:attempt", attempt.id)
    return render(request, "quizzes/attempt.html", context, status=status)


def attempt_page(request: HttpRequest, attempt_id: str) -> HttpResponse:
    learner = current_learner(request)
    attempt = selectors.attempt_for(learner, attempt_id) if learner.known else None
    if attempt is None:
        raise Http404("No such attempt among yours.")
    return _panel_response(request, attempt, learner)


def _failed(request: HttpRequest, attempt: Attempt, learner: Learner, exc: QuizError) -> HttpResponse:
    attempt.refresh_from_db()
    return _panel_response(request, attempt, learner, status=exc.status, error=exc.message, error_field=exc.field)


@require_POST
def answer(request: HttpRequest, attempt_id: str) -> HttpResponse:
    learner, attempt = _owned(request, attempt_id)
    try:
        result = services.submit(learner=learner, attempt=attempt, form=dict(request.POST.lists()))
    except QuizError as exc:
        return _failed(request, attempt, learner, exc)
    if result.response is None:
        # Nothing was graded, but the number the learner typed comes back in the box: nothing they did is lost.
        return _panel_response(request, result.attempt, learner, no_run=True, kept_value=request.POST.get("value", ""))
    if result.replayed:
        return _panel_response(request, result.attempt, learner, replayed=True)
    return _panel_response(request, result.attempt, learner)


@require_POST
def next_question(request: HttpRequest, attempt_id: str) -> HttpResponse:
    learner, attempt = _owned(request, attempt_id)
    try:
        attempt = services.advance(attempt=attempt, question_id=request.POST.get("question", ""))
    except QuizError as exc:
        return _failed(request, attempt, learner, exc)
    return _panel_response(request, attempt, learner)


@require_POST
def finish(request: HttpRequest, attempt_id: str) -> HttpResponse:
    learner, attempt = _owned(request, attempt_id)
    try:
        attempt = services.finish(learner=learner, attempt=attempt)
    except QuizError as exc:
        return _failed(request, attempt, learner, exc)
    return _panel_response(request, attempt, learner)


@require_POST
def retry(request: HttpRequest, attempt_id: str) -> HttpResponse:
    learner, attempt = _owned(request, attempt_id)
    try:
        retry_attempt = services.start_retry(learner=learner, parent=attempt)
    except QuizError as exc:
        return render(request, "quizzes/error.html", {"error": exc}, status=exc.status)
    return redirect("quizzes:attempt", retry_attempt.id)


def progress(request: HttpRequest) -> HttpResponse:
    """The learner's dashboard: lessons, quizzes, lab runs, mastery by concept and what is due for review."""
    return render(request, "progress.html", dashboard.dashboard(current_learner(request), now=timezone.now()))
