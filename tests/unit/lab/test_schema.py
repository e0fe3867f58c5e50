import pytest

from lab.model.schema import ConfigError, Param, Schema

SCHEMA = Schema(
    (
        Param("duration", "int", 60, "Duration", 5, 300, unit="s"),
        Param("rate", "float", 5.0, "Rate", 0.5, 50, unit="requests/s"),
        Param("mode", "choice", "sync", "Mode", choices=("sync", "hybrid")),
        Param("email.down", "bool", False, "Email down", live=True),
    )
)


def test_valid_values_come_back_in_their_type() -> None:
    assert SCHEMA.validate({"duration": 30.0, "rate": 2, "mode": "hybrid"}) == {
        "duration": 30,
        "rate": 2.0,
        "mode": "hybrid",
    }


@pytest.mark.parametrize(
    ("raw", "field", "message"),
    [
        ({"rate": 51}, "config.rate", "must be a number from 0.5 to 50 requests/s, got 51"),
        ({"duration": 2.5}, "config.duration", "must be a whole number from 5 to 300 s, got 2.5"),
        ({"duration": "60"}, "config.duration", "must be a whole number from 5 to 300 s, got '60'"),
        ({"mode": "async"}, "config.mode", "must be one of sync, hybrid, got 'async'"),
        ({"email.down": 1}, "config.email.down", "must be true or false, got 1"),
        ({"duration": True}, "config.duration", "must be a whole number from 5 to 300 s, got True"),
    ],
)
def test_bad_values_name_the_field_and_the_allowed_range(raw: dict, field: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        SCHEMA.validate(raw)
    assert caught.value.errors == {field: message}


def test_every_bad_field_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as caught:
        SCHEMA.validate({"rate": 0, "bogus": 1})
    assert set(caught.value.errors) == {"config.rate", "config.bogus"}


def test_toggles_may_change_only_live_knobs() -> None:
    with pytest.raises(ConfigError) as caught:
        SCHEMA.validate({"rate": 10}, prefix="", live_only=True)
    assert caught.value.errors == {"rate": "is fixed when the run starts and cannot be toggled"}
    assert SCHEMA.validate({"email.down": True}, prefix="", live_only=True) == {"email.down": True}


def test_the_json_form_lists_type_range_and_default() -> None:
    assert SCHEMA.by_name["rate"].as_json() == {
        "name": "rate",
        "type": "float",
        "label": "Rate",
        "default": 5.0,
        "live": False,
        "group": "run",
        "minimum": 0.5,
        "maximum": 50,
        "unit": "requests/s",
    }


FILTER = Param("sub.fraud.filter", "text", "", "Fraud filter", live=True, syntax="filter")
BINDING = Param("sub.fraud.binding", "text", "#", "Fraud binding", live=True, syntax="binding")


def test_a_text_knob_takes_a_value_in_its_syntax() -> None:
    assert FILTER.validate("total > 100") == "total > 100"
    assert FILTER.validate("") == ""
    assert BINDING.validate("order.#") == "order.#"


def test_a_filter_that_does_not_parse_is_refused_naming_the_knob_and_what_it_accepts() -> None:
    with pytest.raises(ConfigError) as caught:
        Schema((FILTER,)).validate({"sub.fraud.filter": "total >> 1"}, prefix="", live_only=True)
    assert caught.value.errors == {
        "sub.fraud.filter": "must be empty (everything passes) or compare one field with a number or quoted text,"
        " e.g. total > 1000 or region == 'eu', got 'total >> 1'"
    }


def test_a_binding_that_is_not_text_is_refused_with_its_syntax() -> None:
    with pytest.raises(ConfigError) as caught:
        Schema((BINDING,)).validate({"sub.fraud.binding": 7})
    assert caught.value.errors["config.sub.fraud.binding"].startswith(
        "must be text of at most 200 characters: a binding pattern: dot-separated words"
    )
