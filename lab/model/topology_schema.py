"""The JSON Schema of topology documents, served at GET /lab/api/topology-schema for editors and learners.

`parse_topology` is the authority (it also checks references, cycles, presets and sync-call cycles); this schema
describes the shape with the same field names, kinds and ranges, and a test checks every built-in document against
it. Field sets come from the parser's own constants, so the two cannot drift apart silently.
"""

from __future__ import annotations

from typing import Any

from lab.model.predictions import (
    CHOICE_FIELDS,
    CHOICE_ID,
    MAX_CHOICES,
    METRIC_PATH,
    MIN_CHOICES,
    NEXT_FIELDS,
    PREDICT_FIELDS,
)
from lab.model.schema import Param
from lab.model.topology import (
    ACK_MODES,
    CHART_KINDS,
    CLASS_FIELDS,
    DEAD_LETTER_FIELDS,
    FAILURE_SCHEDULES,
    GROUP_FIELDS,
    INVARIANT_KINDS,
    LINK_FIELDS,
    LINK_KINDS,
    MATCH_MODES,
    MAX_LINKS,
    MAX_PARTITIONS,
    MAX_SERVICES,
    MAX_STEPS,
    MAX_WAIT_MS,
    NAME,
    NODE_NAME,
    OUTBOX_MODES,
    PANEL_FIELDS,
    PANEL_KINDS,
    PANEL_LINKS,
    PARTITION_BY,
    POLICY_DEFAULTS,
    POLICY_KINDS,
    POOL_FIELDS,
    PRESET_FIELDS,
    SCRIPT_FIELDS,
    SELECT_FIELDS,
    SERVICE_FIELDS,
    STEP_KINDS,
    SUBSCRIPTION_FIELDS,
    TOP_FIELDS,
    WORKLOAD_FIELDS,
    Policy,
    policy_params,
)

_NAME = {"type": "string", "pattern": NAME.pattern}
_NODE = {"type": "string", "pattern": NODE_NAME.pattern}
_POINT = {"type": "array", "items": {"type": "number", "minimum": 0, "maximum": 1}, "minItems": 2, "maxItems": 2}
_TEXT = {"type": "string"}
_ARRIVALS = ["uniform", "poisson", "burst"]


def _closed(fields: set[str], properties: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """An object with exactly the parser's fields; each described in `properties` (or allowed with any value)."""
    assert set(properties) <= fields, set(properties) - fields
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {name: properties.get(name, {}) for name in sorted(fields)},
        **extra,
    }


def _number(low: float, high: float, *, whole: bool = False) -> dict[str, Any]:
    return {"type": "integer" if whole else "number", "minimum": low, "maximum": high}


_STEP: dict[str, Any] = {
    "type": "object",
    "description": f"exactly one of: {', '.join(STEP_KINDS)}; optional compensate (a step); other keys are options "
    "(for send: key, the routing key, and body, the message fields content filters read)",
    "oneOf": [{"required": [kind]} for kind in STEP_KINDS],
    "properties": {
        **{kind: _TEXT for kind in ("call", "send", "request", "outbox", "project", "emit", "fail")},
        "work": _number(0, 60_000),
        "saga": {
            "type": "object",
            "properties": {
                "steps": {"$ref": "#/$defs/steps"},
                "name": _TEXT,
                "retry": {**_NAME, "description": "a retry policy for the compensations"},
                "compensations": {**_NODE, "description": "a bool parameter; false skips every compensation"},
                "undo": {"type": "boolean", "description": "compensate this service's own saga of that name"},
            },
        },
        "aggregate": {
            "type": "object",
            "required": ["events"],
            "properties": {
                "events": {"type": "array", "minItems": 2, "items": _TEXT},
                "by": _TEXT,
                "timeout_ms": _number(0, MAX_WAIT_MS),
                "then": {"$ref": "#/$defs/steps"},
            },
        },
        "compensate": {"$ref": "#/$defs/step"},
        "when": {**_NODE, "description": "a bool knob: the step runs only while it is true"},
        # options of send, request and outbox
        "key": _TEXT,
        "body": {"type": "object"},
        "event": {**_TEXT, "description": "a stream event's name; consumers' on.<event> reacts to it"},
        "read": {**_NAME, "description": "a consumer group of the stream whose read model is queried after"},
        "read_your_writes": {"oneOf": [{"type": "boolean"}, _NODE]},
        "read_wait_ms": _number(0, MAX_WAIT_MS),
        "read_after_ms": _number(0, MAX_WAIT_MS),
        "partition_by": {
            "enum": list(PARTITION_BY),
            "description": "a stream send's partition: by its key's hash, or round-robin as a record without a key",
        },
        "mode": {"enum": list(OUTBOX_MODES)},
        "mode_param": _NODE,
        "table": _TEXT,
        "check_version": {"type": "boolean"},
    },
}
_STEPS = {"type": "array", "maxItems": MAX_STEPS, "items": {"$ref": "#/$defs/step"}}


