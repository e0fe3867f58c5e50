"""The outbox experiment's page in Chromium against a live daphne and a real worker: crash the order service
between its two actions and watch orders published but never saved counted live against the outbox's clean row."""

import re

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e


def test_crashing_the_order_service_between_save_and_publish_shows_orphans_but_no_outbox_loss(page: Page) -> None:
    page.goto("/lab/outbox/?preset=publisher-crash")
    page.get_by_text("Run settings").click()
    page.get_by_label("Duration (s)").fill("6")
    faults = page.locator('#toggles details[data-group="faults:order"]')
    expect(faults.get_by_label("Crash")).to_have_value("after_ack")  # the preset's crash, before any run
    faults.get_by_label("Crash").select_option("none")
    page.get_by_role("button", name="Start run").click()
    expect(page.locator("#run-status")).to_contain_text("running", timeout=30_000)
    table = page.get_by_role("table", name=re.compile("'charged' per order"))
    expect(table.locator('tr[data-class="outbox"] td.once')).to_have_text(re.compile(r"^[1-9]\d*$"), timeout=15_000)
    expect(table.locator('tr[data-class="publish_first"] td.orphaned')).to_have_text("0")
    faults.get_by_label("Crash").select_option("after_ack")
    expect(page.locator("#markers")).to_contain_text("order.crash=after_ack")
    orphans = table.locator('tr[data-class="publish_first"] td.orphaned')
    expect(orphans).to_have_text(re.compile(r"^[1-9]\d*$"), timeout=15_000)
    expect(orphans).to_have_class(re.compile(r"\bbad\b"))
    expect(page.locator("#run-status")).to_have_text("finished", timeout=60_000)
    expect(table.locator('tr[data-class="dual_write"] td.missing')).to_have_class(re.compile(r"\bbad\b"))
    outbox = table.locator('tr[data-class="outbox"]')
    for column in ("missing", "repeated", "orphaned"):
        expect(outbox.locator(f"td.{column}")).to_have_text("0")
