"""The event-sourcing experiment's page in Chromium against a live daphne and a real worker: with its projector
taken down the read model falls versions behind the event store and the order page reads turn stale; back up, it
catches up with the log; the naive read model's double-counted rows are marked and it is rebuilt from the log by its
button; and "state at version k" answers for an order, or names the field it cannot take."""

import re

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e


def test_a_stopped_projector_falls_behind_and_serves_stale_reads_then_catches_up_a_rebuild_and_state_at_a_version(
    page: Page,
) -> None:
    page.goto("/lab/event-sourcing/?preset=duplicate-delivery")  # a third of the events reach each projector twice
    panel = page.get_by_role("region", name="Event store and read models of order event store")
    expect(panel.locator(".projection-store")).to_contain_text("No event appended yet.")
    page.get_by_text("Run settings").click()
    page.get_by_label("Duration (s)").fill("6")
    page.get_by_role("button", name="Start run").click()
    expect(page.locator("#run-status")).to_contain_text("running", timeout=30_000)
    versioned = panel.get_by_role("region", name="Read model read-model")
    behind = versioned.locator(".projection-behind")
    page.locator('#topology .node[data-node="projector"]').click()
    page.locator("#node-faults").get_by_label("Down").check()
    expect(behind).to_have_attribute("data-versions", re.compile(r"^([6-9]|\d\d+)$"), timeout=10_000)
    expect(versioned.locator(".projection-status")).to_contain_text(re.compile(r"stale: [1-9]"))
    expect(versioned.get_by_role("button", name="Rebuild read-model from the log")).to_be_enabled()
    page.locator("#node-faults").get_by_label("Down").uncheck()
    naive = panel.get_by_role("region", name="Read model naive-model")
    expect(naive.locator(".projection-status")).to_contain_text(re.compile(r"\b[1-9]\d* rows? counted an event twice"))
    expect(versioned.locator(".projection-status")).not_to_contain_text("twice")
    naive.get_by_role("button", name="Rebuild naive-model from the log").click()
    expect(naive.get_by_role("status")).to_contain_text("Rebuild of naive-model asked for")
    expect(naive.locator(".projection-status")).to_contain_text("rebuilt 1 time")
    expect(page.locator("#run-status")).to_have_text("finished", timeout=60_000)
    expect(behind).to_have_text("0 versions")
    expect(naive.locator(".projection-behind")).to_have_text("0 versions")
    expect(panel.locator(".projection-store + .hint")).to_have_text("36 events appended for 12 keys.")
    expect(versioned.get_by_role("button", name="Rebuild read-model from the log")).to_be_disabled()

    key = panel.locator(".projection-store tbody th code").first.inner_text()
    version = panel.get_by_role("spinbutton", name="Version")
    panel.get_by_label("Order key").fill(key)
    version.fill("2")
    panel.get_by_role("button", name="Show state at version").click()
    answer = panel.locator(".projection-answer")
    expect(answer).to_contain_text(f'{key} at version 2 of 3: 2 events, last "item-added"')
    expect(answer).to_contain_text('"items":2')
    version.fill("4")
    panel.get_by_role("button", name="Show state at version").click()
    expect(version).to_have_attribute("aria-invalid", "true")
    expect(panel.locator("#state-order-events-version-error")).to_have_text(
        f"version: must be a whole number from 1 to 3 (the versions of {key})"
    )
    expect(answer).to_be_empty()
