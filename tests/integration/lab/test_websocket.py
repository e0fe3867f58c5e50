"""The run websocket through the real ASGI stack (origin check, sessions, Redis channel layer)."""

import asyncio
import json
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from redis.asyncio.connection import DEFAULT_SOCKET_TIMEOUT

from comms_lab.asgi import application
from comms_lab.redis_client import redis_client
from lab import sockets
from lab.events import APPEND_SCRIPT, RunEventLog, append_keys, live_channel
from lab.models import Run
from lab.selectors import state_at_version
from tests.support.lab import new_learner, session_cookie_for, start, stop_and_wait, wait_finished

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("worker"), pytest.mark.django_db(transaction=True)]
ORIGIN = (b"origin", b"http://testserver")


async def open_socket(
    run, cookie: str, *, origin: tuple[bytes, bytes] = ORIGIN, query: str = ""
) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(
        application, f"/ws/lab/runs/{run.id}/{query}", headers=[origin, (b"cookie", cookie.encode())]
    )
    connected, _ = await communicator.connect(timeout=10)
    assert connected
    hello = await communicator.receive_json_from(timeout=10)
    assert hello["type"] == "hello"
    return communicator


async def read_events(communicator: WebsocketCommunicator, *, until_seq: int | None = None, timeout: float = 90):
    """Collect events frame by frame until run.finished (or `until_seq`)."""
    events = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        frame = await communicator.receive_json_from(timeout=deadline - loop.time())
        batch = frame.get("events", [frame])
        events += [e for e in batch if "seq" in e]
        if any(e["type"] == "run.finished" for e in batch) or (until_seq and events and events[-1]["seq"] >= until_seq):
            return events
    raise AssertionError("timed out reading events")


SHORT = {"mode": "hybrid", "duration": 5, "rate": 5}  # 25 checkouts, about 450 events
TINY = {"mode": "hybrid", "duration": 5, "rate": 1}


async def start_run(**config):
    learner = new_learner()
    run = await sync_to_async(start)(learner, **(config or SHORT))
    return run, await sync_to_async(session_cookie_for)(learner)


async def test_a_run_streams_hundreds_of_events_in_order_without_gaps() -> None:
    run, cookie = await start_run()
    socket = await open_socket(run, cookie)
    events = await read_events(socket)
    await socket.disconnect()
    seqs = [e["seq"] for e in events]
    assert len(seqs) >= 200
    assert seqs == list(range(1, len(seqs) + 1))
    assert events[0]["type"] == "run.started" and events[-1]["type"] == "run.finished"


async def test_a_reconnect_mid_run_replays_every_missed_event() -> None:
    run, cookie = await start_run()
    first = await open_socket(run, cookie)
    seen = await read_events(first, until_seq=120)
    await first.disconnect()
    await asyncio.sleep(2)  # events keep coming while nobody listens
    last_seen = seen[-1]["seq"]
    second = await open_socket(run, cookie)
    await second.send_json_to({"type": "replay", "after": last_seen})
    replayed: list[dict[str, Any]] = []
    everything: list[dict[str, Any]] = []
    while not any(e["type"] == "run.finished" for e in everything):
        frame = await second.receive_json_from(timeout=60)
        everything += frame.get("events", [])
        if frame.get("replay"):
            replayed += frame["events"]
    await second.disconnect()
    replayed_seqs = [e["seq"] for e in replayed]
    assert replayed_seqs[0] == last_seen + 1
    assert replayed_seqs == list(range(last_seen + 1, replayed_seqs[-1] + 1))
    assert replayed_seqs[-1] > last_seen + 20  # it covered the two seconds nobody was listening
    assert sorted({e["seq"] for e in everything}) == list(range(1, everything[-1]["seq"] + 1))


async def test_a_socket_from_a_foreign_origin_is_refused() -> None:
    run, cookie = await start_run(**TINY)
    communicator = WebsocketCommunicator(
        application,
        f"/ws/lab/runs/{run.id}/",
        headers=[(b"origin", b"http://evil.example"), (b"cookie", cookie.encode())],
    )
    connected, _ = await communicator.connect(timeout=10)
    assert not connected
    await sync_to_async(stop_and_wait)(run)


async def test_someone_without_the_share_link_cannot_watch() -> None:
    run, _ = await start_run(**TINY)
    stranger = await sync_to_async(session_cookie_for)(new_learner())
    communicator = WebsocketCommunicator(
        application, f"/ws/lab/runs/{run.id}/", headers=[ORIGIN, (b"cookie", stranger.encode())]
    )
    connected, code = await communicator.connect(timeout=10)
    assert not connected or code == 4404
    await sync_to_async(stop_and_wait)(run)


async def test_a_share_link_can_watch_but_not_steer() -> None:
    run, _ = await start_run(**TINY)
    stranger = await sync_to_async(session_cookie_for)(new_learner())
    watcher = await open_socket(run, stranger, query=f"?share={run.share_token}")
    await watcher.send_json_to({"type": "toggle", "values": {"email.down": True}})
    frames = []
    while True:
        frame = await watcher.receive_json_from(timeout=30)
        if frame.get("type") == "error":
            break
        frames.append(frame)
    assert frame["code"] == 403
    await watcher.disconnect()
    await sync_to_async(stop_and_wait)(run)


