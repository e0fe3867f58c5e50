"""The lab page in Chromium, driven as a learner drives it."""

from playwright.sync_api import Page, expect


def start_run(page: Page, *, duration: int, rate: float | None = None) -> None:
    """On an open experiment page: shorten the run under Run settings, press Start and wait until it runs."""
    page.get_by_text("Run settings").click()
    page.get_by_label("Duration (s)").fill(str(duration))
    if rate is not None:
        page.get_by_label("Request rate (requests/s)").fill(f"{rate:g}")
    page.get_by_role("button", name="Start run").click()
    expect(page.locator("#run-status")).to_contain_text("running", timeout=30_000)
