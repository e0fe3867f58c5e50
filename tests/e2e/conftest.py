"""The browser tests share one Chromium: no test here is async, so Playwright's event loop blocks none of them, and
each test still gets a fresh browser context (no cookies, no storage) from the `page` fixture."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import chromium, missing
from tests.support.axe import fetch_axe
from tests.support.processes import WebServer


@pytest.fixture(scope="package")
def browser(web_server: WebServer) -> Iterator[object]:
    yield from chromium()


@pytest.fixture(scope="session")
def axe_js() -> Path:
    """axe-core's script, for the tests that run it on a page (CSP bypassed: it is injected as a script)."""
    try:
        return fetch_axe()
    except RuntimeError as exc:
        missing(str(exc))
