"""The streams experiment end to end on the real worker, through the API and the websocket: its replay preset runs
whole, a rewind offset beyond the stream is refused with a 400 naming the field (over HTTP and the socket) while the
run keeps going, and the rewind the preset scripts replays exactly the events from its offset."""

from __future__ import annotations

import re

import pytest
from asgiref.sync import sync_to_async

from lab.models import Run
from tests.integration.lab.test_api import learner_client, post
from tests.integration.lab.test_websocket import next_error, open_socket
from tests.support.lab import of_type, summary_of, wait_finished, wait_until_running

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("worker"), pytest.mark.django_db(transaction=True)]
BEYOND = re.compile(r"must be an offset in stream orders, from 0 to \d+ \(the end of its longest partition now\), got")


async def test_the_replay_preset_runs_end_to_end_and_refuses_a_rewind_beyond_the_stream() -> None:
    client = await sync_to_async(learner_client)()
    too_many = {"experiment": "streams", "config": {"orders.partitions": 9, "orders.fulfilment.consumers": 0}}
    refused_start = await sync_to_async(post)(client, "/lab/api/runs", too_many)
    assert refused_start.status_code == 400
    assert refused_start.json()["fields"] == {
        "config.orders.partitions": "must be a whole number from 1 to 8, got 9",
        "config.orders.fulfilment.consumers": "must be a whole number from 1 to 64, got 0",
    }
    created = await sync_to_async(post)(client, "/lab/api/runs", {"experiment": "streams", "preset": "replay"})
    assert created.status_code == 201, created.content
    run = await Run.objects.aget(pk=created.json()["id"])
    await sync_to_async(wait_until_running)(run)

    toggles = f"/lab/api/runs/{run.id}/toggles"
    refused = await sync_to_async(post)(client, toggles, {"values": {"orders.analytics.rewind_to": 1_000_000}})
    assert refused.status_code == 400
    assert BEYOND.match(refused.json()["fields"]["orders.analytics.rewind_to"])
    socket = await open_socket(run, f"sessionid={client.cookies['sessionid'].value}")
    await socket.send_json_to({"type": "toggle", "values": {"orders.fulfilment.rewind_to": 1_000_000}})
    error = await next_error(socket)
    assert error["code"] == 400 and BEYOND.match(error["fields"]["orders.fulfilment.rewind_to"])
    await socket.disconnect()

    run = await sync_to_async(wait_finished)(run)
    assert run.status == "finished"  # the refused toggles changed nothing
    events = await sync_to_async(run.stored_events)()
    assert not of_type(events, "toggle", by="learner")
    rewound = of_type(events, "stream.rewound")
    assert [(e["group"], e["to_offset"]) for e in rewound] == [("analytics", 5)]
    analytics = of_type(events, "stream.processed", group="analytics")
    read_before = {(e["partition"], e["offset"]) for e in analytics if e["seq"] < rewound[0]["seq"]}
    replayed = sorted((e["partition"], e["offset"]) for e in analytics if e["replay"])
    assert len(replayed) == len(set(replayed)) >= 10  # each entry replayed once
    # What it had read: everything logged before the rewind, and an entry a consumer had in hand at that moment
    # (logged just after it), the next of its partition; nothing it had not read yet.
    logged_first = {entry for entry in read_before if entry[1] >= 5}
    in_hand = set(replayed) - logged_first
    last_logged = {p: max(o for q, o in read_before if q == p) for p, _ in in_hand}
    assert logged_first <= set(replayed)
    assert all(offset == last_logged[p] + 1 for p, offset in in_hand), (in_hand, last_logged)
    summary = summary_of(run)
    assert summary["streams"]["groups"]["analytics"]["replayed"] == len(replayed)
    assert {i["name"]: i["holds"] for i in summary["invariants"]} == {
        "per_key_order": True,
        "exactly_once": True,
        "every_request_accounted": True,
    }
