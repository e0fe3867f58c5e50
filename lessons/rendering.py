"""Lesson Markdown to sanitised HTML: tables, highlighted code, diagrams, runnable examples and glossary links.

Rendering also checks what only rendering can see (glossary links, links to other pages, diagram syntax,
example files), and reports problems instead of raising, so the loader can list every problem in a file at once.
Everything an author writes passes through nh3 at the end, including the SVG we generate; the allow-list below is
exactly what `lessons.diagrams` and Markdown emit.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as etree
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from html import escape, unescape
from pathlib import Path
from typing import Any

import markdown
import nh3
from markdown.extensions import Extension
from markdown.inlinepatterns import InlineProcessor
from markdown.preprocessors import Preprocessor
from markdown.treeprocessors import Treeprocessor

from lessons import diagrams
from lessons.highlight import CSS_CLASS, highlight_python

WORDS_PER_MINUTE = 220
LAB_SECTION = "Try it in the lab"
QUIZ_SECTION = "Check yourself"
FENCE_RE = re.compile(r"^```(?P<kind>sequence|flow|example)\s*$")
SVG_RE = re.compile(r"<svg\b.*?</svg>", re.DOTALL)
BLOCK_TAG_RE = re.compile(r"</?(?:p|li|h[1-6]|td|th|pre|div|figcaption|summary|br|dt|dd)\b[^>]*>")
TAG_RE = re.compile(r"<[^>]+>")
H1_RE = re.compile(r"<h1[^>]*>(.*?)</h1>", re.DOTALL)
# `[[text|slug]]`; in a table row the `|` is escaped (`[[text\|slug]]`) so the table does not split the cell there.
GLOSSARY_LINK_RE = r"\[\[(?:(?P<text>[^\]|\\]+)\\?\|)?(?P<slug>[^\]|\\]+)\]\]"
TABLE_GLOSSARY_LINK_RE = re.compile(r"(\[\[[^\]|\\]+)\|([^\]|\\]+\]\])")

SVG_TAGS = {"svg", "g", "title", "desc", "line", "rect", "path", "polygon", "polyline", "text", "tspan"}
ALLOWED_TAGS = (nh3.ALLOWED_TAGS - {"img", "map", "area"}) | SVG_TAGS | {"section"}
ALLOWED_ATTRIBUTES: dict[str, set[str]] = {
    "*": {"class"},
    "a": {"href", "title"},
    "h2": {"id"},
    "h3": {"id"},
    "h4": {"id"},
    "ol": {"start"},
    "th": {"style"},
    "td": {"style"},
    "abbr": {"title"},
    "svg": {"role", "aria-label", "width", "height", "viewBox"},
    "g": {"transform"},
    "text": {"x", "y", "text-anchor", "fill"},
    "tspan": {"x", "dy"},
    "line": {"x1", "y1", "x2", "y2", "stroke", "stroke-dasharray"},
    "rect": {"x", "y", "width", "height", "rx", "fill", "stroke"},
    "path": {"d", "fill", "stroke", "stroke-dasharray"},
    "polygon": {"points", "fill", "stroke"},
    "polyline": {"points", "fill", "stroke"},
}


@dataclass(frozen=True)
class TocEntry:
    id: str
    title: str


@dataclass(frozen=True)
class RenderContext:
    """What a lesson body may refer to, and the boxes the page adds to its lab and quiz sections."""

    glossary: Mapping[str, Any]  # slug -> term with `.term` and `.definition`
    examples_dir: Path
    check_link: Callable[[str], str | None]  # internal href -> problem, or None when it resolves
    lab_html: str = ""
    quiz_html: str = ""
    first_line: int = 1  # the body's first line in the file, so problems cite file lines


@dataclass(frozen=True)
class Rendered:
    html: str
    toc: tuple[TocEntry, ...]
    text: str
    reading_minutes: int
    problems: tuple[str, ...]
    glossary_slugs: frozenset[str]
    diagrams: int
    examples: tuple[str, ...]


@dataclass
class _State:
    """Collected while one document renders."""

    problems: list[str] = field(default_factory=list)
    glossary_slugs: set[str] = field(default_factory=set)
    diagrams: int = 0
    examples: list[str] = field(default_factory=list)


class _BlocksPreprocessor(Preprocessor):
    """Replaces ```sequence, ```flow and ```example fences with their HTML before Markdown parses the rest."""

    def __init__(self, md: markdown.Markdown, ctx: RenderContext, state: _State) -> None:
        super().__init__(md)
        self.ctx, self.state = ctx, state

    def run(self, lines: list[str]) -> list[str]:
        out: list[str] = []
        i = 0
        while i < len(lines):
            match = FENCE_RE.match(lines[i])
            if not match:
                out.append(lines[i])
                i += 1
                continue
            end = next((j for j in range(i + 1, len(lines)) if lines[j].strip() == "```"), None)
            where = f"body: line {self.ctx.first_line + i}"
            if end is None:
                self.state.problems.append(f"{where}: ```{match['kind']} block is never closed")
                return out
            source = "\n".join(lines[i + 1 : end])
            html = self._block(match["kind"], source, where)
            out.extend(["", self.md.htmlStash.store(html), ""])
            i = end + 1
        return out

    def _block(self, kind: str, source: str, where: str) -> str:
        if kind == "example":
            return self._example(source.strip(), where)
        try:
            html = diagrams.render(kind, source)
        except diagrams.DiagramError as exc:
            self.state.problems.append(f"{where}: {kind} diagram: {exc}")
            return ""
        self.state.diagrams += 1
        return html

    def _example(self, name: str, where: str) -> str:
        root = self.ctx.examples_dir.resolve()
        path = (root / name).resolve()
        if not name.endswith(".py") or not path.is_relative_to(root):
            self.state.problems.append(f"{where}: example {name!r}: name a .py file under lessons/examples/")
            return ""
        output = path.with_suffix(".out")
        missing = [p.name for p in (path, output) if not p.is_file()]
        if missing:
            self.state.problems.append(f"{where}: example {name!r}: missing {', '.join(missing)}")
            return ""
        self.state.examples.append(name)
        code = highlight_python(path.read_text(encoding="utf-8"))
        result = escape(output.read_text(encoding="utf-8"))
        return (
            f'<figure class="example"><figcaption>Example: <code>{escape(name)}</code></figcaption>{code}'
            f'<div class="example-output"><p class="example-output-label">Output</p>'
            f"<pre><samp>{result}</samp></pre></div></figure>"
        )


