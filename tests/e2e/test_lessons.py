"""Lesson pages in Chromium: reading that counts, diagrams that fit, code you can copy, definitions in place, a
table of contents that follows the reader, and a home page and header that work on a phone."""

from __future__ import annotations

import time
from typing import Any

import pytest
from playwright.sync_api import Page, ViewportSize, expect

from lessons import services
from lessons.catalog import get_catalog

pytestmark = pytest.mark.e2e

PHONE: ViewportSize = {"width": 390, "height": 844}


def test_a_lesson_counts_as_read_only_after_enough_time_on_the_page(page: Page) -> None:
    slug = "rpc"
    lesson = get_catalog().lesson(slug)
    assert lesson is not None
    need = services.required_read_seconds(lesson)
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"/lessons/{slug}/")
    expect(page.locator("#lesson-status")).to_have_text("not started")

    # Jumping straight to the end does not complete it (nor record anything), and the page says what would.
    page.get_by_role("link", name="Finish the lesson").first.click()
    expect(page.locator("#completion")).to_contain_text("Not counted yet")
    expect(page.locator("#lesson-status")).to_have_text("not started")
    assert "sessionid" not in {cookie["name"] for cookie in page.context.cookies()}

    # An earlier visit's reading time (all but 3 s of what is needed) is on record: staying at the end for
    # those few seconds completes the lesson by itself.
    form: dict[str, str | float | bool] = {
        "visit": services.visit_token(slug=slug, read_seconds=0, now=time.time() - need),
        "seconds": need - 3,
    }
    token = page.locator("input[name=csrfmiddlewaretoken]").first.input_value()
    assert page.request.post(f"/lessons/{slug}/reading/", form=form, headers={"X-CSRFToken": token}).status == 204
    page.reload()
    page.locator("#lesson-end").scroll_into_view_if_needed()
    expect(page.locator("#completion")).to_contain_text("Completed: you read it to the end", timeout=20_000)
    expect(page.locator("#lesson-status")).to_have_text("completed")
    assert not errors, errors  # e.g. htmx:oobErrorNoTarget when the badge swap misses its target

    page.get_by_role("link", name="Lessons", exact=True).first.click()
    expect(page.locator("#overall-progress-label")).to_contain_text("1 of")
    expect(page.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "1")


def diagram_widths(page: Page) -> list[dict[str, Any]]:
    return page.eval_on_selector_all(
        ".lesson-body .diagram",
        """figures => figures.map(f => ({
            svg: f.querySelector('svg').getBoundingClientRect().width,
            column: document.querySelector('.lesson-body').getBoundingClientRect().width,
            natural: Number(f.querySelector('svg').getAttribute('width')),
            box: f.querySelector('.diagram-scroll'),
            scrolls: f.querySelector('.diagram-scroll').scrollWidth > f.querySelector('.diagram-scroll').clientWidth,
            focusable: f.querySelector('.diagram-scroll').tabIndex === 0,
            hint: !!f.querySelector('.scroll-hint'),
        }))""",
    )


def test_no_diagram_is_wider_than_the_text_column_on_a_laptop(page: Page) -> None:
    page.set_viewport_size({"width": 1280, "height": 800})
    for lesson in get_catalog().lessons:
        page.goto(lesson.url)
        for d in diagram_widths(page):
            assert d["svg"] <= d["column"] + 0.5, (lesson.slug, d)
            assert 13 * d["svg"] / d["natural"] >= 10, (lesson.slug, d)  # labels stay 10 px or larger
            assert not d["scrolls"]


def test_on_a_phone_a_wide_diagram_scrolls_with_a_visible_cue_and_from_the_keyboard(page: Page) -> None:
    page.set_viewport_size(PHONE)
    page.goto("/lessons/why-patterns-matter/")
    widths = diagram_widths(page)
    assert any(d["scrolls"] for d in widths)
    for d in widths:
        assert d["focusable"] == d["scrolls"] == d["hint"], d
    assert page.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"]  # the page itself never scrolls


