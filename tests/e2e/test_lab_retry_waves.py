"""The cascade's retry-waves chart in Chromium: retries sent in step stand as one tall tooth, counted from the moment
inventory went down."""

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e


def test_retries_sent_in_step_show_as_a_tooth_measured_from_the_outage(page: Page) -> None:
    found: list[str] = []
    page.on("pageerror", lambda exc: found.append(str(exc)))
    page.goto("/lab/cascade/?preset=retries-no-jitter")
    page.wait_for_function("() => !!window.commsLab")
    figure = page.locator("figure.retry_waves")
    expect(figure.locator("figcaption")).to_have_text("Client retries per 50 ms, from the moment inventory went down")
    page.evaluate(
        """() => {
        let seq = 0;
        const events = [{ type: "run.started", t: 0, experiment: "cascade", config: { duration: 10 } },
          { type: "toggle", t: 4, values: { "inventory.down": true }, by: "preset" }];
        const attempt = (t, i, n) => ({ type: "request.attempt", t, correlation_id: `r${i}`, attempt: n });
        for (let i = 0; i < 12; i++) events.push(attempt(4.01, i, 1), attempt(4.53, i, 2));
        events.push(attempt(5.2, 99, 2));
        events.push({ type: "run.finished", t: 10, status: "finished", summary: { requests: 13 } });
        window.commsLab.receive(events.map((e) => ({ ...e, seq: ++seq })), {});
    }"""
    )
    expect(figure.locator(".readout")).to_have_text(
        "13 retries; tallest slot 12 retries in 50 ms, 0.50 s after inventory went down"
    )
    expect(figure.locator("canvas")).to_have_count(1)
    assert found == []
