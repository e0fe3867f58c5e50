"""The delivery experiment end to end on the real worker, started and read through the API: consumers crashing
before their ack double-charge only where the ack comes after the work and nothing remembers the order; a bad
toggle of its delivery knobs is refused with a 400 naming each field and what it accepts, over HTTP and over the
run's websocket, and the run keeps going."""

import pytest
from asgiref.sync import sync_to_async

from lab.models import Run
from tests.integration.lab.test_api import learner_client, post
from tests.integration.lab.test_websocket import next_error, next_of_type, open_socket
from tests.support.lab import of_type, wait_finished

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("worker"), pytest.mark.django_db(transaction=True)]


def test_a_crash_before_the_ack_double_charges_the_at_least_once_consumer_alone() -> None:
    client = learner_client()
    body = {"experiment": "delivery", "preset": "crash-before-ack", "config": {"duration": 5}}
    response = post(client, "/lab/api/runs", body)
    assert response.status_code == 201
    toggles = f"/lab/api/runs/{response.json()['id']}/toggles"
    bad = post(client, toggles, {"values": {"q.after.ack": "never", "dedup.ttl_ms": -5}})
    assert bad.status_code == 400 and set(bad.json()["fields"]) == {"q.after.ack", "dedup.ttl_ms"}
    assert "after_work, before_work" in bad.json()["fields"]["q.after.ack"]
    assert "0 to 600000" in bad.json()["fields"]["dedup.ttl_ms"].replace(",", "")
    wait_finished(Run.objects.get(pk=response.json()["id"]), timeout=120)  # the bad toggle left the run going
    summary = client.get(f"/lab/api/runs/{response.json()['id']}").json()["summary"]
    charged = summary["effects"]["charged"]["by_mode"]
    assert charged["at_most_once"] == {**charged["idempotent"], "expected": 25, "once": 25}
    assert charged["at_least_once"]["repeated"] >= 4 and charged["at_least_once"]["lost"] == 0
    assert charged["idempotent"]["repeated"] == charged["idempotent"]["lost"] == 0
    assert {i["name"]: i["holds"] for i in summary["invariants"]}["effect_once"] is False
    assert any("more than once" in line and "at_least_once" in line for line in summary["findings"])


async def test_over_the_websocket_an_out_of_range_ack_mode_or_key_memory_gets_an_error_frame_naming_each_knob() -> None:
    client = await sync_to_async(learner_client)()
    body = {"experiment": "delivery", "preset": "healthy", "config": {"duration": 5}}
    response = await sync_to_async(post)(client, "/lab/api/runs", body)
    assert response.status_code == 201
    run = await Run.objects.aget(pk=response.json()["id"])
    socket = await open_socket(run, f"sessionid={client.cookies['sessionid'].value}")
    await socket.send_json_to({"type": "toggle", "values": {"q.after.ack": "never", "dedup.ttl_ms": 600_001}})
    error = await next_error(socket)
    assert (error["code"], set(error["fields"])) == (400, {"q.after.ack", "dedup.ttl_ms"})
    assert error["fields"]["q.after.ack"] == "must be one of after_work, before_work, got 'never'"
    assert "0 to 600000" in error["fields"]["dedup.ttl_ms"].replace(",", "")
    await socket.send_json_to({"type": "toggle", "values": {"dedup.ttl_ms": "soon"}})
    assert set((await next_error(socket))["fields"]) == {"dedup.ttl_ms"}
    await socket.send_json_to({"type": "toggle", "values": {"q.after.ack": "before_work"}})
    await socket.send_json_to({"type": "ping"})
    assert await next_of_type(socket, "pong")  # the valid toggle was taken before the ping was answered
    await socket.disconnect()
    finished = await sync_to_async(wait_finished)(run, timeout=120)
    assert finished.status == "finished"  # the bad frames left the run going
    toggles = [e["values"] for e in of_type(finished.stored_events(), "toggle") if e["by"] == "learner"]
    assert toggles == [{"q.after.ack": "before_work"}]  # only the valid one was applied
