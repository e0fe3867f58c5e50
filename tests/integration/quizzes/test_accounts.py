"""Accounts: sign-up and log-in merge anonymous quiz work into the account; failed log-ins are rate limited."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from comms_lab.learners import Learner
from quizzes import ratelimit, services
from quizzes.banks import catalogue
from quizzes.models import Attempt, Response, ReviewCard
from quizzes.scheduling import new_card_state
from tests.integration.quizzes.conftest import QuizDriver

pytestmark = pytest.mark.django_db

QUIZ = "observability"  # no lab questions: every answer is in the key
N = len(catalogue().banks[QUIZ].questions)  # an attempt asks every question
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
    assert response.status_code == 302 and response["Location"] == "/progress/"
    ada = User.objects.get(username="ada")
    assert set(Attempt.objects.filter(user=ada).values_list("id", flat=True)) == {finished.id, unfinished.id}
    assert Response.objects.filter(attempt__user=ada).count() == N + 1  # the whole quiz and one answer of rpc
    assert ReviewCard.objects.filter(user=ada).count() == N + 1
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
    assert Attempt.objects.count() == 1 and ReviewCard.objects.count() == N


def test_log_out_and_password_change_work(client: Client) -> None:
    User.objects.create_user("ada", password=PASSWORD)
    client.post("/accounts/login/", {"username": "ada", "password": PASSWORD})
    changed = client.post(
        "/accounts/password_change/",
        {"old_password": PASSWORD, "new_password1": PASSWORD + "!", "new_password2": PASSWORD + "!"},
    )
    assert changed.status_code == 302 and changed["Location"] == "/accounts/password_change/done/"
    assert "Password changed" in client.get(changed["Location"]).content.decode()
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


@pytest.fixture
def fresh_limits(redis_server: object) -> Iterator[None]:
    """Every test here fails log-ins from 127.0.0.1: start and end with that address's counters at zero."""
    for limit in (ratelimit.LOGIN_PER_ADDRESS, ratelimit.SIGNUP_PER_ADDRESS, ratelimit.RESET_PER_ADDRESS):
        ratelimit.reset(limit, "127.0.0.1")
    yield
    for limit in (ratelimit.LOGIN_PER_ADDRESS, ratelimit.SIGNUP_PER_ADDRESS, ratelimit.RESET_PER_ADDRESS):
        ratelimit.reset(limit, "127.0.0.1")


def test_a_full_width_variant_of_a_locked_name_is_the_same_counter(client: Client, fresh_limits: None) -> None:
    User.objects.create_user("alice", password=PASSWORD)
    for _ in range(ratelimit.MAX_FAILURES):
        client.post("/accounts/login/", {"username": "alice", "password": "wrong"})
    for variant in ("ａlice", "aｌice", "ALICE", " Alice ", "ａｌｉｃｅ"):
        response = client.post("/accounts/login/", {"username": variant, "password": PASSWORD})
        assert response.status_code == 429, variant
    ratelimit.clear("alice", "127.0.0.1")
    assert client.post("/accounts/login/", {"username": "aｌice", "password": PASSWORD}).status_code == 302


def test_one_address_failing_across_many_names_is_paused(client: Client, fresh_limits: None, settings: Any) -> None:
    settings.LOGIN_FAILURES_PER_ADDRESS = 4
    User.objects.create_user("zoe", password=PASSWORD)
    for n in range(4):
        assert client.post("/accounts/login/", {"username": f"user{n}", "password": "x"}).status_code == 200
    blocked = client.post("/accounts/login/", {"username": "zoe", "password": PASSWORD})
    assert blocked.status_code == 429 and "many usernames from your" in blocked.content.decode()
    elsewhere = Client(REMOTE_ADDR="198.51.100.7")
    assert elsewhere.post("/accounts/login/", {"username": "zoe", "password": PASSWORD}).status_code == 302


def test_x_forwarded_for_counts_only_behind_a_trusted_proxy(client: Client, fresh_limits: None, settings: Any) -> None:
    settings.LOGIN_FAILURES_PER_ADDRESS = 2
    spoofed: dict[str, Any] = {"HTTP_X_FORWARDED_FOR": "203.0.113.1"}
    for n in range(2):
        client.post("/accounts/login/", {"username": f"u{n}", "password": "x"}, **spoofed)
    # No trusted proxy: the header is ignored, the failures counted against 127.0.0.1 itself.
    assert (
        client.post("/accounts/login/", {"username": "u9", "password": "x"}, HTTP_X_FORWARDED_FOR="1.2.3.4").status_code
        == 429
    )
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    # Behind a trusted proxy, the client is the right-most address the proxy did not add itself.
    ok = client.post("/accounts/login/", {"username": "u9", "password": "x"}, HTTP_X_FORWARDED_FOR="6.6.6.6, 192.0.2.5")
    assert ok.status_code == 200
    assert ratelimit.wait_s(ratelimit.LOGIN_PER_ADDRESS, "192.0.2.5") == 0
    ratelimit.reset(ratelimit.LOGIN_PER_ADDRESS, "192.0.2.5")


