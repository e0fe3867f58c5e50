"""Fixtures shared by the integration tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from comms_lab.redis_client import redis_client
from comms_lab.stack import free_port


@pytest.fixture
def redis_out_of_reach(settings: Any) -> Iterator[None]:
    """REDIS_URL points at a port nobody listens on: every command is refused, as when Redis is down."""
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    redis_client.cache_clear()
    yield
    redis_client.cache_clear()
