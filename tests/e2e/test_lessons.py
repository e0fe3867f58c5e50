"""A learner opens a lesson, reads to its end, and the index counts it as completed."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e


def test_it_counts_a_lesson_read_to_the_end_on_the_index_progress_bar(page: Page) -> None:
    page.goto("/lessons/")
    progress = page.get_by_role("progressbar")
    expect(progress).to_have_attribute("aria-valuenow", "0")

    page.get_by_role("link", name="Synchronous vs asynchronous", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Synchronous vs asynchronous")
    expect(page.locator("#lesson-status")).to_have_text("in progress")

    page.locator("#lesson-end").scroll_into_view_if_needed()  # reaching the end marks it read, no click needed
    expect(page.locator("#completion")).to_contain_text("Completed: read to the end.")
    expect(page.locator("#lesson-status")).to_have_text("completed")

    page.get_by_role("link", name="Lessons", exact=True).first.click()
    expect(page.locator("#overall-progress-label")).to_contain_text("1 of 17 lessons completed")
    expect(progress).to_have_attribute("aria-valuenow", "1")
