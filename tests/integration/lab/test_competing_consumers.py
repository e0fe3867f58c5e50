"""The competing-consumers experiment end to end on the real worker, through the API: poison messages reach the
dead-letter queue, the learner lists them, deploys the fix, re-drives them, and each is processed once."""

from __future__ import annotations

import time

import pytest

from lab.models import Run
from tests.integration.lab.test_api import learner_client, post
from tests.support.lab import of_type, wait_finished, wait_until_running

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("worker")]


def test_dead_letters_are_listed_then_re_driven_after_the_fix_and_processed_once(transactional_db: None) -> None:
    client = learner_client()
    config = {"duration": 8, "rate": 5, "jobs.poison_share": 0.3, "seed": 7}
    body = {"experiment": "competing-consumers", "preset": "poison-message", "config": config}
    created = post(client, "/lab/api/runs", body)
    assert created.status_code == 201, created.json()
    run_id = created.json()["id"]
    run = Run.objects.get(pk=run_id)
    started = wait_until_running(run)
    path = f"/lab/api/runs/{run_id}/dead-letters"
    time.sleep(max(0.0, started + 4 - time.time()))
    dead = client.get(path).json()["dead_letters"]
    assert dead and {(d["queue"], d["attempts"]) for d in dead} == {("jobs", 3)}
    assert {d["last_error"] for d in dead} == {"cannot handle this message (poison)"}

    bad = post(client, path, {"queue": "nowhere"})
    assert bad.status_code == 400 and bad.json()["fields"]["queue"].startswith("names no queue of this experiment")
    assert post(client, path, {"message_ids": "all"}).json()["fields"]["message_ids"].startswith("must be a list")

    assert (
        post(client, f"/lab/api/runs/{run_id}/toggles", {"name": "jobs.poison_share", "value": 0.0}).status_code == 200
    )
    redriven = post(client, path, {"queue": "jobs"})
    assert redriven.status_code == 200 and len(redriven.json()["redriven"]) >= len(dead)
    sent_back = set(redriven.json()["redriven"])
    # A poisoned delivery already on its last attempt when the fix came lands in the queue after that re-drive (its
    # attempt takes 200 ms): re-drive what lands within the next 1.5 s too, as a learner would.
    for _ in range(3):
        time.sleep(0.5)
        again_redriven = post(client, path, {"queue": "jobs"})
        assert again_redriven.status_code == 200
        sent_back |= set(again_redriven.json()["redriven"])

    run = wait_finished(run)
    events = run.stored_events()
    again = {e["message_id"] for e in of_type(events, "message.processed", outcome="ok", redriven=True)}
    assert again == sent_back
    summary = run.summary or {}
    jobs = summary["messages"]["jobs"]
    assert jobs["processed"] == jobs["published"] and jobs["redriven"] == len(again)
    assert {i["name"]: i["holds"] for i in summary["invariants"]} == {"exactly_once": True, "no_dead_letters": True}
    assert client.get(path).json()["dead_letters"] == []
    assert post(client, path, {}).status_code == 409  # the run is over
