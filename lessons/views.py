"""Lesson pages: the index with progress and search, one lesson, reading progress, and the glossary.

Views stay thin: reads come from `lessons.selectors`, writes go through `lessons.services`. Every page works
without JavaScript; htmx only swaps fragments of the same templates (Django partials) for live search and for
the end of the lesson.

Viewing a page writes nothing: a first visit without cookies creates neither a session nor a progress row. The
page's script reports reading time (`reading`) once the learner has stayed a while, and reaching the end
(`complete`) counts only after a share of the reading time (`lessons.services.required_read_seconds`). The parts
of a page that are the same for everyone (table of contents, body, pager; the whole glossary) are rendered once
per content version and reused.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils.safestring import SafeString
from django.views.decorators.http import require_POST

from comms_lab.learners import current_learner, learner_for
from lessons import selectors, services
from lessons.catalog import Lesson, get_catalog
from lessons.page_cache import render_page

MAX_QUERY = 100


def index(request: HttpRequest) -> HttpResponse:
    statuses = selectors.remembered_progress(current_learner(request))
    query = request.GET.get("q", "").strip()[:MAX_QUERY]
    result = selectors.search(query) if query else None
    context = {
        "statuses": statuses,
        "summary": selectors.progress_summary(statuses),
        "q": query,
        "hits": result.hits if result else [],
        "corrections": result.corrections if result else {},
    }
    if request.htmx and request.htmx.target == "search-results":  # type: ignore[attr-defined]
        return render(request, "lessons/index.html#search-results", context)
    if query:  # search results are not cached: any text can be searched for
        return render(request, "lessons/index.html", context)
    return render_page(request, "lessons/index.html", context, key=tuple((s.status, s.reason) for s in statuses))


def detail(request: HttpRequest, slug: str) -> HttpResponse:
    lesson = _lesson_or_404(slug)
    status = next(s for s in selectors.remembered_progress(current_learner(request)) if s.slug == slug)
    context = {
        "lesson": lesson,
        "status": status,
        "total": selectors.lesson_count(),
        "parts": _page_parts(lesson),
        **_completion_context(lesson, status),
    }
    return render_page(
        request,
        "lessons/detail.html",
        context,
        key=(status.status, status.reason, status.read_seconds, bool(request.GET.get("early"))),
        visit=services.visit_token(slug=slug, read_seconds=status.read_seconds),
    )


@require_POST
def reading(request: HttpRequest, slug: str) -> HttpResponse:
    """The page reports that the learner is still reading: the lesson is in progress with its reading time."""
    _lesson_or_404(slug)
    visit = _visit(request, slug)
    if visit is None:
        return HttpResponse(status=400)
    if _worth_keeping(request, visit):
        services.record_reading(learner=learner_for(request), slug=slug, seconds=visit.seconds)
    return HttpResponse(status=204)


@require_POST
def complete(request: HttpRequest, slug: str) -> HttpResponse:
    """The learner reached the end (htmx) or pressed "Mark as read": completed after enough reading time.

    A visitor not yet known who jumps to the end within seconds is told what counts, and nothing is recorded.
    """
    lesson = _lesson_or_404(slug)
    visit = _visit(request, slug)
    if _worth_keeping(request, visit):
        learner = learner_for(request)
        before = selectors.lesson_status(learner, slug).read_seconds
        seconds = visit.seconds if visit else before
        completed = services.complete_by_reading(learner=learner, slug=slug, seconds=seconds)
    else:
        learner, completed = current_learner(request), False
    status = selectors.lesson_status(learner, slug)
    if request.htmx:  # type: ignore[attr-defined]
        context = {"lesson": lesson, "status": status, "oob": True, "too_early": not completed}
        context.update(_completion_context(lesson, status))
        context["visit"] = services.visit_token(slug=slug, read_seconds=status.read_seconds)
        return render(request, "lessons/detail.html#completion", context)
    return redirect(f"{lesson.url}{'' if completed else '?early=1'}#lesson-end")


def _worth_keeping(request: HttpRequest, visit: services.Visit | None) -> bool:
    """A learner we already know, or a visitor who has read for WORTH_KEEPING_S: only then is anything written
    (a session and a progress row appear when the learner does something worth keeping)."""
    return current_learner(request).known or (visit is not None and visit.seconds >= services.WORTH_KEEPING_S)


def glossary(request: HttpRequest) -> HttpResponse:
    catalog = get_catalog()
    entries = catalog.cached(
        "page:glossary",
        lambda: render_to_string("lessons/glossary.html#entries", {"entries": selectors.glossary_entries()}),
    )
    context = {"entries_html": entries, "count": len(catalog.glossary)}
    return render_page(request, "lessons/glossary.html", context, key=())


def _page_parts(lesson: Lesson) -> dict[str, SafeString]:
    """The lesson page's table of contents, body and pager: the same for every learner, rendered once per content
    version."""

    def build() -> dict[str, SafeString]:
        previous, following = selectors.lesson_neighbours(lesson)
        context = {"lesson": lesson, "previous": previous, "next": following}
        # render_to_string returns safe strings: the partials escape what they print.
        return {name: render_to_string(f"lessons/detail.html#{name}", context) for name in ("toc", "body", "pager")}

    return get_catalog().cached(f"page:{lesson.slug}", build)


def _completion_context(lesson: Lesson, status: selectors.LessonStatus) -> dict[str, object]:
    required = services.required_read_seconds(lesson)
    return {
        "required_seconds": required,
        "required_minutes": max(1, round(required / 60)),
        "read_minutes": status.read_seconds // 60,
        "remaining_seconds": max(0, required - status.read_seconds),
    }


def _visit(request: HttpRequest, slug: str) -> services.Visit | None:
    try:
        claimed: int | None = int(request.POST["seconds"])
    except (KeyError, ValueError):
        claimed = None  # the plain form: the time since the page was served
    return services.read_visit(request.POST.get("visit", ""), slug=slug, claimed=claimed)


def _lesson_or_404(slug: str) -> Lesson:
    lesson = selectors.get_lesson(slug)
    if lesson is None:
        raise Http404(f"No lesson {slug!r}")
    return lesson
