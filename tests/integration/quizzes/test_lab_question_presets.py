"""Every lab question names a metric that a run of its preset really records.

Each preset is played for six seconds on the engine's virtual clock (real Redis, exact times), as
test_preset_claims does.
"""

from __future__ import annotations

from typing import Any

import pytest

from quizzes.banks import Question, catalogue
from quizzes.grading import metric_value
from tests.support.engine import run_preset

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("redis_server")]
LAB_QUESTIONS = sorted((q for q in catalogue().questions.values() if q.type == "lab"), key=lambda q: q.id)


SUMMARIES: dict[tuple[str, str], dict[str, Any]] = {}  # one run per preset, shared by its questions


async def summary_of_preset(experiment: str, preset: str) -> dict[str, Any]:
    cache = SUMMARIES
    if (experiment, preset) not in cache:
        # Six seconds record every key a full run does (the summary's shape does not depend on its length).
        cache[(experiment, preset)] = (await run_preset(experiment, preset, seed=1, duration=6))[0]
    return cache[(experiment, preset)]


@pytest.mark.parametrize("question", LAB_QUESTIONS, ids=lambda q: q.id)
async def test_a_run_of_the_preset_records_the_metric_the_question_asks_for(question: Question) -> None:
    summary = await summary_of_preset(question.experiment, question.preset)
    assert metric_value(summary, question.metric) is not None, f"a {question.preset} run has no {question.metric}"
