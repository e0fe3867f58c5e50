"""A lab question may read the effect counters its experiment's `effect_once` invariants put in the summary, and
only those its own experiment declares."""

from __future__ import annotations

from lab.model.experiments import EXPERIMENTS
from quizzes.banks import experiment_metrics


def test_an_experiment_with_an_effect_invariant_offers_its_counters_overall_and_per_class() -> None:
    metrics = experiment_metrics(EXPERIMENTS["delivery"].topology)
    assert {"effects.charged.lost", "effects.charged.by_mode.idempotent.repeated"} <= metrics
    assert "effects.charged.by_mode.publish_first.orphaned" in experiment_metrics(EXPERIMENTS["outbox"].topology)


def test_an_experiment_without_one_offers_no_effect_counters() -> None:
    assert not any(m.startswith("effects.") for m in experiment_metrics(EXPERIMENTS["checkout"].topology))
