"""The browser tests share one Chromium: no test here is async, so Playwright's event loop blocks none of them, and
each test still gets a fresh browser context (no cookies, no storage) from the `page` fixture."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import chromium
from tests.support.processes import WebServer


@pytest.fixture(scope="package")
def browser(web_server: WebServer) -> Iterator[object]:
    yield from chromium()
