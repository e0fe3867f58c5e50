"""A preset's `predict` and `next` (lab/model/predictions.py): what the parser accepts, what it refuses and with
which path, and how a stored prediction is judged against a run's summary."""

from __future__ import annotations

from typing import Any

import pytest

from lab.model.predictions import Predict, PredictChoice, judge
from lab.model.topology import parse_topology
from tests.unit.lab.test_topology import doc, error, errors

CHOICES = [
    {"id": "a", "text": "Most succeed", "correct": True, "explanation": "Only calls during the outage fail."},
    {"id": "b", "text": "None succeed", "correct": False, "explanation": "The outage is short."},
]
STORM_PATH = "presets.storm.predict"


def with_presets(**storm: Any) -> dict[str, Any]:
    """The base document with a second preset, `storm`, carrying the given fields."""
    return doc(
        presets=[
            {"slug": "calm", "title": "Calm", "config": {"duration": 10}},
            {"slug": "storm", "title": "Storm", **storm},
        ]
    )


def choices_predict(**changes: Any) -> dict[str, Any]:
    return {"prompt": "How many succeed?", "metric": "success_rate_pct", "unit": "%", "choices": CHOICES} | changes


def test_a_choice_prediction_and_a_next_preset_are_read_into_the_preset() -> None:
    storm = parse_topology(
        with_presets(predict=choices_predict(), next={"preset": "calm", "why": "See it healthy."})
    ).preset("storm")
    assert storm is not None and storm.predict is not None and storm.next is not None
    assert storm.predict.kind == "choice"
    assert [c.id for c in storm.predict.choices] == ["a", "b"]
    assert "correct" not in storm.as_json()["predict"]["choices"][0]  # the page learns it only after predicting
    assert storm.predict.as_json(answers=True)["choices"][0]["correct"] is True
    assert storm.as_json()["next"] == {"preset": "calm", "why": "See it healthy."}


def test_a_number_prediction_needs_a_tolerance_and_a_unit() -> None:
    number = {"prompt": "Median?", "metric": "latency_ms.p50", "unit": "ms", "tolerance": 100}
    storm = parse_topology(with_presets(predict=number)).preset("storm")
    assert storm is not None and storm.predict is not None
    assert (storm.predict.kind, storm.predict.tolerance) == ("number", 100.0)
    assert error(with_presets(predict={k: v for k, v in number.items() if k != "unit"})) == (
        f"{STORM_PATH}.unit",
        "is required for a number to predict",
    )


def test_a_preset_without_predict_or_next_has_neither() -> None:
    calm = parse_topology(doc()).preset("calm")
    assert calm is not None and calm.predict is None and calm.next is None
    assert calm.as_json()["predict"] is None


def test_a_prediction_needs_choices_or_a_tolerance_but_not_both() -> None:
    assert error(with_presets(predict={"prompt": "?", "metric": "requests"})) == (
        STORM_PATH,
        "needs choices (exactly one correct) or a tolerance and unit for a number",
    )
    assert error(with_presets(predict=choices_predict(tolerance=5))) == (
        STORM_PATH,
        "give either choices or a tolerance (a number to predict), not both",
    )


@pytest.mark.parametrize("right", [0, 2])
def test_a_choice_prediction_has_exactly_one_correct_choice(right: int) -> None:
    choices = [{**c, "correct": i < right} for i, c in enumerate(CHOICES)]
    assert error(with_presets(predict=choices_predict(choices=choices))) == (
        f"{STORM_PATH}.choices",
        f"must have exactly one correct choice, got {right}",
    )


def test_every_choice_needs_an_explanation_and_its_own_id() -> None:
    choices = [CHOICES[0], {**CHOICES[1], "id": "a", "explanation": None}]
    assert errors(with_presets(predict=choices_predict(choices=choices))) == {
        f"{STORM_PATH}.choices[1].id": "'a' is already used by another choice",
        f"{STORM_PATH}.choices[1].explanation": "is required",
    }


def test_a_prediction_has_two_to_six_choices() -> None:
    assert error(with_presets(predict=choices_predict(choices=CHOICES[:1]))) == (
        f"{STORM_PATH}.choices",
        "must list 2 to 6 choices, got 1",
    )


def test_a_prediction_names_its_metric_as_a_summary_path_and_no_unknown_field() -> None:
    assert errors(with_presets(predict=choices_predict(metric="Success rate", answer="a"))) == {
        f"{STORM_PATH}.metric": "must be a dotted path into the run summary, e.g. by_mode.sync.success_rate_pct",
        f"{STORM_PATH}.answer": "unknown field; allowed: choices, metric, prompt, tolerance, unit",
    }


def test_next_must_name_another_preset_of_the_same_document() -> None:
    assert error(with_presets(next={"preset": "gale", "why": "Worse."})) == (
        "presets.storm.next.preset",
        "names no preset of this document; one of calm, storm",
    )
    assert error(with_presets(next={"preset": "storm", "why": "Again."})) == (
        "presets.storm.next.preset",
        "names this preset itself; name the one to try after it",
    )
    assert error(with_presets(next={"preset": "calm"})) == ("presets.storm.next.why", "is required")


def test_a_choice_is_judged_by_the_document_and_a_number_by_the_run() -> None:
    choice = Predict(
        prompt="?",
        metric="requests",
        choices=(PredictChoice("a", "yes", True, "."), PredictChoice("b", "no", False, ".")),
    )
    assert (judge(choice, "a", None), judge(choice, "b", None), judge(choice, "zz", None)) == (True, False, False)
    number = Predict(prompt="?", metric="by_mode.sync.success_rate_pct", unit="%", tolerance=5.0)
    summary = {"by_mode": {"sync": {"success_rate_pct": 57.5}}}
    assert (judge(number, 62.5, summary), judge(number, 62.6, summary)) == (True, False)
    assert judge(number, 60, None) is None and judge(number, 60, {"requests": 3}) is None
