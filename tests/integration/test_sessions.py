"""Sessions are read through Redis and kept in the database: a logged-out session stays dead, and with Redis out of
reach learners keep their sessions."""

from __future__ import annotations

import time

import pytest
from django.contrib.auth.models import User
from django.contrib.sessions.models import Session
from django.core import signing
from django.test import Client

from comms_lab.learners import SESSION_KEY, Learner
from comms_lab.redis_client import redis_client, rkey
from lessons import services

pytestmark = pytest.mark.django_db


def learner_of(client: Client) -> Learner:
    return Learner(user_id=None, anonymous_id=client.session[SESSION_KEY])


def test_a_logged_out_session_cannot_be_used_again(client: Client) -> None:
    user = User.objects.create_user("ada", password="correct-horse-battery")
    client.force_login(user)
    stolen = client.cookies["sessionid"].value
    assert client.get("/lessons/").wsgi_request.user == user  # read (and cached) while signed in
    client.post("/accounts/logout/")
    client.cookies["sessionid"] = stolen
    assert not client.get("/lessons/").wsgi_request.user.is_authenticated


def test_a_session_altered_in_redis_is_refused_like_a_forged_cookie(client: Client) -> None:
    user = User.objects.create_user("ada", password="correct-horse-battery")
    other = User.objects.create_user("bob", password="correct-horse-battery")
    client.force_login(user)
    assert client.get("/lessons/").wsgi_request.user == user
    cached = rkey("session", client.cookies["sessionid"].value)
    as_bob = {**client.session, "_auth_user_id": str(other.pk), "_auth_user_hash": other.get_session_auth_hash()}
    salt = "django.contrib.sessions.SessionStore"
    redis_client().set(cached, signing.dumps(as_bob, salt=salt, compress=True))  # signed with the real key
    assert client.get("/lessons/").wsgi_request.user == other  # pages do read the session from Redis
    redis_client().set(cached, signing.dumps(as_bob, key="not-the-secret-key", salt=salt, compress=True))
    assert not client.get("/lessons/").wsgi_request.user.is_authenticated


def test_with_redis_out_of_reach_a_learner_starts_and_keeps_a_session(client: Client, redis_out_of_reach: None) -> None:
    visit = services.visit_token(slug="sagas", read_seconds=0, now=time.time() - 60)
    assert client.post("/lessons/sagas/reading/", {"visit": visit, "seconds": 60}).status_code == 204
    assert Session.objects.count() == 1
    page = client.get("/lessons/sagas/").content.decode()  # the session, read from the database, names the learner
    assert 'class="badge lesson-in_progress"' in page


def test_a_learner_key_altered_in_redis_never_shows_another_learners_progress() -> None:
    """Redis keeps the learner's key unsigned beside the signed session (to read their state token in the same
    round trip): pointing it at someone else changes nothing on the page."""
    reader, other = Client(), Client()
    for client, seconds in ((reader, 60), (other, 0)):
        visit = services.visit_token(slug="sagas", read_seconds=0, now=time.time() - 60)
        client.post("/lessons/sagas/reading/", {"visit": visit, "seconds": max(seconds, 15)})
    services.mark_lesson_completed(learner=learner_of(reader), slug="sagas", reason="read")
    assert 'class="badge lesson-completed"' in reader.get("/lessons/sagas/").content.decode()
    assert 'class="badge lesson-completed"' not in other.get("/lessons/sagas/").content.decode()
    cached = rkey("session", other.cookies["sessionid"].value)
    encoded = str(redis_client().get(cached)).rpartition("\n")[2]
    redis_client().set(cached, f"{learner_of(reader).key}\n{encoded}")
    assert 'class="badge lesson-completed"' not in other.get("/lessons/sagas/").content.decode()
