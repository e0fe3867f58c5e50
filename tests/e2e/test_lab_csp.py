"""The lab's pages, through a whole run, report no Content-Security-Policy violation."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.support.lab_page import start_run

pytestmark = pytest.mark.e2e
CSP_LISTENER = """document.addEventListener("securitypolicyviolation", e => {
  (window.__csp = window.__csp || []).push(`${e.effectiveDirective} blocked ${e.blockedURI || "inline"}`);
});"""


def test_the_lab_pages_and_a_whole_run_report_no_csp_violation(page: Page) -> None:
    page.add_init_script(CSP_LISTENER)
    console: list[str] = []
    page.on("console", lambda msg: console.append(msg.text) if "Content Security Policy" in msg.text else None)
    for path in ("/lab/", "/lab/cascade/?preset=circuit-breaker"):
        page.goto(path)
        page.wait_for_load_state("networkidle")
        assert page.evaluate("window.__csp || []") == [], path
    page.goto("/lab/checkout/?preset=quick-tour")
    start_run(page, duration=5)
    expect(page.locator("#run-status")).to_have_text("finished", timeout=60_000)
    expect(page).to_have_url(re.compile(r"/lab/runs/[0-9a-f-]+/$"))
    assert page.evaluate("window.__csp || []") == []
    page.reload()
    page.wait_for_load_state("networkidle")
    assert page.evaluate("window.__csp || []") == []
    assert console == []
