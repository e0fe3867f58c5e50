"""A run outlives the worker driving it: another worker takes it over, or, with none left, it ends interrupted
and every open page is told. Real worker processes, killed with SIGKILL."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any, cast

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from comms_lab.asgi import application
from comms_lab.redis_client import redis_client, rkey
from tests.support.lab import (
    new_learner,
    of_type,
    session_cookie_for,
    start,
    summary_of,
    wait_finished,
    wait_until_running,
)
from tests.support.processes import Worker

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
HYBRID: dict[str, Any] = {"mode": "hybrid", "duration": 8, "rate": 4}


@pytest.fixture
def spare_workers(worker: Worker) -> Iterator[list[Worker]]:
    """Workers this test may kill; the session's own worker is stopped meanwhile, then started again."""
    worker.stop()
    spares: list[Worker] = []
    yield spares
    for spare in spares:
        spare.stop()
    worker.start()


def driver_pid(run_id: str, *, timeout: float = 10) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        holder = cast(str | None, redis_client().get(rkey("run", run_id, "driver")))  # decode_responses=True
        if holder:
            return int(holder.rsplit(":", 1)[1])
        time.sleep(0.05)
    raise AssertionError("no worker took the run's driver lease")


def wait_until_played(run_id: str, actions: int, *, timeout: float = 30) -> None:
    """Return the moment the driver's cursor passes `actions` (here, requests sent): the instant a kill is most
    likely to catch a request sent but not yet in the log."""
    deadline = time.monotonic() + timeout
    while int(cast(str | None, redis_client().get(rkey("run", run_id, "cursor"))) or 0) < actions:
        if time.monotonic() > deadline:
            raise AssertionError(f"the driver had not played {actions} actions after {timeout} s")
        time.sleep(0.001)


def kill_driver(spares: list[Worker], run_id: str) -> Worker:
    pid = driver_pid(run_id)
    victim = next(w for w in spares if w.proc is not None and w.proc.pid == pid)
    assert victim.proc is not None
    victim.proc.kill()
    victim.proc.wait()
    return victim


def test_a_run_whose_driver_is_killed_is_taken_over_and_every_request_is_accounted_for(
    spare_workers: list[Worker],
) -> None:
    spare_workers += [Worker(concurrency=32), Worker(concurrency=32)]
    for spare in spare_workers:
        spare.start()
    run = start(**HYBRID)
    wait_until_played(str(run.id), 12)  # 2.75 s in, right after the 12th request was sent
    kill_driver(spare_workers, str(run.id))

    run = wait_finished(run, timeout=120)
    events = run.stored_events()
    assert run.status == "finished"
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert len(of_type(events, "driver.takeover")) == 1
    created = {e["correlation_id"] for e in of_type(events, "request.created")}
    finished = {e["correlation_id"] for e in of_type(events, "request.finished")}
    lost = {e["correlation_id"] for e in of_type(events, "request.lost")}
    assert len(created) == 32  # the whole load was sent, half of it by the second driver
    assert created == finished | lost and not finished & lost
    assert summary_of(run)["requests"] + summary_of(run)["unfinished"] == 32
    assert summary_of(run)["lost"] == len(lost)
    exactly_once = next(i for i in summary_of(run)["invariants"] if i["name"] == "exactly_once")
    assert exactly_once["holds"], exactly_once["explanation"]


async def test_with_no_worker_left_the_run_ends_interrupted_within_ten_seconds_and_the_page_is_told(
    spare_workers: list[Worker],
) -> None:
    spare_workers.append(Worker(concurrency=32))
    await sync_to_async(spare_workers[0].start)()
    learner = new_learner()
    run = await sync_to_async(start)(learner, **HYBRID)
    await sync_to_async(wait_until_running)(run)
    cookie = await sync_to_async(session_cookie_for)(learner)
    socket = WebsocketCommunicator(
        application,
        f"/ws/lab/runs/{run.id}/",
        headers=[(b"origin", b"http://testserver"), (b"cookie", cookie.encode())],
    )
    connected, _ = await socket.connect(timeout=10)
    assert connected
    await sync_to_async(kill_driver)(spare_workers, str(run.id))
    killed_at = time.monotonic()
    ended = None
    while ended is None and time.monotonic() - killed_at < 15:
        frame = await socket.receive_json_from(timeout=15)
        ended = next((e for e in frame.get("events", []) if e["type"] == "run.finished"), None)
    await socket.disconnect()
    assert ended is not None and ended["status"] == "interrupted"
    assert time.monotonic() - killed_at < 10
    assert "no other worker" in ended["reason"]
    await sync_to_async(run.refresh_from_db)()
    assert run.status == "interrupted" and summary_of(run)["unfinished"] > 0
