"""The Numbers table in Chromium after a real run: each figure the summary carries, under the name lessons and
quizzes use, with its meaning (static/lab/summary.js)."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.support.lab_page import start_run

pytestmark = pytest.mark.e2e


def test_a_defended_slowdown_shows_its_attempts_retry_waves_and_the_calls_that_timed_out_or_were_cut_short(
    page: Page,
) -> None:
    page.goto("/lab/cascade/?preset=all-defences")
    start_run(page, duration=10)  # inventory turns slow at second 5: timeouts, retries and an open breaker
    expect(page.locator("#run-status")).to_have_text("finished", timeout=90_000)
    numbers = page.locator("#summary")
    expect(numbers.get_by_role("row", name=re.compile("^Attempts per request"))).to_contain_text(
        re.compile(r"attempts_per_request\s*[12]\.\d+")
    )
    expect(numbers.get_by_role("row", name=re.compile("^Most retries in one slot"))).to_contain_text(
        re.compile(r"retry_waves\.peak\s*\d+ in 50 ms")
    )
    expect(numbers.get_by_role("row", name=re.compile(r"^Retry peak ÷ mean"))).to_contain_text(
        re.compile(r"retry_waves\.peak_to_mean\s*\d+(\.\d+)?× \(mean \d+(\.\d+)? per slot over \d+(\.\d+)? s\)")
    )
    checkout = numbers.get_by_role("row", name="by_path.checkout")
    attempts = checkout.get_by_role("cell").nth(3)  # Requests, Success, Goodput/s, Attempts/request
    expect(numbers.get_by_role("columnheader", name="Attempts/request")).to_be_visible()
    assert float(attempts.inner_text()) >= 1.5  # failed checkouts retried

    calls = numbers.get_by_role("table", name="Calls that did not complete, by called service")
    inventory = calls.get_by_role("row", name="calls.inventory")
    timed_out, abandoned, short_circuited = (int(inventory.get_by_role("cell").nth(i).inner_text()) for i in range(3))
    assert timed_out > 0 and 0 < abandoned <= timed_out and short_circuited > 0
    expect(numbers.locator(".calls-meaning")).to_contain_text("short_circuited")
