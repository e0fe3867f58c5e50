"""The sagas experiment end to end on the real worker, through the HTTP API a page uses: start, toggle, summary."""

from collections import Counter

import pytest

from lab.models import Run
from tests.integration.lab.test_api import learner_client, post
from tests.support.lab import of_type, wait_finished, wait_until_running

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("worker"), pytest.mark.django_db(transaction=True)]


def test_a_carrier_failure_toggled_over_the_api_is_compensated_by_both_styles_and_a_bad_value_is_refused() -> None:
    client = learner_client()
    response = post(
        client,
        "/lab/api/runs",
        {"experiment": "sagas", "preset": "carrier-fails", "config": {"duration": 5, "rate": 1}},
    )
    assert response.status_code == 201
    run_id = response.json()["id"]
    wait_until_running(Run.objects.get(pk=run_id))

    refused = post(client, f"/lab/api/runs/{run_id}/toggles", {"name": "carrier.error_rate", "value": 2})
    assert refused.status_code == 400
    assert "carrier.error_rate" in refused.json()["fields"]
    accepted = post(client, f"/lab/api/runs/{run_id}/toggles", {"name": "carrier.error_rate", "value": 1.0})
    assert accepted.status_code == 200

    run = wait_finished(Run.objects.get(pk=run_id))
    events = run.stored_events()
    failed = {e["correlation_id"] for e in of_type(events, "saga.step", step="ship", outcome="error")}
    assert failed, "the carrier rejected no booking"
    styles = Counter(order.split("-")[1] for order in failed)
    assert set(styles) == {"orchestrated", "choreographed"}
    undone = [e["step"] for e in of_type(events, "saga.compensation", outcome="ok") if e["correlation_id"] in failed]
    assert Counter(undone)["charge"] == Counter(undone)["reserve"] == len(failed)  # each refunded and released

    summary = client.get(f"/lab/api/runs/{run_id}").json()["summary"]
    assert {i["name"]: (i["holds"], i["violations"]) for i in summary["invariants"]}["saga_consistent"] == (True, 0)
    assert summary["by_style"]["choreographed"]["success_rate_pct"] == 100.0
    assert summary["sagas"]["compensated"] == len(failed)
    assert any(line.startswith("10 sagas") for line in summary["findings"])
