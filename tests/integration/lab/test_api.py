"""The lab's JSON API over HTTP, with session auth and CSRF, against the real worker."""

import json
import re
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
from django.test import Client
from django.utils import timezone

from lab.model.events import EVENTS
from lab.models import Run
from tests.support.lab import new_learner, session_cookie_for, stop_and_wait, summary_of, wait_finished

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as TestResponse

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("worker"), pytest.mark.django_db(transaction=True)]


def learner_client(*, address: str = "127.0.0.1") -> Client:
    client = Client(enforce_csrf_checks=True, REMOTE_ADDR=address)
    client.get("/lab/")
    return client


def post(client: Client, path: str, body: object) -> "TestResponse":
    data = body if isinstance(body, str) else json.dumps(body)
    return client.post(path, data, content_type="application/json", HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value)


def test_experiments_list_their_presets_and_parameter_schema() -> None:
    data = Client().get("/lab/api/experiments").json()
    by_slug = {e["slug"]: e for e in data["experiments"]}
    assert {"checkout", "cascade"} <= set(by_slug)
    rate = next(p for p in by_slug["checkout"]["parameters"] if p["name"] == "rate")
    assert (rate["type"], rate["minimum"], rate["maximum"], rate["unit"]) == ("float", 0.5, 50, "requests/s")
    assert "email-down" in [p["slug"] for p in by_slug["checkout"]["presets"]]


def test_the_event_contract_is_served_with_each_types_meaning_and_fields_and_embedded_in_the_lab_page() -> None:
    contract = Client().get("/lab/api/events-contract").json()["events"]
    assert set(contract) == set(EVENTS)
    assert contract["request.finished"] == {
        "meaning": "A request got its answer.",
        "fields": ["correlation_id", "latency_ms", "outcome", "reason"],
        "optional": [],
    }
    assert contract["call.finished"]["optional"] == ["reason"]
    page = Client().get("/lab/checkout/").content.decode()
    embedded = re.search(r'<script id="event-contract" type="application/json">(.*?)</script>', page)
    assert embedded and json.loads(embedded.group(1)) == contract


def test_starting_a_run_returns_its_id_and_where_to_watch_it() -> None:
    client = learner_client()
    response = post(client, "/lab/api/runs", {"experiment": "checkout", "config": {"duration": 5, "rate": 1}})
    assert response.status_code == 201
    run = response.json()
    assert run["ws_url"] == f"/ws/lab/runs/{run['id']}/"
    assert run["url"] == f"/lab/runs/{run['id']}/"
    finished = wait_finished(Run.objects.get(pk=run["id"]))
    detail = client.get(f"/lab/api/runs/{run['id']}").json()
    assert detail["status"] == "finished"
    assert detail["summary"]["requests"] == 5 == summary_of(finished)["requests"]
    assert set(detail["summary"]["latency_ms"]) == {"p50", "p95", "p99"}


def test_a_post_without_the_csrf_token_is_refused_with_json() -> None:
    client = learner_client()
    response = client.post("/lab/api/runs", "{}", content_type="application/json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["error"]


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ("{oops", {"body"}),
        ([1, 2], {"body"}),
        ({"experiment": "nope"}, {"experiment"}),
        ({"experiment": "checkout", "preset": "nope"}, {"preset"}),
        ({"experiment": "checkout", "config": {"rate": 500}}, {"config.rate"}),
        ({"experiment": "checkout", "config": {"duration": 301, "mode": "x"}}, {"config.duration", "config.mode"}),
        ({"experiment": "checkout", "config": []}, {"config"}),
        ({"experiment": "checkout", "speed": 3}, {"speed"}),
    ],
)
def test_bad_input_gets_a_400_naming_each_field(body: object, fields: set[str]) -> None:
    response = post(learner_client(), "/lab/api/runs", body)
    assert response.status_code == 400
    assert set(response.json()["fields"]) == fields


def test_an_out_of_range_rate_says_what_is_allowed() -> None:
    response = post(learner_client(), "/lab/api/runs", {"experiment": "cascade", "config": {"rate": 0.1}})
    assert response.json()["fields"] == {"config.rate": "must be a number from 0.5 to 50 requests/s, got 0.1"}


def test_an_unknown_run_is_a_json_404() -> None:
    response = Client().get(f"/lab/api/runs/{uuid.uuid4()}")
    assert response.status_code == 404
    assert "no run" in response.json()["error"]


def test_a_third_concurrent_run_is_refused_with_when_to_retry() -> None:
    client = learner_client()
    started = [post(client, "/lab/api/runs", {"config": {"duration": 5, "rate": 1}}) for _ in range(2)]
    assert [r.status_code for r in started] == [201, 201]
    third = post(client, "/lab/api/runs", {"config": {"duration": 5, "rate": 1}})
    assert third.status_code == 429
    assert 1 <= third.json()["retry_after_s"] <= 120
    assert third["Retry-After"] == str(third.json()["retry_after_s"])
    for run in started:
        stop_and_wait(Run.objects.get(pk=run.json()["id"]))


