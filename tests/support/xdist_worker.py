"""Keeps each pytest-xdist worker apart from the others: its own REDIS_KEY_PREFIX, set before Django reads its
settings (loaded with `-p` from pyproject's addopts, ahead of pytest-django).

Everything a test session shares through Redis or the disk follows that prefix (comms_lab/settings.py): keys and
their wipe, Celery's queue and broker keys, channel groups, the test database file. So each xdist worker's Celery
worker and daphne (tests/support/processes.py) serve that xdist worker's tests only.
"""

from __future__ import annotations

import os

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests() -> None:
    worker = os.environ.get("PYTEST_XDIST_WORKER")  # set by xdist before the worker parses its configuration
    if worker:
        os.environ["REDIS_KEY_PREFIX"] = f"{os.environ.get('REDIS_KEY_PREFIX', 'comms_lab')}-{worker}"