async def test_malformed_frames_get_an_error_and_the_socket_stays_open() -> None:
    run, cookie = await start_run(**TINY)
    socket = await open_socket(run, cookie, query="?after=999999")
    await socket.send_to(text_data="{not json")
    assert await next_error(socket) == {"type": "error", "error": "frame is not valid JSON", "code": 400}
    await socket.send_json_to({"type": "replay", "after": "ten"})
    error = await next_error(socket)
    assert error["fields"] == {"after": "after: must be a whole number ≥ 0 (the last seq you have)"}
    await socket.send_json_to({"type": "toggle", "values": {"email.latency_ms": 99999}})
    error = await next_error(socket)
    assert error["fields"] == {"email.latency_ms": "must be a number from 0 to 10000 ms, got 99999"}
    await socket.send_json_to({"type": "ping"})
    assert await next_of_type(socket, "pong")
    await socket.disconnect()
    finished = await sync_to_async(wait_finished)(run)
    assert finished.status == "finished"  # the run kept going


async def next_of_type(socket: WebsocketCommunicator, kind: str) -> dict:
    while True:
        frame = await socket.receive_json_from(timeout=30)
        if frame.get("type") == kind:
            return frame


async def next_error(socket: WebsocketCommunicator) -> dict:
    return await next_of_type(socket, "error")


async def test_a_keys_state_at_a_version_is_answered_over_the_socket_as_over_http_and_bad_fields_are_named() -> None:
    learner = new_learner()
    run = await sync_to_async(start)(learner, experiment="event-sourcing", preset="caught-up", duration=5, rate=1)
    cookie = await sync_to_async(session_cookie_for)(learner)
    socket = await open_socket(run, cookie)
    events = await read_events(socket)
    key = next(e["key"] for e in events if e["type"] == "stream.appended")
    await socket.send_json_to({"type": "state", "link": "order-events", "key": key, "version": 2})
    answer = await next_of_type(socket, "state")
    over_http = await sync_to_async(state_at_version)(run, link="order-events", key=key, version="2")
    assert answer == {"type": "state", **over_http}
    assert (answer["version"], [e["event"] for e in answer["events"]]) == (2, ["placed", "item-added"])
    assert answer["state"]["version"] == 2 and answer["state"]["data"]["order_id"] == key
    for frame, field, message in (
        ({"version": 4}, "version", f"must be a whole number from 1 to 3 (the versions of {key})"),
        ({"version": True}, "version", f"must be a whole number from 1 to 3 (the versions of {key})"),
        ({"link": "orders"}, "link", "must name a stream of this run; its streams are order-events"),
        ({"key": 7}, "key", "has no events in order-events (yet); give a key its events were appended under"),
    ):
        await socket.send_json_to({"type": "state", "link": "order-events", "key": key, "version": 1, **frame})
        error = await next_error(socket)
        assert (error["code"], error["fields"]) == (400, {field: message})
    await socket.send_json_to({"type": "ping"})
    assert await next_of_type(socket, "pong")  # the socket stays open
    await socket.disconnect()


async def test_an_idle_socket_stays_open_past_its_liveness_refresh_and_the_redis_clients_read_timeout() -> None:
    """Quiet for longer than the socket's refresh period (lab/sockets.py) and over twice redis-py's default read
    timeout, which once dropped idle sockets after ~5 s (DESIGN.md §2.1), it is still open and answering."""
    run, cookie = await start_run(**TINY)
    await sync_to_async(stop_and_wait)(run)
    socket = await open_socket(run, cookie)
    await read_events(socket)
    quiet_s = max(sockets.REFRESH_EVERY_S, 2 * DEFAULT_SOCKET_TIMEOUT) + 2
    assert await socket.receive_nothing(timeout=quiet_s, interval=1)
    await socket.send_json_to({"type": "ping"})
    assert json.dumps(await socket.receive_json_from(timeout=5)) == '{"type": "pong"}'
    await socket.disconnect()


async def test_frames_that_arrive_out_of_order_or_never_still_reach_the_page_once_each_in_order() -> None:
    learner = new_learner()
    run = await sync_to_async(Run.objects.create)(
        experiment="checkout", config={"duration": 5}, status=Run.Status.RUNNING, anonymous_id=learner.anonymous_id
    )
    socket = await open_socket(run, await sync_to_async(session_cookie_for)(learner))
    run_id = str(run.id)

    def log_quietly(*numbers: int) -> dict[str, Any]:
        """Log probe events with no live frame (as the channel layer dropping it); the frame that was not sent."""
        payloads = [json.dumps({"type": "probe", "n": n}) for n in numbers]
        script = redis_client().register_script(APPEND_SCRIPT)
        first, _ = script(keys=append_keys(run_id), args=[600, 0, 0, "nobody-listens", *payloads])
        events = [{"seq": first + i, "type": "probe", "n": n} for i, n in enumerate(numbers)]
        frame = json.dumps({"events": events})
        return {"type": "run.events", "first": first, "last": events[-1]["seq"], "frame": frame}

    def push(message: dict[str, Any]) -> None:
        redis_client().publish(live_channel(run_id), json.dumps(message))

    one_two, three_four = await sync_to_async(log_quietly)(1, 2), await sync_to_async(log_quietly)(3, 4)
    await sync_to_async(push)(three_four)  # two workers' frames, the later one first
    await sync_to_async(push)(one_two)
    await sync_to_async(log_quietly)(5)  # a frame the channel layer lost
    await sync_to_async(RunEventLog(run_id).append)([{"type": "probe", "n": 6}])  # logged and sent live
    events = await read_events(socket, until_seq=6, timeout=10)
    await socket.disconnect()
    assert [(e["seq"], e["n"]) for e in events] == [(n, n) for n in range(1, 7)]
