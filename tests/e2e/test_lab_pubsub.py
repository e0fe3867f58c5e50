"""The pub-sub experiment's page in Chromium: take a subscriber away and a consumer down mid-run, see the
subscriptions table and the diagram follow, and see a filter that does not parse refused on its field."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.support.lab_page import start_run

pytestmark = pytest.mark.e2e


def test_a_subscriber_away_misses_copies_a_consumer_down_backs_up_and_a_bad_filter_is_refused(page: Page) -> None:
    page.goto("/lab/pubsub/?preset=one-publish")
    start_run(page, duration=8)
    table = page.get_by_role("table", name=re.compile("Subscriptions"))
    email = table.locator('tr[data-subscription="sub.email"]')
    expect(email).to_contain_text("in")

    page.get_by_text("Subscription: sub.email").click()
    page.get_by_label("sub.email: subscribed").uncheck()
    expect(email).to_contain_text("away")
    expect(email.locator("td").nth(7)).to_have_text(re.compile(r"^[1-9]\d*$"), timeout=10_000)  # missed

    analytics = page.locator('#topology .node[data-node="analytics"]')
    analytics.click()
    page.locator("#node-faults").get_by_label("Down").check()
    expect(analytics.locator(".badge-text")).to_have_text("DOWN")
    waiting = page.locator('#topology .node[data-node="sub.analytics"] .badge-text')
    expect(waiting).to_have_text(re.compile(r"^([2-9]|\d\d+) waiting$"), timeout=10_000)

    page.keyboard.press("Escape")
    page.get_by_text("Subscription: sub.fraud").click()
    fraud_filter = page.get_by_label("sub.fraud: content filter")
    fraud_filter.fill("total >> 1")
    fraud_filter.press("Enter")
    expect(page.locator("#toggles")).to_contain_text("compare one field with a number or quoted text")

    expect(page.locator("#run-status")).to_have_text("finished", timeout=60_000)
    expect(page.locator("#summary").get_by_role("row", name=re.compile("Copies missed while away"))).to_contain_text(
        re.compile(r"missed_messages\s*[1-9]")
    )
    expect(table.locator('tr[data-subscription="sub.analytics"] td').nth(8)).to_have_text("0")  # it drained
