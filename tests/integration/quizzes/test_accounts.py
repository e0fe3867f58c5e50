"""Accounts: sign-up and log-in merge anonymous quiz work into the account; failed log-ins are rate limited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from comms_lab.learners import Learner
from quizzes import ratelimit, services
from quizzes.models import Attempt, Response, ReviewCard
from quizzes.scheduling import new_card_state
from tests.integration.quizzes.conftest import QuizDriver

pytestmark = pytest.mark.django_db

QUIZ = "sagas"
PASSWORD = "a-long-enough-passphrase-42"


def anonymous_id(client: Client) -> str:
    return client.session["learner_id"]


def test_signing_up_moves_the_anonymous_attempts_responses_and_cards_into_the_account(
    client: Client, driver: QuizDriver
) -> None:
    finished = driver.take(driver.start(QUIZ), right=lambda q: True)
    unfinished = driver.start("rpc")
    driver.answer(unfinished, right=True)
    response = client.post("/accounts/signup/", {"username": "ada", "password1": PASSWORD, "password2": PASSWORD})
    assert response.status_code == 302 and response.url == "/progress/"
    ada = User.objects.get(username="ada")
    assert set(Attempt.objects.filter(user=ada).values_list("id", flat=True)) == {finished.id, unfinished.id}
    assert Response.objects.filter(attempt__user=ada).count() == 14
    assert ReviewCard.objects.filter(user=ada).count() == 14
    assert not ReviewCard.objects.filter(user__isnull=True).exists()
    page = client.get("/progress/").content.decode()
    assert "100%" in page and "Logged in as ada" in page
    assert client.get(f"/quizzes/attempts/{unfinished.id}/").status_code == 200  # resumable after sign-up


def test_logging_in_merges_without_duplicating_a_question_both_sides_have_a_card_for(client: Client) -> None:
    ada = User.objects.create_user("ada", password=PASSWORD)
    earlier = timezone.now() - timedelta(days=3)
    ReviewCard.objects.create(
        user=ada,
        question_id="sagas-compensation",
        state=new_card_state(1, earlier),
        due=earlier,
        last_review=earlier,
        reviews=2,
        lapses=1,
    )
    client.post(f"/quizzes/{QUIZ}/start")  # starting a quiz gives the session its anonymous learner id
    anon = Learner(user_id=None, anonymous_id=anonymous_id(client))
    attempt = services.start_attempt(learner=anon, quiz=QUIZ)
    ReviewCard.objects.create(
        anonymous_id=anon.anonymous_id,
        question_id="sagas-compensation",
        state=new_card_state(1, timezone.now()),
        due=timezone.now() + timedelta(days=2),
        last_review=timezone.now(),
        reviews=1,
    )
    assert client.post("/accounts/login/", {"username": "ada", "password": PASSWORD}).status_code == 302
    cards = ReviewCard.objects.filter(question_id="sagas-compensation")
    assert cards.count() == 1
    card = cards.get()
    assert card.user == ada and card.reviews == 3 and card.lapses == 1 and card.due > timezone.now()
    assert Attempt.objects.get(pk=attempt.pk).user == ada


def test_a_learner_logging_in_twice_keeps_one_copy_of_everything(client: Client, driver: QuizDriver) -> None:
    User.objects.create_user("ada", password=PASSWORD)
    driver.take(driver.start(QUIZ), right=lambda q: True)
    client.post("/accounts/login/", {"username": "ada", "password": PASSWORD})
    client.post("/accounts/logout/")
    client.post("/accounts/login/", {"username": "ada", "password": PASSWORD})
    assert Attempt.objects.count() == 1 and ReviewCard.objects.count() == 13


def test_log_out_and_password_change_work(client: Client) -> None:
    User.objects.create_user("ada", password=PASSWORD)
    client.post("/accounts/login/", {"username": "ada", "password": PASSWORD})
    changed = client.post(
        "/accounts/password_change/",
        {"old_password": PASSWORD, "new_password1": PASSWORD + "!", "new_password2": PASSWORD + "!"},
    )
    assert changed.status_code == 302 and changed.url == "/accounts/password_change/done/"
    assert "Password changed" in client.get(changed.url).content.decode()
    assert client.post("/accounts/logout/").status_code == 302
    assert "Log in" in client.get("/").content.decode()
    assert client.post("/accounts/login/", {"username": "ada", "password": PASSWORD + "!"}).status_code == 302


def test_the_sign_up_form_explains_what_is_wrong(client: Client) -> None:
    response = client.post("/accounts/signup/", {"username": "ada", "password1": "short", "password2": "other"})
    assert response.status_code == 200
    assert "didn’t match" in response.content.decode() or "didn't match" in response.content.decode()


def test_five_failed_log_ins_for_a_username_from_one_address_lock_it_for_five_minutes(
    client: Client, redis_server: object
) -> None:
    User.objects.create_user("ada", password=PASSWORD)
    for _ in range(ratelimit.MAX_FAILURES):
        assert client.post("/accounts/login/", {"username": "ada", "password": "wrong"}).status_code == 200
    blocked = client.post("/accounts/login/", {"username": "Ada", "password": PASSWORD})
    assert blocked.status_code == 429
    assert 240 < int(blocked["Retry-After"]) <= 300
    assert "Try again in 5 minutes" in blocked.content.decode()
    other = client.post("/accounts/login/", {"username": "bob", "password": "wrong"})
    assert other.status_code == 200  # another username from the same address is not locked
    ratelimit.clear("ada", "127.0.0.1")


def test_a_successful_log_in_clears_earlier_failures(client: Client, redis_server: object) -> None:
    User.objects.create_user("ada", password=PASSWORD)
    for _ in range(ratelimit.MAX_FAILURES - 1):
        client.post("/accounts/login/", {"username": "ada", "password": "wrong"})
    assert client.post("/accounts/login/", {"username": "ada", "password": PASSWORD}).status_code == 302
    assert ratelimit.blocked_for("ada", "127.0.0.1") == 0
    client.post("/accounts/logout/")
    for _ in range(ratelimit.MAX_FAILURES - 1):
        client.post("/accounts/login/", {"username": "ada", "password": "wrong"})
    assert client.post("/accounts/login/", {"username": "ada", "password": PASSWORD}).status_code == 302
