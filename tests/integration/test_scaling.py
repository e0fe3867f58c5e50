"""Scaling out on one machine: two daphne processes and two workers sharing one Redis and one database."""

import json
import time

import httpx
import pytest
from websockets.sync.client import connect
from websockets.typing import Origin

from tests.support.processes import WebServer, Worker

pytestmark = pytest.mark.integration


@pytest.fixture
def second_web_and_worker(web_server: WebServer, transactional_db: None):
    other_web, other_worker = WebServer(), Worker(concurrency=32)
    other_worker.start()
    other_web.start()
    yield other_web
    other_web.stop()
    other_worker.stop()


def test_a_run_started_through_one_web_process_streams_gaplessly_through_another(
    web_server: WebServer, second_web_and_worker: WebServer
) -> None:
    client = httpx.Client(base_url=web_server.url, timeout=30)
    client.get("/lab/")
    headers = {"X-CSRFToken": client.cookies["csrftoken"], "Referer": f"{web_server.url}/lab/"}
    response = client.post("/lab/api/runs", json={"config": {"duration": 5, "rate": 4}}, headers=headers)
    assert response.status_code == 201, response.text
    run = response.json()
    cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    other = second_web_and_worker
    seqs, finished = [], False
    deadline = time.monotonic() + 90
    with connect(
        f"ws://127.0.0.1:{other.port}{run['ws_url']}", origin=Origin(other.url), additional_headers={"Cookie": cookie}
    ) as socket:
        while not finished and time.monotonic() < deadline:
            frame = json.loads(socket.recv(timeout=60))
            for event in frame.get("events", []):
                seqs.append(event["seq"])
                finished = finished or event["type"] == "run.finished"
    assert finished
    assert seqs == list(range(1, len(seqs) + 1))
    assert httpx.get(f"{other.url}/healthz").json() == {"db": "ok", "redis": "ok", "worker": "ok"}
    assert client.get(f"/lab/api/runs/{run['id']}").json()["status"] == "finished"
