"""The competing-consumers page in Chromium against a live daphne and a real worker: poison messages fill the
dead-letter panel with their last error, and after the fix a Re-drive gets every one processed (a watcher of the
shared run sees the same, and no button); with prefetch 10 the slow consumer's buffer fills while others idle."""

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.test_lab_csp import CSP_LISTENER
from tests.support.processes import WebServer

pytestmark = pytest.mark.e2e


def test_poison_messages_are_listed_then_re_driven_and_processed_and_a_slow_consumer_hoards_its_prefetch(
    page: Page, browser: Browser, web_server: WebServer
) -> None:
    page.add_init_script(CSP_LISTENER)
    page.goto("/lab/competing-consumers/?preset=poison-message")
    dead = page.get_by_role("region", name="Dead letters")
    bulk = page.get_by_role("region", name="Consumers of jobs, prefetch 10")
    expect(dead.get_by_role("table")).to_contain_text("No dead letters.")
    expect(dead.get_by_role("button")).to_have_count(0)  # no run of yours yet: nothing to re-drive
    page.get_by_text("Run settings").click()
    page.get_by_label("Duration (s)").fill("8")
    page.get_by_label("Consumers", exact=True).select_option("side_by_side")
    poison = page.get_by_label("jobs, prefetch 1: share of poison messages (fraction)")
    poison.fill("0.4")
    page.get_by_text("Queue: jobs-bulk").click()
    slower = page.get_by_label("jobs, prefetch 10: consumer 1 slower by (ms)")
    slower.fill("1800")
    page.get_by_role("button", name="Start run").click()
    expect(page.locator("#run-status")).to_contain_text("running", timeout=30_000)

    expect(dead.locator("tbody tr").nth(2)).to_contain_text("cannot handle this message (poison)", timeout=15_000)
    expect(dead.locator("tbody tr").first.locator("td").nth(1)).to_have_text("3")  # deliveries: the queue's maximum
    slow = bulk.get_by_role("row", name=re.compile(r"^Consumer 1 "))
    expect(slow.locator("td").nth(2)).to_have_text(re.compile(r"^([3-9]|10)$"))  # prefetched behind its hand
    expect(bulk.locator(".consumers-stranded")).to_contain_text(
        re.compile(r"prefetched messages? waits? behind busy consumers while consumers? [23]")
    )

    slower.fill("0")
    slower.press("Tab")  # a live value is sent when the input changes
    more = page.get_by_label("jobs, prefetch 10: consumers")
    more.fill("5")
    more.press("Tab")
    expect(bulk.locator("tbody tr")).to_have_count(5)  # the panel follows the live consumer count
    expect(bulk.locator(".consumers-settings")).to_contain_text("5 consumers, prefetch 10")
    poison.fill("0")  # the fix is deployed
    poison.press("Tab")
    expect(page.locator("#markers")).to_contain_text("jobs.poison_share=0")
    page.wait_for_timeout(800)  # deliveries that began before the fix end first
    dead.get_by_role("button", name=re.compile(r"^Re-drive \d+ dead letters?$")).focus()
    page.keyboard.press("Enter")
    expect(dead.get_by_role("status")).to_contain_text(re.compile(r"Re-drove \d+ dead letters?"))
    moved = int(re.search(r"\d+", dead.get_by_role("status").inner_text()).group())  # type: ignore[union-attr]
    tally = dead.locator(".dead-tally")
    # (a poisoned delivery already under way when the fix came may still land in the queue after the re-drive)
    expect(tally).to_contain_text(
        f"re-driven and waiting: 0 · processed after re-drive: {moved} · dead-lettered again: 0", timeout=15_000
    )
    expect(dead.locator("tbody tr", has_text="processed after re-drive")).to_have_count(min(moved, 15))  # 15 rows
    expect(page.locator("#run-status")).to_have_text("finished", timeout=30_000)
    expect(dead.get_by_role("button")).to_be_disabled()
    assert page.evaluate("window.__csp || []") == []
    share = page.locator("#share-link").get_attribute("href")
    watcher = browser.new_context(base_url=web_server.url)  # someone else, by the share link: the log replayed
    try:
        seen = watcher.new_page().get_by_role("region", name="Dead letters")
        seen.page.goto(share or "")
        expect(seen.locator(".dead-tally")).to_contain_text(f"after re-drive: {moved} · dead-lettered again: 0")
        expect(seen.locator("tbody tr").first).to_contain_text("cannot handle this message (poison)")
        expect(seen.get_by_role("button")).to_have_count(0)  # read-only: nothing to re-drive
    finally:
        watcher.close()
