"""Reads for lessons, progress and the glossary. Other apps import these; they never touch the content files.

Lesson statuses are "not_started", "in_progress" and "completed"; a completed lesson's reason is "read" (read to
the end) or "quiz" (its quiz was passed), otherwise "".
"""

from __future__ import annotations

import html
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import QuerySet
from django.utils.safestring import SafeString, mark_safe

from comms_lab import learner_state
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
    read_seconds: int = 0
    touched_at: datetime | None = None

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


@dataclass(frozen=True)
class SearchResult:
    hits: list[SearchHit]
    # Query words that matched nothing as typed, each with the words the lessons use that are one edit away
    # (`outbx` → `outbox`): the page says what it searched for instead.
    corrections: dict[str, list[str]] = field(default_factory=dict)


def owned_by(learner: Learner) -> QuerySet[LessonProgress]:
    """The learner's progress rows: the account's once signed in, otherwise the anonymous id's; none (without
    a query) for a visitor who has not done anything yet."""
    if not learner.known:
        return LessonProgress.objects.none()
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
    """One lesson's status for the learner, in at most one query."""
    lesson = get_catalog().lesson(slug)
    if lesson is None:
        raise ValueError(f"unknown lesson {slug!r}")
    return _status(lesson, owned_by(learner).filter(lesson=slug).first())


def _status(lesson: Lesson, row: LessonProgress | None) -> LessonStatus:
    return LessonStatus(
        slug=lesson.slug,
        title=lesson.title,
        order=lesson.order,
        status=row.status if row else NOT_STARTED,
        reason=row.reason if row else "",
        summary=lesson.summary,
        reading_minutes=lesson.reading_minutes,
        read_seconds=row.read_seconds if row else 0,
        touched_at=row.touched_at if row else None,
    )


def lesson_progress(learner: Learner) -> list[LessonStatus]:
    """Every lesson in guided order with this learner's status and completion reason (one query at most)."""
    rows = {p.lesson: p for p in owned_by(learner)}
    return [_status(lesson, rows.get(lesson.slug)) for lesson in get_catalog().lessons]


def remembered_progress(learner: Learner) -> list[LessonStatus]:
    """`lesson_progress`, read once and reused until the learner's progress or the content changes (a returning
    learner who only browses costs no query). Shared between requests: do not change it."""
    catalog = get_catalog()
    version = catalog.cached("version", lambda: uuid.uuid4().hex)
    return learner_state.remembered(learner, f"lessons:{version}", lambda: lesson_progress(learner))


def progress_summary(statuses: list[LessonStatus]) -> ProgressSummary:
    return ProgressSummary(
        completed=sum(s.status == Status.COMPLETED for s in statuses),
        in_progress=sum(s.status == Status.IN_PROGRESS for s in statuses),
        total=len(statuses),
    )


def continue_learning(learner: Learner, statuses: list[LessonStatus] | None = None) -> LessonStatus | None:
    """The lesson to offer next: the one in progress the learner touched last, else the first not completed in
    guided order; None once every lesson is completed. Pass `statuses` from `lesson_progress` to save a query."""
    statuses = lesson_progress(learner) if statuses is None else statuses
    started = [s for s in statuses if s.status == Status.IN_PROGRESS and s.touched_at is not None]
    if started:
        return max(started, key=lambda s: s.touched_at or datetime.min)
    return next((s for s in statuses if s.status != Status.COMPLETED), None)


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


WORD_RE = re.compile(r"\w[\w'-]*")
MIN_FUZZY_LENGTH = 4  # shorter words have too many neighbours one edit away to guess from


def search(query: str) -> SearchResult:
    """Lessons containing every word of the query (in the title, summary or text); title matches rank first.

    A word found nowhere as typed is replaced by the lessons' words one edit away (a letter missing, extra,
    changed, or two neighbours swapped), so `outbx` finds the outbox lesson.
    """
    words = [w for w in WORD_RE.findall(query.lower()) if len(w) > 1]
    if not words:
        return SearchResult(hits=[])
    catalog = get_catalog()
    haystacks = _haystacks()
    alternatives: list[list[str]] = []
    corrections: dict[str, list[str]] = {}
    for word in words:
        if any(word in haystack for haystack in haystacks.values()) or len(word) < MIN_FUZZY_LENGTH:
            alternatives.append([word])
            continue
        near = sorted(w for w in _vocabulary() if _one_edit_apart(word, w))
        if near:
            corrections[word] = near
        alternatives.append(near or [word])
    hits = []
    for lesson in catalog.lessons:
        haystack = haystacks[lesson.slug]
        found = [next((w for w in options if w in haystack), None) for options in alternatives]
        if all(found):
            matched = [w for w in found if w]
            in_title = sum(w in lesson.title.lower() for w in matched)
            count = sum(haystack.count(w) for w in matched)
            hits.append((-in_title, -count, lesson.order, SearchHit(lesson=lesson, snippet=_snippet(lesson, matched))))
    return SearchResult(hits=[hit for *_, hit in sorted(hits, key=lambda h: h[:3])], corrections=corrections)


def search_lessons(query: str) -> list[SearchHit]:
    return search(query).hits


def _haystacks() -> dict[str, str]:
    """Each lesson's searchable text, lower-cased once per content version."""
    catalog = get_catalog()
    return catalog.cached(
        "search-haystacks",
        lambda: {lesson.slug: f"{lesson.title} {lesson.summary} {lesson.text}".lower() for lesson in catalog.lessons},
    )


def _vocabulary() -> frozenset[str]:
    """Every word of four letters or more the lessons use, for typo correction."""
    return get_catalog().cached(
        "search-vocabulary",
        lambda: frozenset(
            w for text in _haystacks().values() for w in WORD_RE.findall(text) if len(w) >= MIN_FUZZY_LENGTH - 1
        ),
    )


def _one_edit_apart(a: str, b: str) -> bool:
    """True when b is a with one letter inserted, deleted or changed, or two neighbours swapped (not equal)."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
        if len(diff) == 1:
            return True
        return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]
    short, long = (a, b) if len(a) < len(b) else (b, a)
    i = next((i for i, (x, y) in enumerate(zip(short, long, strict=False)) if x != y), len(short))
    return short[i:] == long[i + 1 :]


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
