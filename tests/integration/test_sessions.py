"""Sessions are read through Redis and kept in the database: a logged-out session stays dead, and with Redis out of
reach learners keep their sessions."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.contrib.sessions.models import Session
from django.test import Client

from comms_lab import sessions
from comms_lab.stack import free_port
from lessons import services

pytestmark = pytest.mark.django_db


def test_a_logged_out_session_cannot_be_used_again(client: Client) -> None:
    user = User.objects.create_user("ada", password="correct-horse-battery")
    client.force_login(user)
    stolen = client.cookies["sessionid"].value
    assert client.get("/lessons/").wsgi_request.user == user  # read (and cached) while signed in
    client.post("/accounts/logout/")
    client.cookies["sessionid"] = stolen
    assert not client.get("/lessons/").wsgi_request.user.is_authenticated


@pytest.fixture
def redis_out_of_reach(settings: Any) -> Iterator[None]:
    """The session cache points at a port nobody listens on, as when Redis is down."""
    settings.CACHES = {
        **settings.CACHES,
        "sessions": {**settings.CACHES["sessions"], "LOCATION": f"redis://127.0.0.1:{free_port()}/0"},
    }
    sessions._shared_cache.cache_clear()
    yield
    sessions._shared_cache.cache_clear()


def test_with_redis_out_of_reach_a_learner_starts_and_keeps_a_session(client: Client, redis_out_of_reach: None) -> None:
    visit = services.visit_token(slug="sagas", read_seconds=0, now=time.time() - 60)
    assert client.post("/lessons/sagas/reading/", {"visit": visit, "seconds": 60}).status_code == 204
    assert Session.objects.count() == 1
    page = client.get("/lessons/sagas/").content.decode()  # the session, read from the database, names the learner
    assert 'class="badge lesson-in_progress"' in page
