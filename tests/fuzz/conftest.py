"""A learner session on the real daphne + worker for the bad-input and fuzz tests: one run of their own (so
toggles and the websocket reach the real parsers) and one quiz attempt, made afresh for each test function (not
for each generated example)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from websockets.sync.client import ClientConnection, connect

from tests.support.processes import WebServer


@dataclass
class Site:
    url: str
    client: httpx.Client
    run: dict[str, Any]
    attempt_url: str

    def ws(self) -> ClientConnection:
        headers = {"Origin": self.url, "Cookie": f"sessionid={self.client.cookies['sessionid']}"}
        socket = connect(self.url.replace("http", "ws") + self.run["ws_url"], additional_headers=headers)
        assert json.loads(socket.recv(timeout=10))["type"] == "hello"
        return socket


def reply_to(socket: ClientConnection, frame: str | bytes, *, timeout: float = 10) -> list[dict[str, Any]]:
    """Send `frame`, then a ping; return every non-event frame received before the pong (the socket must live)."""
    socket.send(frame)
    socket.send('{"type":"ping"}')
    replies: list[dict[str, Any]] = []
    while True:
        message = json.loads(socket.recv(timeout=timeout))
        if message.get("type") == "pong":
            return replies
        if "events" not in message:
            replies.append(message)


@pytest.fixture
def site(web_server: WebServer, transactional_db: None) -> Iterator[Site]:
    client = httpx.Client(base_url=web_server.url, timeout=30)
    client.get("/lab/")
    client.headers["X-CSRFToken"] = client.cookies["csrftoken"]
    started = client.post("/lab/api/runs", json={"experiment": "checkout", "config": {"duration": 60, "rate": 1}})
    assert started.status_code == 201, started.text
    quiz = client.post("/quizzes/async-styles/start", data={"behaviour": "immediate"})
    assert quiz.status_code == 302, quiz.text
    site = Site(web_server.url, client, started.json(), quiz.headers["location"].rstrip("/"))
    yield site
    for run in client.get("/lab/api/runs").json()["runs"]:
        if run["status"] in ("queued", "running"):
            client.post(f"/lab/api/runs/{run['id']}/stop")
    client.close()
