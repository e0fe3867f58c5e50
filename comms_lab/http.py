"""Request parsing and JSON answers shared by every JSON endpoint and the run websocket.

Errors always name the field. Nothing a client sends may raise anything but `BadRequest`: deep nesting, huge
numbers, wrong types and oversized frames are all refused here with a message saying what is accepted.
"""

from __future__ import annotations

import ipaddress
import json
from functools import cache
from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse

# Deeper JSON than this is refused (the lab's documents nest 3 levels; json.loads itself fails near 1,000).
MAX_JSON_DEPTH = 32
# Largest websocket text frame the run socket reads; bigger ones get an error frame naming the limit. daphne
# itself drops the connection above 1 MiB (its websocket_max_message_size), before the app sees the frame.
MAX_WS_FRAME_BYTES = 64 * 1024
# Sequence numbers (`after`) are Redis stream ids: 64-bit. A bigger number can only be a mistake.
MAX_SEQ = 2**63 - 1


class BadRequest(Exception):
    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in fields.items()))
        self.fields = fields


def json_error(status: int, message: str, *, fields: dict[str, str] | None = None, **extra: Any) -> JsonResponse:
    body: dict[str, Any] = {"error": message, **extra}
    if fields:
        body["fields"] = fields
    return JsonResponse(body, status=status)


def _depth(value: Any) -> int:
    """How deeply `value` nests lists and objects, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, depth)
            if depth <= MAX_JSON_DEPTH:
                stack.extend((child, depth + 1) for child in item)
    return deepest


def parse_json(raw: str | bytes, *, field: str = "body", detail: bool = True) -> Any:
    """Parse JSON from a client; BadRequest (naming `field`) for anything malformed or nested too deeply."""
    try:
        data = json.loads(raw)
    except RecursionError:
        raise BadRequest({field: f"is nested too deeply (at most {MAX_JSON_DEPTH} levels)"}) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest({field: f"is not valid JSON ({exc})" if detail else "is not valid JSON"}) from None
    if _depth(data) > MAX_JSON_DEPTH:
        raise BadRequest({field: f"is nested too deeply (at most {MAX_JSON_DEPTH} levels)"})
    return data


def read_json_object(request: HttpRequest) -> dict[str, Any]:
    """The request body as a JSON object; an empty body counts as {}."""
    if not request.body.strip():
        return {}
    data = parse_json(request.body)
    if not isinstance(data, dict):
        raise BadRequest({"body": "must be a JSON object"})
    return data


def parse_ws_frame(text_data: str | None, bytes_data: bytes | None) -> dict[str, Any]:
    """A run-socket frame as a JSON object with a "type"; BadRequest for anything else."""
    raw: str | bytes = text_data if text_data is not None else (bytes_data or b"")
    if len(raw) > MAX_WS_FRAME_BYTES:
        raise BadRequest({"frame": f"is {len(raw):,} bytes; the limit is {MAX_WS_FRAME_BYTES:,} bytes (64 KiB)"})
    if not raw:
        raise BadRequest({"frame": 'is empty; send a JSON object with a "type"'})
    message = parse_json(raw, field="frame", detail=False)
    if not isinstance(message, dict):
        raise BadRequest({"frame": 'must be a JSON object with a "type"'})
    return message


def sequence_number(value: Any, *, field: str = "after") -> int:
    """A sequence number from a query string or JSON: a whole number from 0 to 2^63 - 1."""
    message = f"must be a whole number from 0 to {MAX_SEQ}"
    if isinstance(value, bool):
        raise BadRequest({field: message})
    if isinstance(value, str):
        text = value.strip()
        if not (text.isascii() and text.isdigit()) or len(text) > 19:
            raise BadRequest({field: message})
        value = int(text)
    if not isinstance(value, int) or not 0 <= value <= MAX_SEQ:
        raise BadRequest({field: message})
    return value


def check_toggle_shape(message: dict[str, Any]) -> None:
    """A toggle is `{"name": str, "value": v}` or `{"values": {name: v}}`; the engine checks names and values."""
    if "values" in message and message["values"] is not None:
        if not isinstance(message["values"], dict):
            raise BadRequest(
                {"values": f"must be an object of parameter names to values, got {_kind(message['values'])}"}
            )
        return
    if "name" in message and not isinstance(message["name"], str):
        raise BadRequest({"name": f"must be a parameter name (a string), got {_kind(message['name'])}"})


def redrive_request(message: dict[str, Any]) -> list[str] | None:
    """A re-drive is `{"queue"?: str, "message_ids"?: [str, ...]}`; the message ids it names, if any."""
    unknown = sorted(set(message) - {"queue", "message_ids", "type"})
    if unknown:
        raise BadRequest({name: "unknown field; allowed: queue, message_ids" for name in unknown})
    if "queue" in message and not isinstance(message["queue"], str):
        raise BadRequest({"queue": f"must be a queue name (a string), got {_kind(message['queue'])}"})
    ids = message.get("message_ids")
    if ids is None:
        return None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids) or not 1 <= len(ids) <= 1000:
        raise BadRequest({"message_ids": "must be a list of 1 to 1,000 message ids (strings)"})
    return ids


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )


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


@cache
def _trusted_networks(proxies: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(p, strict=False) for p in proxies)


def _is_trusted(address: str) -> bool:
    networks = _trusted_networks(tuple(settings.TRUSTED_PROXIES))
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(request: Any) -> str:
    """The address of the client behind a request (HttpRequest) or websocket scope (dict).

    `X-Forwarded-For` is believed only when the request comes from a proxy listed in TRUSTED_PROXIES: then the
    client is the right-most address in it that is not itself a trusted proxy. Otherwise anyone could pick
    their own address and walk around every per-address limit.
    """
    if isinstance(request, dict):  # an ASGI scope
        remote = (request.get("client") or ["", 0])[0] or ""
        headers = dict(request.get("headers") or [])
        forwarded = headers.get(b"x-forwarded-for", b"").decode("latin-1")
    else:
        remote = request.META.get("REMOTE_ADDR", "") or ""
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if not settings.TRUSTED_PROXIES or not forwarded or not _is_trusted(remote):
        return remote
    for hop in reversed([h.strip() for h in forwarded.split(",") if h.strip()]):
        if not _is_trusted(hop):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return remote
    return remote
