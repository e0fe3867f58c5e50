"""The curriculum in memory: every lesson validated, rendered and cached once per process.

Lessons are files that ship with the code, so they are not copied into the database: each process (web, worker,
`load_content`) reads and renders them once, on first use, in well under a second. That keeps content and code
from drifting apart, needs no migration when a lesson changes, and lets `load_content` validate by doing exactly
what the web process will do. Progress rows refer to lessons by slug.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeGuard
from urllib.parse import parse_qs, urlsplit

import yaml
from django.conf import settings
from django.template.loader import render_to_string
from django.urls import Resolver404, resolve

from comms_lab.content import ContentError
from lab.model.experiments import EXPERIMENTS, Experiment
from lessons import rendering
from lessons.glossary import SLUG_RE, YAML_LOADER, GlossaryTerm, load_glossary, shown

APP_DIR = Path(__file__).resolve().parent
CONTENT_DIR = APP_DIR / "content"
EXAMPLES_DIR = APP_DIR / "examples"
BANKS_DIR = Path(settings.BASE_DIR) / "quizzes" / "banks"

FILENAME_RE = re.compile(r"^(?P<order>\d{2})-(?P<slug>.+)\.md$")
LESSON_FIELDS = {"slug", "order", "title", "summary", "objectives", "concepts", "lab", "quiz"}
LAB_FIELDS = {"experiment", "preset", "what", "planned"}
REQUIRED_SECTIONS = ("Common misconceptions", "Summary")
# The page prints the front-matter objectives in a box; a section repeating them in the body is a duplicate.
OBJECTIVES_SECTIONS = {"objectives", "learning objectives", "what you will be able to do", "what you will learn"}


@dataclass(frozen=True)
class LabLink:
    """A "try it in the lab" entry: a built experiment and preset, or a planned experiment shown as coming soon."""

    experiment: str
    preset: str | None
    what: str
    planned: bool
    title: str  # the experiment's title, or its slug while it is planned
    preset_title: str = ""

    @property
    def url(self) -> str | None:
        return None if self.planned else f"/lab/{self.experiment}/?preset={self.preset}"


@dataclass(frozen=True)
class Lesson:
    slug: str
    order: int
    title: str
    summary: str
    objectives: tuple[str, ...]
    concepts: tuple[str, ...]
    lab: tuple[LabLink, ...]
    quiz: str
    html: str
    toc: tuple[rendering.TocEntry, ...]
    text: str  # plain text of the body, for search
    reading_minutes: int
    glossary_links: frozenset[str]
    examples: tuple[str, ...]  # paths under lessons/examples/ that the page shows

    @property
    def url(self) -> str:
        return f"/lessons/{self.slug}/"

    @property
    def quiz_url(self) -> str:
        """Built by the quizzes app; linked by path so lessons do not import it."""
        return f"/quizzes/{self.quiz}/"


@dataclass(frozen=True)
class Catalog:
    lessons: tuple[Lesson, ...]  # in guided order
    glossary: Mapping[str, GlossaryTerm]
    # Things built from this version of the content (rendered page fragments, search indexes): built once, on
    # first use, and dropped with the catalog when the content is reloaded.
    _built: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    _building: threading.RLock = field(default_factory=threading.RLock, compare=False, repr=False)

    def cached(self, key: str, build: Callable[[], Any]) -> Any:
        """`build()` once per content version (and once even when several threads ask together)."""
        try:
            return self._built[key]
        except KeyError:
            pass
        with self._building:
            if key not in self._built:
                self._built[key] = build()
            return self._built[key]

    def lesson(self, slug: str) -> Lesson | None:
        return next((lesson for lesson in self.lessons if lesson.slug == slug), None)

    def neighbours(self, lesson: Lesson) -> tuple[Lesson | None, Lesson | None]:
        """The lessons before and after this one in the guided order."""
        i = self.lessons.index(lesson)
        return (self.lessons[i - 1] if i > 0 else None, self.lessons[i + 1] if i + 1 < len(self.lessons) else None)

    def lessons_using(self, term: str) -> list[Lesson]:
        """Lessons that teach a term (front-matter concepts) or link to it from their text."""
        return [lesson for lesson in self.lessons if term in lesson.concepts or term in lesson.glossary_links]


@dataclass
class _Draft:
    """A lesson whose front matter is valid, waiting for its body to be rendered."""

    path: Path
    meta: dict[str, Any]
    body: str
    first_line: int


def load_catalog(
    *,
    content_dir: Path = CONTENT_DIR,
    examples_dir: Path = EXAMPLES_DIR,
    banks_dir: Path = BANKS_DIR,
    experiments: Mapping[str, Experiment] = EXPERIMENTS,
) -> Catalog:
    """Read, validate and render every lesson; raises ContentError listing every problem, one per line."""
    glossary, errors = load_glossary(content_dir / "glossary")
    drafts: list[_Draft] = []
    files = sorted(content_dir.glob("*.md"))
    if not files:
        errors.append(f"{shown(content_dir)}: no lessons (*.md)")
    for path in files:
        draft = _read(path, errors)
        if draft and _check_meta(draft, glossary, experiments, banks_dir, errors):
            drafts.append(draft)
    _check_unique(drafts, content_dir, errors)
    slugs = {d.meta["slug"] for d in drafts}
    checker = _LinkChecker(slugs=slugs, glossary=glossary, experiments=experiments, banks_dir=banks_dir)
    lessons = [_render(draft, glossary, experiments, examples_dir, checker, errors) for draft in drafts]
    if errors:
        raise ContentError("\n".join(errors))
    return Catalog(lessons=tuple(sorted(lessons, key=lambda lesson: lesson.order)), glossary=glossary)


_current: dict[str, Catalog] = {}
_loading = threading.Lock()


def get_catalog() -> Catalog:
    """The process's catalog, loaded on first use (once, even when several threads ask at the same time)."""
    if "catalog" not in _current:
        with _loading:
            if "catalog" not in _current:
                _current["catalog"] = load_catalog()
    return _current["catalog"]


