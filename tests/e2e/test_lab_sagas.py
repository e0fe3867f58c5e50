"""The sagas experiment's page in Chromium against a live daphne and a real worker: the orchestrator's state
machine, the list of saga instances with their timelines, and one order's steps and messages."""

import pytest
from playwright.sync_api import Page, expect

from tests.support.lab_page import start_run

pytestmark = pytest.mark.e2e


def test_taking_the_carrier_down_lists_orders_compensated_newest_step_first_and_opens_their_messages(
    page: Page,
) -> None:
    page.goto("/lab/sagas/?preset=happy-path")
    machine = page.locator("#sagas .saga-machine")
    expect(machine).to_contain_text("orchestrated saga, run by orders")  # drawn from the document before any run
    expect(machine.locator(".saga-forward li")).to_have_count(5)  # charge, reserve, ship, notify, completed
    start_run(page, duration=6)
    page.get_by_text("Faults: carrier").click()
    page.get_by_label("Carrier down").check()
    expect(page.locator("#markers")).to_contain_text("carrier.down=true")
    rows = page.locator("#sagas .saga-row")
    expect(rows.and_(page.locator('[data-state="compensated"]')).first).to_be_visible(timeout=20_000)
    expect(page.locator("#run-status")).to_have_text("finished", timeout=60_000)

    expect(page.locator("#sagas .saga-counts")).to_contain_text("12 orders")  # 6 s at 1 order a second, both ways
    assert rows.and_(page.locator('[data-state="running"]')).count() == 0
    undone = page.locator('#sagas .saga-row[data-state="compensated"][data-order$="-orchestrated"]').first
    order = undone.get_attribute("data-order")
    undone.click()
    expect(undone).to_have_attribute("aria-pressed", "true")
    steps = page.locator("#sagas .saga-steps")
    expect(steps).to_contain_text("ship error")
    text = steps.inner_text()
    assert text.index("release (undoes reserve) ok") < text.index("refund (undoes charge) ok")
    expect(page.locator("#journey")).to_contain_text(f"{order}")
    expect(page.locator("#journey")).to_contain_text("orders → shipping")
    compensated_boxes = machine.locator(".saga-backward li", has_text="compensated")
    expect(compensated_boxes.locator(".saga-box-count")).not_to_have_text("0")


def test_a_choreographed_order_whose_event_was_dead_lettered_is_listed_half_done_not_completed(page: Page) -> None:
    page.goto("/lab/sagas/?preset=inventory-errors")
    start_run(page, duration=8)
    expect(page.locator("#run-status")).to_have_text("finished", timeout=90_000)
    stranded = page.locator('#sagas .saga-row[data-state="failed"][data-order$="-choreographed"]')
    expect(stranded.first).to_be_visible()  # inventory failed from second 3 to 6: its payment events dead-lettered
    expect(stranded.first).to_contain_text("half-done")
    assert page.locator('#sagas .saga-row[data-state="completed"]').count() >= 4  # orders before second 3 shipped
    stranded.first.click()
    steps = page.locator("#sagas .saga-steps")
    expect(steps).to_contain_text("payment saga ended completed")
    expect(steps).not_to_contain_text("inventory")  # the order never reached inventory
    expect(page.locator("#sagas .saga-counts")).to_contain_text("half-done")
    # the quiz asks for `sagas.stranded`: the Numbers section shows it under that name, with what it means
    stranded_row = page.locator("#summary .all-figures tr", has=page.locator("code", has_text="sagas.stranded"))
    expect(stranded_row).to_contain_text("a hand-over never reached the next service")
    assert int(stranded_row.locator("td").first.inner_text()) >= 1
