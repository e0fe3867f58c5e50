"""Lesson Markdown becomes sanitised HTML with glossary links, diagrams, examples and the page's own sections."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from pygments.style import Style

from lessons import diagrams, rendering
from lessons.glossary import GlossaryTerm
from lessons.highlight import DarkStyle, LightStyle, stylesheet

GLOSSARY = {
    "jitter": GlossaryTerm(slug="jitter", term="Jitter", definition="Randomness added to retry delays.", see_also=()),
}
STATIC = Path(__file__).resolve().parents[3] / "static" / "lessons"


def render(body: str, tmp_path: Path, **extra: Any) -> rendering.Rendered:
    ctx = rendering.RenderContext(glossary=GLOSSARY, examples_dir=tmp_path, check_link=lambda href: None, **extra)
    return rendering.render(body, ctx)


def test_it_links_a_glossary_term_with_its_definition_as_the_title(tmp_path: Path) -> None:
    result = render("Add [[jitter]] to retries.", tmp_path)
    assert (
        '<a class="term" href="/glossary/#jitter" title="Randomness added to retry delays.">Jitter</a>' in result.html
    )
    assert result.glossary_slugs == {"jitter"}


def test_it_prints_the_authors_text_for_a_piped_glossary_link(tmp_path: Path) -> None:
    result = render("Spread them with [[random jitter|jitter]].", tmp_path)
    assert 'title="Randomness added to retry delays.">random jitter</a>' in result.html


def test_a_piped_glossary_link_inside_a_table_cell_stays_in_its_cell(tmp_path: Path) -> None:
    table = "| Retries | Spread |\n|---|---|\n| Three | [[random jitter|jitter]] on each |\n"
    result = render(table, tmp_path)
    cells = result.html.split("<tbody>")[1].count("<td>")
    assert cells == 2
    assert (
        '<td><a class="term" href="/glossary/#jitter" title="Randomness added to retry delays.">random jitter</a>'
        in (result.html)
    )
    assert not result.problems


def test_it_reports_an_unknown_glossary_term_and_keeps_the_text(tmp_path: Path) -> None:
    result = render("Use [[Jitter]].", tmp_path)
    assert result.problems == ("body: unknown glossary term in '[[Jitter]]'",)
    assert "<p>Use Jitter.</p>" in result.html


def test_it_leaves_glossary_syntax_in_code_alone(tmp_path: Path) -> None:
    result = render("Write `[[slug]]` to link a term.", tmp_path)
    assert "<code>[[slug]]</code>" in result.html
    assert not result.problems


def test_it_strips_scripts_and_event_handlers(tmp_path: Path) -> None:
    body = 'Hi <script>alert("x")</script>\n\n<p onclick="steal()">there</p>\n\n[bad](javascript:alert(1))'
    html = render(body, tmp_path).html
    assert "<script" not in html and "alert" not in html
    assert "onclick" not in html
    assert "javascript:" not in html


def test_it_keeps_the_diagram_svg_intact_through_the_sanitiser(tmp_path: Path) -> None:
    source = "title: One call\nClient -> Order Service: POST /checkout\nOrder Service --> Client: 201"
    result = render(f"```sequence\n{source}\n```\n", tmp_path)
    assert diagrams.render("sequence", source) in result.html
    assert result.diagrams == 1


def test_it_highlights_fenced_code_and_renders_tables(tmp_path: Path) -> None:
    html = render("```python\nretries = 3\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n", tmp_path).html
    assert '<div class="codehilite">' in html
    assert '<span class="n">retries</span>' in html
    assert "<td>1</td>" in html


def test_it_shows_an_example_with_its_output(tmp_path: Path) -> None:
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "run.py").write_text("print(1 + 1)\n")
    (tmp_path / "demo" / "run.out").write_text("2\n")
    result = render("```example\ndemo/run.py\n```\n", tmp_path)
    assert "Example: <code>demo/run.py</code>" in result.html
    assert '<span class="nb">print</span>' in result.html
    assert (
        '<p class="example-output-label">Output</p>'
        '<pre tabindex="0" role="region" aria-label="Output of demo/run.py"><samp>2\n</samp></pre>'
    ) in result.html
    assert result.examples == ("demo/run.py",)


def test_it_builds_the_table_of_contents_from_level_two_headings(tmp_path: Path) -> None:
    result = render("## First part\n\n### Detail\n\n## Second part\n", tmp_path)
    assert [(e.id, e.title) for e in result.toc] == [("first-part", "First part"), ("second-part", "Second part")]
    assert '<h2 id="first-part">First part</h2>' in result.html


def test_it_puts_the_lab_links_in_the_lab_section_and_the_quiz_before_the_summary(tmp_path: Path) -> None:
    body = "## Try it in the lab\n\nRun the preset.\n\n## Summary\n\nDone.\n"
    result = render(body, tmp_path, lab_html='<div class="lab-links">LAB</div>', quiz_html='<div class="quiz">Q</div>')
    html = result.html
    assert html.index("Run the preset.") < html.index("LAB") < html.index("Check yourself") < html.index("Q")
    assert html.index("Q") < html.index('<h2 id="summary">')
    assert [e.title for e in result.toc] == ["Try it in the lab", "Check yourself", "Summary"]


def test_it_reports_links_the_checker_refuses(tmp_path: Path) -> None:
    ctx = rendering.RenderContext(
        glossary=GLOSSARY, examples_dir=tmp_path, check_link=lambda href: "no lesson 'gone'" if "gone" in href else None
    )
    result = rendering.render("[a](/lessons/gone/) and [b](https://example.com/gone)", ctx)
    assert result.problems == ("body: link '/lessons/gone/': no lesson 'gone'",)


def test_it_estimates_reading_time_from_the_words(tmp_path: Path) -> None:
    result = render("word " * 500, tmp_path)
    assert result.reading_minutes == math.ceil(500 / rendering.WORDS_PER_MINUTE)


def test_it_ships_the_stylesheet_the_palettes_generate() -> None:
    assert (STATIC / "pygments.css").read_text() == stylesheet()


def _luminance(colour: str) -> float:
    channels = [int(colour.lstrip("#")[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


@pytest.mark.parametrize("style", [LightStyle, DarkStyle])
def test_it_highlights_code_with_aa_contrast_in_both_themes(style: type[Style]) -> None:
    background = _luminance(style.background_color)
    for token, spec in style:
        if spec["color"]:
            fg = _luminance(spec["color"])
            ratio = (max(fg, background) + 0.05) / (min(fg, background) + 0.05)
            assert ratio >= 4.5, (style.__name__, token, spec["color"], round(ratio, 2))


def test_it_makes_code_focusable_and_wraps_tables_for_scrolling(tmp_path: Path) -> None:
    html = render("```python\nx = 1\n```\n\n```python\ny = 2\n```\n\n| a | b |\n|:-:|--:|\n| 1 | 2 |\n", tmp_path).html
    assert '<pre tabindex="0" role="region" aria-label="Code block 1">' in html
    assert '<pre tabindex="0" role="region" aria-label="Code block 2">' in html
    assert '<div class="table-scroll"><table>' in html
    assert '<th class="align-center">a</th>' in html and '<td class="align-right">2</td>' in html
    assert "style=" not in html
