"""daphne dies mid-run and comes back: the open lab page reconnects by itself and resumes after the last event
it holds, so the run reaches the learner whole, every event exactly once."""

from __future__ import annotations

import json
import signal
from typing import Any

import pytest
from playwright.sync_api import Browser, WebSocket, expect

from comms_lab.stack import web_command
from tests.faults.conftest import Stack, env_for, healthz, wait_for
from tests.support.lab_page import start_run

pytestmark = pytest.mark.e2e


def test_a_daphne_restart_mid_run_loses_and_repeats_no_event_on_the_open_page(
    fault_stack: Stack, browser: Browser
) -> None:
    context = browser.new_context(base_url=fault_stack.url)
    page = context.new_page()
    page.set_default_timeout(20_000)
    received: list[int] = []
    sockets: list[WebSocket] = []

    def record(payload: str | bytes) -> None:
        frame: dict[str, Any] = json.loads(payload)
        received.extend(event["seq"] for event in frame.get("events", []))

    def watch(socket: WebSocket) -> None:
        sockets.append(socket)
        socket.on("framereceived", record)

    page.on("websocket", watch)
    try:
        page.goto("/lab/checkout/?preset=quick-tour")
        start_run(page, duration=12)
        expect(page.locator("#event-log li").nth(50)).to_be_attached()  # also lets Playwright deliver frames

        fault_stack.web.stop(signal.SIGKILL)
        expect(page.locator("#connection-note")).to_contain_text("reconnecting")
        page.wait_for_timeout(1000)
        fault_stack.web = fault_stack.add(web_command("127.0.0.1", fault_stack.port), env_for(fault_stack.redis), "web")
        wait_for(lambda: healthz(fault_stack.url)[0] == 200, timeout=30, what="daphne back")

        expect(page.locator("#run-status")).to_have_text("finished", timeout=60_000)
        expect(page.locator("#connection-note")).to_be_hidden()
    finally:
        context.close()
    assert len(sockets) >= 2, "the page opened a new socket after the restart"
    assert sorted(received) == list(range(1, max(received) + 1)), "every event arrived exactly once, none missing"
