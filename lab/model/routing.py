"""Topic routing as brokers do it: AMQP-style binding patterns and simple content filters on a message's fields."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from typing import Any

_FILTER = re.compile(r"^\s*([a-z_][a-z0-9_]*)\s*(==|!=|>=|<=|>|<)\s*(-?\d+(?:\.\d+)?|'[^']*'|\"[^\"]*\")\s*$")
_WORD = re.compile(r"^(?:[a-z0-9_-]+|\*|#)$")
BINDING_RULE = (
    "dot-separated words (letters, digits, - or _), * for exactly one word, # for zero or more, e.g. orders.* or #.eu"
)
FILTER_RULE = "must compare one field with a number or quoted text, e.g. total > 1000 or region == 'eu'"
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
}


def check_binding(text: str) -> str:
    """A binding pattern as written, or ValueError saying what a pattern may contain."""
    if len(text) > 200 or not all(_WORD.match(word) for word in text.split(".")):
        raise ValueError(f"must be {BINDING_RULE}")
    return text


def check_filter(text: str) -> str:
    """A content filter as written (empty passes everything), or ValueError saying what a filter may be."""
    if text:
        parse_filter(text)
    return text


def binding_matches(binding: str, routing_key: str) -> bool:
    """`*` matches exactly one dot-separated word, `#` zero or more (RabbitMQ topic exchanges)."""

    def match(pattern: list[str], words: list[str]) -> bool:
        if not pattern:
            return not words
        head, rest = pattern[0], pattern[1:]
        if head == "#":
            return any(match(rest, words[i:]) for i in range(len(words) + 1))
        if not words:
            return False
        return (head in ("*", words[0])) and match(rest, words[1:])

    return match(binding.split(".") if binding else [], routing_key.split(".") if routing_key else [])


def parse_filter(text: str) -> tuple[str, str, Any]:
    """`total > 1000` → ("total", ">", 1000.0). One comparison of a field with a number or a quoted string."""
    found = _FILTER.match(text)
    if not found:
        raise ValueError(FILTER_RULE)
    name, op, raw = found.groups()
    value: Any = raw[1:-1] if raw[0] in "'\"" else float(raw)
    return name, op, value


def filter_passes(text: str, message: dict[str, Any]) -> bool:
    """An empty filter passes everything; a message without the field, or with a field of the other type
    (text against a number, or a number against text), never passes."""
    if not text:
        return True
    name, op, value = parse_filter(text)
    if name not in message:
        return False
    actual = message[name]
    if isinstance(value, float):
        if isinstance(actual, bool) or not isinstance(actual, int | float):
            return False
        actual = float(actual)
    elif not isinstance(actual, str):
        return False
    return bool(_OPS[op](actual, value))