class _TableGlossaryLinks(Preprocessor):
    """Escapes the `|` of `[[text|slug]]` in table rows: the tables extension would split the cell at it."""

    def run(self, lines: list[str]) -> list[str]:
        return [
            TABLE_GLOSSARY_LINK_RE.sub(r"\1\\|\2", line) if line.lstrip().startswith("|") else line for line in lines
        ]


class _GlossaryLinkProcessor(InlineProcessor):
    """`[[slug]]` and `[[shown text|slug]]` become links to the glossary with the definition as their title."""

    def __init__(self, pattern: str, ctx: RenderContext, state: _State) -> None:
        super().__init__(pattern)
        self.ctx, self.state = ctx, state

    def handleMatch(self, m: re.Match[str], data: str) -> tuple[etree.Element | str, int, int]:
        slug = m["slug"].strip()
        term = self.ctx.glossary.get(slug)
        if term is None:
            self.state.problems.append(f"body: unknown glossary term in {m.group(0)!r}")
            return (m["text"] or slug), m.start(0), m.end(0)
        self.state.glossary_slugs.add(slug)
        link = etree.Element("a", {"href": f"/glossary/#{slug}", "title": term.definition.strip(), "class": "term"})
        link.text = m["text"].strip() if m["text"] else term.term
        return link, m.start(0), m.end(0)


class _SectionsTreeprocessor(Treeprocessor):
    """Checks links, and puts the lab links and the quiz link into their sections before the summary.

    A lesson's own "Try it in the lab" prose says what to watch; the box adds the links from its front matter at
    the end of that section. Lessons without such a section get one, so every page follows the same arc.
    """

    def __init__(self, md: markdown.Markdown, ctx: RenderContext, state: _State) -> None:
        super().__init__(md)
        self.ctx, self.state = ctx, state

    def run(self, root: etree.Element) -> None:
        for link in root.iter("a"):
            href = link.get("href", "")
            if href.startswith("/") and (problem := self.ctx.check_link(href)):
                self.state.problems.append(f"body: link {href!r}: {problem}")
        if self.ctx.lab_html:
            self._fill(root, LAB_SECTION, self.ctx.lab_html)
        if self.ctx.quiz_html:
            self._fill(root, QUIZ_SECTION, self.ctx.quiz_html)

    def _fill(self, root: etree.Element, title: str, html: str) -> None:
        children = list(root)
        h2s = [i for i, el in enumerate(children) if el.tag == "h2"]
        titles = {"".join(children[i].itertext()).strip(): i for i in h2s}
        box = etree.Element("p")
        box.text = self.md.htmlStash.store(html)
        if title in titles:
            later = [i for i in h2s if i > titles[title]]
            root.insert(later[0] if later else len(children), box)
            return
        at = titles.get("Summary", len(children))
        heading = etree.Element("h2")
        heading.text = title
        root.insert(at, box)
        root.insert(at, heading)


