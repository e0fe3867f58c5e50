from lab.model.events import EVENTS, problems


def test_an_event_with_its_fields_conforms() -> None:
    event = {"type": "breaker.state", "t": 1.5, "target": "inventory", "from": "CLOSED", "to": "OPEN", "reason": "x"}
    assert problems(event) == []


def test_a_missing_field_is_named() -> None:
    assert problems({"type": "request.finished", "t": 2.0, "correlation_id": "r1", "outcome": "ok"}) == [
        "request.finished lacks latency_ms, reason"
    ]


def test_an_undeclared_type_and_a_missing_time_are_both_reported() -> None:
    assert problems({"type": "message.teleported"}) == [
        "event type 'message.teleported' is not declared in lab/model/events.py"
    ]
    assert problems({"type": "toggle", "values": {}, "by": "learner"}) == ["toggle has no run time t"]


def test_every_declared_event_says_what_it_means() -> None:
    assert all(spec.meaning.endswith(".") for spec in EVENTS.values())


def test_the_api_docs_list_every_event_type() -> None:
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[3] / "docs" / "lab-api.md").read_text()
    assert [kind for kind in EVENTS if f"`{kind}`" not in doc] == []
