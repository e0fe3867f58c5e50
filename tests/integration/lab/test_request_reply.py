"""The request-reply experiment end to end on the real worker, through the HTTP API: inventory drops out for two
seconds, shorter than the deadline, while blocking calls and correlated requests run on the same arrivals."""

import pytest

from lab.models import Run
from tests.integration.lab.test_api import learner_client, post
from tests.support.lab import of_type, summary_of, wait_finished

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("worker"), pytest.mark.django_db(transaction=True)]


def test_an_outage_shorter_than_the_deadline_fails_blocking_calls_while_requests_wait_and_complete() -> None:
    client = learner_client()
    body = {"experiment": "request-reply", "preset": "inventory-blip", "config": {"duration": 8}}
    started = post(client, "/lab/api/runs", body)
    assert started.status_code == 201
    toggles = f"/lab/api/runs/{started.json()['id']}/toggles"
    refused = post(client, toggles, {"values": {"matching": "by_guess"}})
    assert refused.status_code == 400
    assert "correlation_id, arrival_order" in refused.json()["fields"]["matching"]

    run = wait_finished(Run.objects.get(pk=started.json()["id"]))
    summary = summary_of(run)
    events = run.stored_events()
    down_at, up_at = (e["t"] for e in of_type(events, "toggle") if "inventory.down" in e["values"])
    refused_calls = of_type(events, "call.finished", to="inventory", outcome="refused")
    assert len(refused_calls) >= 6 and all(down_at <= e["t"] <= up_at + 0.2 for e in refused_calls)
    assert summary["by_mode"]["sync"]["failed"] == len(refused_calls)
    assert summary["by_mode"]["async"]["success_rate_pct"] == 100.0
    assert summary["by_mode"]["async"]["requests"] == 40
    received = of_type(events, "reply.received")
    assert len(received) == 40 and all(e["in_reply_to"] == e["request_id"] for e in received)
    assert {i["name"]: i["holds"] for i in summary["invariants"]} == {
        "no_reply_mismatched": True,
        "every_request_accounted": True,
    }
