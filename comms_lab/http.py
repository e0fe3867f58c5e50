"""JSON request and response helpers shared by every JSON endpoint: errors always name the field."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, JsonResponse


class BadRequest(Exception):
    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in fields.items()))
        self.fields = fields


def json_error(status: int, message: str, *, fields: dict[str, str] | None = None, **extra: Any) -> JsonResponse:
    body: dict[str, Any] = {"error": message, **extra}
    if fields:
        body["fields"] = fields
    return JsonResponse(body, status=status)


def read_json_object(request: HttpRequest) -> dict[str, Any]:
    """The request body as a JSON object; an empty body counts as {}."""
    if not request.body.strip():
        return {}
    try:
        data = json.loads(request.body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest({"body": f"is not valid JSON ({exc})"}) from None
    if not isinstance(data, dict):
        raise BadRequest({"body": "must be a JSON object"})
    return data


def optional_str(data: dict[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is None or isinstance(value, str):
        return value
    raise BadRequest({name: f"must be a string, got {type(value).__name__}"})


def optional_object(data: dict[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name, {})
    if isinstance(value, dict):
        return value
    raise BadRequest({name: f"must be a JSON object of parameter names to values, got {type(value).__name__}"})