def reload_catalog() -> Catalog:
    """Load from disk again and make the result current; raises ContentError and keeps the old one if invalid."""
    _current["catalog"] = fresh = load_catalog()
    return fresh


def _read(path: Path, errors: list[str]) -> _Draft | None:
    name = shown(path)
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        errors.append(f"{name}: front matter: the file must start with a '---' line")
        return None
    end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), None)
    if end is None:
        errors.append(f"{name}: front matter: no closing '---' line")
        return None
    try:
        meta = yaml.load("\n".join(lines[1:end]), Loader=YAML_LOADER)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        errors.append(f"{name}: front matter: invalid YAML: {' '.join(str(exc).split())}")
        return None
    if not isinstance(meta, dict):
        errors.append(f"{name}: front matter: expected a mapping of fields")
        return None
    return _Draft(path=path, meta=meta, body="\n".join(lines[end + 1 :]), first_line=end + 2)


def _check_meta(
    draft: _Draft,
    glossary: Mapping[str, GlossaryTerm],
    experiments: Mapping[str, Experiment],
    banks_dir: Path,
    errors: list[str],
) -> bool:
    """Validate the front matter in place; False when the lesson cannot be rendered."""
    name, meta = shown(draft.path), draft.meta
    found = len(errors)

    def bad(field: str, message: str) -> None:
        errors.append(f"{name}: {field}: {message}")

    for key in sorted(set(meta) - LESSON_FIELDS):
        bad(key, f"unknown field; allowed: {', '.join(sorted(LESSON_FIELDS))}")
    slug = meta.get("slug")
    if not isinstance(slug, str) or not SLUG_RE.match(slug):
        bad("slug", f"required, a lowercase-kebab string, got {slug!r}")
    order = meta.get("order")
    if not isinstance(order, int) or isinstance(order, bool) or order < 1:
        bad("order", f"required, a positive integer, got {order!r}")
    file_match = FILENAME_RE.match(draft.path.name)
    if not file_match:
        bad("file name", "must be NN-<slug>.md")
    elif not errors[found:]:
        if file_match["slug"] != slug:
            bad("slug", f"{slug!r} does not match the file name; rename it to {order:02d}-{slug}.md")
        if int(file_match["order"]) != order:
            bad("order", f"{order} does not match the file name's number {file_match['order']}")
    for key in ("title", "summary"):
        if not isinstance(meta.get(key), str) or not meta[key].strip():
            bad(key, "required, a non-empty string")
    objectives = meta.get("objectives")
    if not _strings(objectives) or not 3 <= len(objectives) <= 5:
        bad("objectives", "required, a list of 3 to 5 non-empty strings")
    concepts = meta.get("concepts")
    if not _strings(concepts) or not concepts:
        bad("concepts", "required, a non-empty list of glossary slugs")
    else:
        for i, concept in enumerate(concepts):
            if concept not in glossary:
                bad(f"concepts[{i}]", f"unknown glossary term {concept!r}")
    _check_lab(meta.get("lab"), experiments, bad)
    quiz = meta.get("quiz")
    if quiz != slug:
        bad("quiz", f"must equal the lesson slug {slug!r}, got {quiz!r}")
    elif not (banks_dir / f"{quiz}.yaml").is_file():
        bad("quiz", f"no question bank at {shown(banks_dir / f'{quiz}.yaml')}")
    return len(errors) == found


