"""Documents and what describes them agree: the JSON Schema accepts every built-in document and refuses what the
parser refuses for its shape, and docs/topology.md's example is itself a valid document."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from lab.model.catalog import EXPERIMENTS_DIR, load_document
from lab.model.routing import binding_matches, filter_passes
from lab.model.topology import (
    CHART_KINDS,
    LINK_FIELDS,
    LINK_KINDS,
    POLICY_DEFAULTS,
    SERVICE_FIELDS,
    STEP_KINDS,
    SUBSCRIPTION_FIELDS,
    TOP_FIELDS,
    WORKLOAD_FIELDS,
    TopologyError,
    diagram,
    parse_topology,
)
from lab.model.topology_schema import TOPOLOGY_JSON_SCHEMA

DOC = Path(__file__).resolve().parents[3] / "docs" / "topology.md"

VALIDATOR = jsonschema.Draft202012Validator(TOPOLOGY_JSON_SCHEMA)
BUILT_IN = sorted([*EXPERIMENTS_DIR.rglob("*.yaml"), *EXPERIMENTS_DIR.rglob("*.json")])


def schema_errors(document: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in sorted(VALIDATOR.iter_errors(document), key=str)
    ]


def test_the_schema_is_a_valid_draft_2020_12_schema_served_as_plain_json() -> None:
    jsonschema.Draft202012Validator.check_schema(TOPOLOGY_JSON_SCHEMA)
    assert json.loads(json.dumps(TOPOLOGY_JSON_SCHEMA)) == TOPOLOGY_JSON_SCHEMA


@pytest.mark.parametrize("path", BUILT_IN, ids=lambda p: str(p.relative_to(EXPERIMENTS_DIR)))
def test_every_built_in_document_validates_against_the_json_schema(path: Path) -> None:
    document = load_document(path)
    assert schema_errors(document) == []
    parse_topology(document, source=path.name)  # and the parser, the authority, agrees


def test_there_are_built_in_documents_to_check() -> None:
    assert {"checkout.yaml", "cascade.yaml"} <= {p.name for p in BUILT_IN}


def checkout() -> dict[str, Any]:
    return copy.deepcopy(load_document(EXPERIMENTS_DIR / "checkout.yaml"))


def broken(change: str) -> dict[str, Any]:
    document = checkout()
    if change == "unknown top-level field":
        document["colour"] = "blue"
    elif change == "step with two kinds":
        document["workload"]["classes"]["sync"]["steps"][0]["send"] = "q.email"
    elif change == "topic without subscriptions":
        document["links"].append({"id": "news", "kind": "topic", "from": "order"})
    elif change == "stream without groups":
        document["links"].append({"id": "log", "kind": "stream", "from": "order", "to": "email"})
    elif change == "queue without to":
        del document["links"][5]["to"]
    elif change == "unknown link field":
        document["links"][0]["colour"] = "red"
    elif change == "policy setting of another kind":
        document["policies"]["timeout"]["max_attempts"] = 3
    elif change == "policy setting out of range":
        document["policies"]["retry"]["max_attempts"] = 11
    elif change == "more than 8 partitions":
        document["links"].append(
            {
                "id": "log",
                "kind": "stream",
                "from": "order",
                "to": "email",
                "partitions": 9,
                "groups": [{"id": "g", "to": "email"}],
            }
        )
    elif change == "more than 12 services":
        document["services"].update({f"extra{i}": {} for i in range(6)})
    elif change == "bad at":
        document["services"]["order"]["at"] = [0.5, 1.5]
    elif change == "unknown invariant":
        document["invariants"].append({"kind": "exactly_twice"})
    elif change == "script step at past 300 s":
        document["presets"][2]["script"][0]["at"] = 301
    elif change == "number parameter without a range":
        document["parameters"] = [{"name": "share", "type": "float", "default": 0.5, "label": "Share"}]
    return document


@pytest.mark.parametrize(
    "change",
    [
        "unknown top-level field",
        "step with two kinds",
        "topic without subscriptions",
        "stream without groups",
        "queue without to",
        "unknown link field",
        "policy setting of another kind",
        "policy setting out of range",
        "more than 8 partitions",
        "more than 12 services",
        "bad at",
        "unknown invariant",
        "script step at past 300 s",
        "number parameter without a range",
    ],
)
def test_a_shape_the_parser_refuses_the_schema_refuses_too(change: str) -> None:
    document = broken(change)
    with pytest.raises(TopologyError):
        parse_topology(document)
    assert schema_errors(document) != []


def test_a_policy_setting_in_the_schema_has_the_range_of_the_knob_it_becomes() -> None:
    retry = next(
        option
        for option in TOPOLOGY_JSON_SCHEMA["properties"]["policies"]["additionalProperties"]["oneOf"]
        if option["properties"]["kind"] == {"const": "retry"}
    )
    assert retry["properties"]["max_attempts"] == {
        "description": "maxAttempts",
        "type": "integer",
        "minimum": 1,
        "maximum": 10,
        "default": 3,
    }
    assert retry["properties"]["backoff"]["enum"] == ["constant", "linear", "exponential"]


# docs/topology.md


def doc_text() -> str:
    return DOC.read_text(encoding="utf-8")


def first_yaml_block() -> dict[str, Any]:
    found = re.search(r"^```yaml\n(.*?)^```", doc_text(), re.MULTILINE | re.DOTALL)
    assert found, "docs/topology.md has no ```yaml block"
    return yaml.safe_load(found.group(1))


def test_the_example_in_the_docs_is_a_valid_document() -> None:
    document = first_yaml_block()
    topology = parse_topology(document, source="docs/topology.md")
    assert schema_errors(document) == []
    assert topology.schema.defaults()["fraud.down"] is False
    assert {"orders", "sub.fraud", "sub.loyalty", "dlq"} <= {node["id"] for node in diagram(topology)["nodes"]}


def test_the_example_in_the_docs_is_a_topic_with_two_filtered_subscriptions_that_route_as_it_says() -> None:
    topology = parse_topology(first_yaml_block())
    (topic,) = [link for link in topology.links.values() if link.kind == "topic"]
    assert len(topic.subscriptions) == 2 and all(sub.filter for sub in topic.subscriptions)
    routed = {}
    for request_class in topology.workload.classes:
        (send,) = request_class.steps
        key, body = send.options["key"], send.options["body"]
        routed[request_class.name] = [
            sub.to
            for sub in topic.subscriptions
            if binding_matches(sub.binding, key) and filter_passes(sub.filter, body)
        ]
    assert routed == {"big": ["fraud", "loyalty"], "small": []}  # as its summary and notices say


@pytest.mark.parametrize(
    "name",
    sorted(
        TOP_FIELDS
        | SERVICE_FIELDS
        | LINK_FIELDS
        | SUBSCRIPTION_FIELDS
        | WORKLOAD_FIELDS
        | set(LINK_KINDS)
        | set(STEP_KINDS)
        | set(POLICY_DEFAULTS)
        | {setting for settings in POLICY_DEFAULTS.values() for setting in settings}
        | set(CHART_KINDS)
    ),
)
def test_the_docs_mention_every_field_and_kind_of_the_format(name: str) -> None:
    """Invariant kinds are left out: they grow with the engine's constructs, and the doc points to the schema."""
    assert f"`{name}`" in doc_text()
