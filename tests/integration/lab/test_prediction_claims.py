"""Each preset's prediction question has the right answer the run really shows, over three seeds.

A preset's `predict` marks one choice correct (or, for a number, is judged against the run's own figure); the
debrief sets the learner's answer beside that figure and the quiz credits it. So the correct choice must be what
a run of the preset, played whole on the virtual clock, records in the `metric` the question names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from lab.model.catalog import EXPERIMENTS
from lab.model.predictions import judge, metric_value
from tests.support.engine import run_preset_seeds

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("redis_server")]
SEEDS = (1, 2, 3)

# What each correct choice says, as a test of the run's summary (the prediction's metric is `figure`).
CORRECT_CHOICE_HOLDS: dict[tuple[str, str], Callable[[float, dict[str, Any]], bool]] = {
    # "Just above payment's 400 ms."
    ("checkout", "hybrid-baseline"): lambda figure, _: 400 <= figure <= 500,
    # "Somewhere between 40% and 75%."
    ("checkout", "email-down"): lambda figure, _: 40 <= figure <= 75,
    # "Far below it" (the sync median): under half of it.
    ("checkout", "side-by-side"): lambda figure, s: figure < 0.5 * s["by_mode"]["sync"]["latency_ms"]["p50"],
    # "Well under 100%, with failures far from inventory too."
    ("cascade", "slow-inventory"): lambda figure, s: figure < 80 and s["by_path"]["browse"]["success_rate_pct"] < 100,
    # "A little above 500 ms, while calls needing inventory still fail."
    ("cascade", "timeouts"): lambda figure, s: (
        500 <= figure <= 800 and s["by_path"]["checkout"]["success_rate_pct"] < 80
    ),
    # "Several times": more than once.
    ("cascade", "circuit-breaker"): lambda figure, _: figure >= 2,
}
# The slowdown presets keep inventory slow from second 5 to the end when played for 20 s, as
# tests/integration/lab/test_preset_claims.py plays them: the same runs serve both files (run_preset plays each
# once), and the predictions are about the slowdown, which the 40 s presets' last 10 s only recover from.
SHORTENED: dict[tuple[str, str], dict[str, Any]] = {
    ("cascade", "slow-inventory"): {"duration": 20},
    ("cascade", "timeouts"): {"duration": 20},
}
# A number prediction of the figure the preset's notice states is judged right on every seed.
NUMBER_STATED: dict[tuple[str, str], float] = {("checkout", "sync-baseline"): 1850.0}


def predicting_presets() -> list[tuple[str, str]]:
    return [(e, p.slug) for e in ("checkout", "cascade") for p in EXPERIMENTS[e].presets if p.predict is not None]


def test_every_preset_with_a_lab_question_asks_a_prediction_and_names_what_to_try_next() -> None:
    from quizzes.banks import catalogue

    asked = {(q.experiment, q.preset) for q in catalogue().questions.values() if q.type == "lab"}
    for experiment, preset in sorted(p for p in asked if p[0] in ("checkout", "cascade")):
        found = EXPERIMENTS[experiment].preset(preset)
        assert found is not None and found.predict is not None and found.next is not None, (experiment, preset)


def test_every_prediction_is_checked_here() -> None:
    checked = set(CORRECT_CHOICE_HOLDS) | set(NUMBER_STATED) | {("cascade", "retries-full-jitter")}
    assert set(predicting_presets()) == checked


async def summaries(experiment: str, preset: str, **overrides: Any) -> list[dict[str, Any]]:
    """The preset's summary on each seed, played side by side (each on its own virtual clock)."""
    return [summary for summary, _ in await run_preset_seeds(experiment, preset, SEEDS, **overrides)]


@pytest.mark.parametrize(("experiment", "preset"), sorted(CORRECT_CHOICE_HOLDS))
async def test_the_correct_choice_is_what_the_run_records_on_every_seed(experiment: str, preset: str) -> None:
    predict = EXPERIMENTS[experiment].preset(preset).predict  # type: ignore[union-attr]
    assert predict is not None and predict.kind == "choice"
    played = await summaries(experiment, preset, **SHORTENED.get((experiment, preset), {}))
    for seed, summary in zip(SEEDS, played, strict=True):
        figure = metric_value(summary, predict.metric)
        assert figure is not None, f"{preset} records no {predict.metric}"
        assert CORRECT_CHOICE_HOLDS[(experiment, preset)](figure, summary), (preset, seed, predict.metric, figure)


async def test_full_jitter_makes_about_as_many_retries_as_no_jitter_or_more_on_every_seed() -> None:
    predict = EXPERIMENTS["cascade"].preset("retries-full-jitter").predict  # type: ignore[union-attr]
    assert predict is not None
    jittered = await summaries("cascade", "retries-full-jitter")
    fixed = await summaries("cascade", "retries-no-jitter")
    for seed, with_jitter, without in zip(SEEDS, jittered, fixed, strict=True):
        figure = metric_value(with_jitter, predict.metric)
        assert figure is not None and figure > 0.05, seed  # the outages still make requests retry
        assert figure >= 0.8 * without["retries_per_request"], (seed, figure, without["retries_per_request"])


@pytest.mark.parametrize(("experiment", "preset"), sorted(NUMBER_STATED))
async def test_a_number_prediction_of_the_figure_the_notice_states_is_judged_right_on_every_seed(
    experiment: str, preset: str
) -> None:
    predict = EXPERIMENTS[experiment].preset(preset).predict  # type: ignore[union-attr]
    assert predict is not None and predict.kind == "number"
    for summary in await summaries(experiment, preset, duration=10):
        assert judge(predict, NUMBER_STATED[(experiment, preset)], summary) is True
        assert judge(predict, NUMBER_STATED[(experiment, preset)] / 2, summary) is False
