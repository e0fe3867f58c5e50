"""Which runs count for a lab question: the preset's settings and script, played to the end, finished, on time."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from lab.model.catalog import EXPERIMENTS
from lab.model.topology import Preset
from quizzes.qualify import RunRecord, qualification_problems

CHECKOUT = EXPERIMENTS["checkout"].topology
_EMAIL_DOWN = CHECKOUT.preset("email-down")
assert _EMAIL_DOWN is not None
EMAIL_DOWN: Preset = _EMAIL_DOWN
METRIC = "by_mode.sync.success_rate_pct"


def full_run(**changes: Any) -> RunRecord:
    """A run of checkout / email-down exactly as the preset plays it."""
    summary = {
        "by_mode": {"sync": {"success_rate_pct": 57.1}},
        "load_s": 35.0,
        "toggles": [
            {"t": 5.02, "values": {"email.down": True}, "by": "preset"},
            {"t": 20.01, "values": {"email.down": False}, "by": "preset"},
        ],
        "fidelity": {"lag_pct": 0.4, "ok": True},
    }
    run = RunRecord(
        experiment="checkout",
        preset="email-down",
        status="finished",
        config={**CHECKOUT.schema.defaults(), **EMAIL_DOWN.config},
        summary=summary,
        document=CHECKOUT.document,
    )
    return replace(run, **changes)


def problems(run: RunRecord) -> list[str]:
    return qualification_problems(run, topology=CHECKOUT, preset=EMAIL_DOWN, metric=METRIC)


def with_summary(**fields: Any) -> RunRecord:
    run = full_run()
    return replace(run, summary={**(run.summary or {}), **fields})


def test_a_full_run_of_the_preset_counts() -> None:
    assert problems(full_run()) == []


def test_a_run_with_another_seed_still_counts() -> None:
    assert problems(full_run(config={**full_run().config, "seed": 99})) == []


def test_a_run_of_another_preset_does_not() -> None:
    assert problems(full_run(preset="side-by-side")) == [
        "That run was of checkout / side-by-side; this question needs a run of checkout / email-down."
    ]


@pytest.mark.parametrize("status", ["interrupted", "failed"])
def test_a_run_that_did_not_finish_does_not(status: str) -> None:
    assert problems(full_run(status=status)) == [
        f"Your run of checkout / email-down was {status} before it could finish: run the preset again."
    ]


def test_a_run_still_going_is_waited_for() -> None:
    assert "still going" in problems(full_run(status="running"))[0]


def test_a_changed_setting_names_the_value_used_and_the_one_the_preset_uses() -> None:
    assert problems(full_run(config={**full_run().config, "rate": 5})) == [
        "That run used rate 5 requests/s; the preset uses 2 requests/s."
    ]


def test_a_run_stopped_early_says_when_it_stopped() -> None:
    assert problems(with_summary(load_s=8.2)) == [
        "Your latest run of email-down stopped at 8 s of 35 s: run it to the end."
    ]


def test_a_run_stopped_within_half_a_second_of_its_end_counts() -> None:
    assert problems(with_summary(load_s=34.6)) == []


def test_a_scripted_toggle_that_never_happened_is_named() -> None:
    toggles = [{"t": 5.0, "values": {"email.down": True}, "by": "preset"}]
    assert problems(with_summary(toggles=toggles)) == [
        "The preset's toggle at 20 s (email.down off) never took effect in that run."
    ]


def test_the_learners_own_toggle_makes_it_another_experiment() -> None:
    toggles = [*(full_run().summary or {})["toggles"], {"t": 11.7, "values": {"email.down": False}, "by": "learner"}]
    assert problems(with_summary(toggles=toggles)) == [
        "You changed email.down off at 12 s; the preset's effect needs its own settings: run it again without "
        "changing live values."
    ]


def test_outages_healed_as_the_load_ends_do_not_count_as_the_learners() -> None:
    toggles = [*(full_run().summary or {})["toggles"], {"t": 35.0, "values": {"email.down": False}, "by": "run end"}]
    assert problems(with_summary(toggles=toggles)) == []


def test_a_run_whose_timings_lagged_does_not() -> None:
    assert problems(with_summary(fidelity={"lag_pct": 12.5, "ok": False})) == [
        "The lab was too busy to keep that run's timings (they lagged 12.5%), so its numbers do not show the "
        "model: run it again."
    ]


def test_a_design_of_the_learners_own_under_the_same_name_does_not() -> None:
    altered = {**CHECKOUT.document, "services": {**CHECKOUT.document["services"], "email": {"work_ms": 10}}}
    assert "different version of checkout" in problems(full_run(document=altered))[0]


def test_a_run_made_before_a_preset_was_reworded_or_given_a_prediction_still_counts() -> None:
    before = {
        **CHECKOUT.document,
        "title": "Checkout, as first written",
        "presets": [
            {k: v for k, v in {**p, "notice": "Older words."}.items() if k not in ("predict", "next")}
            for p in CHECKOUT.document["presets"]
        ],
    }
    assert problems(full_run(document=before)) == []


def test_a_run_saved_before_runs_recorded_their_length_is_asked_for_again() -> None:
    run = full_run()
    old = {k: v for k, v in (run.summary or {}).items() if k not in ("load_s", "toggles")}
    found = problems(replace(run, summary=old))
    assert found[0] == "That run was saved before runs recorded how long they played: run checkout / email-down again."


def test_a_run_without_the_metric_says_so() -> None:
    assert problems(with_summary(by_mode={})) == [f"That run recorded no {METRIC}."]


def test_every_problem_is_listed_at_once() -> None:
    run = with_summary(load_s=3.0, fidelity={"lag_pct": 9, "ok": False})
    assert [p.split(" ")[:3] for p in problems(run)] == [["Your", "latest", "run"], ["The", "lab", "was"]]
