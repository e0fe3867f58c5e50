"""Lesson pages: the index with progress and search, one lesson, marking it read, and the glossary.

Views stay thin: reads come from `lessons.selectors`, writes go through `lessons.services`. Every page works
without JavaScript; htmx only swaps fragments of the same templates (Django partials) for live search and for
marking a lesson read when its end scrolls into view.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from comms_lab.learners import learner_for
from lessons import selectors, services
from lessons.catalog import Lesson

MAX_QUERY = 100


def index(request: HttpRequest) -> HttpResponse:
    statuses = selectors.lesson_progress(learner_for(request))
    query = request.GET.get("q", "").strip()[:MAX_QUERY]
    context = {
        "statuses": statuses,
        "summary": selectors.progress_summary(statuses),
        "q": query,
        "hits": selectors.search_lessons(query) if query else [],
    }
    if request.htmx and request.htmx.target == "search-results":  # type: ignore[attr-defined]
        return render(request, "lessons/index.html#search-results", context)
    return render(request, "lessons/index.html", context)


def detail(request: HttpRequest, slug: str) -> HttpResponse:
    lesson = _lesson_or_404(slug)
    learner = learner_for(request)
    services.mark_lesson_opened(learner=learner, slug=slug)
    previous, following = selectors.lesson_neighbours(lesson)
    context = {
        "lesson": lesson,
        "status": selectors.lesson_status(learner, slug),
        "total": selectors.lesson_count(),
        "previous": previous,
        "next": following,
    }
    return render(request, "lessons/detail.html", context)


@require_POST
def complete(request: HttpRequest, slug: str) -> HttpResponse:
    """The "read to the end" button, or htmx when the end of the lesson scrolls into view."""
    lesson = _lesson_or_404(slug)
    learner = learner_for(request)
    services.mark_lesson_completed(learner=learner, slug=slug, reason="read")
    if request.htmx:  # type: ignore[attr-defined]
        context = {"lesson": lesson, "status": selectors.lesson_status(learner, slug), "oob": True}
        return render(request, "lessons/detail.html#completion", context)
    return redirect(f"{lesson.url}#lesson-end")


def glossary(request: HttpRequest) -> HttpResponse:
    return render(request, "lessons/glossary.html", {"entries": selectors.glossary_entries()})


def _lesson_or_404(slug: str) -> Lesson:
    lesson = selectors.get_lesson(slug)
    if lesson is None:
        raise Http404(f"No lesson {slug!r}")
    return lesson
