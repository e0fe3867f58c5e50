"""Predict → run → debrief in Chromium against a live daphne and a real worker: answer the preset's question,
run it, then read the prediction beside the result, the findings, the promises checked and what to try next."""

import re

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e


def test_a_prediction_made_before_a_short_run_is_set_beside_its_result_with_findings_and_the_next_preset(
    page: Page,
) -> None:
    page.goto("/lab/checkout/?preset=hybrid-baseline")
    question = page.locator("#predict-box fieldset")
    expect(question).to_contain_text("Where will its median latency land?")
    question.get_by_label("Just above payment's 400 ms.").check()
    question.get_by_role("button", name="Save prediction").press("Enter")
    expect(page.locator("#predict-box")).to_contain_text("Your prediction is saved")
    page.get_by_text("Run settings").click()
    page.get_by_label("Duration (s)").fill("5")
    page.get_by_role("button", name="Start run").click()
    expect(page.locator("#predict-box")).to_be_hidden()
    expect(page.locator("#run-status")).to_have_text("finished", timeout=60_000)

    debrief = page.get_by_role("region", name=re.compile("Debrief"))
    expect(debrief).to_contain_text("Your prediction held: “Just above payment's 400 ms.”")
    expect(debrief.locator(".debrief-figure")).to_have_text(re.compile(r"^\d+(\.\d+)? ms$"))  # the run's own p50
    expect(debrief).to_contain_text("by_mode.hybrid.latency_ms.p50")
    expect(debrief.locator(".debrief-findings")).to_contain_text("hybrid requests: 100% succeeded")
    expect(debrief.locator(".debrief-invariants")).to_contain_text("kept")
    next_link = debrief.get_by_role("link", name="Email goes down for 15 s")
    expect(next_link).to_have_attribute("href", "/lab/checkout/?preset=email-down")
    next_link.click()
    expect(page.locator("#predict-box fieldset")).to_contain_text("What share of the synchronous checkouts")


def test_a_wrong_prediction_is_told_the_right_answer_only_once_it_is_made(page: Page) -> None:
    page.goto("/lab/checkout/?preset=side-by-side")
    question = page.locator("#predict-box fieldset")
    expect(question).to_contain_text("How will the hybrid design's p99 latency compare")
    served = page.evaluate("() => JSON.parse(document.getElementById('experiment-data').textContent)")
    asked = next(p["predict"] for p in served["presets"] if p["slug"] == "side-by-side")
    assert all(set(choice) == {"id", "text"} for choice in asked["choices"])  # the page cannot know the answer
    question.get_by_label("Above it, because queued messages make the slowest checkouts slower.").check()
    page.get_by_text("Run settings").click()
    page.get_by_label("Duration (s)").fill("5")
    page.get_by_role("button", name="Start run").click()  # the unsaved choice is stored before the run is created
    expect(page.locator("#run-status")).to_have_text("finished", timeout=60_000)

    debrief = page.get_by_role("region", name=re.compile("Debrief"))
    expect(debrief).to_contain_text("Your prediction missed: “Above it, because queued messages")
    expect(debrief.locator(".why")).to_have_text(re.compile("^Queue waits come after the checkout replies"))
    expect(debrief).to_contain_text("What happens: Far below it. Even a slow hybrid checkout waits only for payment")
    expect(debrief).to_contain_text("by_mode.hybrid.latency_ms.p99")


def test_a_skipped_prediction_is_still_told_the_right_answer_after_the_run(page: Page) -> None:
    page.goto("/lab/checkout/?preset=hybrid-baseline")
    page.locator("#predict-box").get_by_role("button", name="Skip").click()
    expect(page.locator("#predict-box")).to_contain_text("Prediction skipped for this run.")
    page.get_by_text("Run settings").click()
    page.get_by_label("Duration (s)").fill("5")
    page.get_by_role("button", name="Start run").click()
    expect(page.locator("#run-status")).to_have_text("finished", timeout=60_000)

    debrief = page.get_by_role("region", name=re.compile("Debrief"))
    expect(debrief).to_contain_text("You did not predict this run.")
    expect(debrief).to_contain_text("What happens: Just above payment's 400 ms. The customer waits for payment")
    expect(debrief.locator(".debrief-verdict")).to_have_count(0)
