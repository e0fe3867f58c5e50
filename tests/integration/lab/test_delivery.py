"""The delivery experiment end to end on the real worker, started and read through the API: consumers crashing
before their ack double-charge only where the ack comes after the work and nothing remembers the order; a bad
toggle of its delivery knobs is refused with a 400 naming each field and what it accepts."""

import pytest

from lab.models import Run
from tests.integration.lab.test_api import learner_client, post
from tests.support.lab import wait_finished

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
