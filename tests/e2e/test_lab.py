"""The lab page in Chromium against a live daphne and a real worker."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.support.lab_page import start_run

pytestmark = pytest.mark.e2e


def test_clicking_start_shows_events_arriving_and_the_run_finishing(page: Page) -> None:
    page.goto("/lab/checkout/?preset=quick-tour")
    start_run(page, duration=5)
    expect(page.locator("#event-log li").first).to_be_visible()
    expect(page.locator("#run-status")).to_have_text("finished", timeout=60_000)
    assert page.locator("#event-log li").count() > 50
    expect(page.get_by_role("table").filter(has_text="Success rate")).to_contain_text("100%")
    expect(page.locator("#summary")).not_to_contain_text("retry_waves")  # no client retries in a healthy checkout
    expect(page.locator("#summary")).not_to_contain_text("calls.")  # nor a call that timed out
    expect(page).to_have_url(re.compile(r"/lab/runs/[0-9a-f-]+/$"))


def test_taking_email_down_grows_its_queue_and_marks_the_charts(page: Page) -> None:
    page.goto("/lab/checkout/?preset=hybrid-baseline")
    start_run(page, duration=10, rate=3)
    page.get_by_text("Faults: email").click()
    page.get_by_label("Email down").check()
    expect(page.locator("#markers")).to_contain_text("email.down=true")
    expect(page.locator("#event-log")).to_contain_text("toggle by learner: email.down=true")
    queue_badge = page.locator("#topology .node.queue", has_text="Email queue").locator(".badge-text")
    expect(queue_badge).to_have_text(re.compile(r"^([4-9]|\d\d+) waiting$"), timeout=15_000)
    page.get_by_label("Email down").uncheck()
    expect(page.locator("#markers")).to_contain_text("email.down=false")
    expect(page.locator("#run-status")).to_have_text("finished", timeout=90_000)
    expect(queue_badge).to_have_text("0 waiting")


def test_a_breaker_guarding_a_service_taken_down_on_the_diagram_opens_on_its_badge_and_lane(page: Page) -> None:
    page.goto("/lab/cascade/?preset=circuit-breaker")
    start_run(page, duration=8)
    inventory = page.locator('#topology .node[data-node="inventory"]')
    expect(inventory.locator(".badge-sub")).to_have_text(re.compile(r"^pool \d+/10 · CLOSED$"), timeout=10_000)
    expect(page.locator('#topology .node[data-node="gateway"] .badge-sub')).to_have_text(re.compile(r"^pool \d+/20$"))
    inventory.click()
    page.locator("#node-faults").get_by_label("Down").check()
    expect(inventory.locator(".badge-text")).to_have_text("DOWN")
    expect(inventory.locator(".badge-sub")).to_have_text(re.compile(r"· OPEN$"), timeout=15_000)
    expect(page.locator("#chart-breaker-lane")).to_contain_text("OPEN")
    transitions = re.compile(r"opened \d+ times?\. .*OPEN at \d+\.\d s")
    expect(page.locator("#chart-breaker-lane-readout")).to_contain_text(transitions)
    expect(page.locator("#markers")).to_contain_text("inventory.down=true")
    expect(page.locator("#run-status")).to_have_text("finished", timeout=60_000)
    clipped = "[...document.querySelectorAll('#chart-breaker-lane span')].filter(s => s.scrollWidth > s.clientWidth+1)"
    assert page.evaluate(f"{clipped}.length") == 0, "a breaker state's label is cut off"
    expect(page.locator("#summary")).to_contain_text("calls_while_open")
    expect(page.locator("#summary")).not_to_contain_text("final_queue_depth")  # no queues in this experiment


def test_a_slow_dependency_shows_how_long_each_pool_was_full_live_and_in_the_summary(page: Page) -> None:
    page.goto("/lab/cascade/?preset=slow-inventory")
    start_run(page, duration=8)  # inventory turns slow at second 5
    readout = page.locator("#chart-pool-usage-readout")
    expect(readout).to_contain_text(re.compile(r"Full so far: .*Orders [1-9]\d*% of the time"), timeout=15_000)
    expect(page.locator("#run-status")).to_have_text("finished", timeout=90_000)
    summary = page.locator("#summary")
    expect(summary.get_by_role("row").filter(has_text="Time pools were full")).to_contain_text(
        re.compile(r"orders [1-9][\d.]*%")
    )
    expect(summary).to_contain_text(re.compile(r"Thread pools were full .* of the run in orders"))