class _LessonExtension(Extension):
    def __init__(self, ctx: RenderContext, state: _State) -> None:
        super().__init__()
        self.ctx, self.state = ctx, state

    def extendMarkdown(self, md: markdown.Markdown) -> None:
        # Before fenced_code (25), so our fences never reach it; after whitespace normalising (30).
        md.preprocessors.register(_BlocksPreprocessor(md, self.ctx, self.state), "lesson_blocks", 27)
        # After fenced code (25) is stashed, so code is left alone.
        md.preprocessors.register(_TableGlossaryLinks(md), "table_glossary_links", 22)
        # Above escapes (180), which would turn a table row's `\|` into a placeholder, and reference links (170),
        # which would otherwise read `[[x]]` as a reference; below code spans (190).
        md.inlinePatterns.register(_GlossaryLinkProcessor(GLOSSARY_LINK_RE, self.ctx, self.state), "glossary", 185)
        # After inline patterns (20) have made the links, before the TOC (5) collects headings.
        md.treeprocessors.register(_SectionsTreeprocessor(md, self.ctx, self.state), "lesson_sections", 15)


def render(body: str, ctx: RenderContext) -> Rendered:
    """Render one lesson body; problems come back in `Rendered.problems` rather than as exceptions."""
    state = _State()
    md = markdown.Markdown(
        extensions=["tables", "fenced_code", "codehilite", "toc", "sane_lists", _LessonExtension(ctx, state)],
        extension_configs={"codehilite": {"guess_lang": False, "css_class": CSS_CLASS, "wrapcode": True}},
    )
    raw = md.convert(body)
    for heading in H1_RE.findall(raw):
        state.problems.append(f"body: heading {plain_text(heading)!r}: use '##' sections; the page prints the title")
    html = _scrollable(sanitise(raw))
    tokens = md.toc_tokens  # type: ignore[attr-defined]
    toc = tuple(TocEntry(id=t["id"], title=unescape(t["name"])) for t in tokens if t["level"] == 2)
    text = plain_text(html)
    return Rendered(
        html=html,
        toc=toc,
        text=text,
        reading_minutes=max(1, math.ceil(len(text.split()) / WORDS_PER_MINUTE)),
        problems=tuple(state.problems),
        glossary_slugs=frozenset(state.glossary_slugs),
        diagrams=state.diagrams,
        examples=tuple(state.examples),
    )


CODE_PRE_RE = re.compile(r'<div class="codehilite"><pre>')
OUTPUT_PRE_RE = re.compile(r'<div class="example-output">(.*?)<pre>', re.DOTALL)
EXAMPLE_NAME_RE = re.compile(r"<figcaption>Example: <code>([^<]*)</code></figcaption>")
TABLE_RE = re.compile(r"<table>(.*?)</table>", re.DOTALL)
ALIGN_RE = re.compile(r' style="text-align: ?(left|right|center);?"')


def _scrollable(html: str) -> str:
    """Make what may scroll sideways reachable from the keyboard, after sanitising (this is our own markup).

    Code and output blocks become focusable named regions (axe: scrollable-region-focusable), tables get a
    scrolling wrapper, and table alignment becomes a class so pages need no inline styles under the CSP.
    """
    counter = iter(range(1, 10_000))
    names = EXAMPLE_NAME_RE.findall(html)

    def code(_: re.Match[str]) -> str:
        n = next(counter)
        return f'<div class="codehilite"><pre tabindex="0" role="region" aria-label="Code block {n}">'

    html = CODE_PRE_RE.sub(code, html)
    outputs = iter(names)

    def output(match: re.Match[str]) -> str:
        name = next(outputs, "the example")
        return f'<div class="example-output">{match[1]}<pre tabindex="0" role="region" aria-label="Output of {name}">'

    html = OUTPUT_PRE_RE.sub(output, html)
    html = TABLE_RE.sub(lambda m: f'<div class="table-scroll"><table>{m[1]}</table></div>', html)
    return ALIGN_RE.sub(lambda m: f' class="align-{m[1]}"', html)


def sanitise(html: str) -> str:
    """Keep only the markup lessons need; scripts, styles and event handlers go, with their content."""
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        clean_content_tags={"script", "style"},
        link_rel=None,  # no link opens a new window, so there is no opener to protect
        url_schemes={"http", "https", "mailto"},
        filter_style_properties={"text-align"},
    )


def plain_text(html: str) -> str:
    """Visible text of sanitised lesson HTML, without the SVG (its steps are repeated as a list beside it).

    Regular expressions suffice because the input is our own sanitised output, and they are several times faster
    than an HTML parser on every start.
    """
    text = SVG_RE.sub(" ", html)
    text = BLOCK_TAG_RE.sub(" ", text)
    text = TAG_RE.sub("", text)
    return " ".join(unescape(text).split())
