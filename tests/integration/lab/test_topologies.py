"""Topology documents that are not built-in experiments run exactly like one: posted as data, on the real worker."""

import json
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import yaml
from django.test import Client

from lab.models import Run
from tests.support.lab import new_learner, of_type, summary_of, wait_finished

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as TestResponse

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("worker"), pytest.mark.django_db(transaction=True)]
SKELETONS = Path(__file__).resolve().parents[3] / "lab" / "experiments" / "skeletons"


def skeleton(name: str) -> dict:
    return yaml.safe_load((SKELETONS / f"{name}.yaml").read_text())


def start_document(document: dict, **config: object) -> Run:
    from lab import services

    return services.start_run(learner=new_learner(), experiment=None, preset=None, config=config, topology=document)


def test_one_publish_gives_one_copy_to_each_matching_subscription_and_none_to_the_others() -> None:
    run = wait_finished(start_document(skeleton("pubsub"), duration=5, rate=1))
    events = run.stored_events()
    published = Counter(e["queue"] for e in of_type(events, "message.published"))
    # Each order is published twice (placed, then cancelled); 5 orders.
    assert published == {"sub.inventory": 10, "sub.analytics": 10, "sub.fraud": 5, "sub.email": 5}
    fraud_keys = {e["key"] for e in of_type(events, "message.published", queue="sub.fraud")}
    assert fraud_keys == {"orders.placed"}  # the cancelled order (total 200) fails the filter and the binding
    processed = Counter(e["message_id"] for e in of_type(events, "message.processed", outcome="ok"))
    assert len(processed) == 30 and set(processed.values()) == {1}
    assert [(i["name"], i["holds"]) for i in summary_of(run)["invariants"]] == [
        ("exactly_once", True),
        ("every_request_accounted", True),
    ]
    assert summary_of(run)["findings"][0].startswith("all requests: 100% succeeded (5 of 5)")


def test_competing_consumers_never_exceed_their_instances_and_poison_messages_end_in_the_dlq() -> None:
    healthy = start_document(skeleton("competing-consumers"), duration=5, rate=20)
    poisoned = start_document(skeleton("competing-consumers"), duration=5, rate=1, **{"worker.error_rate": 1.0})
    healthy, poisoned = wait_finished(healthy), wait_finished(poisoned)

    busy, most = 0, 0
    for event in healthy.stored_events():
        if event["type"] == "message.consumed":
            busy += 1
        elif event["type"] == "message.processed":
            busy -= 1
        most = max(most, busy)
    assert most == 3  # 20 jobs a second at 200 ms each would need four instances: three work, the rest wait
    assert summary_of(healthy)["max_queue_depth"] > 0 and summary_of(healthy)["final_queue_depth"] == 0

    events = poisoned.stored_events()
    first = of_type(events, "message.published")[0]["message_id"]
    assert [e["attempt"] for e in of_type(events, "message.consumed", message_id=first)] == [1, 2, 3]
    assert summary_of(poisoned)["dlq_count"] == 5
    verdicts = {i["name"]: (i["holds"], i["violations"]) for i in summary_of(poisoned)["invariants"]}
    assert verdicts == {"exactly_once": (True, 0), "no_dead_letters": (False, 5)}


def learner_client() -> Client:
    client = Client(enforce_csrf_checks=True)
    client.get("/lab/")
    return client


def post(client: Client, body: object) -> "TestResponse":
    return client.post(
        "/lab/api/runs",
        json.dumps(body),
        content_type="application/json",
        HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value,
    )


def test_a_learner_made_design_posted_over_the_api_runs_and_replays_like_a_built_in_one() -> None:
    client = learner_client()
    response = post(client, {"topology": skeleton("pubsub"), "config": {"duration": 5, "rate": 1}})
    assert response.status_code == 201, response.content
    run = wait_finished(Run.objects.get(pk=response.json()["id"]))
    assert run.experiment == "pubsub-skeleton" and summary_of(run)["requests"] == 5
    page = client.get(f"/lab/runs/{run.id}/")
    assert page.status_code == 200 and b"Pub-sub: one publish" in page.content
    replayed = client.get(f"/lab/api/runs/{run.id}/events").json()["events"]
    assert [e["seq"] for e in replayed] == list(range(1, run.event_count + 1))


def test_an_invalid_design_gets_a_400_naming_the_element_and_the_problem() -> None:
    document = skeleton("pubsub")
    document["links"][0]["subscriptions"][0]["to"] = "warehouse"
    response = post(learner_client(), {"topology": document})
    assert response.status_code == 400
    fields = response.json()["fields"]
    assert fields == {
        "topology.links.orders.subscriptions[0].to": (
            "names no service; services are client, order, inventory, analytics, fraud, email"
        )
    }


def test_the_topology_schema_is_served_as_json() -> None:
    schema = Client().get("/lab/api/topology-schema").json()
    assert schema["title"] == "comms_lab topology document"
    assert {"services", "links", "workload"} <= set(schema["properties"])
