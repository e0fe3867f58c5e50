"""The pub-sub experiment end to end on the real worker: started over the HTTP API, steered over HTTP and the
websocket, its routing edited mid-run by its preset's script."""

import json
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.test import Client

from lab.models import Run
from tests.integration.lab.test_websocket import next_error, next_of_type, open_socket
from tests.support.lab import of_type, wait_finished

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("worker"), pytest.mark.django_db(transaction=True)]
FILTER_RULE = (
    "must be empty (everything passes) or compare one field with a number or quoted text, e.g. total > 1000 or"
    " region == 'eu'"
)


def post(client: Client, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    token = client.cookies["csrftoken"].value
    response = client.post(path, json.dumps(body), content_type="application/json", HTTP_X_CSRFTOKEN=token)
    return response.status_code, response.json()


async def test_a_run_reroutes_when_its_filter_and_binding_are_edited_and_refuses_a_filter_that_does_not_parse() -> None:
    client = Client(enforce_csrf_checks=True)
    await sync_to_async(client.get)("/lab/")
    status, run = await sync_to_async(post)(client, "/lab/api/runs", {"experiment": "pubsub", "preset": "edit-routing"})
    assert status == 201
    toggles = f"/lab/api/runs/{run['id']}/toggles"

    status, refused = await sync_to_async(post)(client, toggles, {"values": {"sub.fraud.filter": "total >> 1"}})
    assert status == 400
    assert refused["fields"] == {"sub.fraud.filter": f"{FILTER_RULE}, got 'total >> 1'"}

    socket = await open_socket(Run(pk=run["id"]), f"sessionid={client.cookies['sessionid'].value}")
    await socket.send_json_to({"type": "toggle", "values": {"sub.email.binding": "order..placed"}})
    error = await next_error(socket)
    assert (error["code"], list(error["fields"])) == (400, ["sub.email.binding"])
    assert error["fields"]["sub.email.binding"].startswith("must be a binding pattern: dot-separated words")
    await socket.disconnect()
    finished = await sync_to_async(wait_finished)(await Run.objects.aget(pk=run["id"]))
    assert finished.status == "finished"  # the run kept going
    events = finished.stored_events()
    assert [e["values"] for e in of_type(events, "toggle")] == [
        {"sub.fraud.filter": "total > 100", "sub.email.binding": "order.cancelled"}
    ]
    created = {e["correlation_id"]: e["t"] for e in of_type(events, "request.created")}
    copies = {(e["correlation_id"], e["queue"]) for e in of_type(events, "message.published", key="order.placed")}
    before = [order for order, t in created.items() if t < 4.9]
    after = [order for order, t in created.items() if t > 5.2]
    assert len(before) >= 8 and len(after) >= 8
    assert all((o, "sub.email") in copies and (o, "sub.fraud") not in copies for o in before)
    assert all((o, "sub.fraud") in copies and (o, "sub.email") not in copies for o in after)


async def test_a_subscriber_consumer_count_over_its_limit_gets_a_400_and_an_error_frame_and_the_run_keeps_going() -> (
    None
):
    client = Client(enforce_csrf_checks=True)
    await sync_to_async(client.get)("/lab/")
    status, run = await sync_to_async(post)(
        client, "/lab/api/runs", {"experiment": "pubsub", "preset": "one-publish", "config": {"duration": 5}}
    )
    assert status == 201
    toggles = f"/lab/api/runs/{run['id']}/toggles"
    status, refused = await sync_to_async(post)(client, toggles, {"values": {"sub.email.consumers": 65}})
    assert status == 400
    assert refused["fields"] == {"sub.email.consumers": "must be a whole number from 0 to 64, got 65"}

    socket = await open_socket(Run(pk=run["id"]), f"sessionid={client.cookies['sessionid'].value}")
    await socket.send_json_to({"type": "toggle", "values": {"sub.fraud.consumers": -1, "sub.fraud.prefetch": 101}})
    error = await next_error(socket)
    assert (error["code"], error["fields"]) == (
        400,
        {
            "sub.fraud.consumers": "must be a whole number from 0 to 64, got -1",
            "sub.fraud.prefetch": "must be a whole number from 1 to 100, got 101",
        },
    )
    await socket.send_json_to({"type": "toggle", "values": {"sub.email.consumers": 4}})
    await socket.send_json_to({"type": "ping"})
    assert await next_of_type(socket, "pong")
    await socket.disconnect()
    finished = await sync_to_async(wait_finished)(await Run.objects.aget(pk=run["id"]))
    assert finished.status == "finished"  # the run kept going
    by_learner = [e["values"] for e in of_type(finished.stored_events(), "toggle") if e["by"] == "learner"]
    assert by_learner == [{"sub.email.consumers": 4}]
