"""The streams experiment's page in Chromium against a live daphne and a real worker: its partitions panel, a
fault's effect on the consumer lag it shows, a rewind the server refuses, and the summary's stream figures."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.support.lab_page import start_run

pytestmark = pytest.mark.e2e


def test_taking_fulfilment_down_shows_its_lag_a_rewind_beyond_the_stream_is_refused_and_the_scrubber_shows_it_again(
    page: Page,
) -> None:
    page.goto("/lab/streams/?preset=keyed")
    panel = page.locator("#streams")
    expect(panel.get_by_role("table").first).to_contain_text("order events: 3 partitions")
    start_run(page, duration=8)
    expect(panel.locator("li[data-group=fulfilment]")).to_contain_text("3 consumers", timeout=10_000)

    page.get_by_text("Faults: fulfilment").click()
    page.get_by_label("Fulfilment down").check()
    expect(page.locator("#markers")).to_contain_text("fulfilment.down=true")
    # Each partition row reads "<consumer> · <committed> · <lag>" per group: fulfilment's column falls behind.
    fulfilment_cells = panel.locator(".stream-table tbody tr td:nth-child(3)")
    expect(fulfilment_cells.filter(has_text=re.compile(r"· ([3-9]|\d\d+)$")).first).to_be_visible(timeout=15_000)

    panel.get_by_label("analytics: replay from offset").fill("999999")
    panel.get_by_role("button", name="Rewind analytics").click()
    expect(panel.get_by_role("alert").filter(has_text="orders.analytics.rewind_to")).to_contain_text(
        "must be an offset in stream orders, from 0 to"
    )

    # Stay down a second longer, so the moment scrubbed to below (0.3 s before recovery) comes after the lag seen.
    page.wait_for_timeout(1_000)
    page.get_by_label("Fulfilment down").uncheck()
    expect(page.locator("#run-status")).to_have_text("finished", timeout=90_000)
    expect(fulfilment_cells.first).to_have_text(re.compile(r"· 0$"))
    expect(panel).to_contain_text("streams.groups.fulfilment.out_of_order")
    expect(panel.locator("li[data-group=fulfilment]")).to_contain_text("0 out of key order")

    # The replay scrubber puts the panel back where it stood: just before fulfilment came back, it was behind.
    toggles = page.locator("#markers li").all_inner_texts()
    back_at = next(float(t.split(" s")[0]) for t in toggles if "fulfilment.down=false" in t)
    page.get_by_label("Replay position").fill(f"{back_at - 0.3:.1f}")
    expect(panel.get_by_role("table").first).to_contain_text(f"as of {back_at - 0.3:.1f} s into the run")
    expect(fulfilment_cells.filter(has_text=re.compile(r"· ([3-9]|\d\d+)$")).first).to_be_visible()
    expect(panel).not_to_contain_text("streams.groups.fulfilment.out_of_order")  # the summary is not in yet
    page.get_by_label("Replay position").fill(page.get_by_label("Replay position").get_attribute("max") or "")
    expect(fulfilment_cells.first).to_have_text(re.compile(r"· 0$"))
    expect(panel).to_contain_text("streams.groups.fulfilment.out_of_order")
    expect(panel.get_by_role("table").first).not_to_contain_text("as of")
