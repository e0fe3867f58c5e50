"""The JSON Schema of topology documents, served at GET /lab/api/topology-schema for editors and learners.

`parse_topology` is the authority (it also checks references, cycles and presets); this schema describes the
shape, and a test checks every built-in document against it.
"""

from __future__ import annotations

from typing import Any

from lab.model.topology import (
    CHART_KINDS,
    FAILURE_SCHEDULES,
    INVARIANT_KINDS,
    LINK_KINDS,
    MAX_LINKS,
    MAX_PARTITIONS,
    MAX_SERVICES,
    POLICY_DEFAULTS,
    POLICY_KINDS,
    STEP_KINDS,
)

_NAME = {"type": "string", "pattern": "^[a-z][a-z0-9_-]{0,31}$"}
_NODE = {"type": "string", "pattern": "^[a-z][a-z0-9_.-]{0,39}$"}
_POINT = {"type": "array", "items": {"type": "number", "minimum": 0, "maximum": 1}, "minItems": 2, "maxItems": 2}
_STEP: dict[str, Any] = {
    "type": "object",
    "description": f"exactly one of: {', '.join(STEP_KINDS)}; optional compensate (a step)",
    "minProperties": 1,
}
_STEPS = {"type": "array", "items": {"$ref": "#/$defs/step"}}

TOPOLOGY_JSON_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "/lab/api/topology-schema",
    "title": "comms_lab topology document",
    "type": "object",
    "required": ["slug", "title", "services", "workload"],
    "additionalProperties": False,
    "$defs": {"step": _STEP},
    "properties": {
        "slug": _NAME,
        "title": {"type": "string", "maxLength": 120},
        "summary": {"type": "string", "maxLength": 600},
        "planned": {"type": "boolean"},
        "services": {
            "type": "object",
            "maxProperties": MAX_SERVICES,
            "propertyNames": _NAME,
            "additionalProperties": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "label": {"type": "string", "maxLength": 40},
                    "kind": {"enum": ["client", "service", "orchestrator"]},
                    "work_ms": {"type": "number", "minimum": 0, "maximum": 60000},
                    "work_param": _NODE,
                    "jitter_ms": {"type": "number", "minimum": 0, "maximum": 10000},
                    "pool": {
                        "type": "object",
                        "properties": {
                            "size": {"type": "integer", "minimum": 1, "maximum": 200},
                            "param": _NODE,
                            "when_full": {"enum": ["reject", "wait"]},
                        },
                    },
                    "instances": {"type": "integer", "minimum": 1, "maximum": 64},
                    "faults": {"type": "boolean"},
                    "steps": _STEPS,
                    "on": {"type": "object", "additionalProperties": _STEPS},
                    "at": _POINT,
                },
            },
        },
        "policies": {
            "type": "object",
            "propertyNames": _NAME,
            "additionalProperties": {
                "type": "object",
                "required": ["kind"],
                "properties": {"kind": {"enum": list(POLICY_KINDS)}},
                "description": "settings by kind: "
                + "; ".join(f"{kind}: {', '.join(values)}" for kind, values in POLICY_DEFAULTS.items()),
            },
        },
        "links": {
            "type": "array",
            "maxItems": MAX_LINKS,
            "items": {
                "type": "object",
                "required": ["id", "kind", "from"],
                "properties": {
                    "id": _NODE,
                    "kind": {"enum": list(LINK_KINDS)},
                    "from": _NAME,
                    "to": _NAME,
                    "label": {"type": "string", "maxLength": 40},
                    "classes": {"type": "array", "items": _NAME},
                    "timeout": _NAME,
                    "retry": _NAME,
                    "breaker": _NAME,
                    "bulkhead": _NAME,
                    "idempotency": _NAME,
                    "max_deliveries": {"type": "integer", "minimum": 0, "maximum": 20},
                    "prefetch": {"type": "integer", "minimum": 1, "maximum": 100},
                    "subscriptions": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["id", "to"],
                            "properties": {
                                "id": _NODE,
                                "to": _NAME,
                                "binding": {"type": "string"},
                                "filter": {"type": "string"},
                                "durable": {"type": "boolean"},
                            },
                        },
                    },
                    "partitions": {"type": "integer", "minimum": 1, "maximum": MAX_PARTITIONS},
                    "key": {"type": "string"},
                    "groups": {
                        "type": "array",
                        "items": {"type": "object", "required": ["id", "to"], "properties": {"id": _NAME, "to": _NAME}},
                    },
                    "retention": {"type": "integer", "minimum": 10, "maximum": 100000},
                    "deadline_ms": {"type": "number", "minimum": 0, "maximum": 60000},
                    "at": _POINT,
                },
            },
        },
        "dead_letters": {"type": "object", "properties": {"label": {"type": "string"}, "at": _POINT}},
        "parameters": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "type", "default", "label"],
                "properties": {
                    "name": _NODE,
                    "type": {"enum": ["int", "float", "bool", "choice"]},
                    "label": {"type": "string"},
                    "minimum": {"type": "number"},
                    "maximum": {"type": "number"},
                    "choices": {"type": "array", "items": {"type": "string"}},
                    "unit": {"type": "string"},
                    "live": {"type": "boolean"},
                    "help": {"type": "string"},
                },
            },
        },
        "workload": {
            "type": "object",
            "required": ["entry", "classes"],
            "properties": {
                "entry": _NAME,
                "duration": {"type": "integer", "minimum": 5, "maximum": 300},
                "rate": {"type": "number", "minimum": 0.5, "maximum": 50},
                "arrival": {
                    "oneOf": [
                        {"enum": ["uniform", "poisson", "burst"]},
                        {
                            "type": "object",
                            "properties": {"default": {"type": "string"}, "learner_picks": {"type": "boolean"}},
                        },
                    ]
                },
                "group_by": {"type": "string"},
                "retry": _NAME,
                "select": {"type": "object"},
                "classes": {
                    "type": "object",
                    "propertyNames": _NAME,
                    "additionalProperties": {
                        "type": "object",
                        "properties": {"steps": _STEPS, "bulkhead": _NAME},
                    },
                },
            },
        },
        "presets": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["slug", "title"],
                "properties": {
                    "slug": _NAME,
                    "title": {"type": "string", "maxLength": 80},
                    "notice": {"type": "string"},
                    "config": {"type": "object"},
                    "script": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["at", "set"],
                            "properties": {"at": {"type": "number", "minimum": 0}, "set": {"type": "object"}},
                        },
                    },
                },
            },
        },
        "default_preset": _NAME,
        "invariants": {
            "type": "array",
            "items": {"type": "object", "required": ["kind"], "properties": {"kind": {"enum": list(INVARIANT_KINDS)}}},
        },
        "view": {
            "type": "object",
            "properties": {
                "charts": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["kind"],
                        "properties": {"kind": {"enum": list(CHART_KINDS)}},
                    },
                }
            },
        },
    },
    "x-failure-schedules": list(FAILURE_SCHEDULES),
}