def _check_lab(lab: Any, experiments: Mapping[str, Experiment], bad: Callable[[str, str], None]) -> None:
    if not isinstance(lab, list) or not lab:
        bad("lab", "required, a list with at least one entry")
        return
    for i, entry in enumerate(lab):
        where = f"lab[{i}]"
        if not isinstance(entry, dict):
            bad(where, "expected a mapping with experiment, preset and what")
            continue
        for key in sorted(set(entry) - LAB_FIELDS):
            bad(f"{where}.{key}", f"unknown field; allowed: {', '.join(sorted(LAB_FIELDS))}")
        if not isinstance(entry.get("what"), str) or not entry["what"].strip():
            bad(f"{where}.what", "required, a non-empty string saying what to try")
        experiment, preset, planned = entry.get("experiment"), entry.get("preset"), entry.get("planned", False)
        if not isinstance(planned, bool):
            bad(f"{where}.planned", f"must be true or false, got {planned!r}")
        elif not isinstance(experiment, str) or not SLUG_RE.match(experiment):
            bad(f"{where}.experiment", f"required, a lowercase-kebab string, got {experiment!r}")
        elif planned:
            if experiment in experiments:
                presets = ", ".join(p.slug for p in experiments[experiment].presets)
                bad(
                    f"{where}.planned", f"{experiment} is built now; drop 'planned' and name a preset: one of {presets}"
                )
        elif experiment not in experiments:
            bad(
                f"{where}.experiment",
                f"unknown experiment {experiment!r}; one of {', '.join(experiments)} (or mark it planned: true)",
            )
        elif experiments[experiment].preset(preset) is None:
            presets = ", ".join(p.slug for p in experiments[experiment].presets)
            bad(f"{where}.preset", f"unknown preset {preset!r} for {experiment}; one of {presets}")


def _preset_title(experiments: Mapping[str, Experiment], entry: dict[str, Any]) -> str:
    experiment = experiments.get(entry["experiment"])
    preset = experiment.preset(entry.get("preset")) if experiment and not entry.get("planned") else None
    return preset.title if preset else ""


def _strings(value: Any) -> TypeGuard[list[str]]:
    return isinstance(value, list) and all(isinstance(v, str) and v.strip() for v in value)


def _check_unique(drafts: list[_Draft], content_dir: Path, errors: list[str]) -> None:
    """Slugs and orders are unique, and orders run 1..N; duplicates leave the catalog."""
    for key in ("slug", "order"):
        first: dict[Any, _Draft] = {}
        for draft in list(drafts):
            value = draft.meta[key]
            if value in first:
                errors.append(f"{shown(draft.path)}: {key}: {value!r} is already used by {shown(first[value].path)}")
                drafts.remove(draft)
            else:
                first[value] = draft
    orders = sorted(d.meta["order"] for d in drafts)
    if orders and orders != list(range(1, len(orders) + 1)):
        missing = sorted(set(range(1, max(orders) + 1)) - set(orders))
        errors.append(f"{shown(content_dir)}: order: lessons must be numbered 1..N without gaps; missing {missing}")


