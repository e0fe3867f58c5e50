"""The delivery experiment's page in Chromium against a live daphne and a real worker: crash one payment consumer
before its acks and watch its orders charged twice in the live counters, while the idempotent one stays clean."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.support.lab_page import start_run

pytestmark = pytest.mark.e2e


def test_crashing_the_ack_after_consumer_before_its_acks_shows_double_charges_live(page: Page) -> None:
    page.goto("/lab/delivery/?preset=healthy")
    start_run(page, duration=8)
    table = page.get_by_role("table", name=re.compile("'charged' per order"))
    expect(table).to_be_visible()
    faults = page.locator('#toggles details[data-group="faults:pay-after"]')
    faults.locator("summary").click()
    faults.get_by_label("Schedule", exact=True).select_option("every_kth")
    faults.get_by_label("Crash").select_option("before_ack")
    expect(page.locator("#markers")).to_contain_text("pay-after.crash=before_ack")
    repeated = table.locator('tr[data-class="at_least_once"] td.repeated')
    expect(repeated).to_have_text(re.compile(r"^[1-9]\d*$"), timeout=20_000)
    expect(repeated).to_have_class(re.compile(r"\bbad\b"))
    expect(page.locator("#run-status")).to_have_text("finished", timeout=60_000)
    for cls in ("at_most_once", "idempotent"):
        row = table.locator(f'tr[data-class="{cls}"]')
        expect(row.locator("td.repeated")).to_have_text("0")
        expect(row.locator("td.missing")).to_have_text("0")
    expect(table.locator("thead")).to_contain_text("Never (lost)")
    expect(page.locator("#summary")).to_contain_text("effect_once")
