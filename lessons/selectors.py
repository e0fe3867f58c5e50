"""Reads for lessons, progress and the glossary. Other apps import these; they never touch the content files.

Lesson statuses are "not_started", "in_progress" and "completed"; a completed lesson's reason is "read" (read to
the end) or "quiz" (its quiz was passed), otherwise "".
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from django.db.models import QuerySet
from django.utils.safestring import SafeString, mark_safe

from comms_lab.learners import Learner
from lessons.catalog import Lesson, get_catalog
from lessons.glossary import GlossaryTerm
from lessons.models import LessonProgress, Reason, Status

NOT_STARTED = "not_started"
STATUS_LABELS = {NOT_STARTED: "not started", **dict(Status.choices)}
REASON_LABELS = dict(Reason.choices)
SNIPPET_CHARS = 90


@dataclass(frozen=True)
class LessonStatus:
    """One lesson as one learner stands with it."""

    slug: str
    title: str
    order: int
    status: str
    reason: str
    summary: str = ""
    reading_minutes: int = 0

    @property
    def url(self) -> str:
        return f"/lessons/{self.slug}/"

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]

    @property
    def reason_label(self) -> str:
        return REASON_LABELS.get(self.reason, "")


@dataclass(frozen=True)
class ProgressSummary:
    completed: int
    in_progress: int
    total: int

    @property
    def percent(self) -> int:
        return round(100 * self.completed / self.total) if self.total else 0


@dataclass(frozen=True)
class SearchHit:
    lesson: Lesson
    snippet: SafeString  # escaped text with the matched words in <mark>


def owned_by(learner: Learner) -> QuerySet[LessonProgress]:
    """The learner's progress rows: the account's once signed in, otherwise the anonymous id's."""
    if learner.user_id:
        return LessonProgress.objects.filter(user_id=learner.user_id)
    return LessonProgress.objects.filter(user__isnull=True, anonymous_id=learner.anonymous_id)


@dataclass(frozen=True)
class GlossaryEntry:
    term: GlossaryTerm
    see_also: list[GlossaryTerm]
    used_in: list[Lesson]


def get_lesson(slug: str) -> Lesson | None:
    return get_catalog().lesson(slug)


def lesson_count() -> int:
    return len(get_catalog().lessons)


def lesson_neighbours(lesson: Lesson) -> tuple[Lesson | None, Lesson | None]:
    """The previous and next lessons in the guided order."""
    return get_catalog().neighbours(lesson)


def lesson_status(learner: Learner, slug: str) -> LessonStatus:
    return next(status for status in lesson_progress(learner) if status.slug == slug)


def lesson_progress(learner: Learner) -> list[LessonStatus]:
    """Every lesson in guided order with this learner's status and completion reason."""
    rows = {p.lesson: p for p in owned_by(learner)}
    statuses = []
    for lesson in get_catalog().lessons:
        row = rows.get(lesson.slug)
        statuses.append(
            LessonStatus(
                slug=lesson.slug,
                title=lesson.title,
                order=lesson.order,
                status=row.status if row else NOT_STARTED,
                reason=row.reason if row else "",
                summary=lesson.summary,
                reading_minutes=lesson.reading_minutes,
            )
        )
    return statuses


def progress_summary(statuses: list[LessonStatus]) -> ProgressSummary:
    return ProgressSummary(
        completed=sum(s.status == Status.COMPLETED for s in statuses),
        in_progress=sum(s.status == Status.IN_PROGRESS for s in statuses),
        total=len(statuses),
    )


def continue_learning(learner: Learner) -> LessonStatus | None:
    """The lesson to offer next: the one in progress the learner touched last, else the first not completed in
    guided order; None once every lesson is completed."""
    statuses = {s.slug: s for s in lesson_progress(learner)}
    latest = owned_by(learner).filter(status=Status.IN_PROGRESS).order_by("-touched_at").first()
    if latest is not None and latest.lesson in statuses:
        return statuses[latest.lesson]
    return next((s for s in statuses.values() if s.status != Status.COMPLETED), None)


def lessons_for_concept(concept_slug: str) -> list[Lesson]:
    """Lessons whose front-matter concepts include the slug, in guided order; each carries its `lab` entries
    (LabLink: experiment, preset, what, planned, url)."""
    return [lesson for lesson in get_catalog().lessons if concept_slug in lesson.concepts]


def glossary() -> dict[str, GlossaryTerm]:
    """Every glossary term by slug (GlossaryTerm: slug, term, definition, see_also, url); a copy, so callers
    cannot change the cached catalog."""
    return dict(get_catalog().glossary)


def glossary_entries() -> list[GlossaryEntry]:
    """Every term alphabetically, with its see-also terms and the lessons that teach or link to it."""
    catalog = get_catalog()
    terms = sorted(catalog.glossary.values(), key=lambda t: t.term.casefold())
    return [
        GlossaryEntry(
            term=term,
            see_also=[catalog.glossary[slug] for slug in term.see_also],
            used_in=catalog.lessons_using(term.slug),
        )
        for term in terms
    ]


def search_lessons(query: str) -> list[SearchHit]:
    """Lessons containing every word of the query (in the title, summary or text); title matches rank first."""
    words = [w for w in re.findall(r"\w[\w'-]*", query.lower()) if len(w) > 1]
    if not words:
        return []
    hits = []
    for lesson in get_catalog().lessons:
        haystack = f"{lesson.title} {lesson.summary} {lesson.text}".lower()
        if all(w in haystack for w in words):
            in_title = sum(w in lesson.title.lower() for w in words)
            count = sum(haystack.count(w) for w in words)
            hits.append((-in_title, -count, lesson.order, SearchHit(lesson=lesson, snippet=_snippet(lesson, words))))
    return [hit for *_, hit in sorted(hits, key=lambda h: h[:3])]


def _snippet(lesson: Lesson, words: list[str]) -> SafeString:
    """A stretch of the lesson's text around the first match, escaped, with each query word marked."""
    text = lesson.text
    pattern = re.compile("|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)), re.IGNORECASE)
    first = pattern.search(text)
    if first is None:  # matched only in the title or summary
        text, first = lesson.summary, pattern.search(lesson.summary)
    at = first.start() if first else 0
    start = text.rfind(" ", 0, max(0, at - SNIPPET_CHARS)) + 1
    end = text.find(" ", at + SNIPPET_CHARS)
    end = len(text) if end < 0 else end
    parts = ["…" if start else ""]
    pos = start
    for match in pattern.finditer(text, start, end):
        parts += [html.escape(text[pos : match.start()]), "<mark>", html.escape(match.group(0)), "</mark>"]
        pos = match.end()
    parts += [html.escape(text[pos:end]), "…" if end < len(text) else ""]
    return mark_safe("".join(parts))  # noqa: S308 - every piece of text is escaped above
