"""A lab question may read the effect counters its experiment's `effect_once` invariants put in the summary and its
queues' message figures, and only those its own experiment has."""

from __future__ import annotations

from lab.model.experiments import EXPERIMENTS
from quizzes.banks import experiment_metrics


def test_an_experiment_with_an_effect_invariant_offers_its_counters_overall_and_per_class() -> None:
    metrics = experiment_metrics(EXPERIMENTS["delivery"].topology)
    assert {"effects.charged.lost", "effects.charged.by_mode.idempotent.repeated"} <= metrics
    assert "effects.charged.by_mode.publish_first.orphaned" in experiment_metrics(EXPERIMENTS["outbox"].topology)


def test_an_experiment_without_one_offers_no_effect_counters() -> None:
    assert not any(m.startswith("effects.") for m in experiment_metrics(EXPERIMENTS["checkout"].topology))


def test_every_queue_offers_its_message_figures_and_one_count_per_consumer_it_may_have() -> None:
    metrics = experiment_metrics(EXPERIMENTS["competing-consumers"].topology)
    assert {"messages.jobs.wait_ms.max", "messages.jobs-bulk.processed", "messages.jobs.by_consumer.64"} <= metrics
    assert "messages.jobs.by_consumer.65" not in metrics  # the live consumer count stops at 64
    assert "messages.nowhere.processed" not in metrics
