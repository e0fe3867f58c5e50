"""Rows rebuilt from a run's log: what the projection must end equal to, and a key's state at any version."""

from lab.model.invariants import check_invariants
from lab.model.projections import rows_from_log, state_at


def appended(key: str, seq: int, event: str, **body: object) -> dict:
    return {"type": "stream.appended", "link": "orders", "key": key, "key_seq": seq, "event": event, "body": body}


LOG = [
    appended("a", 1, "placed", status="placed", total=120),
    appended("b", 1, "placed", status="placed", total=80),
    appended("a", 2, "paid", status="paid", paid=True),
    appended("a", 3, "shipped", status="shipped"),
]


def test_a_row_is_the_bodies_of_its_keys_events_merged_in_key_order() -> None:
    rows = rows_from_log(list(reversed(LOG)))  # the log's order does not matter, the key's sequence does
    assert rows[("orders", "a")] == {
        "version": 3,
        "events": 3,
        "event": "shipped",
        "data": {"status": "shipped", "total": 120, "paid": True},
    }
    assert rows[("orders", "b")]["data"] == {"status": "placed", "total": 80}


def test_the_state_at_a_version_leaves_out_the_later_events() -> None:
    assert state_at(LOG, link="orders", key="a", version=1)["data"] == {"status": "placed", "total": 120}
    assert state_at(LOG, link="orders", key="a", version=2) == {
        "version": 2,
        "events": 2,
        "event": "paid",
        "data": {"status": "paid", "total": 120, "paid": True},
    }
    assert state_at(LOG, link="orders", key="c", version=5) == {"version": 0, "events": 0, "event": "", "data": {}}


def test_a_read_model_row_that_counts_an_event_twice_breaks_convergence() -> None:
    final = rows_from_log(LOG)
    good = {"type": "projection.updated", "link": "orders", "group": "g", "key": "b", "state": final[("orders", "b")]}
    doubled = {**final[("orders", "a")], "events": 4}
    bad = {"type": "projection.updated", "link": "orders", "group": "g", "key": "a", "state": doubled}
    [verdict] = check_invariants(["projection_converges"], [*LOG, good, bad], {})
    assert (verdict["holds"], verdict["violations"]) == (False, 1)
    assert verdict["explanation"].endswith("1 of 2 read-model rows differ from their events in the log (g: 1).")
