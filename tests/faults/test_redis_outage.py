"""Redis stops and comes back under a running stack: lab endpoints answer 503 naming Redis (never 500),
the database-only pages keep working (a quiz answered meanwhile is kept), /healthz recovers within 10 s, and the
append-only file keeps data."""

from __future__ import annotations

import json
import signal
import time

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from quizzes.banks import catalogue
from quizzes.models import Attempt, Response
from tests.faults.conftest import Stack, healthz, wait_for
from tests.integration.quizzes.conftest import right_form

pytestmark = pytest.mark.integration


def learner(stack: Stack) -> httpx.Client:
    client = httpx.Client(base_url=stack.url, timeout=15)
    client.get("/lab/")
    client.headers["X-CSRFToken"] = client.cookies["csrftoken"]
    return client


def assert_redis_503_json(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text[:500]
    body = response.json()
    assert body["unavailable"] == "redis" and "Redis is unavailable" in body["error"]
    assert response.headers["Retry-After"] == "5"


def answer_the_first_question(client: httpx.Client, quiz: str) -> Attempt:
    """Start a quiz and answer its first question right, as a learner does through the pages."""
    started = client.post(f"/quizzes/{quiz}/start")
    assert started.status_code == 302, started.text[:300]
    attempt_url = started.headers["location"]
    attempt = Attempt.objects.get(pk=attempt_url.rstrip("/").rsplit("/", 1)[1])
    question = catalogue().questions[attempt.question_ids[0]]
    answered = client.post(f"{attempt_url}answer", data=right_form(question))
    assert answered.status_code in (200, 302), answered.text[:300]  # a plain form post is redirected back
    return attempt


def read_until_closed(url: str, headers: dict[str, str]) -> tuple[list[dict], int | None]:
    frames = []
    with connect(url, additional_headers=headers, open_timeout=10) as socket:
        try:
            while True:
                frames.append(json.loads(socket.recv(timeout=10)))
        except ConnectionClosed as closed:
            return frames, closed.rcvd.code if closed.rcvd else None


def test_a_redis_outage_answers_503_naming_redis_and_everything_recovers_by_itself(fault_stack: Stack) -> None:
    client = learner(fault_stack)
    started = client.post("/lab/api/runs", json={"experiment": "checkout", "config": {"duration": 5, "rate": 1}})
    assert started.status_code == 201, started.text
    run = started.json()
    wait_for(lambda: client.get(f"/lab/api/runs/{run['id']}/events").json()["events"], timeout=20, what="events")
    own = fault_stack.redis.client()
    own.set("faults:durable", "written before the crash")
    time.sleep(1.5)  # appendfsync everysec: anything older than a second is on disk
    fault_stack.redis.stop(signal.SIGKILL)

    status, body = healthz(fault_stack.url)
    assert status == 503 and body["redis"] == "down" and body["db"] == "ok"
    assert_redis_503_json(client.post("/lab/api/runs", json={"experiment": "checkout"}))
    # Reads and toggles of a run may still be answered from the database (the engine decides); never a 500.
    for response in (
        client.get(f"/lab/api/runs/{run['id']}"),
        client.get(f"/lab/api/runs/{run['id']}/events?after=0"),
        client.post(f"/lab/api/runs/{run['id']}/toggles", json={"name": "email.down", "value": True}),
        client.post(f"/lab/api/runs/{run['id']}/stop"),
    ):
        assert response.status_code < 500 or response.status_code == 503, response.text[:300]
        if response.status_code == 503:
            assert_redis_503_json(response)
    page = client.get(run["url"])
    assert page.status_code in (200, 503)
    if page.status_code == 503:
        assert "Redis is unavailable" in page.text and "<h1>" in page.text
    for path in ("/lessons/", "/quizzes/", "/progress/"):
        assert client.get(path).status_code == 200, path  # database-only pages carry on
    attempt = answer_the_first_question(client, "observability")  # and a learner's answers are kept

    headers = {"Origin": fault_stack.url, "Cookie": f"sessionid={client.cookies['sessionid']}"}
    ws_url = fault_stack.url.replace("http", "ws") + run["ws_url"]
    frames, close_code = read_until_closed(ws_url, headers)
    assert frames[-1]["code"] == 503 and frames[-1]["unavailable"] == "redis", frames
    assert close_code == 4503  # like HTTP 503: lab.js reconnects after a second

    time.sleep(2)  # the worker's heartbeat fails at least once
    fault_stack.redis.start()
    back = time.monotonic()
    # The append-only file brought back the old heartbeat key: remove it, so only a live heartbeat counts.
    for key in own.scan_iter("*:workers:*"):
        own.delete(key)
    wait_for(lambda: healthz(fault_stack.url)[0] == 200, timeout=10, what="healthz 200 within 10 s of Redis")
    print(f"healthz recovered {time.monotonic() - back:.1f} s after Redis came back")
    assert own.get("faults:durable") == "written before the crash"  # the append-only file survived a kill -9
    assert Response.objects.filter(attempt=attempt, correct=True).count() == 1  # the answer given meanwhile
    assert client.get(f"/lab/api/runs/{run['id']}").status_code == 200
    assert client.get(run["url"]).status_code == 200
    with connect(ws_url, additional_headers=headers, open_timeout=10) as socket:
        assert json.loads(socket.recv(timeout=10))["type"] == "hello"