def _knob(param: Param) -> dict[str, Any]:
    """A parameter's type and range as JSON Schema: what a policy setting may be, since it becomes that knob."""
    if param.kind == "bool":
        return {"type": "boolean", "default": param.default}
    if param.kind == "choice":
        return {"enum": list(param.choices), "default": param.default}
    kind = "integer" if param.kind == "int" else "number"
    return {"type": kind, "minimum": param.minimum, "maximum": param.maximum, "default": param.default}


def _policy(kind: str) -> dict[str, Any]:
    knobs = policy_params(Policy("p", kind, dict(POLICY_DEFAULTS[kind])))
    settings = {param.name.split(".", 1)[1]: {"description": param.label, **_knob(param)} for param in knobs}
    return {
        "type": "object",
        "required": ["kind"],
        "additionalProperties": False,
        "properties": {"kind": {"const": kind}, **settings},
    }


_SERVICE = _closed(
    SERVICE_FIELDS,
    {
        "label": {"type": "string", "maxLength": 40},
        "kind": {"enum": ["client", "service", "orchestrator"]},
        "work_ms": _number(0, 60_000),
        "work_param": _NODE,
        "jitter_ms": _number(0, 10_000),
        "pool": _closed(
            POOL_FIELDS,
            {"size": _number(1, 200, whole=True), "param": _NODE, "when_full": {"enum": ["reject", "wait"]}},
        ),
        "instances": _number(1, 64, whole=True),
        "faults": {"type": "boolean"},
        "steps": {"$ref": "#/$defs/steps"},
        "on": {"type": "object", "additionalProperties": {"$ref": "#/$defs/steps"}},
        "at": _POINT,
    },
)
_LINK = _closed(
    LINK_FIELDS,
    {
        "id": _NODE,
        "kind": {"enum": list(LINK_KINDS)},
        "from": _NAME,
        "to": _NAME,
        "label": {"type": "string", "maxLength": 40},
        "classes": {"type": "array", "items": _NAME},
        **{slot: _NAME for slot in ("timeout", "retry", "breaker", "bulkhead", "idempotency")},
        "max_deliveries": _number(0, 20, whole=True),
        "prefetch": _number(1, 100, whole=True),
        "ack": {
            "enum": list(ACK_MODES),
            "description": "queue and topic: where consumers acknowledge; makes <link>.ack a live knob",
        },
        "consumer_knobs": {
            "type": "boolean",
            "description": "queues and topics: live knobs for its consumers (count, prefetch, one slow,"
            " poison share), per subscription on a topic",
        },
        "subscriptions": {
            "type": "array",
            "items": _closed(
                SUBSCRIPTION_FIELDS,
                {
                    "id": _NODE,
                    "to": _NAME,
                    "binding": {"type": "string", "description": "AMQP pattern: * one word, # zero or more"},
                    "filter": {"type": "string", "description": "one comparison, e.g. total > 1000 or region == 'eu'"},
                    "durable": {
                        "type": "boolean",
                        "description": "keeps its copies while its subscriber is away (knob <id>.subscribed)",
                    },
                    "subscribed": {"type": "boolean", "description": "false: a late subscriber, joining mid-run"},
                    "delivery": {"enum": ["push", "pull"], "description": "pull: taken when the consumer polls"},
                    "poll_ms": _number(100, 10_000, whole=True),
                    "at": _POINT,
                },
                required=["id", "to"],
            ),
        },
        "partitions": _number(1, MAX_PARTITIONS, whole=True),
        "key": {"type": "string"},
        "groups": {
            "type": "array",
            "items": _closed(GROUP_FIELDS, {"id": _NAME, "to": _NAME}, required=["id", "to"]),
        },
        "retention": _number(10, 100_000, whole=True),
        "deadline_ms": _number(0, 60_000),
        "match": {"enum": list(MATCH_MODES), "description": "reply links: how a reply finds its request"},
        "match_param": _NODE,
        "at": _POINT,
    },
    required=["id", "kind", "from"],
    allOf=[
        {
            "if": {"required": ["kind"], "properties": {"kind": {"const": "topic"}}},
            "then": {"required": ["subscriptions"], "properties": {"subscriptions": {"minItems": 1}}},
            "else": {"required": ["to"]},
        },
        {
            "if": {"required": ["kind"], "properties": {"kind": {"const": "stream"}}},
            "then": {"required": ["groups"], "properties": {"groups": {"minItems": 1}}},
        },
    ],
)
_PARAMETER = {
    "type": "object",
    "required": ["name", "type", "default", "label"],
    "properties": {
        "name": _NODE,
        "type": {"enum": ["int", "float", "bool", "choice"]},
        "default": {},
        "label": {"type": "string", "maxLength": 60},
        "minimum": {"type": "number"},
        "maximum": {"type": "number"},
        "choices": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        "unit": {"type": "string"},
        "live": {"type": "boolean"},
        "group": {"type": "string"},
        "help": {"type": "string"},
    },
    "allOf": [
        {
            "if": {"required": ["type"], "properties": {"type": {"enum": ["int", "float"]}}},
            "then": {"required": ["minimum", "maximum"]},
        },
        {
            "if": {"required": ["type"], "properties": {"type": {"const": "choice"}}},
            "then": {"required": ["choices"]},
        },
    ],
}
_WORKLOAD = _closed(
    WORKLOAD_FIELDS,
    {
        "entry": _NAME,
        "duration": _number(5, 300, whole=True),
        "rate": _number(0.5, 50),
        "arrival": {
            "oneOf": [
                {"enum": _ARRIVALS},
                {
                    "type": "object",
                    "properties": {"default": {"enum": _ARRIVALS}, "learner_picks": {"type": "boolean"}},
                },
            ]
        },
        "group_by": {"type": "string"},
        "retry": _NAME,
        "select": _closed(
            SELECT_FIELDS,
            {
                "param": _NODE,
                "label": {"type": "string"},
                "default": {"type": "string"},
                "together": {"type": "string"},
                "help": {"type": "string"},
                "weights": {"type": "object", "propertyNames": _NAME, "additionalProperties": _NODE},
            },
        ),
        "classes": {
            "type": "object",
            "minProperties": 1,
            "propertyNames": _NAME,
            "additionalProperties": _closed(CLASS_FIELDS, {"steps": {"$ref": "#/$defs/steps"}, "bulkhead": _NAME}),
        },
    },
    required=["entry", "classes"],
)
_PRESET = _closed(
    PRESET_FIELDS,
    {
        "slug": _NAME,
        "title": {"type": "string", "maxLength": 80},
        "notice": {"type": "string", "maxLength": 1200},
        "config": {"type": "object", "description": "parameter name → value, checked against the parameters"},
        "script": {
            "type": "array",
            "items": _closed(
                SCRIPT_FIELDS,
                {"at": _number(0, 300), "set": {"type": "object", "description": "live parameter name → value"}},
                required=["at", "set"],
            ),
        },
        "predict": {
            "description": "a question asked before the run: choices (exactly one correct) or a number (tolerance)",
            **_closed(
                PREDICT_FIELDS,
                {
                    "prompt": {"type": "string", "maxLength": 400},
                    "metric": {"type": "string", "pattern": METRIC_PATH.pattern},
                    "unit": {"type": "string", "maxLength": 20},
                    "tolerance": {"type": "number", "minimum": 0},
                    "choices": {
                        "type": "array",
                        "minItems": MIN_CHOICES,
                        "maxItems": MAX_CHOICES,
                        "items": _closed(
                            CHOICE_FIELDS,
                            {
                                "id": {"type": "string", "pattern": CHOICE_ID.pattern},
                                "text": {"type": "string", "maxLength": 300},
                                "correct": {"type": "boolean"},
                                "explanation": {"type": "string", "maxLength": 600},
                            },
                            required=["id", "text", "correct", "explanation"],
                        ),
                    },
                },
                required=["prompt", "metric"],
                oneOf=[{"required": ["choices"]}, {"required": ["tolerance", "unit"]}],
            ),
        },
        "next": _closed(
            NEXT_FIELDS,
            {"preset": {**_NAME, "description": "another preset of this document"}, "why": {"type": "string"}},
            required=["preset", "why"],
        ),
    },
    required=["slug", "title"],
)

