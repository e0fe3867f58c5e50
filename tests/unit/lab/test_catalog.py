import pytest

from lab.model.catalog import DEFAULT_EXPERIMENT, EXPERIMENTS
from lab.model.topology import TopologyError, parse_topology


def test_experiments_are_listed_in_their_order_and_new_learners_start_at_the_first() -> None:
    assert list(EXPERIMENTS)[:2] == ["checkout", "cascade"]
    assert DEFAULT_EXPERIMENT == "checkout"
    assert EXPERIMENTS[DEFAULT_EXPERIMENT].default_preset == "quick-tour"


def test_an_order_out_of_range_is_named() -> None:
    document = {**EXPERIMENTS["cascade"].topology.document, "order": 5000}
    with pytest.raises(TopologyError) as problem:
        parse_topology(document, source="cascade.yaml")
    assert problem.value.errors == {"document.order": "must be a whole number from 0 to 1000, got 5000"}
