"""The event-sourcing experiment end to end on the real worker, through the API: duplicates break the naive read
model, a rebuild asked for over the toggles API repairs it, and the state-at-version query answers from the log."""

import time

import pytest
from django.test import Client

from lab.models import Run
from tests.support.lab import summary_of, wait_finished, wait_until_running

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("worker")]


def test_a_rebuild_over_the_api_repairs_a_double_counted_read_model_and_any_version_can_be_asked_for(
    transactional_db: None,
) -> None:
    client = Client(enforce_csrf_checks=True)
    client.get("/lab/")
    csrf = {"HTTP_X_CSRFTOKEN": client.cookies["csrftoken"].value, "content_type": "application/json"}
    config = {"duration": 6, "rate": 2, "naive.duplicate_rate": 1.0}
    started = client.post(
        "/lab/api/runs", {"experiment": "event-sourcing", "preset": "rebuild", "config": config}, **csrf
    )
    assert started.status_code == 201, started.json()
    run = Run.objects.get(pk=started.json()["id"])
    begun = wait_until_running(run)
    time.sleep(max(0.0, begun + 3 - time.time()))
    values = {"naive.duplicate_rate": 0.0, "order-events.naive-model.rebuild": True}
    assert client.post(f"/lab/api/runs/{run.id}/toggles", {"values": values}, **csrf).status_code == 200
    events = wait_finished(run).stored_events()

    rebuilt = [e for e in events if e["type"] == "projection.rebuilt"]
    assert [(e["group"], e["replay"] > 0) for e in rebuilt] == [("naive-model", True)]
    verdicts = {i["name"]: i["holds"] for i in summary_of(run)["invariants"]}
    # Stale reads depend on how busy the machine is in real time; the read model's rows do not.
    assert verdicts["projection_converges"] and verdicts["every_request_accounted"]

    key = next(e["key"] for e in events if e["type"] == "stream.appended")
    asked = client.get(f"/lab/api/runs/{run.id}/state", {"link": "order-events", "key": key, "version": "2"}).json()
    assert (asked["version"], asked["versions"], [e["event"] for e in asked["events"]]) == (
        2,
        3,
        ["placed", "item-added"],
    )
    assert asked["state"]["data"] == {"status": "placed", "items": 2, "total": 120, "order_id": key}
    for query, field, message in (
        (
            {"link": "order-events", "key": key, "version": "4"},
            "version",
            f"must be a whole number from 1 to 3 (the versions of {key})",
        ),
        (
            {"link": "orders", "key": key, "version": "1"},
            "link",
            "must name a stream of this run; its streams are order-events",
        ),
        (
            {"link": "order-events", "key": "nobody", "version": "1"},
            "key",
            "has no events in order-events (yet); give a key its events were appended under",
        ),
    ):
        answer = client.get(f"/lab/api/runs/{run.id}/state", query)
        assert (answer.status_code, answer.json()["fields"]) == (400, {field: message})
