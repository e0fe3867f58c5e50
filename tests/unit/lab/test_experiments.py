import pytest

from lab.model.experiments import EXPERIMENTS


@pytest.mark.parametrize("experiment", EXPERIMENTS.values(), ids=lambda e: e.slug)
def test_every_preset_is_valid_against_its_experiment_schema(experiment) -> None:
    for preset in experiment.presets:
        experiment.schema.validate(preset.config)
        for step in preset.script:
            experiment.schema.validate(step.values, prefix="", live_only=True)
            assert step.at >= 0


@pytest.mark.parametrize("experiment", EXPERIMENTS.values(), ids=lambda e: e.slug)
def test_every_experiment_takes_duration_in_seconds_and_rate_in_requests_per_second(experiment) -> None:
    params = experiment.schema.by_name
    assert (params["duration"].unit, params["duration"].maximum) == ("s", 300)
    assert 5 <= params["duration"].default <= 300
    assert (params["rate"].unit, params["rate"].maximum) == ("requests/s", 50)


@pytest.mark.parametrize("experiment", EXPERIMENTS.values(), ids=lambda e: e.slug)
def test_every_edge_joins_two_nodes_of_the_topology(experiment) -> None:
    nodes = {n["id"] for n in experiment.diagram["nodes"]}
    assert all(e["from"] in nodes and e["to"] in nodes for e in experiment.diagram["edges"])


def test_the_checkout_defaults_add_up_to_a_1850_ms_sync_chain() -> None:
    defaults = EXPERIMENTS["checkout"].schema.defaults()
    assert sum(defaults[f"{s}_ms"] for s in ("payment", "inventory", "email", "warehouse", "analytics")) == 1850


def test_the_page_gets_each_saga_with_its_steps_and_what_undoes_each() -> None:
    sagas = {s["name"]: s for s in EXPERIMENTS["sagas"].as_json()["view"]["sagas"]}
    assert sagas["orders"] == {
        "name": "orders",
        "service": "orders",
        "reaction": False,
        "class": "orchestrated",
        "steps": ["charge", "reserve", "ship", "notify"],
        "compensations": ["refund", "release", "cancel", None],  # the notification comes after the pivot
    }
    assert {
        name: (s["reaction"], s["steps"][0], s["compensations"][0]) for name, s in sagas.items() if name != "orders"
    } == {
        "payment": (True, "charge", "refund"),
        "inventory": (True, "reserve", "release"),
        "shipping": (True, "ship", "cancel"),
    }
    assert EXPERIMENTS["checkout"].as_json()["view"]["sagas"] == []