TOPOLOGY_JSON_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "/lab/api/topology-schema",
    "title": "comms_lab topology document",
    "description": "An experiment as data; see docs/topology.md.",
    "$defs": {"step": _STEP, "steps": _STEPS},
    **_closed(
        TOP_FIELDS,
        {
            "slug": _NAME,
            "title": {"type": "string", "maxLength": 120},
            "summary": {"type": "string", "maxLength": 600},
            "planned": {"type": "boolean"},
            "order": {"type": "integer", "minimum": 0, "maximum": 1000},
            "services": {
                "type": "object",
                "minProperties": 1,
                "maxProperties": MAX_SERVICES,
                "propertyNames": _NAME,
                "additionalProperties": _SERVICE,
            },
            "policies": {
                "type": "object",
                "propertyNames": _NAME,
                "additionalProperties": {"oneOf": [_policy(kind) for kind in POLICY_KINDS]},
            },
            "links": {"type": "array", "maxItems": MAX_LINKS, "items": _LINK},
            "dead_letters": _closed(DEAD_LETTER_FIELDS, {"label": {"type": "string"}, "at": _POINT}),
            "parameters": {"type": "array", "items": _PARAMETER},
            "workload": _WORKLOAD,
            "presets": {"type": "array", "items": _PRESET},
            "default_preset": _NAME,
            "invariants": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["kind"],
                    "properties": {
                        "kind": {"enum": list(INVARIANT_KINDS)},
                        "event": {**_TEXT, "description": "effect_once: the emit step's event counted per order"},
                    },
                },
            },
            "view": {
                "type": "object",
                "properties": {
                    "charts": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["kind"],
                            "properties": {
                                "kind": {"enum": list(CHART_KINDS)},
                                "target": _NAME,
                                "series": {"type": "array", "items": {"type": "string"}},
                                "bucket_ms": {"type": "integer", "minimum": 10, "maximum": 1000},
                            },
                        },
                    },
                    "panels": {
                        "type": "array",
                        "items": _closed(
                            PANEL_FIELDS,
                            {"kind": {"enum": list(PANEL_KINDS)}, "link": _NODE},
                            required=["kind"],
                            # a panel of one link must name it; one of the whole run names none
                            allOf=[
                                {
                                    "if": {"properties": {"kind": {"const": kind}}},
                                    "then": {"required": ["link"]} if wanted else {"not": {"required": ["link"]}},
                                }
                                for kind, wanted in PANEL_LINKS.items()
                            ],
                        ),
                    },
                },
            },
        },
        required=["slug", "title", "services", "workload"],
    ),
    "x-failure-schedules": list(FAILURE_SCHEDULES),
}