def test_code_blocks_scroll_from_the_keyboard_and_copy_to_the_clipboard(page: Page) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto("/lessons/sagas/")
    code = page.locator(".lesson-body .codehilite pre").first
    expect(code).to_have_attribute("tabindex", "0")
    expect(code).to_have_attribute("role", "region")
    button = page.locator(".lesson-body .codehilite").first.get_by_role("button", name="Copy code block 1")
    button.click()
    expect(button).to_have_text("Copied")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.strip() and copied.strip() == code.inner_text().strip()
    output = page.locator(".example-output pre").first
    assert output.evaluate("el => el.scrollWidth <= el.clientWidth")  # output wraps rather than being cut off


def test_a_glossary_term_opens_its_definition_in_place(page: Page) -> None:
    page.goto("/lessons/sync-vs-async/")
    term = page.locator(".lesson-body a.term").first
    href = term.get_attribute("href")
    assert href
    slug = href.rsplit("#", 1)[1]
    definition = get_catalog().glossary[slug].definition
    term.focus()
    popover = page.get_by_role("tooltip")
    expect(popover).to_contain_text(definition[:40])
    expect(term).to_have_attribute("aria-describedby", popover.get_attribute("id") or "")
    page.keyboard.press("Escape")
    expect(popover).to_have_count(0)
    term.click()  # a tap shows the definition instead of leaving the lesson
    expect(page.get_by_role("tooltip")).to_be_visible()
    assert page.url.endswith("/lessons/sync-vs-async/")


def test_the_table_of_contents_marks_the_section_being_read(page: Page) -> None:
    page.goto("/lessons/failure-handling/")
    toc = page.locator(".toc")
    expect(toc.locator("[aria-current=location]")).to_have_count(1)
    toc.get_by_role("link", name="Common misconceptions").click()
    expect(toc.locator("[aria-current=location]")).to_have_text("Common misconceptions")


def test_search_finds_the_outbox_lesson_despite_a_typo(page: Page) -> None:
    page.goto("/lessons/")
    page.get_by_label("Search the lessons").fill("outbx")
    results = page.locator("#search-results")
    expect(results).to_contain_text("these results are for outbox")
    expect(results.get_by_role("link").first).to_be_visible()


def test_home_shows_the_lab_and_continues_where_the_learner_left_off(page: Page) -> None:
    page.goto("/")
    picture = page.get_by_role("img", name="The lab during a checkout run", exact=False)
    expect(picture).to_be_visible()
    assert picture.evaluate("img => img.complete && img.naturalWidth > 0")
    expect(page.locator(".continue-learning")).to_contain_text("Start here")

    form: dict[str, str | float | bool] = {
        "visit": services.visit_token(slug="ordering", read_seconds=0, now=time.time() - 30),
        "seconds": 30,
    }
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    assert page.request.post("/lessons/ordering/reading/", form=form, headers={"X-CSRFToken": csrf}).status == 204
    page.reload()
    expect(page.locator(".continue-learning")).to_contain_text("Continue where you left off")
    ordering = get_catalog().lesson("ordering")
    assert ordering is not None
    expect(page.locator(".continue-learning")).to_contain_text(ordering.title)


@pytest.mark.parametrize(
    "path", ["/", "/lessons/", "/lessons/sagas/", "/glossary/", "/quizzes/", "/quizzes/sagas/", "/progress/"]
)
def test_on_a_phone_the_header_is_one_row_and_nothing_overflows(page: Page, path: str) -> None:
    page.set_viewport_size(PHONE)
    page.goto(path)
    items = page.locator(".site-nav a:visible, .site-nav button:visible")
    boxes = [items.nth(i).bounding_box() for i in range(items.count())]
    middles = [box["y"] + box["height"] / 2 for box in boxes if box]
    assert max(middles) - min(middles) <= 8, middles  # one row
    header = page.locator(".site-header").bounding_box()
    assert header and header["height"] <= 64
    assert page.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"]
