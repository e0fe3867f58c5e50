"""Topic routing: binding patterns as RabbitMQ topic exchanges match them, and content filters on message fields."""

from __future__ import annotations

from typing import Any

import pytest

from lab.model.routing import binding_matches, filter_passes, parse_filter

FILTER_HELP = "must compare one field with a number or quoted text, e.g. total > 1000 or region == 'eu'"


@pytest.mark.parametrize(
    ("binding", "key"),
    [
        ("orders.placed", "orders.placed"),
        ("orders.*", "orders.placed"),
        ("*.placed", "orders.placed"),
        ("*.*", "orders.placed"),
        ("#", "orders.placed"),
        ("#", "orders"),
        ("#", ""),
        ("orders.#", "orders"),
        ("orders.#", "orders.placed"),
        ("orders.#", "orders.placed.eu"),
        ("#.eu", "orders.placed.eu"),
        ("#.eu", "eu"),
        ("orders.#.eu", "orders.eu"),
        ("orders.#.eu", "orders.placed.big.eu"),
        ("*.placed.#", "orders.placed"),
        ("#.#", "orders.placed"),
    ],
)
def test_a_binding_matches_the_routing_keys_a_topic_exchange_would_route_to_it(binding: str, key: str) -> None:
    assert binding_matches(binding, key)


@pytest.mark.parametrize(
    ("binding", "key"),
    [
        ("orders.placed", "orders.cancelled"),
        ("orders.*", "orders"),  # * needs exactly one word
        ("orders.*", "orders.placed.eu"),  # and no more than one
        ("*.placed", "placed"),
        ("*", ""),
        ("orders.#", "payments.placed"),
        ("#.eu", "orders.placed.us"),
        ("orders.#.eu", "orders.placed.us"),
        ("orders", "orders.placed"),
        ("", "orders"),
        ("orders.placed", "orders.placed.eu"),
    ],
)
def test_a_binding_does_not_match_keys_it_does_not_cover(binding: str, key: str) -> None:
    assert not binding_matches(binding, key)


def test_words_match_whole_not_by_prefix() -> None:
    assert not binding_matches("order.*", "orders.placed")
    assert not binding_matches("orders.place", "orders.placed")


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("total > 1000", ("total", ">", 1000.0)),
        ("total>=1000.5", ("total", ">=", 1000.5)),
        ("  delta < -3 ", ("delta", "<", -3.0)),
        ("qty <= 0", ("qty", "<=", 0.0)),
        ("region == 'eu'", ("region", "==", "eu")),
        ('region != "us"', ("region", "!=", "us")),
        ("note == ''", ("note", "==", "")),
        ("customer_tier == 'gold plus'", ("customer_tier", "==", "gold plus")),
    ],
)
def test_a_filter_is_one_field_one_comparison_and_a_number_or_quoted_text(text: str, parsed: tuple) -> None:
    assert parse_filter(text) == parsed


@pytest.mark.parametrize(
    "text",
    [
        "",
        "total",
        "total >",
        "> 1000",
        "total = 1000",  # one equals sign is not a comparison
        "total => 1000",
        "total > 1e3",
        "total > 1,000",
        "region == eu",  # text must be quoted
        "region == 'eu",
        "Total > 1",  # fields are lower-case
        "order.total > 1",  # one field, not a path
        "total > 1000 and region == 'eu'",
        "total > 1000 or 1",
    ],
)
def test_a_filter_that_is_not_one_comparison_explains_the_form(text: str) -> None:
    with pytest.raises(ValueError, match=r"^must compare") as caught:
        parse_filter(text)
    assert str(caught.value) == FILTER_HELP


def test_an_empty_filter_passes_every_message() -> None:
    assert filter_passes("", {})
    assert filter_passes("", {"total": 5})


@pytest.mark.parametrize(
    ("text", "message", "passes"),
    [
        ("total > 1000", {"total": 1500}, True),
        ("total > 1000", {"total": 1000}, False),
        ("total >= 1000", {"total": 1000}, True),
        ("total > 1000", {"total": 1000.5}, True),
        ("total < 0", {"total": -1}, True),
        ("total == 3", {"total": 3}, True),
        ("total == 3", {"total": 3.0}, True),
        ("total != 3", {"total": 4}, True),
        ("total <= 2.5", {"total": 2.5}, True),
    ],
)
def test_a_number_filter_compares_numbers(text: str, message: dict[str, Any], passes: bool) -> None:
    assert filter_passes(text, message) is passes


@pytest.mark.parametrize(
    "value",
    ["1500", True, None, [1500], {"amount": 1500}],
)
def test_a_number_filter_never_passes_a_field_that_is_not_a_number(value: Any) -> None:
    assert not filter_passes("total > 1", {"total": value})
    assert not filter_passes("total != 1", {"total": value})


@pytest.mark.parametrize(
    ("text", "message", "passes"),
    [
        ("region == 'eu'", {"region": "eu"}, True),
        ("region == 'eu'", {"region": "EU"}, False),  # text compares exactly
        ("region != 'eu'", {"region": "us"}, True),
        ('region == "eu"', {"region": "eu"}, True),
        ("region > 'm'", {"region": "us"}, True),  # text orders alphabetically
        ("region < 'm'", {"region": "us"}, False),
    ],
)
def test_a_text_filter_compares_text(text: str, message: dict[str, Any], passes: bool) -> None:
    assert filter_passes(text, message) is passes


@pytest.mark.parametrize("text", ["region == 'eu'", "region != 'eu'", "region > 'm'", "region <= 'm'"])
@pytest.mark.parametrize("value", [5, 5.5, True, None, ["eu"]])
def test_a_text_filter_never_passes_a_field_that_is_not_text(text: str, value: Any) -> None:
    assert not filter_passes(text, {"region": value})


@pytest.mark.parametrize("text", ["total > 1", "total != 1", "region == 'eu'", "region != 'eu'"])
def test_a_message_without_the_field_never_passes(text: str) -> None:
    assert not filter_passes(text, {"other": 1})


def test_filter_passes_refuses_a_bad_filter_as_parse_filter_does() -> None:
    with pytest.raises(ValueError, match=r"^must compare"):
        filter_passes("total >", {"total": 1})