def test_sign_ups_are_limited_per_address(client: Client, fresh_limits: None, settings: Any) -> None:
    settings.SIGNUPS_PER_ADDRESS = 2
    for n in range(2):
        response = Client().post(
            "/accounts/signup/", {"username": f"new{n}", "password1": PASSWORD, "password2": PASSWORD}
        )
        assert response.status_code == 302
    third = client.post("/accounts/signup/", {"username": "new2", "password1": PASSWORD, "password2": PASSWORD})
    assert third.status_code == 429 and "Too many new accounts" in third.content.decode()
    assert int(third["Retry-After"]) > 0 and not User.objects.filter(username="new2").exists()


def test_a_forgotten_password_is_reset_through_an_emailed_link(
    client: Client, fresh_limits: None, mailoutbox: list
) -> None:
    User.objects.create_user("ada", email="ada@example.com", password=PASSWORD)
    assert client.post("/accounts/password_reset/", {"email": "ada@example.com"}).status_code == 302
    assert client.post("/accounts/password_reset/", {"email": "nobody@example.com"}).status_code == 302
    (mail,) = mailoutbox
    assert mail.to == ["ada@example.com"] and "ada" in mail.body
    link = next(line for line in mail.body.splitlines() if "/accounts/reset/" in line)
    form = client.get(link.split("testserver", 1)[1], follow=True)
    assert "Set a new password" in form.content.decode()
    new = PASSWORD + "-new"
    done = client.post(form.redirect_chain[-1][0], {"new_password1": new, "new_password2": new})
    assert done.status_code == 302 and done["Location"] == "/accounts/reset/done/"
    assert client.post("/accounts/login/", {"username": "ada", "password": new}).status_code == 302


def test_sign_up_takes_an_optional_email(client: Client, fresh_limits: None) -> None:
    form = {"username": "ada", "email": "ada@example.com", "password1": PASSWORD, "password2": PASSWORD}
    assert client.post("/accounts/signup/", form).status_code == 302
    assert User.objects.get(username="ada").email == "ada@example.com"


def test_a_learner_downloads_their_progress_attempts_and_runs_as_json(
    client: Client, driver: QuizDriver, fresh_limits: None
) -> None:
    from lab.models import Run

    driver.take(driver.start(QUIZ), right=lambda q: True)
    client.post("/accounts/signup/", {"username": "ada", "password1": PASSWORD, "password2": PASSWORD})
    ada = User.objects.get(username="ada")
    Run.objects.create(experiment="checkout", config={"rate": 1}, user=ada, status="finished", summary={"requests": 5})
    Run.objects.create(experiment="checkout", config={}, anonymous_id="someone-else")
    response = client.get("/accounts/data.json")
    assert response.status_code == 200 and response["Content-Type"].startswith("application/json")
    assert "attachment" in response["Content-Disposition"]
    data = response.json()
    assert data["account"]["username"] == "ada"
    assert len(data["quiz_attempts"]) == 1 and len(data["quiz_attempts"][0]["responses"]) == N
    assert len(data["review_cards"]) == N
    assert [r["summary"] for r in data["lab_runs"]] == [{"requests": 5}]
    assert "share_token" not in data["lab_runs"][0] and "event_log" not in data["lab_runs"][0]
    assert Client().get("/accounts/data.json").status_code == 302  # log in first


def test_deleting_an_account_removes_it_and_everything_tied_to_it_and_nothing_else(
    client: Client, driver: QuizDriver, fresh_limits: None
) -> None:
    from lab.models import Run
    from lessons.models import LessonProgress

    driver.take(driver.start(QUIZ), right=lambda q: True)
    client.post("/accounts/signup/", {"username": "ada", "password1": PASSWORD, "password2": PASSWORD})
    ada = User.objects.get(username="ada")
    Run.objects.create(experiment="checkout", config={}, user=ada, status="finished")
    LessonProgress.objects.create(user=ada, lesson="rpc")
    bob = User.objects.create_user("bob", password=PASSWORD)
    Run.objects.create(experiment="checkout", config={}, user=bob, status="finished")
    LessonProgress.objects.create(user=bob, lesson="rpc")

    wrong = client.post("/accounts/delete/", {"password": "not it"})
    assert wrong.status_code == 400 and "That is not your password." in wrong.content.decode()
    assert User.objects.filter(username="ada").exists()
    gone = client.post("/accounts/delete/", {"password": PASSWORD})
    assert gone.status_code == 302 and gone["Location"] == "/"
    assert not User.objects.filter(username="ada").exists()
    assert not Attempt.objects.exists() and not ReviewCard.objects.exists() and not Response.objects.exists()
    assert list(Run.objects.values_list("user__username", flat=True)) == ["bob"]
    assert list(LessonProgress.objects.values_list("user__username", flat=True)) == ["bob"]
    assert "Log in" in client.get("/").content.decode()  # logged out


def test_the_account_page_offers_download_and_deletion(client: Client) -> None:
    User.objects.create_user("ada", password=PASSWORD)
    client.login(username="ada", password=PASSWORD)
    page = client.get("/accounts/").content.decode()
    assert "/accounts/data.json" in page and "/accounts/delete/" in page and "Delete my account" in page


def test_a_reset_with_no_mail_server_reachable_is_logged_not_a_500(
    client: Client, fresh_limits: None, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from comms_lab.stack import free_port

    User.objects.create_user("ada", email="ada@example.com", password=PASSWORD)
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": free_port(), "timeout": 2},
        }
    }
    response = client.post("/accounts/password_reset/", {"email": "ada@example.com"})
    assert response.status_code == 302  # the same answer as for any address: it reveals nothing
    assert "Failed to send password reset email" in caplog.text
