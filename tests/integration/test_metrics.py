"""/metrics tells an operator, in Prometheus's format, how many runs are going, how many events they log, how
deep the broker queue is, which workers are alive and how fast pages answer; only allowed networks may read it."""

from typing import Any

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from tests.support.lab import new_learner, start, wait_finished, wait_until_running

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def scrape(client: Client) -> dict[str, float]:
    response = client.get("/metrics")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return samples


@pytest.mark.usefixtures("worker")
def test_a_run_shows_up_as_active_and_its_events_are_counted() -> None:
    client = Client()
    before = scrape(client)
    assert before["comms_lab_workers_alive"] >= 1 and before["comms_lab_redis_up"] == 1

    run = start(new_learner(), mode="hybrid", duration=5, rate=2)
    wait_until_running(run)
    assert scrape(client)["comms_lab_lab_active_runs"] >= 1
    run = wait_finished(run)

    after = scrape(client)
    assert after["comms_lab_lab_events_total"] - before["comms_lab_lab_events_total"] >= run.event_count > 100
    assert "comms_lab_broker_queue_depth" in after and after["comms_lab_lab_capacity"] > 0


def test_page_latencies_are_recorded_by_route_name_not_by_path() -> None:
    client = Client()
    client.get("/lessons/")
    client.get("/lessons/no-such-lesson-at-all/")
    samples: dict[str, Any] = scrape(client)
    assert samples["comms_lab_http_request_duration_seconds_count{method=GET,route=lessons:index,status=2xx}"] >= 1
    assert not any("no-such-lesson" in name for name in samples)


def test_only_loopback_and_allowed_networks_may_read_it(settings) -> None:
    outside = Client(REMOTE_ADDR="203.0.113.7")
    refused = outside.get("/metrics")
    assert refused.status_code == 403 and b"METRICS_ALLOWED_NETWORKS" in refused.content
    settings.METRICS_ALLOWED_NETWORKS = ["203.0.113.0/24"]
    assert outside.get("/metrics").status_code == 200
