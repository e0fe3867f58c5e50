"""The delivery concepts in documents: a link's ack mode, the idempotency key and its time to live, the relay's
crash knob, and the `effect_once` invariant with the counts it leaves in the summary."""

from __future__ import annotations

from typing import Any

import pytest

from lab.model.invariants import check_invariants, findings
from lab.model.topology import parse_topology, view_spec
from tests.unit.lab.test_topology import doc, error, with_class_steps


def with_mail_link(**fields: Any) -> dict[str, Any]:
    document = doc()
    document["links"][1].update(fields)
    return document


def test_an_ack_mode_on_a_queue_becomes_a_live_knob_starting_at_it() -> None:
    knob = parse_topology(with_mail_link(ack="before_work")).schema.by_name["q.mail.ack"]
    assert (knob.default, knob.choices, knob.live) == ("before_work", ("after_work", "before_work"), True)


def test_a_link_without_an_ack_mode_has_no_ack_knob() -> None:
    assert "q.mail.ack" not in parse_topology(doc()).schema.by_name


def test_an_ack_mode_must_be_one_of_the_two() -> None:
    assert error(with_mail_link(ack="never")) == (
        "links.q.mail.ack",
        "must be one of after_work, before_work, got 'never'",
    )


def test_only_queues_and_topics_take_an_ack_mode() -> None:
    document = doc()
    document["links"][0]["ack"] = "after_work"
    assert error(document) == ("links.shop-stock.ack", "only a queue's or a topic's consumers acknowledge messages")


def test_an_idempotency_policy_keys_by_message_id_and_remembers_for_the_run_unless_told() -> None:
    document = with_mail_link(idempotency="dedup")
    document["policies"]["dedup"] = {"kind": "idempotency"}
    params = parse_topology(document).schema.by_name
    assert (params["dedup.key"].default, params["dedup.key"].choices) == (
        "message_id",
        ("message_id", "correlation_id"),
    )
    assert (params["dedup.ttl_ms"].default, params["dedup.ttl_ms"].maximum) == (0.0, 600_000)


def test_an_idempotency_key_outside_its_choices_is_refused() -> None:
    document = doc()
    document["policies"]["dedup"] = {"kind": "idempotency", "key": "sku"}
    path, message = error(document)
    assert path == "policies.dedup.key" and "message_id, correlation_id" in message


def test_a_link_an_outbox_step_writes_to_gets_a_relay_crash_knob() -> None:
    knob = parse_topology(with_class_steps({"outbox": "q.mail"})).schema.by_name["q.mail.relay_crash_rate"]
    assert (knob.default, knob.minimum, knob.maximum, knob.live) == (0.0, 0, 1, True)
    assert "q.mail.relay_crash_rate" not in parse_topology(doc()).schema.by_name


def test_an_effect_once_invariant_names_its_event() -> None:
    assert error(doc(invariants=[{"kind": "effect_once"}])) == (
        "invariants[0].event",
        "is required: the name an emit step logs for the effect",
    )
    path, message = error(doc(invariants=[{"kind": "effect_once", "event": "charged", "per": "sku"}]))
    assert (path, message.split(";")[0]) == ("invariants[0].per", "unknown field")


def test_the_view_lists_the_effects_its_invariants_count_for_the_live_counters() -> None:
    document = doc(invariants=[{"kind": "every_request_accounted"}, {"kind": "effect_once", "event": "charged"}])
    assert view_spec(parse_topology(document))["effects"] == [{"event": "charged"}]
    assert view_spec(parse_topology(doc()))["effects"] == []


def ev(kind: str, correlation_id: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "t": 0.0, "correlation_id": correlation_id, **fields}


def charged(correlation_id: str) -> dict[str, Any]:
    return ev("service.event", correlation_id, service="pay", name="charged")


@pytest.fixture
def log() -> list[dict[str, Any]]:
    """Orders a-e: a once, b twice, c never, d's record saved though its request failed (never charged), e charged
    without being accepted (an orphan); and a second class f, charged once."""
    events = [ev("request.created", c, mode="x") for c in "abcde"] + [ev("request.created", "f", mode="y")]
    events += [ev("request.finished", c, outcome="ok") for c in "abcf"]
    events += [ev("request.finished", c, outcome="failed") for c in "de"]
    events += [ev("db.committed", "d", record="r-d", mode="dual_write")]
    return [*events, charged("a"), charged("b"), charged("b"), charged("e"), charged("f")]


def test_effect_once_counts_lost_repeated_and_orphaned_orders_against_the_accepted_ones(log: list) -> None:
    summary: dict[str, Any] = {}
    [verdict] = check_invariants([{"kind": "effect_once", "event": "charged"}], log, summary, group_by="mode")
    assert (verdict["holds"], verdict["violations"]) == (False, 4)
    counts = summary["effects"]["charged"]
    assert {k: v for k, v in counts.items() if k != "by_mode"} == {
        "expected": 5,
        "once": 2,
        "repeated": 1,
        "extra": 1,
        "lost": 2,
        "orphaned": 1,
    }
    assert counts["by_mode"]["y"] == {"expected": 1, "once": 1, "repeated": 0, "extra": 0, "lost": 0, "orphaned": 0}


def test_the_findings_say_the_effect_counts_per_class(log: list) -> None:
    summary: dict[str, Any] = {}
    check_invariants([{"kind": "effect_once", "event": "charged"}], log, summary, group_by="mode")
    assert findings(summary, group_by="mode") == [
        "'charged' happened exactly once for 1 of 4 accepted orders (x); 2 never had it; 1 had it more than once;"
        " 1 for orders never accepted.",
        "'charged' happened exactly once for 1 of 1 accepted orders (y).",
    ]
