"""Shared fixtures: real Redis, a real Celery worker process, daphne, and Chromium through Playwright.

Outside CI a missing component skips the tests that need it; with CI=true it fails them.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import NoReturn

import pytest
import redis

from comms_lab import learner_state
from comms_lab.redis_client import redis_client, rkey
from tests.support.processes import WebServer, Worker

IN_CI = os.environ.get("CI", "").lower() == "true"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def missing(what: str) -> NoReturn:
    if IN_CI:
        pytest.fail(f"{what} is required in CI", pytrace=False)
    pytest.skip(f"{what} is not available")


def _wipe_test_keys() -> None:
    client = redis_client()
    keys = list(client.scan_iter(rkey("*"), count=1000))
    for start in range(0, len(keys), 500):
        client.delete(*keys[start : start + 500])


@pytest.fixture(autouse=True)
def _nothing_remembered_from_the_last_test() -> None:
    """Each test's database is rolled back and user ids come again: no learner's rows read in one test are reused
    in the next (comms_lab.learner_state)."""
    learner_state.forget_everything_here()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[redis.Redis]:
    try:
        redis_client().ping()
    except redis.RedisError as exc:
        missing(f"Redis ({exc})")
    _wipe_test_keys()
    yield redis_client()
    _wipe_test_keys()


@pytest.fixture(scope="session")
def worker(django_db_setup: None, redis_server: redis.Redis) -> Iterator[Worker]:
    """One real worker process for the session, on the test database and Redis."""
    proc = Worker()
    try:
        proc.start()
    except RuntimeError as exc:
        missing(f"a Celery worker ({exc})")
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def web_server(worker: Worker) -> Iterator[WebServer]:
    server = WebServer()
    try:
        server.start()
    except RuntimeError as exc:
        missing(f"daphne ({exc})")
    yield server
    server.stop()


def chromium() -> Iterator[object]:
    """Chromium through Playwright's sync API, open until the generator is closed."""
    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        missing(f"Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls tests make are still synchronous.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield launched
            launched.close()
    finally:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


@pytest.fixture(scope="module")
def browser(web_server: WebServer) -> Iterator[object]:
    """Chromium for one test module. Playwright's sync API keeps an event loop running in this thread while it is
    open, which async tests cannot share, so it is closed after each browser module (tests/e2e shares one)."""
    yield from chromium()


@pytest.fixture
def page(browser: object, web_server: WebServer, transactional_db: None) -> Iterator[object]:
    """A fresh browser context (no cookies) whose relative URLs go to the live server."""
    context = browser.new_context(base_url=web_server.url)  # type: ignore[attr-defined]
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()
