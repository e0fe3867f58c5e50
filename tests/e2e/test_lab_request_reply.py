"""The request-reply experiment's page in Chromium against a live daphne and a real worker: taking inventory down
fills the async client's pending-request table, and bringing it back empties it, every request matched by its id."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.support.lab_page import start_run

pytestmark = pytest.mark.e2e


def test_inventory_down_fills_the_pending_request_table_and_recovery_empties_it(page: Page) -> None:
    page.goto("/lab/request-reply/?preset=side-by-side")
    pending = page.get_by_role("region", name="Pending requests on stock requests")
    expect(pending.get_by_role("table")).to_contain_text("No request is waiting.")
    start_run(page, duration=8, rate=4)
    inventory = page.locator('#topology .node[data-node="inventory"]')
    inventory.click()
    page.locator("#node-faults").get_by_label("Down").check()
    tally = pending.locator(".pending-tally")
    expect(tally).to_contain_text(re.compile(r"Waiting: [3-9]\b"), timeout=10_000)
    expect(pending.locator("tbody tr").first).to_contain_text(" ms")
    page.locator("#node-faults").get_by_label("Down").uncheck()
    expect(page.locator("#run-status")).to_have_text("finished", timeout=60_000)
    expect(tally).to_contain_text("Waiting: 0 · completed by their own reply: 32 · by another request's reply: 0")
    expect(tally).to_contain_text("deadline passed: 0")
    expect(page.locator("#summary")).to_contain_text("no_reply_mismatched")