def test_toggles_are_validated_and_only_the_owner_may_send_them() -> None:
    owner = learner_client()
    run = post(owner, "/lab/api/runs", {"experiment": "checkout", "config": {"duration": 6, "rate": 1}}).json()
    path = f"/lab/api/runs/{run['id']}/toggles"
    bad = post(owner, path, {"values": {"email.error_rate": 2}})
    assert bad.status_code == 400
    assert bad.json()["fields"] == {"email.error_rate": "must be a number from 0 to 1 fraction, got 2"}
    fixed = post(owner, path, {"values": {"rate": 3}})
    assert fixed.json()["fields"] == {"rate": "is fixed when the run starts and cannot be toggled"}
    assert post(owner, path, {"name": "email.down", "value": True}).json()["applied"] == {"email.down": True}

    watcher = learner_client()
    assert watcher.get(f"/lab/api/runs/{run['id']}").status_code == 404
    share = run["share_url"].split("share=")[1]
    assert watcher.get(f"/lab/api/runs/{run['id']}?share={share}").json()["can_control"] is False
    assert post(watcher, f"{path}?share={share}", {"values": {"email.down": False}}).status_code == 403

    finished = stop_and_wait(Run.objects.get(pk=run["id"]))
    toggles = [e for e in finished.stored_events() if e["type"] == "toggle"]
    assert toggles[0]["values"] == {"email.down": True} and toggles[0]["by"] == "learner"
    assert post(owner, path, {"values": {"email.down": False}}).status_code == 409


def test_a_run_whose_worker_vanished_is_closed_as_failed_when_next_looked_at() -> None:
    learner = new_learner()
    owner = Client(HTTP_COOKIE=session_cookie_for(learner))
    run = Run.objects.create(
        experiment="checkout", config={"duration": 5}, anonymous_id=learner.anonymous_id, status="running"
    )
    Run.objects.filter(pk=run.pk).update(created_at=timezone.now() - timedelta(minutes=10))
    detail = owner.get(f"/lab/api/runs/{run.id}").json()
    assert detail["status"] == "failed"
    assert detail["summary"]["requests"] == 0


def test_runs_are_admitted_by_the_load_they_offer_not_by_their_number(settings) -> None:
    from lab import services
    from tests.support.lab import new_learner, start, wait_until_lab_idle

    wait_until_lab_idle()
    settings.LAB_CAPACITY = 100  # engine operations per second; a quick-tour checkout offers 70
    first = start(preset="quick-tour", duration=5)
    with pytest.raises(services.AdmissionError) as refused:
        start(new_learner(), preset="quick-tour", duration=5)
    assert "The lab is busy" in str(refused.value) and "yours needs 70%" in str(refused.value)
    assert refused.value.retry_after_s >= 1
    small = start(new_learner(), preset="sync-baseline", duration=5, rate=1)  # offers 6: it still fits
    for run in (first, small):
        stop_and_wait(run)


def test_a_run_whose_row_was_deleted_mid_run_ends_quietly_and_leaves_nothing_in_redis() -> None:
    import time

    from comms_lab.redis_client import redis_client, rkey
    from tests.support.lab import start, wait_until_running

    run = start(duration=5, rate=1)
    wait_until_running(run)
    Run.objects.filter(pk=run.pk).delete()  # the learner deleted their account and everything tied to it
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and list(redis_client().scan_iter(rkey("run", run.id, "*"))):
        time.sleep(0.5)
    assert list(redis_client().scan_iter(rkey("run", run.id, "*"))) == []


def test_one_address_may_hold_only_so_many_runs_however_many_sessions_it_opens(settings) -> None:
    settings.LAB_MAX_RUNS_PER_ADDRESS = 2
    sessions = [learner_client(address="203.0.113.7") for _ in range(3)]  # three fresh learners, one address
    answers = [post(s, "/lab/api/runs", {"config": {"duration": 5, "rate": 1}}) for s in sessions]
    assert [a.status_code for a in answers] == [201, 201, 429]
    assert "Your network address already has 2 runs going" in answers[2].json()["error"]
    for answer in answers[:2]:
        stop_and_wait(Run.objects.get(pk=answer.json()["id"]))


def test_signing_in_mid_run_keeps_the_anonymous_runs_counted_against_the_learner() -> None:
    from django.contrib.auth import get_user_model

    client = learner_client()
    started = [post(client, "/lab/api/runs", {"config": {"duration": 5, "rate": 1}}) for _ in range(2)]
    user = get_user_model().objects.create_user("carol", password="a long enough passphrase 42")
    client.force_login(user)
    third = post(client, "/lab/api/runs", {"config": {"duration": 5, "rate": 1}})
    assert third.status_code == 429 and "You already have 2 runs going" in third.json()["error"]
    for answer in started:
        run = stop_and_wait(Run.objects.get(pk=answer.json()["id"]))
        assert run.user_id == user.pk
