"""A stream's dead-lettered entries are re-driven like a queue's, on the real worker through the API: each goes
back to a consumer of its group (the group's offset has moved on past it) and, once the fix is in, is processed."""

from __future__ import annotations

import time

import pytest

from lab.models import Run
from tests.integration.lab.test_api import learner_client, post
from tests.support.lab import of_type, wait_finished, wait_until_running

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("worker")]


def test_a_streams_dead_lettered_entries_are_re_driven_to_their_group_and_processed_after_the_fix(
    transactional_db: None,
) -> None:
    client = learner_client()
    config = {"duration": 6, "rate": 2, "fulfilment.error_rate": 1.0, "seed": 3}
    created = post(client, "/lab/api/runs", {"experiment": "streams", "preset": "keyed", "config": config})
    assert created.status_code == 201, created.json()
    run_id = created.json()["id"]
    run = Run.objects.get(pk=run_id)
    started = wait_until_running(run)
    path = f"/lab/api/runs/{run_id}/dead-letters"
    time.sleep(max(0.0, started + 3 - time.time()))
    dead = client.get(path).json()["dead_letters"]
    assert dead and {(d["queue"], d["attempts"]) for d in dead} == {("orders/fulfilment", 1)}  # no retries: 1 try
    assert {d["last_error"] for d in dead} == {"fulfilment failed 1 times"}

    bad = post(client, path, {"queue": "orders/nobody"})
    assert bad.status_code == 400 and "orders/fulfilment, orders/analytics" in bad.json()["fields"]["queue"]
    fixed = post(client, f"/lab/api/runs/{run_id}/toggles", {"name": "fulfilment.error_rate", "value": 0.0})
    assert fixed.status_code == 200
    time.sleep(1)  # entries already failing when the fix came (their fault drawn before it) are dead-lettered first
    redriven = post(client, path, {"queue": "orders/fulfilment"})
    assert redriven.status_code == 200 and len(redriven.json()["redriven"]) >= len(dead)

    run = wait_finished(run)
    events = run.stored_events()
    again = of_type(events, "stream.processed", group="fulfilment", outcome="ok", redriven=True)
    assert {e["message_id"] for e in again} == set(redriven.json()["redriven"])  # each re-driven entry, once
    assert len(again) == len(redriven.json()["redriven"])
    assert not of_type(events, "stream.processed", group="analytics", redriven=True)  # the other group is untouched
    assert (run.summary or {})["dlq_redriven"] == len(again)
    assert client.get(path).json()["dead_letters"] == []
