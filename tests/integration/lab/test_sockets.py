"""One browser session may hold only so many run sockets open; closing one (or a crash) frees its place."""

import uuid

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from comms_lab.asgi import application
from lab import sockets
from tests.support.lab import new_learner, session_cookie_for, start

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("worker"), pytest.mark.django_db(transaction=True)]
ORIGIN = (b"origin", b"http://testserver")


def communicator(run, cookie: str) -> WebsocketCommunicator:
    return WebsocketCommunicator(application, f"/ws/lab/runs/{run.id}/", headers=[ORIGIN, (b"cookie", cookie.encode())])


async def test_a_session_over_its_socket_cap_is_told_the_limit_and_a_closed_tab_frees_a_place(settings) -> None:
    settings.LAB_MAX_SOCKETS_PER_SESSION = 2
    learner = new_learner()
    run = await sync_to_async(start)(learner, mode="hybrid", duration=5, rate=1)
    cookie = await sync_to_async(session_cookie_for)(learner)
    first, second, third = communicator(run, cookie), communicator(run, cookie), communicator(run, cookie)
    for socket in (first, second):
        assert (await socket.connect(timeout=10))[0]
        assert (await socket.receive_json_from(timeout=10))["type"] == "hello"

    assert (await third.connect(timeout=10))[0]
    refusal = await third.receive_json_from(timeout=10)
    assert refusal["code"] == 429 and "at most 2 per browser session" in refusal["error"]
    assert (await third.receive_output(timeout=10)) == {"type": "websocket.close", "code": 4429}

    await first.disconnect()
    fourth = communicator(run, cookie)
    assert (await fourth.connect(timeout=10))[0]
    assert (await fourth.receive_json_from(timeout=10))["type"] == "hello"
    await second.disconnect()
    await fourth.disconnect()


def test_sockets_that_stopped_saying_they_are_open_stop_counting_after_a_while() -> None:
    holder = f"session:test-{uuid.uuid4().hex}"
    assert sockets.claim(holder, "a", 2, now=1000.0) and sockets.claim(holder, "b", 2, now=1000.0)
    assert not sockets.claim(holder, "c", 2, now=1010.0)
    sockets.refresh(holder, "b", now=1020.0)  # "a" went silent: its daphne died with it
    assert sockets.claim(holder, "c", 2, now=1000.0 + sockets.STALE_AFTER_S + 1)
    assert not sockets.claim(holder, "d", 2, now=1000.0 + sockets.STALE_AFTER_S + 1)