class _LinkChecker:
    """Says why an internal link in a lesson body would not resolve, or None when it does."""

    def __init__(
        self,
        *,
        slugs: set[str],
        glossary: Mapping[str, GlossaryTerm],
        experiments: Mapping[str, Experiment],
        banks_dir: Path,
    ) -> None:
        self.slugs, self.glossary, self.experiments, self.banks_dir = slugs, glossary, experiments, banks_dir

    def __call__(self, href: str) -> str | None:
        parts = urlsplit(href)
        segments = [s for s in parts.path.split("/") if s]
        if len(segments) == 2 and segments[0] == "lessons":
            return None if segments[1] in self.slugs else f"no lesson {segments[1]!r}"
        if segments == ["glossary"]:
            return (
                None
                if not parts.fragment or parts.fragment in self.glossary
                else f"no glossary term {parts.fragment!r}"
            )
        if len(segments) == 2 and segments[0] == "lab" and segments[1] not in ("api", "runs"):
            experiment = self.experiments.get(segments[1])
            if experiment is None:
                return f"no experiment {segments[1]!r}"
            preset = parse_qs(parts.query).get("preset", [experiment.default_preset])[0]
            return None if experiment.preset(preset) else f"no preset {preset!r} for {experiment.slug}"
        if len(segments) == 2 and segments[0] == "quizzes":
            return None if (self.banks_dir / f"{segments[1]}.yaml").is_file() else f"no quiz {segments[1]!r}"
        try:
            resolve(parts.path)
        except Resolver404:
            return "no such page"
        return None


def _render(
    draft: _Draft,
    glossary: Mapping[str, GlossaryTerm],
    experiments: Mapping[str, Experiment],
    examples_dir: Path,
    checker: _LinkChecker,
    errors: list[str],
) -> Lesson:
    meta = draft.meta
    lab = tuple(
        LabLink(
            experiment=entry["experiment"],
            preset=entry.get("preset"),
            what=entry["what"].strip(),
            planned=entry.get("planned", False),
            title=experiments[entry["experiment"]].title if entry["experiment"] in experiments else entry["experiment"],
            preset_title=_preset_title(experiments, entry),
        )
        for entry in meta["lab"]
    )
    ctx = rendering.RenderContext(
        glossary=glossary,
        examples_dir=examples_dir,
        check_link=checker,
        lab_html=render_to_string("lessons/_lab_links.html", {"lab": lab}),
        quiz_html=render_to_string("lessons/_quiz_link.html", {"quiz_url": f"/quizzes/{meta['quiz']}/"}),
        first_line=draft.first_line,
    )
    result = rendering.render(draft.body, ctx)
    name = shown(draft.path)
    errors.extend(f"{name}: {problem}" for problem in result.problems)
    titles = {entry.title for entry in result.toc}
    for section in REQUIRED_SECTIONS:
        if section not in titles:
            errors.append(f"{name}: body: missing the '## {section}' section")
    for title in titles:
        if title.casefold() in OBJECTIVES_SECTIONS:
            errors.append(
                f"{name}: body: the '## {title}' section repeats the objectives; keep them in the front matter"
            )
    if not result.diagrams:
        errors.append(f"{name}: body: needs at least one ```sequence or ```flow diagram")
    if not result.examples:
        errors.append(f"{name}: body: needs at least one ```example block")
    return Lesson(
        slug=meta["slug"],
        order=meta["order"],
        title=meta["title"].strip(),
        summary=meta["summary"].strip(),
        objectives=tuple(o.strip() for o in meta["objectives"]),
        concepts=tuple(meta["concepts"]),
        lab=lab,
        quiz=meta["quiz"],
        html=result.html,
        toc=result.toc,
        text=result.text,
        reading_minutes=result.reading_minutes,
        glossary_links=result.glossary_slugs,
        examples=result.examples,
    )
